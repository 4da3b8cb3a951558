//! Time as a parameter: the real monotonic clock, and a manual clock that
//! tests move by hand.
//!
//! Every type in workwise that depends on time (the rate limiter, the circuit
//! breaker, retries) takes a [`Clock`], so that its logic can be tested
//! exactly on a [`ManualClock`] instead of with sleeps.
//!
//! Which real clock [`RealClock`] reads, and why, is in its docs (section
//! "Which real clock"), where a reader of the API sees it.

mod manual;
mod real;
mod sleep;

use std::fmt;
use std::time::{Duration, Instant};

pub use manual::ManualClock;
pub use real::RealClock;
pub use sleep::Sleep;

/// The deadline `timeout` from now, or `None` when it lies beyond what an
/// [`Instant`] can hold: a far deadline means "no deadline", never an
/// overflow panic. Every deadline computed from a user's `Duration` goes
/// through here.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    deadline_from(Instant::now(), timeout)
}

/// [`deadline_after`] from a given instant.
pub(crate) fn deadline_from(start: Instant, timeout: Duration) -> Option<Instant> {
    start.checked_add(timeout)
}

/// A source of monotonic time, as a duration since the clock's own origin.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// assert_eq!(clock.now(), Duration::ZERO);
/// clock.advance(Duration::from_secs(3));
/// assert_eq!(clock.now(), Duration::from_secs(3));
/// ```
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The time since this clock's origin; it should never decrease.
    ///
    /// A real clock may still step back a little (see [which real
    /// clock](RealClock#which-real-clock): the CPU's counter), and [`ManualClock::rewind`] steps
    /// back on purpose: code that reads a clock must never grant more when
    /// the time it reads goes back. [`RateLimiter`](crate::RateLimiter) only
    /// becomes stricter.
    fn now(&self) -> Duration;

    /// [`now`](Self::now) in whole nanoseconds, `u64::MAX` from about 584
    /// years on: what the rate limiter reads. A clock that counts
    /// nanoseconds itself can give them without building a `Duration`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// clock.advance(Duration::from_micros(3));
    /// assert_eq!(clock.now_nanos(), 3_000);
    /// ```
    #[inline]
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Blocks the calling thread until `now() >= at`.
    fn sleep_until(&self, at: Duration);

    /// A future that completes once `now() >= at`; it needs no runtime.
    fn sleep_until_async(&self, at: Duration) -> Sleep;
}
