//! Data parallelism on a pool: [`Pool::par_map`], [`Pool::map_reduce`],
//! [`Pool::for_each`], with automatic chunking and a measured decision to run
//! small inputs inline.
//!
//! # How the work is split
//!
//! 1. On the first call from a call site (and every 64th call after), the
//!    last few items run inline on the calling thread in growing groups
//!    (1, 2, 4, ...) until a group has taken about 2 µs or a sixteenth of the
//!    input has run: that gives the time per item. The estimate is kept per
//!    pool and call site, so later calls decide without reading a clock.
//! 2. If the remaining work is under four times the pool's measured cost of
//!    one cold task round trip, taken as at most 1 ms (the *inline budget*),
//!    it runs inline: a pool
//!    would cost more than it gives. Otherwise it is cut into chunks of at
//!    least ~50 µs of work, and at least four chunks per worker when the input
//!    allows, so that a slow core does not hold up the rest.
//! 3. A *watched* inline run does not trust the estimate: it runs one item,
//!    reads the clock, and goes on in growing pieces only while the pace it
//!    sees fits the budget. Once it has run past the budget it stops and
//!    hands the untouched items to the pool, cut as in 2 by the cost it saw.
//!    Inline runs at a call site are watched until four in a row have kept
//!    to its estimate. After that the site is trusted: its inline runs read
//!    no clock (a clock read costs about as much as a tiny input's whole
//!    run), except one in 32 and each resample, which time the whole run and,
//!    if it went past the budget, make the site watched again. Two runs in a
//!    row past the budget (watched or timed) replace the estimate with the
//!    cost they saw, so the next call goes parallel at once; a sample over
//!    twice the estimate makes the site watched again too.
//!
//!    So a call site first seen with cheap items and then given heavy ones
//!    runs one item plus at most the budget of each of the next two calls on
//!    the calling thread, then goes parallel. A site trusted after many
//!    cheap calls that turns heavy runs inline until its next spot check
//!    (at most 32 calls later), and is then handled the same way.
//! 4. A parallel run decided from an estimate times its chunks (two clock
//!    reads per chunk of at least ~50 µs): if the items cost less than the
//!    estimate said (a sample slowed by preemption, say), the estimate is
//!    lowered to what they cost, so the next call decides on the truth
//!    (inline, when it fits the budget) instead of going to the pool until
//!    the next resample.
//! 5. `with_chunk_size(n)` skips 1 to 4: chunks of `n` items, in parallel.
//!
//! # A shut-down pool
//!
//! Every entry point (`par_map`, `par_map_results`, `map_reduce`,
//! `for_each`, with or without `with_chunk_size`) refuses work on a pool that
//! was shut down, as [`Pool::submit`] does: [`TaskError::Closed`], for every
//! item in the case of `par_map_results`, and no item runs, even when the
//! input is small enough to have run inline.

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use crate::pool::task::catch;
use crate::pool::{Pool, TaskError};

const SITES: usize = 64;
const RESAMPLE_EVERY: u32 = 64;
const SAMPLE_TARGET: Duration = Duration::from_micros(2);
const MIN_CHUNK_TIME_NS: u64 = 50_000;
const CHUNKS_PER_WORKER: usize = 4;
const INLINE_BELOW_OVERHEADS: u64 = 4;
/// The most a measured task round trip is taken to be. A cold round trip
/// takes tens of µs; one measured at over a millisecond was a probe whose
/// worker was not scheduled, and kept as it is it would let every inline
/// run take four times that before it hands work to the pool.
const MAX_OVERHEAD_NS: u64 = 1_000_000;
/// Watched inline runs in a row that keep to a call site's estimate before
/// its inline runs go unwatched (but for spot checks).
const TRUSTED: u32 = 4;
/// At a trusted call site, one inline run in this many is still watched.
const SPOT_CHECK_EVERY: u32 = 32;
/// Watched runs in a row past the budget before the cost they saw replaces
/// the estimate outright (one alone may be a preempted thread).
const STRIKES: u32 = 2;

/// What [`Pool::par_map`] and friends accept: `&[T]`, `&Vec<T>` and
/// `&[T; N]` (the items are borrowed), `Vec<T>` (the items are moved),
/// index ranges `a..b` of `usize`, `u32`, `i32`, and on 64-bit targets
/// `u64` and `i64` (split by arithmetic, nothing allocated), and any
/// iterator through [`collected`] (collected into a `Vec` first).
///
/// # Examples
///
/// ```
/// use workwise::IntoParSource;
///
/// let v = vec![1, 2, 3];
/// assert_eq!((&v).into_par_source().len(), 3);
/// assert_eq!(v.into_par_source().len(), 3);
/// ```
pub trait IntoParSource {
    /// The splittable form.
    type Source: ParSource;
    /// Converts into the splittable form.
    fn into_par_source(self) -> Self::Source;
}

