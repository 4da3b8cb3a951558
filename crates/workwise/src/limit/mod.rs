//! A rate limiter: the generic cell rate algorithm (GCRA) on one atomic word.
//!
//! A limiter of `n` permits per `period` hands out one permit every
//! *interval* (`period / n`), and lets up to `burst` permits go at once after
//! a quiet spell. Its whole state is the *theoretical arrival time* (TAT):
//! the clock time, in nanoseconds, at which the limiter would be idle again.
//! Every decision reads the clock once and moves the TAT with one
//! compare-and-swap, so there is no lock, no refill task and no per-caller
//! memory.
//!
//! # Protocol
//!
//! Let `T` be the interval and `L = burst × T`, both in whole nanoseconds.
//!
//! 1. A request for `k` permits at time `now` would move the TAT to
//!    `new = max(TAT, now) + k × T`; its *slot* is `new − L`, the time at
//!    which it conforms. It may go at once when `slot ≤ now`.
//! 2. `try_acquire*` compare-and-swaps the TAT to `new` only when it may go at
//!    once; otherwise it changes nothing and reports `slot − now` as the
//!    wait. It never takes a slot in the future, so it cannot jump ahead of
//!    a waiting caller.
//! 3. `acquire*` compare-and-swaps the TAT to `new` unconditionally: that
//!    *reserves* its slot. Then it sleeps on the clock until the slot. Each
//!    successful swap moves the TAT forward by at least `T`, so slots are
//!    handed out in the order of the swaps: callers that wait are served
//!    first come, first served, and none of them spins.
//! 4. A reserved slot is never given back (a later caller may already have
//!    reserved the one after it). A caller that gives up after reserving,
//!    such as a dropped [`acquire_async`](RateLimiter::acquire_async) future,
//!    leaves its slot unused: the rate can only come out lower, never
//!    higher.
//! 5. The TAT guards no other data, and every change to it is a
//!    read-modify-write of that one word, so relaxed ordering is enough: the
//!    word's modification order is the order of the grants.
//!
//! 6. The clock's end is the last nanosecond a `u64` holds (about 584 years;
//!    a [`ManualClock`](crate::ManualClock) stops there). A request whose new
//!    TAT would pass it is refused, never granted: `try_acquire*` reports
//!    [`RetryAfter`]`(Duration::MAX)` ("never"), and `acquire*` waits for a
//!    time that never comes. A TAT pinned at the end would let every request
//!    through, since no slot could ever look late.
//!
//! With these rules, the permits granted in any window of length `w` number
//! at most `burst + w / T`.
//!
//! # Layout
//!
//! The public face is [`RateLimiter`] (this file: the blocking and
//! non-blocking calls). The GCRA word's rules 1-3 and 6 are in `word.rs`,
//! the constructors and the builder in `builder.rs`, the errors in
//! `error.rs`, the async waits in `wait_async.rs` and the loom models in
//! `loom_tests.rs`.

mod builder;
mod error;
#[cfg(all(test, loom))]
mod loom_tests;
mod wait_async;
mod word;

use std::fmt;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::clock::{Clock, RealClock};

#[cfg(loom)]
use loom::sync::atomic::AtomicU64;
#[cfg(not(loom))]
use std::sync::atomic::AtomicU64;

pub use builder::RateLimiterBuilder;
pub use error::{AcquireError, LimitBuildError, RetryAfter, TryAcquireError};

use word::{duration_nanos, Refused};

