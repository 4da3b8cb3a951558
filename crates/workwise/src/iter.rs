//! Lazy parallel iteration over a pool: [`Pool::map`], [`Pool::map_unordered`],
//! [`as_completed`] (and [`as_completed_timeout`]), and [`wait`] for a set of
//! handles, as Python's `concurrent.futures.wait`.
//!
//! `map` and `map_unordered` pull their input lazily and keep a bounded number
//! of chunks in flight (two per worker), so a ten-million-item or endless
//! iterator is never buffered whole. The user's closure is a generic
//! parameter all the way into the task, so it is inlined there.
//!
//! # How items are batched
//!
//! 1. Chunks start at one item and are sized from the last finished chunk's
//!    time per item, aiming at ~100 µs of work (up to 4,096 items), so slow
//!    I/O items run one per task while tiny items are batched instead of
//!    paying a task each.
//! 2. A chunk is bounded by time as well as count: it reads the clock every
//!    few items (every item once items take over 2 µs; at most every 4 on
//!    an I/O pool, 256 on others) and stops taking items once it has run for
//!    ~400 µs. It hands its untouched items back; the iterator cuts them into
//!    chunks at the new pace (into no more chunks than it keeps in flight)
//!    and submits them at once, ahead of new input, so idle workers take
//!    them. A run of slow items after fast ones therefore waits side by side
//!    on the pool instead of one after another on one thread.
//! 3. Results keep their input positions, so `map` yields them in input
//!    order however chunks were cut, and each item exactly once.
//! 4. Items handed back are resubmitted when the iterator runs (inside
//!    `next`), as new input is pulled; an iterator left unpolled holds them.
//!
//! # Dropping early
//!
//! Dropping a `Map` or `MapUnordered` cancels every chunk it submitted that
//! has not started (as Python's `Executor.map` cancels the futures it has not
//! yielded): those items never run. A chunk already running finishes its
//! current item and at most its time budget, and its results are dropped.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::iter::Fuse;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Wake;
use std::time::{Duration, Instant};

use crate::pool::task::{catch, TaskError, TaskHandle};
use crate::pool::{wait_until, wait_until_rechecking, Pool};
use crate::sync::{Mutex, Thread};
use crate::workload::Workload;

/// Work per chunk that chunk sizing aims at.
const TARGET_CHUNK_TIME: Duration = Duration::from_micros(100);
const MAX_CHUNK: usize = 4096;
/// A chunk that has run this long hands its untouched items back.
const CHUNK_BUDGET: Duration = Duration::from_micros(400);
/// Work between two clock reads inside a chunk, when items are cheap.
const CHECK_EVERY: Duration = Duration::from_micros(2);
/// The most items between two clock reads inside a chunk: few on an I/O
/// pool, where an item may start waiting at any time, more elsewhere, where a
/// clock read (~25 ns) would cost more than a cheap item.
const IO_MAX_STRIDE: usize = 4;
const MAX_STRIDE: usize = 256;

/// What a chunk task gives back.
struct Ran<T, R> {
    /// The results of the items it ran, in order.
    out: Vec<Result<R, TaskError>>,
    /// How long they took.
    took: Duration,
    /// The items it did not touch, when it ran out of time.
    rest: Vec<T>,
}

/// Runs `items` in order, reading the clock every `stride` items, until
/// they are done or `CHUNK_BUDGET` has passed; hands back the rest.
fn run_chunk<T, R>(items: Vec<T>, f: &impl Fn(T) -> R, stride: usize) -> Ran<T, R> {
    let start = Instant::now();
    let mut out = Vec::with_capacity(items.len());
    let mut it = items.into_iter();
    loop {
        out.extend(it.by_ref().take(stride).map(|x| catch(|| f(x))));
        let took = start.elapsed();
        if it.len() == 0 || took >= CHUNK_BUDGET {
            return Ran {
                out,
                took,
                rest: it.collect(),
            };
        }
    }
}

/// Where a chunk's items sit in the input: the first one's position, and
/// how many.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: usize,
    len: usize,
}

