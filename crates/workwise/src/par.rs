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
//!    one cold task round trip, it runs inline: a pool would cost more than it
//!    gives. Otherwise it is cut into chunks of at least ~50 µs of work, and
//!    at least four chunks per worker when the input allows, so that a slow
//!    core does not hold up the rest.
//! 3. `with_chunk_size(n)` skips both: chunks of `n` items, in parallel.

use std::panic::Location;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::pool::task::catch;
use crate::{Pool, TaskError};

const SITES: usize = 64;
const RESAMPLE_EVERY: u32 = 64;
const SAMPLE_TARGET: Duration = Duration::from_micros(2);
const MIN_CHUNK_TIME_NS: u64 = 50_000;
const CHUNKS_PER_WORKER: usize = 4;
const INLINE_BELOW_OVERHEADS: u64 = 4;

/// What [`Pool::par_map`] and friends accept: `&[T]`, `&Vec<T>` and
/// `&[T; N]` (the items are borrowed), and `Vec<T>` (the items are moved).
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

/// One call site's learned cost per item.
#[derive(Debug, Default)]
struct Site {
    key: AtomicUsize,
    cost_ps: AtomicU64,
    calls: AtomicU32,
}

/// Per-pool state of the inline-or-parallel decision.
#[derive(Debug)]
pub(crate) struct ParState {
    /// A cold task round trip on this pool, in ns; 0 until measured.
    overhead_ns: AtomicU64,
    sites: [Site; SITES],
    pub(crate) inline_runs: AtomicU64,
    pub(crate) parallel_runs: AtomicU64,
}

impl ParState {
    pub(crate) fn new() -> Self {
        ParState {
            overhead_ns: AtomicU64::new(0),
            sites: std::array::from_fn(|_| Site::default()),
            inline_runs: AtomicU64::new(0),
            parallel_runs: AtomicU64::new(0),
        }
    }
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
    /// so one panic loses nothing else.
    ///
    /// # Examples
    ///
    /// ```
    /// let cpu = workwise::Pool::cpu().build()?;
    /// let out = cpu.par_map_results(vec![1, 0, 2], |x| 10 / x);
    /// assert_eq!(out[0], Ok(10));
    /// assert!(out[1].is_err());
    /// assert_eq!(out[2], Ok(5));
    /// # Ok::<(), workwise::BuildError>(())
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
    /// [`TaskError::Panicked`] naming the item if `map` or `reduce` panics.
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
    /// still run.
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
        let mut out: Vec<R> = Vec::new();
        let mut first_err: Option<ItemPanic> = None;
        self.drive(
            site,
            items.into_par_source(),
            |offset, chunk| {
                let items = chunk.into_iter();
                let mut part = Vec::with_capacity(items.size_hint().0);
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

    /// [`Pool::par_map_results`] with these options.
    ///
    /// # Examples
    ///
    /// ```
    /// let cpu = workwise::Pool::cpu().build()?;
    /// let out = cpu.with_chunk_size(1).par_map_results(vec![1u8, 2], |x| x * 3);
    /// assert_eq!(out, [Ok(3), Ok(6)]);
    /// # Ok::<(), workwise::BuildError>(())
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
    /// [`TaskError::Closed`] if the pool was shut down under a parallel run.
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
        let state = pool.par_state();
        let n = source.len();
        let workers = pool.max_workers();
        // Outputs of pieces run inline, taken from the tail: last piece first.
        let mut tail_out: Vec<C> = Vec::new();
        let chunk = match self.chunk_size {
            Some(size) => size,
            None => {
                let cost_ps = match self.known_cost(site) {
                    Some(c) => c,
                    None => {
                        let (cost, out) = sample(&mut source, n, &g);
                        tail_out = out;
                        self.remember(site, cost);
                        cost
                    }
                };
                let rest = source.len() as u64;
                let work_ns = cost_ps.saturating_mul(rest) / 1000;
                if workers < 2
                    || rest == 0
                    || work_ns < INLINE_BELOW_OVERHEADS * pool.task_overhead_ns()
                {
                    state.inline_runs.fetch_add(1, Relaxed);
                    if rest > 0 {
                        sink(g(0, source.into_chunk()));
                    }
                    tail_out.into_iter().rev().for_each(sink);
                    return Ok(());
                }
                let by_time = (MIN_CHUNK_TIME_NS * 1000 / cost_ps.max(1)).max(1) as usize;
                let by_balance = (rest as usize).div_ceil(workers * CHUNKS_PER_WORKER);
                by_time.max(by_balance)
            }
        };
        state.parallel_runs.fetch_add(1, Relaxed);
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
        pool.scope(|s| {
            for ((offset, c), slot) in chunks.into_iter().zip(slots.iter_mut()) {
                // The scope waits for every task, so the handle may go.
                drop(s.submit(move || *slot = Some(g(offset, c))));
            }
        });
        // A chunk task cannot panic (`g` catches), so an empty slot is a task
        // the pool refused or cancelled: it was shut down.
        if slots.iter().any(Option::is_none) {
            return Err(TaskError::Closed);
        }
        slots.into_iter().flatten().for_each(&mut sink);
        tail_out.into_iter().rev().for_each(sink);
        Ok(())
    }

    fn known_cost(&self, site: &'static Location<'static>) -> Option<u64> {
        let slot = &self.pool.par_state().sites[site_index(site)];
        if slot.key.load(Relaxed) != site_key(site) {
            return None;
        }
        // A plain load and store: a lost count under a race only shifts when
        // the next resample comes, and it keeps a locked write off the path.
        let calls = slot.calls.load(Relaxed).wrapping_add(1);
        slot.calls.store(calls, Relaxed);
        (calls % RESAMPLE_EVERY != 0).then(|| slot.cost_ps.load(Relaxed))
    }

    /// Keeps a new estimate; at a known site it may at most double the old
    /// one, so one sample slowed by preemption cannot flip the decision.
    fn remember(&self, site: &'static Location<'static>, cost_ps: u64) {
        let slot = &self.pool.par_state().sites[site_index(site)];
        let cost_ps = if slot.key.load(Relaxed) == site_key(site) {
            cost_ps.min(slot.cost_ps.load(Relaxed).saturating_mul(2))
        } else {
            cost_ps
        };
        slot.cost_ps.store(cost_ps, Relaxed);
        slot.key.store(site_key(site), Relaxed);
    }
}

impl Pool {
    /// A cold task round trip on this pool (submit a no-op, wait for it),
    /// measured on first use and kept.
    fn task_overhead_ns(&self) -> u64 {
        let state = self.par_state();
        let known = state.overhead_ns.load(Relaxed);
        if known != 0 {
            return known;
        }
        let start = Instant::now();
        let measured = self.submit(|| ()).wait().is_ok();
        let ns = u64::try_from(start.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        if !measured {
            // A closed pool: nothing was measured, and nothing will run on it.
            return u64::MAX / INLINE_BELOW_OVERHEADS;
        }
        state.overhead_ns.store(ns, Relaxed);
        ns
    }
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
