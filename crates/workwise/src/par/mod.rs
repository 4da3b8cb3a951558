//! Data parallelism on a pool: [`Pool::par_map`], [`Pool::par_map_results`],
//! [`Pool::map_reduce`], [`Pool::for_each`], with automatic chunking and a
//! measured decision to run small inputs inline.
//!
//! How the work is split, and what a shut-down pool does, is told on the
//! public [`Par`] (where rustdoc shows it); the steps are numbered there and
//! the code's comments cite them. Files: `source.rs` and `range.rs` (what the
//! calls accept), `decide.rs` (steps 1 to 4: the measured decision),
//! `chunk.rs` (the driver: chunks, the parallel run), `entry.rs` (the entry
//! points).

mod chunk;
mod decide;
mod entry;
mod range;
mod source;

use crate::pool::Pool;
#[cfg(doc)]
use crate::pool::{PoolStats, TaskError};

pub use source::{collected, Collected, IntoParSource, ParSource};

/// Options for one data-parallel call; from [`Pool::with_chunk_size`]. Its
/// docs also tell how every data-parallel call ([`Pool::par_map`],
/// [`Pool::par_map_results`], [`Pool::map_reduce`], [`Pool::for_each`])
/// splits the work.
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
///
/// # How the work is split
///
/// 1. On the first call from a call site (and every 64th call after), the
///    last few items run inline on the calling thread in growing groups
///    (1, 2, 4, ...) until a group has taken about 2 µs or a sixteenth of the
///    input has run: that gives the time per item. The estimate is kept per
///    pool and call site, so later calls decide without reading a clock.
/// 2. If the remaining work is under four times the pool's measured cost of
///    one cold task round trip, taken as at most 1 ms (the *inline budget*),
///    it runs inline: a pool would cost more than it gives. Otherwise it is cut into chunks of at
///    least ~50 µs of work, and at least four chunks per worker when the input
///    allows, so that a slow core does not hold up the rest.
/// 3. A *watched* inline run does not trust the estimate: it runs one item,
///    reads the clock, and goes on in growing pieces only while the pace it
///    sees fits the budget. Once it has run past the budget it stops and
///    hands the untouched items to the pool, cut as in 2 by the cost it saw.
///    Inline runs at a call site are watched until four in a row have kept
///    to its estimate. After that the site is trusted: its inline runs read
///    no clock (a clock read costs about as much as a tiny input's whole
///    run), except one in 32 and each resample, which time the whole run and,
///    if it went past the budget, make the site watched again. Two runs in a
///    row past the budget (watched or timed) replace the estimate with the
///    cost they saw, so the next call goes parallel at once; a sample over
///    twice the estimate makes the site watched again too.
///
///    So a call site first seen with cheap items and then given heavy ones
///    runs one item plus at most the budget of each of the next two calls on
///    the calling thread, then goes parallel. A site trusted after many
///    cheap calls that turns heavy runs inline until its next spot check
///    (at most 32 calls later), and is then handled the same way.
/// 4. A parallel run decided from an estimate times its chunks (two clock
///    reads per chunk of at least ~50 µs): if the items cost less than the
///    estimate said (a sample slowed by preemption, say), the estimate is
///    lowered to what they cost, so the next call decides on the truth
///    (inline, when it fits the budget) instead of going to the pool until
///    the next resample.
/// 5. [`with_chunk_size(n)`](Pool::with_chunk_size) skips 1 to 4: chunks of
///    `n` items, in parallel.
///
/// Each call counts as one of [`PoolStats::inline_runs`] or
/// [`PoolStats::parallel_runs`], so a test or a profile can see which way
/// it went.
///
/// # A shut-down pool
///
/// Every entry point (`par_map`, `par_map_results`, `map_reduce`,
/// `for_each`, with or without `with_chunk_size`) refuses work on a pool that
/// was shut down, as [`Pool::submit`] does: [`TaskError::Closed`], for every
/// item in the case of `par_map_results`, and no item runs, even when the
/// input is small enough to have run inline.
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
}
