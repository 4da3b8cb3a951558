//! [`Pool::map`] and [`Pool::map_unordered`]: lazy, bounded in flight, with
//! chunks sized and cut by time ("How items are batched" in the module
//! docs).

use std::collections::BTreeMap;
use std::fmt;
use std::iter::Fuse;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::completions::Completions;
use crate::pool::task::{catch, TaskError};
use crate::pool::Pool;
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
