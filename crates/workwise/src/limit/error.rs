//! The limiter's errors, one type per call shape (as crossbeam's channel
//! errors are), each with only the variants its calls can return: the grid
//! is in [`RateLimiter`](crate::RateLimiter)'s docs.

use std::fmt;
use std::time::Duration;

/// The wait until a permit is free: the answer of a refused
/// [`RateLimiter::try_acquire`](crate::RateLimiter::try_acquire) or
/// [`acquire_timeout`](crate::RateLimiter::acquire_timeout).
/// `Duration::MAX` means never: the clock is at its end.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{ManualClock, RateLimiter};
///
/// let limiter = RateLimiter::per_second(2).clock(ManualClock::new()).build()?;
/// limiter.try_acquire()?;
/// let wait = limiter.try_acquire().unwrap_err();
/// assert_eq!(wait.0, Duration::from_millis(500));
/// assert!(wait.to_string().contains("500ms"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryAfter(pub Duration);

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == Duration::MAX {
            return f.write_str(
                "rate limit reached: a permit will never be free, because the limiter's clock \
                 has reached its end (u64::MAX nanoseconds, about 584 years); build the limiter \
                 on a clock that starts nearer zero",
            );
        }
        write!(
            f,
            "rate limit reached: a permit is free in {:?}; try again then, or call acquire() to wait for it in turn",
            self.0
        )
    }
}

impl std::error::Error for RetryAfter {}

/// Why [`RateLimiter::try_acquire_n`](crate::RateLimiter::try_acquire_n)
/// granted nothing.
///
/// # Examples
///
/// ```
/// use workwise::{ManualClock, RateLimiter, TryAcquireError};
///
/// let limiter = RateLimiter::per_second(10).burst(2).clock(ManualClock::new()).build()?;
/// let err = limiter.try_acquire_n(3).unwrap_err();
/// assert_eq!(err, TryAcquireError::ExceedsBurst { requested: 3, burst: 2 });
/// assert_eq!(err.retry_after(), None);
/// # Ok::<(), workwise::LimitBuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// Not now: the permits are free after this wait.
    RetryAfter(RetryAfter),
    /// Never: more permits than the burst can ever be free together.
    ExceedsBurst {
        /// The permits asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
}

impl TryAcquireError {
    /// The wait, when waiting can help.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{ManualClock, RateLimiter};
    ///
    /// let limiter = RateLimiter::per_second(1).clock(ManualClock::new()).build()?;
    /// limiter.try_acquire_n(1)?;
    /// let err = limiter.try_acquire_n(1).unwrap_err();
    /// assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TryAcquireError::RetryAfter(r) => Some(r.0),
            TryAcquireError::ExceedsBurst { .. } => None,
        }
    }
}

impl From<RetryAfter> for TryAcquireError {
    fn from(r: RetryAfter) -> Self {
        TryAcquireError::RetryAfter(r)
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::RetryAfter(r) => r.fmt(f),
            TryAcquireError::ExceedsBurst { requested, burst } => {
                exceeds_burst(f, *requested, *burst)
            }
        }
    }
}

impl std::error::Error for TryAcquireError {}

/// Why [`RateLimiter::acquire_n`](crate::RateLimiter::acquire_n) or
/// [`acquire_n_async`](crate::RateLimiter::acquire_n_async) granted nothing:
/// a request that waiting can never satisfy, reported at once.
///
/// # Examples
///
/// ```
/// use workwise::{AcquireError, RateLimiter};
///
/// let limiter = RateLimiter::per_second(10).burst(2).build()?;
/// let err = limiter.acquire_n(3).unwrap_err();
/// assert_eq!(err, AcquireError::ExceedsBurst { requested: 3, burst: 2 });
/// assert!(err.to_string().contains(".burst(3)"));
/// # Ok::<(), workwise::LimitBuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireError {
    /// More permits asked for at once than the burst: they can never be
    /// free together, so the call neither waits nor reserves.
    ExceedsBurst {
        /// The permits asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::ExceedsBurst { requested, burst } => exceeds_burst(f, *requested, *burst),
        }
    }
}