/// The shared machinery of [`Map`] and [`MapUnordered`]: pulls input, sizes
/// and submits chunks, takes back what a chunk did not finish, and lines up
/// the results.
struct Engine<'p, I: Iterator, F, R> {
    pool: &'p Pool,
    input: Fuse<I>,
    f: Arc<F>,
    /// Items per chunk, learned.
    chunk: usize,
    /// Learned time per item, in ns; 0 until a chunk finished.
    cost_ns: u64,
    /// The most items a chunk runs between clock reads.
    max_stride: usize,
    max_in_flight: usize,
    /// Position of the next item to pull from the input.
    pulled: usize,
    /// Items that chunks handed back, by position; run before new input.
    handed_back: BTreeMap<usize, Vec<I::Item>>,
    in_flight: Completions<Ran<I::Item, R>>,
    /// The span of the chunk in each slot of `in_flight`.
    spans: Vec<Span>,
    /// Finished results not yet yielded, by position.
    finished: BTreeMap<usize, Vec<Result<R, TaskError>>>,
    /// Whether results come in input order.
    ordered: bool,
    /// Position of the next result to yield, when ordered.
    next_out: usize,
    ready: std::vec::IntoIter<Result<R, TaskError>>,
}

impl<'p, I, F, R> Engine<'p, I, F, R>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> R + Send + Sync + 'static,
    R: Send + 'static,
{
    fn new(pool: &'p Pool, input: I, f: F, ordered: bool) -> Self {
        Engine {
            pool,
            input: input.fuse(),
            f: Arc::new(f),
            chunk: 1,
            cost_ns: 0,
            max_stride: match pool.workload() {
                Workload::Io => IO_MAX_STRIDE,
                _ => MAX_STRIDE,
            },
            max_in_flight: pool.max_workers().saturating_mul(2).max(2),
            pulled: 0,
            handed_back: BTreeMap::new(),
            in_flight: Completions::new(),
            spans: Vec::new(),
            finished: BTreeMap::new(),
            ordered,
            next_out: 0,
            ready: Vec::new().into_iter(),
        }
    }

    fn next(&mut self) -> Option<Result<R, TaskError>> {
        loop {
            if let Some(r) = self.ready.next() {
                return Some(r);
            }
            let next = match self.finished.first_key_value() {
                Some((&start, _)) if !self.ordered || start == self.next_out => {
                    self.finished.pop_first()
                }
                _ => None,
            };
            if let Some((_, out)) = next {
                self.next_out += out.len();
                self.ready = out.into_iter();
                continue;
            }
            self.fill();
            // Nothing in flight means nothing handed back and the input is
            // spent: every position below `pulled` has been yielded.
            let (slot, result) = self.in_flight.next()?;
            self.take_back(slot, result);
        }
    }

    /// Submits handed-back items, then new input, up to the bounds: handed
    /// back items up to `max_in_flight` chunks running, new input up to
    /// `max_in_flight` chunks running or waiting to be yielded.
    fn fill(&mut self) {
        while self.in_flight.live < self.max_in_flight {
            let Some((start, items)) = self.handed_back.pop_first() else {
                break;
            };
            self.submit(start, items);
        }
        while self.handed_back.is_empty()
            && self.in_flight.live + self.finished.len() < self.max_in_flight
        {
            let items: Vec<I::Item> = self.input.by_ref().take(self.chunk).collect();
            if items.is_empty() {
                break;
            }
            let start = self.pulled;
            self.pulled += items.len();
            self.submit(start, items);
        }
    }

    fn submit(&mut self, start: usize, items: Vec<I::Item>) {
        let len = items.len();
        let f = self.f.clone();
        let stride = match self.cost_ns {
            0 => 1,
            c => usize::try_from(CHECK_EVERY.as_nanos() as u64 / c)
                .unwrap_or(self.max_stride)
                .clamp(1, self.max_stride),
        };
        let handle = self.pool.submit(move || run_chunk(items, &*f, stride));
        let slot = self.in_flight.insert(handle);
        if slot >= self.spans.len() {
            self.spans.resize(slot + 1, Span::default());
        }
        self.spans[slot] = Span { start, len };
    }

    /// Files a finished chunk's results and keeps what it handed back.
    fn take_back(&mut self, slot: usize, result: Result<Ran<I::Item, R>, TaskError>) {
        let Span { start, len } = self.spans[slot];
        match result {
            Ok(Ran { out, took, rest }) => {
                self.learn(out.len(), took);
                if !rest.is_empty() {
                    self.hand_back(start + out.len(), rest);
                }
                self.finished.insert(start, out);
            }
            // The chunk never ran (the pool was shut down): every item says why.
            Err(e) => {
                self.finished
                    .insert(start, (0..len).map(|_| Err(e.clone())).collect());
            }
        }
    }

    /// Cuts items a chunk handed back into chunks at the learned size, but
    /// into no more than `max_in_flight` chunks: a chunk slowed by preemption
    /// rather than by its items must not turn its rest into a crowd of tiny
    /// tasks. (Slow items stay spread: each chunk hands back again after its
    /// first slow item.)
    fn hand_back(&mut self, start: usize, mut rest: Vec<I::Item>) {
        let size = self
            .chunk
            .max(rest.len().div_ceil(self.max_in_flight))
            .max(1);
        let pieces = rest.len().div_ceil(size);
        for i in (1..pieces).rev() {
            let tail = rest.split_off(i * size);
            self.handed_back.insert(start + i * size, tail);
        }
        self.handed_back.insert(start, rest);
    }

    /// Resizes chunks from a finished chunk's time per item.
    fn learn(&mut self, ran: usize, took: Duration) {
        let per_item = (took.as_nanos() / ran.max(1) as u128).max(1);
        self.cost_ns = u64::try_from(per_item).unwrap_or(u64::MAX);
        let want = TARGET_CHUNK_TIME.as_nanos() / per_item;
        self.chunk = usize::try_from(want)
            .unwrap_or(MAX_CHUNK)
            .clamp(1, MAX_CHUNK);
    }
}

