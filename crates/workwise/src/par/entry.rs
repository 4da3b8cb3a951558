//! The entry points: `par_map`, `par_map_results`, `map_reduce` and
//! `for_each`, on [`Pool`] (automatic) and on [`Par`] (with options).

use std::panic::Location;

use super::source::{IntoParSource, ParSource};
use super::Par;
use crate::pool::task::catch;
use crate::pool::{Pool, TaskError};

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

impl Pool {
    /// Applies `f` to every item in parallel; the results are in input order.
    ///
    /// Items are chunked automatically, and a small or cheap input runs
    /// inline on the calling thread: see [how the work is
    /// split](crate::Par#how-the-work-is-split) and
    /// [`PoolStats::inline_runs`](crate::PoolStats::inline_runs).
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
    /// // So is an inclusive one, up to the type's last value.
    /// let top = cpu.par_map(u32::MAX - 2..=u32::MAX, |i| u32::MAX - i)?;
    /// assert_eq!(top, [2, 1, 0]);
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
    /// size: no item runs (as with [`submit`](Pool::submit); see [a
    /// shut-down pool](crate::Par#a-shut-down-pool)). The same holds for
    /// every data-parallel method, with or without
    /// [`with_chunk_size`](Pool::with_chunk_size).
    ///
    /// [`TaskError::TooManyItems`] if the input has more items than a
    /// `usize` can count (`0..=usize::MAX`), or more than a `Vec` of the
    /// results can hold (`0..u64::MAX`): no item runs. The first holds for
    /// every data-parallel method, the second for `par_map_results` too,
    /// which then gives that one error alone, as it cannot give one per
    /// item.
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
    /// result is [`TaskError::Closed`] and none runs; an input with more
    /// items than a `usize` can count gives one [`TaskError::TooManyItems`]
    /// alone and none runs. The work is split as
    /// [`par_map`](Pool::par_map)'s is ([how the work is
    /// split](crate::Par#how-the-work-is-split)).
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
    /// chunk from a clone of `identity`; the work is split as
    /// [`par_map`](Pool::par_map)'s is ([how the work is
    /// split](crate::Par#how-the-work-is-split)).
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
    /// [`TaskError::Closed`] if the pool was shut down (no item runs);
    /// [`TaskError::TooManyItems`] if the input has more items than a
    /// `usize` can count (no item runs).
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

    /// Runs `f` on every item in parallel, the work split as
    /// [`par_map`](Pool::par_map)'s is ([how the work is
    /// split](crate::Par#how-the-work-is-split)).
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
    /// runs); [`TaskError::TooManyItems`] if the input has more items than a
    /// `usize` can count (no item runs).
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
        if !fits_a_vec::<R>(n) {
            return Err(TaskError::TooManyItems);
        }
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
    /// every item's result is [`TaskError::Closed`] (and an uncountable input
    /// gives one [`TaskError::TooManyItems`], as there).
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
        let n = match source.checked_len() {
            Some(n) if fits_a_vec::<Result<R, TaskError>>(n) => n,
            _ => return vec![Err(TaskError::TooManyItems)],
        };
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
}

/// Appends a chunk's results; the first chunk is moved, not copied.
fn append<R>(out: &mut Vec<R>, part: Vec<R>) {
    if out.is_empty() {
        *out = part;
    } else {
        out.extend(part);
    }
}

/// Whether a `Vec` can hold `n` values of `R`: at most `isize::MAX` bytes.
/// Past that, reserving room for them panics (capacity overflow), so such
/// an input is refused before any item runs.
fn fits_a_vec<R>(n: usize) -> bool {
    n <= isize::MAX.unsigned_abs() / std::mem::size_of::<R>().max(1)
}