/// A lock-free rate limiter: `n` permits per period, with a burst.
///
/// Share it between threads by reference (in [`std::thread::scope`] or a
/// [`Pool::scope`](crate::Pool::scope)) or in an [`Arc`](std::sync::Arc).
/// The clock is a type parameter, so reading the default [`RealClock`] (the
/// CPU's counter where the kernel vouches for it, the OS monotonic clock
/// elsewhere) is a direct call, and tests can use a
/// [`ManualClock`](crate::ManualClock).
///
/// The default burst is 1: permits are spaced evenly, one per interval,
/// which is what an API's "10 requests a second" usually means. governor
/// defaults to a burst of the whole rate (10 at once, then one every
/// 100 ms); ask for that with [`burst`](RateLimiterBuilder::burst).
///
/// # Examples
///
/// ```
/// use workwise::RateLimiter;
///
/// let limiter = RateLimiter::per_second(10).burst(5).build()?;
/// for _ in 0..5 {
///     limiter.try_acquire()?; // the burst is there at once
/// }
/// let wait = limiter.try_acquire().unwrap_err(); // the sixth must wait
/// assert!(wait.0.as_millis() <= 100);
/// limiter.acquire(); // sleeps until its turn (about 100 ms)
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Each call returns an error type with only the failures it can have (as
/// crossbeam's channels do):
///
/// | Call | Error | Means |
/// |------|-------|-------|
/// | [`build`](RateLimiterBuilder::build) | [`LimitBuildError`] | a rate, period or burst that cannot work |
/// | [`try_acquire`](Self::try_acquire), [`acquire_timeout`](Self::acquire_timeout) | [`RetryAfter`] | not now: the wait until a permit is free |
/// | [`try_acquire_n`](Self::try_acquire_n) | [`TryAcquireError`] | not now ([`RetryAfter`](TryAcquireError::RetryAfter)), or never ([`ExceedsBurst`](TryAcquireError::ExceedsBurst)) |
/// | [`acquire_n`](Self::acquire_n), [`acquire_n_async`](Self::acquire_n_async) | [`AcquireError`] | never: more than the burst at once |
/// | [`acquire`](Self::acquire), [`acquire_async`](Self::acquire_async) | none | they wait for their turn |
pub struct RateLimiter<C: Clock = RealClock> {
    /// The theoretical arrival time, in nanoseconds on `clock`.
    tat: CachePadded<AtomicU64>,
    /// `T`: nanoseconds between permits, at least 1.
    interval: u64,
    /// `L = burst × T`.
    window: u64,
    burst: u32,
    clock: C,
}

impl<C: Clock> fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("interval", &self.interval())
            .field("burst", &self.burst)
            .field("clock", &self.clock)
            .finish()
    }
}

impl<C: Clock> RateLimiter<C> {
    /// Takes one permit if one is free now, or says how long until one is.
    ///
    /// Never waits and never reserves a future slot, so it cannot take a
    /// turn from a caller blocked in [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{ManualClock, RateLimiter, RetryAfter};
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::per_second(10).clock(clock.clone()).build()?;
    /// assert_eq!(limiter.try_acquire(), Ok(()));
    /// assert_eq!(limiter.try_acquire(), Err(RetryAfter(Duration::from_millis(100))));
    /// clock.advance(Duration::from_millis(100));
    /// assert_eq!(limiter.try_acquire(), Ok(()));
    /// # Ok::<(), workwise::LimitBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RetryAfter`] with the wait until a permit is free, when none is now;
    /// `RetryAfter(Duration::MAX)` when none ever will be on this clock
    /// (protocol rule 6: the clock is at its end, some 584 years in).
    ///
    /// # Cost
    ///
    /// One clock read, one load and one compare-and-swap (again only if
    /// another thread changed the limiter in between). The clock read is
    /// most of it: on the default [`RealClock`] reading the CPU's counter
    /// (as here), about 20 ns a call on one thread, 0.73-0.77× governor on
    /// its default quanta clock and about a third of governor on `Instant`;
    /// reading `Instant` (about 30 ns; [`RealClock::os`]) it was 2.1-2.3×
    /// governor-on-quanta and 0.77-0.82× governor-on-`Instant`. The clock is
    /// read as whole nanoseconds ([`Clock::now_nanos`]), skipping a
    /// `Duration` round trip that was worth about 0.2× of governor.
    /// Bench rows `limiter.try_acquire.1t` (one thread) and
    /// `limiter.try_acquire.2t` (two threads on one limiter, where the shared
    /// word's cache line dominates), against governor's `check`.
    #[inline]
    pub fn try_acquire(&self) -> Result<(), RetryAfter> {
        self.take(self.interval, 0)
            .map(drop)
            .map_err(Refused::retry_after)
    }