impl<I: Iterator, F, R> Drop for Engine<'_, I, F, R> {
    /// Cancels the chunks that have not started; see the module docs.
    fn drop(&mut self) {
        self.in_flight.cancel_all();
    }
}

/// The iterator returned by [`Pool::map`]: results in input order.
///
/// Dropping it cancels the chunks it submitted that have not started.
pub struct Map<'p, I: Iterator, F, R> {
    engine: Engine<'p, I, F, R>,
}

impl<I: Iterator, F, R> fmt::Debug for Map<'_, I, F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("chunks_in_flight", &self.engine.in_flight.live)
            .field("chunk_size", &self.engine.chunk)
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
        self.engine.next()
    }
}

/// The iterator returned by [`Pool::map_unordered`]: results as they finish.
///
/// Dropping it cancels the chunks it submitted that have not started.
pub struct MapUnordered<'p, I: Iterator, F, R> {
    engine: Engine<'p, I, F, R>,
}

impl<I: Iterator, F, R> fmt::Debug for MapUnordered<'_, I, F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapUnordered")
            .field("chunks_in_flight", &self.engine.in_flight.live)
            .field("chunk_size", &self.engine.chunk)
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
        self.engine.next()
    }
}

impl Pool {
    /// Applies `f` to every item on the pool; results come in input order.
    ///
    /// The input is pulled lazily with a bounded number of items in flight,
    /// and cheap items are batched automatically; a batch that runs past its
    /// time budget (~400 µs) hands the rest back to be spread over idle
    /// workers, so slow items wait side by side. A panic in `f` becomes that
    /// item's [`TaskError::Panicked`]; the other items are unaffected. On a
    /// shut-down pool every item gives [`TaskError::Closed`].
    ///
    /// Dropping the iterator before the end cancels the batches that have not
    /// started, as Python's `Executor.map` does: their items never run.
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
    /// # Ok::<(), workwise::PoolBuildError>(())
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
            engine: Engine::new(self, items.into_iter(), f, true),
        }
    }

    /// Like [`map`](Pool::map), but yields each result as soon as its chunk
    /// finishes, in completion order.
    ///
    /// Dropping the iterator before the end cancels the batches that have not
    /// started: their items never run.
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
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn map_unordered<I, F, R>(&self, items: I, f: F) -> MapUnordered<'_, I::IntoIter, F, R>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        MapUnordered {
            engine: Engine::new(self, items.into_iter(), f, false),
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
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub fn as_completed<T, I>(handles: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let mut set = Completions::new();
    for h in handles {
        set.insert(h);
    }
    AsCompleted {
        set,
        deadline: None,
    }
}