impl<'a, T: Sync> IntoParSource for &'a [T] {
    type Source = &'a [T];
    fn into_par_source(self) -> &'a [T] {
        self
    }
}

impl<'a, T: Sync> IntoParSource for &'a Vec<T> {
    type Source = &'a [T];
    fn into_par_source(self) -> &'a [T] {
        self.as_slice()
    }
}

impl<'a, T: Sync, const N: usize> IntoParSource for &'a [T; N] {
    type Source = &'a [T];
    fn into_par_source(self) -> &'a [T] {
        self.as_slice()
    }
}

impl<T: Send> IntoParSource for Vec<T> {
    type Source = Vec<T>;
    fn into_par_source(self) -> Vec<T> {
        self
    }
}

/// Index ranges: `cpu.par_map(0..n, f)` gives `f` each index, split by
/// arithmetic on the bounds (nothing is allocated for the input). An empty
/// or reversed range (`5..2`) has no items.
macro_rules! range_source {
    ($($t:ty => $u:ty),* $(,)?) => {$(
        impl IntoParSource for std::ops::Range<$t> {
            type Source = std::ops::Range<$t>;
            fn into_par_source(self) -> std::ops::Range<$t> {
                self
            }
        }

        impl ParSource for std::ops::Range<$t> {
            type Item = $t;
            type Chunk = std::ops::Range<$t>;
            fn len(&self) -> usize {
                if self.start < self.end {
                    // The distance fits the unsigned type of the same width,
                    // and that fits a usize (the impl is only there when so).
                    (self.end as $u).wrapping_sub(self.start as $u) as usize
                } else {
                    0
                }
            }
            fn split_tail(&mut self, k: usize) -> std::ops::Range<$t> {
                let k = k.min(ParSource::len(self));
                // `end - k` lies in `start..=end`: exact in wrapping arithmetic.
                let at = (self.end as $u).wrapping_sub(k as $u) as $t;
                let tail = at..self.end;
                self.end = at;
                tail
            }
            fn into_chunk(self) -> std::ops::Range<$t> {
                self
            }
        }
    )*};
}

range_source!(usize => usize, u32 => u32, i32 => u32);
#[cfg(target_pointer_width = "64")]
range_source!(u64 => u64, i64 => u64);

/// The items of an iterator, collected into a `Vec` when the data-parallel
/// call starts; made by [`collected`].
///
/// # Examples
///
/// ```
/// let cpu = workwise::Pool::cpu().build()?;
/// let squares = cpu.par_map(workwise::collected((1..=3u32).map(|x| x * x)), |x| x + 1)?;
/// assert_eq!(squares, [2, 5, 10]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Collected<I>(I);

/// Lets [`Pool::par_map`] and friends take any iterator, such as
/// `(0..n).map(g)`: its items are collected into a `Vec` first, then split
/// as a `Vec` is.
///
/// A plain iterator cannot be split without running it, so this is the only
/// way to share its items out; for an index range, pass the range itself
/// (`cpu.par_map(0..n, f)`), which is split by arithmetic instead.
///
/// # Examples
///
/// ```
/// let cpu = workwise::Pool::cpu().build()?;
/// let words = ["a", "bb", "ccc"];
/// let lens = cpu.par_map(workwise::collected(words.iter().map(|w| w.len())), |n| n * 10)?;
/// assert_eq!(lens, [10, 20, 30]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Cost
///
/// One `Vec` of the items, allocated at once when the iterator's size is
/// exact, and one pass of the iterator on the calling thread before any
/// item is shared out: whatever the iterator's own adapters do (the `g` of
/// `.map(g)`) runs sequentially. Put the heavy work in the data-parallel
/// call's closure, not in the iterator.
pub fn collected<I: IntoIterator>(iter: I) -> Collected<I::IntoIter> {
    Collected(iter.into_iter())
}

impl<I> IntoParSource for Collected<I>
where
    I: Iterator,
    I::Item: Send,
{
    type Source = Vec<I::Item>;
    fn into_par_source(self) -> Vec<I::Item> {
        self.0.collect()
    }
}

/// A input that can be cut into contiguous chunks; see [`IntoParSource`].
///
/// # Examples
///
/// ```
/// use workwise::ParSource;
///
/// let mut items: &[u8] = &[1, 2, 3, 4];
/// assert_eq!(items.split_tail(1), &[4]);
/// assert_eq!(ParSource::len(&items), 3);
/// ```
pub trait ParSource: Sized + Send {
    /// What `f` receives.
    type Item: Send;
    /// A contiguous run of items.
    type Chunk: IntoIterator<Item = Self::Item> + Send;
    /// How many items there are.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Splits off and returns the last `k` items (`k <= len`).
    fn split_tail(&mut self, k: usize) -> Self::Chunk;
    /// All the items as one chunk.
    fn into_chunk(self) -> Self::Chunk;
}