impl std::error::Error for AcquireError {}

impl From<AcquireError> for TryAcquireError {
    fn from(e: AcquireError) -> Self {
        match e {
            AcquireError::ExceedsBurst { requested, burst } => {
                TryAcquireError::ExceedsBurst { requested, burst }
            }
        }
    }
}

/// The `ExceedsBurst` message, shared by [`AcquireError`] and
/// [`TryAcquireError`].
fn exceeds_burst(f: &mut fmt::Formatter<'_>, requested: u32, burst: u32) -> fmt::Result {
    write!(
        f,
        "{requested} permits at once can never be granted by a limiter with a burst of \
         {burst}: ask for at most {burst} at a time, or build the limiter with \
         .burst({requested})"
    )
}

/// A rate limiter configuration that cannot work: what
/// [`RateLimiterBuilder::build`](crate::RateLimiterBuilder::build) returns.
///
/// # Examples
///
/// ```
/// use workwise::{LimitBuildError, RateLimiter};
///
/// let err = RateLimiter::per_second(10).burst(0).build().unwrap_err();
/// assert_eq!(err, LimitBuildError::ZeroBurst);
/// assert!(err.to_string().contains("burst(1)"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitBuildError {
    /// A rate of zero permits per period.
    ZeroRate,
    /// A period of zero.
    ZeroPeriod,
    /// A burst of zero.
    ZeroBurst,
    /// `interval × burst` longer than 100 years.
    WindowTooLong,
    /// A rate finer than the limiter keeps: `period / rate`, rounded up to
    /// whole nanoseconds, would lower the rate by more than 1%.
    RateTooFine {
        /// The permits asked for per period.
        rate: u32,
        /// The period.
        period: Duration,
    },
}

impl fmt::Display for LimitBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitBuildError::ZeroRate => f.write_str(
                "a rate limiter needs a rate of at least 1 permit per period: a rate of 0 would \
                 block every call forever; pick the most calls the service allows (say \
                 RateLimiter::per_second(10)), or per_minute(n) for slower rates",
            ),
            LimitBuildError::ZeroPeriod => f.write_str(
                "a rate limiter needs a period longer than zero: n permits per 0 s is no limit \
                 at all; use RateLimiter::per_second(n) or RateLimiter::new(n, period) with a \
                 period such as Duration::from_secs(1)",
            ),
            LimitBuildError::ZeroBurst => f.write_str(
                "a rate limiter's burst must be at least 1: a burst of 0 would grant nothing; \
                 use .burst(1) (the default) for evenly spaced calls, or more to let that many \
                 go at once",
            ),
            LimitBuildError::WindowTooLong => f.write_str(
                "the rate limiter's interval times its burst is longer than 100 years; use a \
                 shorter period, a higher rate or a smaller burst",
            ),
            LimitBuildError::RateTooFine { rate, period } => write!(
                f,
                "{rate} permits per {period:?} is finer than a rate limiter keeps: it spaces \
                 permits by whole nanoseconds, so it would grant only {kept:.0} a second \
                 ({lost:.0}% fewer than asked). The finest rate it keeps is one permit per \
                 nanosecond (1,000,000,000 a second), when the period divides evenly, and \
                 any rate up to 10,000,000 a second (a permit every 100 ns or more) to \
                 within 1%: ask for a rate of at most that",
                kept = kept_rate(*rate, *period),
                lost = 100.0
                    - 100.0 * kept_rate(*rate, *period) * period.as_secs_f64() / f64::from(*rate),
            ),
        }
    }
}

impl std::error::Error for LimitBuildError {}

/// The rate, in permits a second, that `rate` per `period` keeps once its
/// interval is rounded up to whole nanoseconds.
fn kept_rate(rate: u32, period: Duration) -> f64 {
    let interval = period.as_nanos().div_ceil(u128::from(rate.max(1))).max(1);
    1e9 / interval as f64
}