/// Like [`as_completed`], but the iterator stops when `timeout` (from now)
/// has passed; [`AsCompleted::into_pending`] then gives back the handles it
/// did not yield, so that no task is lost.
///
/// After the iterator ended, the pending list is empty when every handle was
/// yielded, and not empty when the time ran out. Past the deadline `next`
/// no longer waits: it yields a handle only if it has finished, and `None`
/// otherwise. A timeout too long for an
/// [`Instant`] (`Duration::MAX`) means no deadline.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// let pool = workwise::Pool::io().build()?;
/// let (tx, rx) = mpsc::channel::<()>();
/// let handles = vec![pool.submit(|| 1), pool.submit(move || { rx.recv().ok(); 2 })];
/// let mut done = workwise::as_completed_timeout(handles, Duration::from_millis(50));
/// assert_eq!(done.next(), Some((0, Ok(1))));
/// assert_eq!(done.next(), None, "the deadline passed");
/// let pending = done.into_pending();
/// assert_eq!(pending.len(), 1);
/// let (index, handle) = pending.into_iter().next().unwrap();
/// tx.send(()).unwrap();
/// assert_eq!((index, handle.wait()), (1, Ok(2)));
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub fn as_completed_timeout<T, I>(handles: I, timeout: Duration) -> AsCompleted<T>
where
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let mut it = as_completed(handles);
    it.deadline = crate::clock::deadline_after(timeout);
    it
}

/// The iterator returned by [`as_completed`] and [`as_completed_timeout`].
pub struct AsCompleted<T> {
    set: Completions<T>,
    /// When the iterator stops (None: never).
    deadline: Option<Instant>,
}

impl<T> AsCompleted<T> {
    /// The handles not yet yielded, with their input positions, in input
    /// order; their results are still in them.
    ///
    /// After [`as_completed_timeout`] ran out of time these are the handles
    /// still running (some may have finished since); after a `break` out of
    /// the loop, the ones not read yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().build()?;
    /// let mut it = workwise::as_completed(vec![pool.submit(|| 1), pool.submit(|| 2)]);
    /// let (first, _) = it.next().unwrap();
    /// let rest = it.into_pending();
    /// assert_eq!(rest.len(), 1);
    /// assert_ne!(rest[0].0, first);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn into_pending(mut self) -> Vec<(usize, TaskHandle<T>)> {
        std::mem::take(&mut self.set.handles)
            .into_iter()
            .enumerate()
            .filter_map(|(i, h)| Some((i, h?)))
            .collect()
    }
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
        match self.deadline {
            None => self.set.next(),
            Some(deadline) => self.set.next_until(deadline),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.deadline {
            None => (self.set.live, Some(self.set.live)),
            // The deadline may end it early.
            Some(_) => (0, Some(self.set.live)),
        }
    }
}

/// Indices of finished handles, pushed by their wakers.
struct ReadyQueue {
    queue: Mutex<VecDeque<usize>>,
    len: AtomicUsize,
    waiter: Mutex<Option<Thread>>,
}

impl ReadyQueue {
    fn new() -> Self {
        ReadyQueue {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
            waiter: Mutex::new(None),
        }
    }

    fn push(&self, index: usize) {
        crate::sync::lock(&self.queue).push_back(index);
        self.len.fetch_add(1, Ordering::SeqCst);
        if let Some(t) = crate::sync::lock(&self.waiter).take() {
            t.unpark();
        }
    }

    fn pop_wait(&self) -> Option<usize> {
        // Rechecked every 10 ms: a missed wake-up here was seen once under
        // heavy load (every result in, the consumer still parked) and is not
        // yet explained; the recheck bounds its cost instead of hanging.
        wait_until_rechecking(
            || self.len.load(Ordering::SeqCst) > 0,
            Duration::from_millis(10),
            |t| {
                *crate::sync::lock(&self.waiter) = Some(t);
                true
            },
        );
        self.pop()
    }

    /// Like `pop_wait`, but gives up at `deadline`: None then. Parks at most
    /// 10 ms at a time, as `pop_wait` does; never runs other work.
    fn pop_until(&self, deadline: Instant) -> Option<usize> {
        let ready = || self.len.load(Ordering::SeqCst) > 0;
        loop {
            let step = crate::clock::deadline_after(Duration::from_millis(10))
                .map_or(deadline, |s| s.min(deadline));
            let register = |t| {
                *crate::sync::lock(&self.waiter) = Some(t);
                true
            };
            if wait_until(ready, Some(step), register) {
                return self.pop();
            }
            if Instant::now() >= deadline {
                return if ready() { self.pop() } else { None };
            }
        }
    }

