//! The real clock: the CPU's counter or the OS monotonic clock.

use std::time::{Duration, Instant};

#[cfg(feature = "tsc")]
use crate::counter::Counter;

use super::sleep::{RealSleep, SleepInner};
use super::{deadline_after, Clock, Sleep};

/// The real clock: the CPU's counter where the kernel vouches that it is in
/// step across cores, the OS monotonic clock ([`Instant`]) elsewhere.
///
/// # Examples
///
/// ```
/// use workwise::{Clock, RealClock};
///
/// let clock = RealClock::new();
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// println!("reads the CPU's counter: {}", clock.reads_counter());
/// ```
///
/// # Which real clock
///
/// [`RealClock::new`] reads the CPU's counter directly (`rdtsc` on x86-64,
/// through `quanta`, about 10 ns a read: what governor reads) where the
/// kernel's own clocksource is that counter, because the kernel has then
/// checked that the counters of all cores are in step. Elsewhere, and
/// always for [`RealClock::os`], it reads [`Instant`] (`CLOCK_MONOTONIC`
/// through the vDSO, about 30-40 ns a read on these VMs);
/// [`reads_counter`](RealClock::reads_counter) says which one a clock
/// reads. The difference shows where the clock read is most of the work:
/// the rate limiter's decision is one compare-and-swap (bench row
/// `limiter.try_acquire.1t`).
///
/// The counter is not read everywhere because `quanta` does not check the
/// cores against each other (quanta #111, governor #299);
/// `CLOCK_MONOTONIC_COARSE` is not used either. The `counter` module's
/// notes give the reasons, summed up in ARCHITECTURE.md's decisions. What a
/// clock that steps back a little does to the code reading it: see
/// [`Clock::now`].
///
/// # Cost
///
/// One [`now`](Clock::now): a counter read and a multiply-shift, or one
/// [`Instant::now`]. The first `RealClock::new` of a process reads a file
/// from `/sys` and, where the counter is used, lets `quanta` calibrate it
/// against the OS clock (from half a millisecond to at most 200 ms). Bench
/// row `limiter.try_acquire.1t`.
#[derive(Debug, Clone, Copy)]
pub struct RealClock {
    origin: Instant,
    /// The counter, where it is read (`tsc` feature).
    #[cfg(feature = "tsc")]
    counter: Option<Counter>,
}

impl RealClock {
    /// A clock whose origin is now: the counter where the kernel vouches
    /// for it, the OS monotonic clock elsewhere.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{Clock, RealClock};
    ///
    /// assert!(RealClock::new().now() < std::time::Duration::from_secs(60));
    /// ```
    pub fn new() -> Self {
        RealClock {
            origin: Instant::now(),
            #[cfg(feature = "tsc")]
            counter: Counter::new(),
        }
    }

    /// A clock whose origin is now that reads the OS monotonic clock
    /// ([`Instant`]) on every call, whatever the kernel's clocksource.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{RateLimiter, RealClock};
    ///
    /// assert!(!RealClock::os().reads_counter());
    /// let limiter = RateLimiter::per_second(10).clock(RealClock::os()).build()?;
    /// limiter.try_acquire()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn os() -> Self {
        RealClock {
            origin: Instant::now(),
            #[cfg(feature = "tsc")]
            counter: None,
        }
    }

    /// Whether this clock reads the CPU's counter (`true`) or the OS
    /// monotonic clock (`false`).
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = workwise::RealClock::new();
    /// if !clock.reads_counter() {
    ///     println!("the kernel's clocksource is not the CPU's counter here");
    /// }
    /// ```
    pub fn reads_counter(&self) -> bool {
        #[cfg(feature = "tsc")]
        return self.counter.is_some();
        #[cfg(not(feature = "tsc"))]
        false
    }
}

impl Default for RealClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for RealClock {
    #[inline]
    fn now(&self) -> Duration {
        #[cfg(feature = "tsc")]
        if let Some(counter) = &self.counter {
            return counter.now();
        }
        self.origin.elapsed()
    }

    #[inline]
    fn now_nanos(&self) -> u64 {
        #[cfg(feature = "tsc")]
        if let Some(counter) = &self.counter {
            return counter.now_nanos();
        }
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn sleep_until(&self, at: Duration) {
        if self.reads_counter() {
            // The OS sleeps on its own clock, whose rate differs from the
            // calibrated counter's by parts per million: check again.
            loop {
                let now = self.now();
                if now >= at {
                    return;
                }
                std::thread::sleep(at - now);
            }
        }
        let Some(deadline) = self.origin.checked_add(at) else {
            // Beyond what an Instant can hold: that time never comes.
            loop {
                std::thread::park();
            }
        };
        loop {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            std::thread::sleep(deadline - now);
        }
    }

    fn sleep_until_async(&self, at: Duration) -> Sleep {
        if self.reads_counter() {
            return Sleep(SleepInner::Rechecking {
                clock: *self,
                at,
                real: RealSleep::new(instant_at(self, at)),
            });
        }
        Sleep(SleepInner::Real(RealSleep::new(
            self.origin.checked_add(at),
        )))
    }
}

/// The [`Instant`] at which `clock` reaches `at`, judged now; `None` when that
/// lies beyond what an `Instant` holds. The clock is read first, so the
/// deadline errs late, never early.
pub(super) fn instant_at(clock: &RealClock, at: Duration) -> Option<Instant> {
    deadline_after(at.saturating_sub(clock.now()))
}