impl<'a, T: Sync> ParSource for &'a [T] {
    type Item = &'a T;
    type Chunk = &'a [T];
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_tail(&mut self, k: usize) -> &'a [T] {
        let (head, tail) = self.split_at(<[T]>::len(self) - k.min(<[T]>::len(self)));
        *self = head;
        tail
    }
    fn into_chunk(self) -> &'a [T] {
        self
    }
}

impl<T: Send> ParSource for Vec<T> {
    type Item = T;
    type Chunk = Vec<T>;
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn split_tail(&mut self, k: usize) -> Vec<T> {
        let at = Vec::len(self) - k.min(Vec::len(self));
        self.split_off(at)
    }
    fn into_chunk(self) -> Vec<T> {
        self
    }
}

/// One call site's learned cost per item, and how far it is trusted.
#[derive(Debug, Default)]
struct Site {
    key: AtomicUsize,
    cost_ps: AtomicU64,
    calls: AtomicU32,
    /// Watched inline runs in a row that kept to the estimate, up to
    /// `TRUSTED`.
    trust: AtomicU32,
    /// Watched inline runs in a row that ran past the budget.
    strikes: AtomicU32,
}

/// What a call site knows before a call.
struct Estimate {
    cost_ps: u64,
    /// How an inline run reads the clock.
    watch: Watch,
}

/// How an inline run reads the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// Not at all: a trusted call site.
    Off,
    /// Before and after the run, which goes in one piece: a spot check at a
    /// trusted site. Over the budget, the site is watched from the next call.
    Timed,
    /// After each piece, to stop and hand the rest over once past the budget.
    Pieces,
}

/// Per-pool state of the inline-or-parallel decision, kept in the pool's
/// extension slot ([`Pool::extension`]): the pool knows nothing of it.
#[derive(Debug)]
pub(crate) struct ParState {
    /// Set once the pool is known to be shut down.
    closed: AtomicBool,
    sites: [Site; SITES],
}

impl ParState {
    pub(crate) fn new() -> Self {
        ParState {
            closed: AtomicBool::new(false),
            sites: std::array::from_fn(|_| Site::default()),
        }
    }

    /// Marks the pool shut down: every later data-parallel call on it gives
    /// [`TaskError::Closed`] without running an item. Called here when a
    /// probe or chunk task is refused.
    fn close(&self) {
        self.closed.store(true, SeqCst);
    }

    /// Whether the pool is shut down: seen by a refused submit, or asked of
    /// the pool (a call decided inline from cached estimates submits
    /// nothing, so only the pool can tell it).
    fn is_closed(&self, pool: &Pool) -> bool {
        self.closed.load(Relaxed) || pool.is_closed()
    }
}

/// The pool's data-parallel state, made on first use.
fn par_state(pool: &Pool) -> &ParState {
    pool.extension(ParState::new)
}

/// A panic inside a chunk: the absolute index of the item, and the message.
type ItemPanic = (usize, TaskError);

fn item_panic((index, err): ItemPanic) -> TaskError {
    match err {
        TaskError::Panicked { message } => TaskError::Panicked {
            message: format!("item {index} panicked: {message}"),
        },
        other => other,
    }
}

/// Options for one data-parallel call; from [`Pool::with_chunk_size`].
///
/// # Examples
///
/// ```
/// let pool = workwise::Pool::cpu().build()?;
/// let v: Vec<u32> = (0..1000).collect();
/// let doubled = pool.with_chunk_size(100).par_map(&v, |x| x * 2)?;
/// assert_eq!(doubled[999], 1998);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Par<'p> {
    pool: &'p Pool,
    chunk_size: Option<usize>,
}

