//! Lazy parallel iteration over a pool: [`Pool::map`], [`Pool::map_unordered`]
//! and [`as_completed`].
//!
//! `map` and `map_unordered` pull their input lazily and keep a bounded number
//! of chunks in flight (two per worker), so a ten-million-item or endless
//! iterator is never buffered whole. Chunks start at one item and grow while
//! items prove cheap (aiming at ~100 µs of work per chunk), so slow I/O items
//! run one per task while tiny items are batched instead of paying a task
//! each. The user's closure is a generic parameter all the way into the
//! task, so it is inlined there.

use std::collections::VecDeque;
use std::fmt;
use std::iter::Fuse;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Wake;

use std::time::{Duration, Instant};

use crate::pool::task::{catch, TaskError, TaskHandle};
use crate::pool::{wait_until, Pool};
use crate::sync::{Mutex, Thread};

/// Work per chunk that chunk sizing aims at.
const TARGET_CHUNK_TIME: Duration = Duration::from_micros(100);
const MAX_CHUNK: usize = 4096;

type Chunk<R> = (Vec<Result<R, TaskError>>, Duration);

/// Pulls items for chunks and learns how many items make a chunk.
struct Feeder<I: Iterator, F> {
    input: Fuse<I>,
    f: Arc<F>,
    chunk: usize,
    max_in_flight: usize,
}

impl<I, F, R> Feeder<I, F>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> R + Send + Sync + 'static,
    R: Send + 'static,
{
    fn new(pool: &Pool, input: I, f: F) -> Self {
        Feeder {
            input: input.fuse(),
            f: Arc::new(f),
            chunk: 1,
            max_in_flight: pool.max_workers().saturating_mul(2).max(2),
        }
    }

    /// Submits the next chunk, if the input has items left.
    fn submit_next(&mut self, pool: &Pool) -> Option<(usize, TaskHandle<Chunk<R>>)> {
        let items: Vec<I::Item> = self.input.by_ref().take(self.chunk).collect();
        if items.is_empty() {
            return None;
        }
        let len = items.len();
        let f = self.f.clone();
        let handle = pool.submit(move || {
            let start = Instant::now();
            let out: Vec<Result<R, TaskError>> =
                items.into_iter().map(|x| catch(|| f(x))).collect();
            (out, start.elapsed())
        });
        Some((len, handle))
    }

    /// Resizes chunks from a finished chunk's time per item.
    fn learn(&mut self, len: usize, took: Duration) {
        let per_item = took.as_nanos() / len.max(1) as u128;
        let want = TARGET_CHUNK_TIME.as_nanos() / per_item.max(1);
        self.chunk = usize::try_from(want)
            .unwrap_or(MAX_CHUNK)
            .clamp(1, MAX_CHUNK);
    }
}

/// Turns a finished chunk into its items' results.
fn unpack<R>(
    len: usize,
    r: Result<Chunk<R>, TaskError>,
) -> (Vec<Result<R, TaskError>>, Option<Duration>) {
    match r {
        Ok((out, took)) => (out, Some(took)),
        // The chunk never ran (the pool was shut down): every item says why.
        Err(e) => ((0..len).map(|_| Err(e.clone())).collect(), None),
    }
}

/// The iterator returned by [`Pool::map`]: results in input order.
pub struct Map<'p, I: Iterator, F, R> {
    pool: &'p Pool,
    feeder: Feeder<I, F>,
    pending: VecDeque<(usize, TaskHandle<Chunk<R>>)>,
    ready: std::vec::IntoIter<Result<R, TaskError>>,
}

impl<I: Iterator, F, R> fmt::Debug for Map<'_, I, F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("chunks_in_flight", &self.pending.len())
            .field("chunk_size", &self.feeder.chunk)
            .finish()
    }
}

impl<I, F, R> Iterator for Map<'_, I, F, R>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> R + Send + Sync + 'static,
    R: Send + 'static,
{
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.ready.next() {
                return Some(r);
            }
            while self.pending.len() < self.feeder.max_in_flight {
                match self.feeder.submit_next(self.pool) {
                    Some(p) => self.pending.push_back(p),
                    None => break,
                }
            }
            let (len, handle) = self.pending.pop_front()?;
            let (out, took) = unpack(len, handle.wait());
            if let Some(took) = took {
                self.feeder.learn(len, took);
            }
            self.ready = out.into_iter();
        }
    }
}

/// The iterator returned by [`Pool::map_unordered`]: results as they finish.
pub struct MapUnordered<'p, I: Iterator, F, R> {
    pool: &'p Pool,
    feeder: Feeder<I, F>,
    in_flight: Completions<Chunk<R>>,
    lens: Vec<usize>,
    ready: std::vec::IntoIter<Result<R, TaskError>>,
}

impl<I: Iterator, F, R> fmt::Debug for MapUnordered<'_, I, F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapUnordered")
            .field("chunks_in_flight", &self.in_flight.live)
            .field("chunk_size", &self.feeder.chunk)
            .finish()
    }
}

impl<I, F, R> Iterator for MapUnordered<'_, I, F, R>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> R + Send + Sync + 'static,
    R: Send + 'static,
{
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.ready.next() {
                return Some(r);
            }
            while self.in_flight.live < self.feeder.max_in_flight {
                match self.feeder.submit_next(self.pool) {
                    Some((len, handle)) => {
                        let slot = self.in_flight.insert(handle);
                        if slot >= self.lens.len() {
                            self.lens.resize(slot + 1, 0);
                        }
                        self.lens[slot] = len;
                    }
                    None => break,
                }
            }
            let (slot, result) = self.in_flight.next()?;
            let len = self.lens[slot];
            let (out, took) = unpack(len, result);
            if let Some(took) = took {
                self.feeder.learn(len, took);
            }
            self.ready = out.into_iter();
        }
    }
}