    /// Takes `n` permits at once if they are free now, or says how long
    /// until they are; `n = 0` always succeeds.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{ManualClock, RateLimiter, TryAcquireError};
    ///
    /// let limiter = RateLimiter::per_second(10)
    ///     .burst(5)
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// limiter.try_acquire_n(3)?;
    /// assert!(matches!(limiter.try_acquire_n(3), Err(TryAcquireError::RetryAfter(_))));
    /// assert!(matches!(limiter.try_acquire_n(6), Err(TryAcquireError::ExceedsBurst { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::RetryAfter`] with the wait when the permits are not
    /// free yet; [`TryAcquireError::ExceedsBurst`] when `n` is more than the
    /// burst, which can never succeed.
    ///
    /// # Cost
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_n(&self, n: u32) -> Result<(), TryAcquireError> {
        let cost = self.cost(n)?;
        if cost == 0 {
            return Ok(());
        }
        self.take(cost, 0)
            .map(drop)
            .map_err(|why| TryAcquireError::RetryAfter(why.retry_after()))
    }

    /// Takes one permit, blocking the thread until its turn.
    ///
    /// The caller reserves the next free slot at once and then sleeps on the
    /// clock until it: blocked callers are served in the order they arrived,
    /// and none of them spins. (governor's `until_ready` instead sleeps and
    /// retries, and callers that retry race each other in no order.) On a
    /// clock at its end it waits for good (protocol rule 6).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use workwise::RateLimiter;
    ///
    /// let start = Instant::now();
    /// let limiter = RateLimiter::per_second(100).build()?;
    /// for _ in 0..3 {
    ///     limiter.acquire();
    /// }
    /// assert!(start.elapsed() >= Duration::from_millis(20)); // 0, 10 and 20 ms
    /// # Ok::<(), workwise::LimitBuildError>(())
    /// ```
    pub fn acquire(&self) {
        if let Some(at) = self.reserve(self.interval) {
            self.clock.sleep_until(at);
        }
    }

    /// Takes `n` permits at once, blocking the thread until their turn; the
    /// order is first come, first served, as for [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{AcquireError, RateLimiter};
    ///
    /// let limiter = RateLimiter::per_second(1000).burst(10).build()?;
    /// limiter.acquire_n(10)?;
    /// let never = limiter.acquire_n(11).unwrap_err(); // more than the burst
    /// assert_eq!(never, AcquireError::ExceedsBurst { requested: 11, burst: 10 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`AcquireError::ExceedsBurst`] at once, without waiting or reserving,
    /// when `n` is more than the burst: those permits could never be free
    /// together.
    pub fn acquire_n(&self, n: u32) -> Result<(), AcquireError> {
        let cost = self.cost(n)?;
        if cost > 0 {
            if let Some(at) = self.reserve(cost) {
                self.clock.sleep_until(at);
            }
        }
        Ok(())
    }

    /// Takes one permit if its turn comes within `timeout`, blocking until
    /// then; otherwise returns at once, reserving nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{ManualClock, RateLimiter, RetryAfter};
    ///
    /// let limiter = RateLimiter::per_second(1).clock(ManualClock::new()).build()?;
    /// limiter.acquire_timeout(Duration::ZERO)?;
    /// let err = limiter.acquire_timeout(Duration::from_millis(500)).unwrap_err();
    /// assert_eq!(err, RetryAfter(Duration::from_secs(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RetryAfter`] with the whole wait a permit needs now, when that is
    /// longer than `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), RetryAfter> {
        match self.take(self.interval, duration_nanos(timeout)) {
            Ok((at, wait)) => {
                if wait > 0 {
                    self.clock.sleep_until(Duration::from_nanos(at));
                }
                Ok(())
            }
            Err(why) => Err(why.retry_after()),
        }
    }

    /// The time between permits: the period divided by the rate, rounded up
    /// to whole nanoseconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = workwise::RateLimiter::per_second(3).build()?;
    /// assert_eq!(limiter.interval(), Duration::from_nanos(333_333_334));
    /// # Ok::<(), workwise::LimitBuildError>(())
    /// ```
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval)
    }

    /// The most permits granted at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let limiter = workwise::RateLimiter::per_second(10).burst(5).build()?;
    /// assert_eq!(limiter.burst(), 5);
    /// # Ok::<(), workwise::LimitBuildError>(())
    /// ```
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The clock the limiter reads.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{Clock, ManualClock, RateLimiter};
    ///
    /// let limiter = RateLimiter::per_second(1).clock(ManualClock::new()).build()?;
    /// assert_eq!(limiter.clock().now(), std::time::Duration::ZERO);
    /// # Ok::<(), workwise::LimitBuildError>(())
    /// ```
    pub fn clock(&self) -> &C {
        &self.clock
    }
}