    fn pop(&self) -> Option<usize> {
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
            ready: Arc::new(ReadyQueue::new()),
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

    /// Cancels every handle in the set whose task has not started.
    fn cancel_all(&self) {
        for h in self.handles.iter().flatten() {
            h.cancel();
        }
    }

    fn next(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        if self.live == 0 {
            return None;
        }
        let index = self.ready.pop_wait()?;
        self.yield_slot(index)
    }

    /// `next`, giving up (None) at `deadline`.
    fn next_until(&mut self, deadline: Instant) -> Option<(usize, Result<T, TaskError>)> {
        if self.live == 0 {
            return None;
        }
        let index = self.ready.pop_until(deadline)?;
        self.yield_slot(index)
    }

    fn yield_slot(&mut self, index: usize) -> Option<(usize, Result<T, TaskError>)> {
        let handle = self.handles.get_mut(index)?.take()?;
        self.live -= 1;
        self.free.push(index);
        Some((index, handle.take().unwrap_or(Err(TaskError::ResultTaken))))
    }
}

/// When [`wait`] returns.
///
/// # Examples
///
/// ```
/// use workwise::{wait, ReturnWhen};
///
/// let pool = workwise::Pool::io().build()?;
/// let waited = wait(vec![pool.submit(|| 1)], None, ReturnWhen::AllCompleted);
/// assert_eq!(waited.done.len(), 1);
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReturnWhen {
    /// As soon as any handle has finished (or at once, for no handles).
    FirstCompleted,
    /// As soon as any handle has finished with an error (any [`TaskError`],
    /// `Cancelled` included, unlike Python's `FIRST_EXCEPTION`; a handle
    /// whose result was already read counts too, since reading it again
    /// gives `ResultTaken`), or when all have finished.
    FirstError,
    /// When every handle has finished.
    AllCompleted,
}

/// What [`wait`] returns: the handles, split into finished and not finished,
/// each list in input order, with the results still in them.
///
/// # Examples
///
/// ```
/// use workwise::{wait, ReturnWhen};
///
/// let pool = workwise::Pool::io().build()?;
/// let waited = wait(vec![pool.submit(|| 1), pool.submit(|| 2)], None, ReturnWhen::AllCompleted);
/// assert!(waited.pending.is_empty());
/// let results: Vec<_> = waited.done.into_iter().map(|h| h.wait()).collect();
/// assert_eq!(results, [Ok(1), Ok(2)]);
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Waited<T> {
    /// The handles whose tasks had finished when `wait` returned.
    pub done: Vec<TaskHandle<T>>,
    /// The others; their tasks go on.
    pub pending: Vec<TaskHandle<T>>,
}

/// Waits until `when` holds for `handles`, or `timeout` passes, and returns
/// them split into done and pending (Python's `concurrent.futures.wait`).
///
/// No result is taken: read them from the handles in [`Waited::done`], which
/// will not block. `timeout` `None` (or one too long for an [`Instant`], such
/// as `Duration::MAX`) waits without a deadline. It blocks without spinning:
/// each handle wakes the caller when it finishes. With no handles it returns
/// at once, whatever `when` says.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use workwise::{wait, ReturnWhen};
///
/// let pool = workwise::Pool::io().build()?;
/// let (tx, rx) = mpsc::channel::<()>();
/// let slow = pool.submit(move || { rx.recv().ok(); "slow" });
/// let fast = pool.submit(|| "fast");
/// let waited = wait(vec![slow, fast], Some(Duration::from_secs(30)), ReturnWhen::FirstCompleted);
/// assert_eq!(waited.done.len(), 1);
/// assert_eq!(waited.pending.len(), 1);
/// tx.send(()).unwrap();
/// let first = waited.done.into_iter().next().unwrap();
/// assert_eq!(first.wait(), Ok("fast"));
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub fn wait<T, I>(handles: I, timeout: Option<Duration>, when: ReturnWhen) -> Waited<T>
where
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let handles: Vec<TaskHandle<T>> = handles.into_iter().collect();
    let deadline = timeout.and_then(crate::clock::deadline_after);
    let ready = Arc::new(ReadyQueue::new());
    for (index, handle) in handles.iter().enumerate() {
        let waker = Arc::new(SlotWaker {
            index,
            ready: ready.clone(),
        })
        .into();
        if !handle.register_waker(waker) {
            ready.push(index);
        }
    }
    let mut finished = 0;
    while finished < handles.len() {
        let index = match deadline {
            None => ready.pop_wait(),
            Some(d) => ready.pop_until(d),
        };
        let Some(index) = index else { break };
        finished += 1;
        let stop = match when {
            ReturnWhen::FirstCompleted => true,
            ReturnWhen::FirstError => handles[index].finished_with_error(),
            ReturnWhen::AllCompleted => false,
        };
        if stop {
            break;
        }
    }
    let (done, pending) = handles.into_iter().partition(TaskHandle::is_finished);
    Waited { done, pending }
}