impl Pool {
    /// Data-parallel calls on this pool with chunks of exactly `n` items
    /// (the last may be shorter), skipping the measured split. `n == 0`
    /// means automatic, the same as calling the methods on the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::cpu().build()?;
    /// pool.with_chunk_size(1).for_each(vec![1, 2, 3], |x| assert!(x > 0))?;
    /// assert_eq!(pool.stats().parallel_runs, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_chunk_size(&self, n: usize) -> Par<'_> {
        Par {
            pool: self,
            chunk_size: (n > 0).then_some(n),
        }
    }

    fn par(&self) -> Par<'_> {
        Par {
            pool: self,
            chunk_size: None,
        }
    }

    /// Applies `f` to every item in parallel; the results are in input order.
    ///
    /// Items are chunked automatically, and a small or cheap input runs
    /// inline on the calling thread (see the [module docs](crate::Par) and
    /// [`PoolStats::inline_runs`](crate::PoolStats::inline_runs)).
    ///
    /// # Examples
    ///
    /// ```
    /// let cpu = workwise::Pool::cpu().build()?;
    /// let words = vec!["alpha", "beta", "gamma"];
    /// let lengths = cpu.par_map(&words, |w| w.len())?;
    /// assert_eq!(lengths, [5, 4, 5]);
    /// // An index range is split by arithmetic: nothing is allocated for it.
    /// let squares = cpu.par_map(0..1000u64, |i| i * i)?;
    /// assert_eq!(squares[999], 998_001);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// If `f` panics, [`TaskError::Panicked`] whose message names the item's
    /// index (the lowest one, if several panicked). Every other item still
    /// runs, but their results are dropped: use
    /// [`par_map_results`](Pool::par_map_results) to keep them.
    ///
    /// [`TaskError::Closed`] if the pool was shut down, whatever the input's
    /// size: no item runs (as with [`submit`](Pool::submit); see the
    /// [module docs](crate::Par)). The same holds for every data-parallel
    /// method, with or without [`with_chunk_size`](Pool::with_chunk_size).
    ///
    /// # Cost
    ///
    /// Bench rows `cpu.par_map.heavy` and `cpu.par_map.tiny`.
    #[track_caller]
    pub fn par_map<S, F, R>(&self, items: S, f: F) -> Result<Vec<R>, TaskError>
    where
        S: IntoParSource,
        F: Fn(<S::Source as ParSource>::Item) -> R + Sync,
        R: Send,
    {
        self.par().par_map(items, f)
    }

    /// Like [`par_map`](Pool::par_map), but every item gets its own result,
    /// so one panic loses nothing else. On a shut-down pool every item's
    /// result is [`TaskError::Closed`] and none runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let cpu = workwise::Pool::cpu().build()?;
    /// let out = cpu.par_map_results(vec![1, 0, 2], |x| 10 / x);
    /// assert_eq!(out[0], Ok(10));
    /// assert!(out[1].is_err());
    /// assert_eq!(out[2], Ok(5));
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    #[track_caller]
    pub fn par_map_results<S, F, R>(&self, items: S, f: F) -> Vec<Result<R, TaskError>>
    where
        S: IntoParSource,
        F: Fn(<S::Source as ParSource>::Item) -> R + Sync,
        R: Send,
    {
        self.par().par_map_results(items, f)
    }

    /// Maps every item and combines the results with `reduce`, starting each
    /// chunk from a clone of `identity`.
    ///
    /// `reduce` must be associative and `identity` neutral for it
    /// (`reduce(identity, x) == x`), as with rayon's `reduce`: chunks are
    /// combined in input order, but grouped differently from a plain fold.
    ///
    /// # Examples
    ///
    /// ```
    /// let cpu = workwise::Pool::cpu().build()?;
    /// let items: Vec<u64> = (1..=100_000).collect();
    /// let total = cpu.map_reduce(&items, |&x| x * 2, 0u64, |a, b| a + b)?;
    /// assert_eq!(total, 100_000 * 100_001);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TaskError::Panicked`] naming the item if `map` or `reduce` panics;
    /// [`TaskError::Closed`] if the pool was shut down (no item runs).
    ///
    /// # Cost
    ///
    /// Bench rows `cpu.par_map.cheap` and `cpu.map_reduce.wordcount`.
    #[track_caller]
    pub fn map_reduce<S, M, T, R>(
        &self,
        items: S,
        map: M,
        identity: T,
        reduce: R,
    ) -> Result<T, TaskError>
    where
        S: IntoParSource,
        M: Fn(<S::Source as ParSource>::Item) -> T + Sync,
        T: Clone + Send + Sync,
        R: Fn(T, T) -> T + Sync,
    {
        self.par().map_reduce(items, map, identity, reduce)
    }

    /// Runs `f` on every item in parallel.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let cpu = workwise::Pool::cpu().build()?;
    /// let sum = AtomicU64::new(0);
    /// cpu.for_each(&[1u64, 2, 3], |x| { sum.fetch_add(*x, Ordering::Relaxed); })?;
    /// assert_eq!(sum.into_inner(), 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TaskError::Panicked`] naming the item if `f` panics; the other items
    /// still run. [`TaskError::Closed`] if the pool was shut down (no item
    /// runs).
    #[track_caller]
    pub fn for_each<S, F>(&self, items: S, f: F) -> Result<(), TaskError>
    where
        S: IntoParSource,
        F: Fn(<S::Source as ParSource>::Item) + Sync,
    {
        self.par().for_each(items, f)
    }
}

