//! The breaker's counters (module docs, rule 9): striped by thread so that
//! counting a call writes a cache line that no other thread is writing.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crossbeam_utils::CachePadded;

/// A snapshot of a breaker's counters, returned by
/// [`CircuitBreaker::stats`](crate::CircuitBreaker::stats).
///
/// Each count is exact once the calls it counts have returned; the four are
/// read one after another, not as one atomic snapshot.
///
/// # Examples
///
/// ```
/// use workwise::CircuitBreaker;
///
/// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
/// let _ = breaker.call(|| Ok::<_, ()>(1));
/// let _ = breaker.call(|| Err::<u8, _>("down")); // opens it
/// let _ = breaker.call(|| Ok::<_, ()>(2));       // shed
///
/// let stats = breaker.stats();
/// assert_eq!((stats.successes, stats.failures, stats.rejected), (1, 1, 1));
/// assert_eq!(stats.times_opened, 1);
/// # Ok::<(), workwise::BreakerBuildError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerStats {
    /// Calls that ran and counted as successes: an `Ok`, or an error that
    /// the call's failure predicate did not count.
    pub successes: u64,
    /// Calls that ran and counted as failures.
    pub failures: u64,
    /// Calls shed without running because the breaker was open (or
    /// half-open with every probe slot taken).
    pub rejected: u64,
    /// Transitions into the open state.
    pub times_opened: u64,
}

impl BreakerStats {
    /// Calls that ran, whatever their outcome.
    ///
    /// # Examples
    ///
    /// ```
    /// let stats = workwise::BreakerStats::default();
    /// assert_eq!(stats.ran(), 0);
    /// ```
    pub fn ran(&self) -> u64 {
        self.successes + self.failures
    }
}

#[derive(Default)]
struct Stripe {
    successes: AtomicU64,
    failures: AtomicU64,
    rejected: AtomicU64,
}

pub(super) enum Count {
    Success,
    Failure,
    Rejected,
}

/// Counters in `2^k` cache-padded stripes; a thread always adds to the same
/// stripe, picked round-robin when it first counts.
pub(super) struct Stripes {
    stripes: Box<[CachePadded<Stripe>]>,
    mask: usize,
}

impl Stripes {
    /// One stripe per core, rounded up to a power of two, at most 64.
    pub(super) fn new() -> Stripes {
        let n = crate::available_cores().next_power_of_two().clamp(1, 64);
        Stripes {
            stripes: (0..n)
                .map(|_| CachePadded::new(Stripe::default()))
                .collect(),
            mask: n - 1,
        }
    }

    #[inline]
    pub(super) fn add(&self, count: Count) {
        let stripe = &self.stripes[stripe_index() & self.mask];
        let counter = match count {
            Count::Success => &stripe.successes,
            Count::Failure => &stripe.failures,
            Count::Rejected => &stripe.rejected,
        };
        counter.fetch_add(1, Relaxed);
    }

    pub(super) fn sum(&self, times_opened: u64) -> BreakerStats {
        let mut s = BreakerStats {
            times_opened,
            ..BreakerStats::default()
        };
        for stripe in self.stripes.iter() {
            s.successes += stripe.successes.load(Relaxed);
            s.failures += stripe.failures.load(Relaxed);
            s.rejected += stripe.rejected.load(Relaxed);
        }
        s
    }
}

/// This thread's stripe number, handed out round-robin on first use.
#[inline]
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE
        .try_with(|s| {
            let mut i = s.get();
            if i == usize::MAX {
                i = NEXT.fetch_add(1, Relaxed) & (usize::MAX >> 1);
                s.set(i);
            }
            i
        })
        .unwrap_or(0) // thread-local storage is being torn down
}