impl Pool {
    /// Applies `f` to every item on the pool; results come in input order.
    ///
    /// The input is pulled lazily with a bounded number of items in flight,
    /// and cheap items are batched automatically. A panic in `f` becomes that
    /// item's [`TaskError::Panicked`]; the other items are unaffected.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().build()?;
    /// let lengths: Vec<usize> = pool
    ///     .map(["a", "bb", "ccc"], |s: &str| s.len())
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(lengths, [1, 2, 3]);
    /// # Ok::<(), workwise::BuildError>(())
    /// ```
    ///
    /// # Cost
    ///
    /// See the bench row `pool.map` (against rayon's `par_iter` and a loop).
    pub fn map<I, F, R>(&self, items: I, f: F) -> Map<'_, I::IntoIter, F, R>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        Map {
            pool: self,
            feeder: Feeder::new(self, items.into_iter(), f),
            pending: VecDeque::new(),
            ready: Vec::new().into_iter(),
        }
    }

    /// Like [`map`](Pool::map), but yields each result as soon as its chunk
    /// finishes, in completion order.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().build()?;
    /// let mut squares: Vec<u64> = pool
    ///     .map_unordered(1..=4u64, |x| x * x)
    ///     .map(Result::unwrap)
    ///     .collect();
    /// squares.sort();
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// # Ok::<(), workwise::BuildError>(())
    /// ```
    pub fn map_unordered<I, F, R>(&self, items: I, f: F) -> MapUnordered<'_, I::IntoIter, F, R>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        MapUnordered {
            pool: self,
            feeder: Feeder::new(self, items.into_iter(), f),
            in_flight: Completions::new(),
            lens: Vec::new(),
            ready: Vec::new().into_iter(),
        }
    }
}

/// Yields `(index, result)` for each handle as it finishes, where `index` is
/// the handle's position in the input.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let pool = workwise::Pool::io().build()?;
/// let handles: Vec<_> = [30u64, 1, 15]
///     .into_iter()
///     .map(|ms| pool.submit(move || { std::thread::sleep(Duration::from_millis(ms)); ms }))
///     .collect();
/// let mut seen = Vec::new();
/// for (index, result) in workwise::as_completed(handles) {
///     seen.push((index, result.unwrap()));
/// }
/// seen.sort();
/// assert_eq!(seen, [(0, 30), (1, 1), (2, 15)]);
/// # Ok::<(), workwise::BuildError>(())
/// ```
pub fn as_completed<T, I>(handles: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let mut set = Completions::new();
    for h in handles {
        set.insert(h);
    }
    AsCompleted { set }
}

/// The iterator returned by [`as_completed`].
pub struct AsCompleted<T> {
    set: Completions<T>,
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("pending", &self.set.live)
            .finish()
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = (usize, Result<T, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        self.set.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.set.live, Some(self.set.live))
    }
}

/// Indices of finished handles, pushed by their wakers.
struct ReadyQueue {
    queue: Mutex<VecDeque<usize>>,
    len: AtomicUsize,
    waiter: Mutex<Option<Thread>>,
}

impl ReadyQueue {
    fn push(&self, index: usize) {
        crate::sync::lock(&self.queue).push_back(index);
        self.len.fetch_add(1, Ordering::SeqCst);
        if let Some(t) = crate::sync::lock(&self.waiter).take() {
            t.unpark();
        }
    }

    fn pop_wait(&self) -> Option<usize> {
        wait_until(
            || self.len.load(Ordering::SeqCst) > 0,
            None,
            |t| {
                *crate::sync::lock(&self.waiter) = Some(t);
                true
            },
        );
        let index = crate::sync::lock(&self.queue).pop_front();
        if index.is_some() {
            self.len.fetch_sub(1, Ordering::SeqCst);
        }
        index
    }
}

struct SlotWaker {
    index: usize,
    ready: Arc<ReadyQueue>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.ready.push(self.index);
    }
}

/// A set of handles read back in completion order.
struct Completions<T> {
    handles: Vec<Option<TaskHandle<T>>>,
    free: Vec<usize>,
    ready: Arc<ReadyQueue>,
    live: usize,
}

impl<T> Completions<T> {
    fn new() -> Self {
        Completions {
            handles: Vec::new(),
            free: Vec::new(),
            ready: Arc::new(ReadyQueue {
                queue: Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
                waiter: Mutex::new(None),
            }),
            live: 0,
        }
    }

    fn insert(&mut self, handle: TaskHandle<T>) -> usize {
        let index = self.free.pop().unwrap_or(self.handles.len());
        let waker = Arc::new(SlotWaker {
            index,
            ready: self.ready.clone(),
        })
        .into();
        if !handle.register_waker(waker) {
            self.ready.push(index);
        }
        if index == self.handles.len() {
            self.handles.push(Some(handle));
        } else {
            self.handles[index] = Some(handle);
        }
        self.live += 1;
        index
    }

    fn next(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        if self.live == 0 {
            return None;
        }
        let index = self.ready.pop_wait()?;
        let handle = self.handles.get_mut(index)?.take()?;
        self.live -= 1;
        self.free.push(index);
        Some((index, handle.take().unwrap_or(Err(TaskError::ResultTaken))))
    }
}