impl Par<'_> {
    /// [`Pool::par_map`] with these options.
    ///
    /// # Examples
    ///
    /// ```
    /// let cpu = workwise::Pool::cpu().build()?;
    /// assert_eq!(cpu.with_chunk_size(2).par_map(vec![1, 2, 3], |x| x + 1)?, [2, 3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Pool::par_map`].
    #[track_caller]
    pub fn par_map<S, F, R>(&self, items: S, f: F) -> Result<Vec<R>, TaskError>
    where
        S: IntoParSource,
        F: Fn(<S::Source as ParSource>::Item) -> R + Sync,
        R: Send,
    {
        let site = Location::caller();
        let source = items.into_par_source();
        let n = source.len();
        let mut out: Vec<R> = Vec::new();
        let mut first_err: Option<ItemPanic> = None;
        self.drive(
            site,
            source,
            |offset, chunk| {
                let items = chunk.into_iter();
                // The first chunk becomes the output and the others are
                // appended to it, so it has room for them all.
                let room = if offset == 0 { n } else { items.size_hint().0 };
                let mut part = Vec::with_capacity(room);
                // On a panic `extend` leaves `part` holding the items done,
                // so its length is the failing item's position.
                match catch(|| part.extend(items.map(&f))) {
                    Ok(()) => Ok(part),
                    Err(e) => Err((offset + part.len(), e)),
                }
            },
            |part| match part {
                Ok(v) if first_err.is_none() => append(&mut out, v),
                Ok(_) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            },
        )?;
        match first_err {
            None => Ok(out),
            Some(e) => Err(item_panic(e)),
        }
    }

    /// [`Pool::par_map_results`] with these options; on a shut-down pool
    /// every item's result is [`TaskError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cpu = workwise::Pool::cpu().build()?;
    /// let out = cpu.with_chunk_size(1).par_map_results(vec![1u8, 2], |x| x * 3);
    /// assert_eq!(out, [Ok(3), Ok(6)]);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    #[track_caller]
    pub fn par_map_results<S, F, R>(&self, items: S, f: F) -> Vec<Result<R, TaskError>>
    where
        S: IntoParSource,
        F: Fn(<S::Source as ParSource>::Item) -> R + Sync,
        R: Send,
    {
        let site = Location::caller();
        let source = items.into_par_source();
        let n = source.len();
        let mut out: Vec<Result<R, TaskError>> = Vec::new();
        let run = self.drive(
            site,
            source,
            |offset, chunk| {
                chunk
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| catch(|| f(x)).map_err(|e| item_panic((offset + i, e))))
                    .collect::<Vec<_>>()
            },
            |part| append(&mut out, part),
        );
        match run {
            Ok(()) => out,
            Err(e) => (0..n).map(|_| Err(e.clone())).collect(),
        }
    }

    /// [`Pool::map_reduce`] with these options.
    ///
    /// # Examples
    ///
    /// ```
    /// let cpu = workwise::Pool::cpu().build()?;
    /// let max = cpu.with_chunk_size(3).map_reduce(&[4, 9, 2, 7], |&x| x, 0, |a: i32, b| a.max(b))?;
    /// assert_eq!(max, 9);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Pool::map_reduce`].
    #[track_caller]
    pub fn map_reduce<S, M, T, R>(
        &self,
        items: S,
        map: M,
        identity: T,
        reduce: R,
    ) -> Result<T, TaskError>
    where
        S: IntoParSource,
        M: Fn(<S::Source as ParSource>::Item) -> T + Sync,
        T: Clone + Send + Sync,
        R: Fn(T, T) -> T + Sync,
    {
        let site = Location::caller();
        let init = &identity;
        let reduce = &reduce;
        let mut total: Option<Result<T, TaskError>> = None;
        self.drive(
            site,
            items.into_par_source(),
            |offset, chunk| {
                let mut index = offset;
                catch(|| {
                    let mut acc = init.clone();
                    for x in chunk {
                        acc = reduce(acc, map(x));
                        index += 1;
                    }
                    acc
                })
                .map_err(|e| (index, e))
            },
            |part| {
                total = Some(match (total.take(), part) {
                    (Some(Err(e)), _) => Err(e),
                    (_, Err(e)) => Err(item_panic(e)),
                    (None, Ok(p)) => Ok(p),
                    (Some(Ok(t)), Ok(p)) => catch(|| reduce(t, p)).map_err(|e| match e {
                        TaskError::Panicked { message } => TaskError::Panicked {
                            message: format!("reduce panicked combining chunks: {message}"),
                        },
                        other => other,
                    }),
                });
            },
        )?;
        total.unwrap_or(Ok(identity))
    }

    /// [`Pool::for_each`] with these options.
    ///
    /// # Examples
    ///
    /// ```
    /// let cpu = workwise::Pool::cpu().build()?;
    /// cpu.with_chunk_size(10).for_each(vec![1u8; 30], |x| assert_eq!(x, 1))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Pool::for_each`].
    #[track_caller]
    pub fn for_each<S, F>(&self, items: S, f: F) -> Result<(), TaskError>
    where
        S: IntoParSource,
        F: Fn(<S::Source as ParSource>::Item) + Sync,
    {
        let site = Location::caller();
        let mut first_err: Option<ItemPanic> = None;
        self.drive(
            site,
            items.into_par_source(),
            |offset, chunk| {
                let mut index = offset;
                catch(|| {
                    for x in chunk {
                        f(x);
                        index += 1;
                    }
                })
                .map_err(|e| (index, e))
            },
            |part| {
                if let Err(e) = part {
                    first_err.get_or_insert(e);
                }
            },
        )?;
        first_err.map_or(Ok(()), |e| Err(item_panic(e)))
    }

    /// Splits `source`, runs `g(offset, chunk)` on each chunk (inline or on
    /// the pool), and hands the chunks' outputs to `sink` in input order.
    ///
    /// # Errors
    ///
    /// [`TaskError::Closed`] if the pool was shut down, before or under the
    /// run; then no item runs, or (under a parallel run) some did.
    fn drive<S, C, G>(
        &self,
        site: &'static Location<'static>,
        mut source: S,
        g: G,
        mut sink: impl FnMut(C),
    ) -> Result<(), TaskError>
    where
        S: ParSource,
        C: Send,
        G: Fn(usize, S::Chunk) -> C + Sync,
    {
        let pool = self.pool;
        let state = par_state(pool);
        if state.is_closed(pool) {
            return Err(TaskError::Closed);
        }
        let workers = pool.max_workers();
        // Outputs of pieces run inline, taken from the tail: last piece first.
        let mut tail_out: Vec<C> = Vec::new();
        // The inline budget, when the split below was decided from an
        // estimate that the parallel run can show to have been too high.
        let mut recheck_budget = None;
        let chunk = match self.chunk_size {
            Some(size) => size,
            None => {
                // With one worker the pool cannot share the work, so nothing
                // is measured (and no probe task waits behind a busy worker).
                let budget_ns = if workers < 2 {
                    None
                } else {
                    Some(
                        pool.task_overhead_ns()?
                            .saturating_mul(INLINE_BELOW_OVERHEADS),
                    )
                };
                let Estimate { cost_ps, watch } = match self.known_cost(site) {
                    Some(known) => known,
                    None => {
                        let n = source.len();
                        let (cost, out) = sample(&mut source, n, &g);
                        tail_out = out;
                        self.remember(site, cost);
                        Estimate {
                            cost_ps: cost,
                            watch: self.spot_check_or_pieces(site),
                        }
                    }
                };
                let rest = source.len() as u64;
                let work_ns = cost_ps.saturating_mul(rest) / 1000;
                let cost_ps = match budget_ns {
                    Some(budget) if rest > 0 && work_ns >= budget => cost_ps,
                    Some(budget) if watch == Watch::Pieces => {
                        match run_inline(&mut source, &g, &mut tail_out, &mut sink, Some(budget)) {
                            None => {
                                pool.count_par_run(true);
                                self.kept_to_budget(site);
                                return Ok(());
                            }
                            Some(seen_ps) => self.ran_past_budget(site, seen_ps),
                        }
                    }
                    Some(budget) if watch == Watch::Timed => {
                        let n = source.len() as u64;
                        let start = Instant::now();
                        run_inline(&mut source, &g, &mut tail_out, &mut sink, None);
                        let took = nanos(start.elapsed());
                        pool.count_par_run(true);
                        if took >= budget {
                            self.ran_past_budget(site, took.saturating_mul(1000) / n.max(1));
                        }
                        return Ok(());
                    }
                    _ => {
                        // The common case of a trusted site, kept free of
                        // clock reads and calls.
                        pool.count_par_run(true);
                        if rest > 0 {
                            sink(g(0, source.into_chunk()));
                        }
                        tail_out.into_iter().rev().for_each(sink);
                        return Ok(());
                    }
                };
                recheck_budget = budget_ns;
                let rest = source.len();
                let by_time = (MIN_CHUNK_TIME_NS * 1000 / cost_ps.max(1)).max(1) as usize;
                let by_balance = rest.div_ceil(workers * CHUNKS_PER_WORKER);
                by_time.max(by_balance)
            }
        };
        pool.count_par_run(false);
        let parallel_items = source.len();
        // Cut the rest into chunks from the back, then put them in order.
        let mut chunks = Vec::new();
        while !source.is_empty() {
            let k = chunk.min(source.len());
            let offset = source.len() - k;
            chunks.push((offset, source.split_tail(k)));
        }
        chunks.reverse();
        let g = &g;
        let mut slots: Vec<Option<C>> = chunks.iter().map(|_| None).collect();
        // Time spent inside the chunks, summed: the items' own cost, free of
        // the wake-ups and queueing around them.
        let spent = AtomicU64::new(0);
        let timed = recheck_budget.is_some();
        let spent_ref = &spent;
        pool.scope(|s| {
            for ((offset, c), slot) in chunks.into_iter().zip(slots.iter_mut()) {
                // The scope waits for every task, so the handle may go.
                drop(s.submit(move || {
                    let start = timed.then(Instant::now);
                    *slot = Some(g(offset, c));
                    if let Some(start) = start {
                        spent_ref.fetch_add(nanos(start.elapsed()), Relaxed);
                    }
                }));
            }
        });
        if timed && parallel_items > 0 {
            // If the items cost less than the estimate said (a sample slowed
            // by preemption, say), keep what they cost, so that the next
            // call decides on it: inline when it fits the budget.
            let seen_ps = spent.load(Relaxed).saturating_mul(1000) / parallel_items as u64;
            self.lower(site, seen_ps);
        }
        // A chunk task cannot panic (`g` catches), so an empty slot is a task
        // the pool refused or cancelled: it was shut down.
        if slots.iter().any(Option::is_none) {
            state.close();
            return Err(TaskError::Closed);
        }
        slots.into_iter().flatten().for_each(&mut sink);
        tail_out.into_iter().rev().for_each(sink);
        Ok(())
    }

    fn site(&self, site: &'static Location<'static>) -> &Site {
        &par_state(self.pool).sites[site_index(site)]
    }

    /// The call site's estimate, or `None` when it must be sampled: a new
    /// site, or every `RESAMPLE_EVERY`th call.
    fn known_cost(&self, site: &'static Location<'static>) -> Option<Estimate> {
        let slot = self.site(site);
        if slot.key.load(Relaxed) != site_key(site) {
            return None;
        }
        // Plain loads and stores: a lost count under a race only shifts when
        // the next resample or spot check comes, and it keeps locked writes
        // off the path.
        let calls = slot.calls.load(Relaxed).wrapping_add(1);
        slot.calls.store(calls, Relaxed);
        if calls % RESAMPLE_EVERY == 0 {
            return None;
        }
        let watch = if slot.trust.load(Relaxed) < TRUSTED {
            Watch::Pieces
        } else if calls % SPOT_CHECK_EVERY == 0 {
            Watch::Timed
        } else {
            Watch::Off
        };
        Some(Estimate {
            cost_ps: slot.cost_ps.load(Relaxed),
            watch,
        })
    }

    /// How a call that just sampled watches its inline run: a spot check at
    /// a trusted site, pieces otherwise.
    fn spot_check_or_pieces(&self, site: &'static Location<'static>) -> Watch {
        if self.site(site).trust.load(Relaxed) < TRUSTED {
            Watch::Pieces
        } else {
            Watch::Timed
        }
    }

    /// Keeps a sampled estimate. At a known site it may at most double the
    /// old one, so one sample slowed by preemption cannot flip the decision;
    /// a sample over twice the old estimate makes the site's inline runs
    /// watched again.
    /// A parallel run showed the site's items cost at most `cost_ps`:
    /// keep that if it is lower than the estimate (never raises it).
    fn lower(&self, site: &'static Location<'static>, cost_ps: u64) {
        let slot = self.site(site);
        if slot.key.load(Relaxed) == site_key(site) && cost_ps < slot.cost_ps.load(Relaxed) {
            slot.cost_ps.store(cost_ps.max(1), Relaxed);
        }
    }

    fn remember(&self, site: &'static Location<'static>, cost_ps: u64) {
        let slot = self.site(site);
        let cost_ps = if slot.key.load(Relaxed) == site_key(site) {
            let old = slot.cost_ps.load(Relaxed).saturating_mul(2);
            if cost_ps > old {
                slot.trust.store(0, Relaxed);
            }
            cost_ps.min(old)
        } else {
            slot.trust.store(0, Relaxed);
            slot.strikes.store(0, Relaxed);
            cost_ps
        };
        slot.cost_ps.store(cost_ps, Relaxed);
        slot.key.store(site_key(site), Relaxed);
    }

    /// A watched inline run finished within the budget.
    fn kept_to_budget(&self, site: &'static Location<'static>) {
        let slot = self.site(site);
        let trust = slot.trust.load(Relaxed);
        if trust < TRUSTED {
            slot.trust.store(trust + 1, Relaxed);
        }
        slot.strikes.store(0, Relaxed);
    }

    /// A watched inline run went past the budget having seen `seen_ps` per
    /// item; gives the cost to size the rest's chunks by. The site's runs are
    /// watched in pieces from now on, and after `STRIKES` such runs in a row
    /// the seen cost replaces the estimate outright, so the next call goes
    /// parallel at once.
    fn ran_past_budget(&self, site: &'static Location<'static>, seen_ps: u64) -> u64 {
        let slot = self.site(site);
        slot.trust.store(0, Relaxed);
        let strikes = slot.strikes.load(Relaxed) + 1;
        if strikes >= STRIKES {
            slot.cost_ps.store(seen_ps, Relaxed);
            slot.strikes.store(0, Relaxed);
        } else {
            slot.strikes.store(strikes, Relaxed);
        }
        seen_ps
    }
}

