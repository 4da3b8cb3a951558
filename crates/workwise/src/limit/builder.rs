//! [`RateLimiterBuilder`]: the rate, period, burst and clock, checked by
//! [`build`](RateLimiterBuilder::build).

use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::{LimitBuildError, RateLimiter};
use crate::clock::{Clock, RealClock};

#[cfg(loom)]
use loom::sync::atomic::AtomicU64;
#[cfg(not(loom))]
use std::sync::atomic::AtomicU64;

/// The longest `interval × burst` a limiter accepts, so that clock times
/// plus that window fit a `u64` of nanoseconds for centuries of uptime.
const MAX_WINDOW: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

impl RateLimiter<RealClock> {
    /// A builder for a limiter of `n` permits a second.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::RateLimiter;
    ///
    /// let limiter = RateLimiter::per_second(4).build()?;
    /// assert_eq!(limiter.interval(), Duration::from_millis(250));
    /// # Ok::<(), workwise::LimitBuildError>(())
    /// ```
    pub fn per_second(n: u32) -> RateLimiterBuilder {
        Self::new(n, Duration::from_secs(1))
    }

    /// A builder for a limiter of `n` permits a minute.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::RateLimiter;
    ///
    /// let limiter = RateLimiter::per_minute(30).build()?;
    /// assert_eq!(limiter.interval(), Duration::from_secs(2));
    /// # Ok::<(), workwise::LimitBuildError>(())
    /// ```
    pub fn per_minute(n: u32) -> RateLimiterBuilder {
        Self::new(n, Duration::from_secs(60))
    }

    /// A builder for a limiter of `n` permits per `period`.
    ///
    /// The interval between permits is `period / n`, rounded *up* to whole
    /// nanoseconds so that the rate is never exceeded. A rate that rounding
    /// would lower by more than 1% (finer than one permit per nanosecond,
    /// or a few nanoseconds apart) is refused by
    /// [`build`](RateLimiterBuilder::build) with
    /// [`LimitBuildError::RateTooFine`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::RateLimiter;
    ///
    /// let limiter = RateLimiter::new(3, Duration::from_millis(30)).build()?;
    /// assert_eq!(limiter.interval(), Duration::from_millis(10));
    /// # Ok::<(), workwise::LimitBuildError>(())
    /// ```
    #[allow(
        clippy::new_ret_no_self,
        reason = "the general form beside per_second and per_minute; all three return the builder"
    )]
    pub fn new(n: u32, period: Duration) -> RateLimiterBuilder {
        RateLimiterBuilder {
            rate: n,
            period,
            burst: 1,
            clock: RealClock::new(),
        }
    }
}

/// Configures a [`RateLimiter`]; made by [`RateLimiter::per_second`],
/// [`RateLimiter::per_minute`] or [`RateLimiter::new`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{ManualClock, RateLimiter};
///
/// let limiter = RateLimiter::new(100, Duration::from_secs(60))
///     .burst(10)
///     .clock(ManualClock::new())
///     .build()?;
/// assert_eq!(limiter.interval(), Duration::from_millis(600));
/// # Ok::<(), workwise::LimitBuildError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RateLimiterBuilder<C: Clock = RealClock> {
    rate: u32,
    period: Duration,
    burst: u32,
    clock: C,
}

impl<C: Clock> RateLimiterBuilder<C> {
    /// The most permits granted at once after a quiet spell (default 1:
    /// evenly spaced permits). The limiter still grants `n` per period over
    /// time; the burst only lets unused permits pile up, to at most `b`.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{ManualClock, RateLimiter};
    ///
    /// let limiter = RateLimiter::per_second(10).burst(3).clock(ManualClock::new()).build()?;
    /// assert_eq!((0..5).filter(|_| limiter.try_acquire().is_ok()).count(), 3);
    /// # Ok::<(), workwise::LimitBuildError>(())
    /// ```
    pub fn burst(mut self, b: u32) -> Self {
        self.burst = b;
        self
    }

    /// The clock to read instead of a new [`RealClock`]: a
    /// [`ManualClock`](crate::ManualClock) in tests, or
    /// [`RealClock::os`](crate::RealClock::os) to read the OS monotonic
    /// clock on every call whatever the kernel's clocksource.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{ManualClock, RateLimiter};
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::per_minute(1).clock(clock.clone()).build()?;
    /// limiter.try_acquire()?;
    /// assert!(limiter.try_acquire().is_err());
    /// clock.advance(Duration::from_secs(60)); // no real minute passes
    /// limiter.try_acquire()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clock<C2: Clock>(self, clock: C2) -> RateLimiterBuilder<C2> {
        RateLimiterBuilder {
            rate: self.rate,
            period: self.period,
            burst: self.burst,
            clock,
        }
    }

    /// Checks the configuration and makes the limiter, with its full burst
    /// free.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{LimitBuildError, RateLimiter};
    ///
    /// assert!(RateLimiter::per_second(10).build().is_ok());
    /// let err = RateLimiter::per_second(0).build().unwrap_err();
    /// assert_eq!(err, LimitBuildError::ZeroRate);
    /// assert!(err.to_string().contains("per_second(10)")); // what to write instead
    /// ```
    ///
    /// # Errors
    ///
    /// A [`LimitBuildError`] that says what to change: a rate, period or
    /// burst of zero, an `interval × burst` longer than 100 years, or a rate
    /// finer than whole nanoseconds keep to within 1%
    /// ([`LimitBuildError::RateTooFine`]). Run-time refusals have their own
    /// types ([`RateLimiter`]'s "# Errors" grid).
    pub fn build(self) -> Result<RateLimiter<C>, LimitBuildError> {
        if self.rate == 0 {
            return Err(LimitBuildError::ZeroRate);
        }
        if self.period.is_zero() {
            return Err(LimitBuildError::ZeroPeriod);
        }
        if self.burst == 0 {
            return Err(LimitBuildError::ZeroBurst);
        }
        let period = self.period.as_nanos();
        let interval = period.div_ceil(u128::from(self.rate));
        let window = interval * u128::from(self.burst);
        if window > MAX_WINDOW.as_nanos() {
            return Err(LimitBuildError::WindowTooLong);
        }
        // interval ≤ 100 years and rate < 2^32, so neither side overflows:
        // refuse when `interval × rate > 1.01 × period`.
        if interval * u128::from(self.rate) * 100 > period * 101 {
            return Err(LimitBuildError::RateTooFine {
                rate: self.rate,
                period: self.period,
            });
        }
        // Both fit: interval ≤ window ≤ MAX_WINDOW < u64::MAX nanoseconds.
        let interval = u64::try_from(interval).unwrap_or(u64::MAX);
        let window = u64::try_from(window).unwrap_or(u64::MAX);
        Ok(RateLimiter {
            tat: CachePadded::new(AtomicU64::new(0)),
            interval,
            window,
            burst: self.burst,
            clock: self.clock,
        })
    }
}