impl Pool {
    /// A cold task round trip on this pool (submit a no-op, wait for it),
    /// measured on first use and kept, at most `MAX_OVERHEAD_NS`.
    ///
    /// # Errors
    ///
    /// [`TaskError::Closed`] when the probe task was refused: the pool was
    /// shut down (and is marked so from now on).
    #[inline]
    fn task_overhead_ns(&self) -> Result<u64, TaskError> {
        match self.round_trip_ns() {
            0 => self.measure_task_overhead(),
            known => Ok(known),
        }
    }

    #[cold]
    fn measure_task_overhead(&self) -> Result<u64, TaskError> {
        let state = par_state(self);
        let start = Instant::now();
        let measured = self.submit(|| ()).wait().is_ok();
        let ns = nanos(start.elapsed()).clamp(1, MAX_OVERHEAD_NS);
        if !measured {
            state.close();
            return Err(TaskError::Closed);
        }
        self.set_round_trip_ns(ns);
        Ok(ns)
    }
}

/// Runs `source` on the calling thread, in pieces taken from its tail, and
/// hands their outputs to `sink` in input order, followed by those already
/// in `tail_out`; returns `None` when it has run everything.
///
/// Without a budget (the pool cannot share the work) it is one piece. With
/// one, the first piece is a single item and the clock is read after each
/// piece: while the pace seen so far says the rest fits in half of what is
/// left of the budget, the rest goes in one piece; otherwise the next piece
/// doubles the count run so far. Once the run has taken `budget_ns` it stops,
/// leaves the untouched items in `source`, appends the outputs it made to
/// `tail_out` (last piece first) and returns the cost per item it saw, in
/// picoseconds.
fn run_inline<S, C, G>(
    source: &mut S,
    g: &G,
    tail_out: &mut Vec<C>,
    sink: &mut impl FnMut(C),
    budget_ns: Option<u64>,
) -> Option<u64>
where
    S: ParSource,
    G: Fn(usize, S::Chunk) -> C,
{
    let Some(budget_ns) = budget_ns.filter(|_| source.len() > 1) else {
        let n = source.len();
        if n > 0 {
            sink(g(0, source.split_tail(n)));
        }
        std::mem::take(tail_out).into_iter().rev().for_each(sink);
        return None;
    };
    let start = Instant::now();
    let first = g(source.len() - 1, source.split_tail(1));
    let mut done = 1u64;
    // Pieces after the first, nearer the head each time.
    let mut later: Vec<C> = Vec::new();
    loop {
        if !source.is_empty() {
            let elapsed = nanos(start.elapsed());
            if elapsed >= budget_ns {
                tail_out.push(first);
                tail_out.extend(later);
                return Some((elapsed.saturating_mul(1000) / done).max(1));
            }
            let rest = source.len();
            let k = if elapsed.saturating_mul(rest as u64) / done <= (budget_ns - elapsed) / 2 {
                rest
            } else {
                (done as usize).min(rest)
            };
            later.push(g(rest - k, source.split_tail(k)));
            done += k as u64;
            if !source.is_empty() {
                continue;
            }
        }
        later.into_iter().rev().for_each(&mut *sink);
        sink(first);
        std::mem::take(tail_out).into_iter().rev().for_each(sink);
        return None;
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Appends a chunk's results; the first chunk is moved, not copied.
fn append<R>(out: &mut Vec<R>, part: Vec<R>) {
    if out.is_empty() {
        *out = part;
    } else {
        out.extend(part);
    }
}

fn site_key(site: &'static Location<'static>) -> usize {
    site as *const Location<'static> as usize
}

fn site_index(site: &'static Location<'static>) -> usize {
    let k = site_key(site);
    (k ^ (k >> 7) ^ (k >> 13)) % SITES
}

/// Runs tail pieces of 1, 2, 4, ... items inline until a piece takes
/// `SAMPLE_TARGET` or a sixteenth of the input has run; returns the cost per
/// item in picoseconds and the pieces' outputs, last piece first.
fn sample<S, C, G>(source: &mut S, n: usize, g: &G) -> (u64, Vec<C>)
where
    S: ParSource,
    G: Fn(usize, S::Chunk) -> C,
{
    let budget = (n / 16).max(1);
    let mut ran = 0usize;
    let mut piece = 1usize;
    let mut out = Vec::new();
    let start = Instant::now();
    let mut elapsed = Duration::ZERO;
    while ran < budget && !source.is_empty() {
        let k = piece.min(budget - ran).min(source.len());
        let offset = source.len() - k;
        let chunk = source.split_tail(k);
        out.push(g(offset, chunk));
        ran += k;
        piece *= 2;
        elapsed = start.elapsed();
        if elapsed >= SAMPLE_TARGET {
            break;
        }
    }
    let cost_ps = (elapsed.as_nanos() * 1000 / ran.max(1) as u128).max(1);
    (u64::try_from(cost_ps).unwrap_or(u64::MAX), out)
}
