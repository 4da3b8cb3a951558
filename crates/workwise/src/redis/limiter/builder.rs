//! [`RedisRateLimiterBuilder`] and its [`RedisLimiterBuildError`].

use std::fmt;
use std::time::Duration;

use super::{RedisRateLimiter, MAX_WINDOW, RECONNECT, SCRIPT};
use crate::redis::conn::Conn;
use crate::redis::RedisError;

/// Configures a [`RedisRateLimiter`]; made by
/// [`RedisRateLimiter::per_second`], [`RedisRateLimiter::per_minute`] or
/// [`RedisRateLimiter::new`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::redis::{LocalServer, RedisRateLimiter};
///
/// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
/// let limiter = RedisRateLimiter::new(100, Duration::from_secs(60))
///     .burst(10)
///     .build(&server.url(), "limits:mail")?;
/// assert_eq!(limiter.interval(), Duration::from_millis(600));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RedisRateLimiterBuilder {
    rate: u32,
    period: Duration,
    burst: u32,
}

impl RedisRateLimiterBuilder {
    pub(super) fn new(rate: u32, period: Duration) -> Self {
        RedisRateLimiterBuilder {
            rate,
            period,
            burst: 1,
        }
    }

    /// The most permits granted at once after a quiet spell (default 1:
    /// evenly spaced permits), as for
    /// [`RateLimiterBuilder::burst`](crate::RateLimiterBuilder::burst).
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::redis::{LocalServer, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_minute(10).burst(3).build(&server.url(), "b")?;
    /// assert_eq!((0..5).filter(|_| limiter.try_acquire().is_ok()).count(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn burst(mut self, b: u32) -> Self {
        self.burst = b;
        self
    }

    /// The interval the limiter will have: the period divided by the rate,
    /// rounded up to whole nanoseconds (zero for a rate of zero).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::redis::RedisRateLimiter;
    ///
    /// assert_eq!(RedisRateLimiter::per_second(3).interval(), Duration::from_nanos(333_333_334));
    /// ```
    pub fn interval(&self) -> Duration {
        if self.rate == 0 {
            return Duration::ZERO;
        }
        let nanos = self.period.as_nanos().div_ceil(u128::from(self.rate));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Checks the configuration, connects to the Redis at `url` and makes
    /// the limiter on `key`. Every handle built on the same server and key,
    /// in any process, shares the one limit.
    ///
    /// Nothing is written until the first permit is taken; a key left by
    /// earlier handles keeps its state.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::redis::{LocalServer, RedisLimiterBuildError, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// assert!(RedisRateLimiter::per_second(10).build(&server.url(), "k").is_ok());
    /// let err = RedisRateLimiter::per_second(0).build(&server.url(), "k").unwrap_err();
    /// assert!(matches!(err, RedisLimiterBuildError::ZeroRate));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`RedisLimiterBuildError`] that says what to change: a rate, period
    /// or burst of zero, an `interval × burst` longer than 30 days, a rate
    /// finer than whole nanoseconds keep to within 1%, an empty key (all
    /// these before connecting), or a URL that does not parse or a server
    /// that cannot be reached.
    pub fn build(self, url: &str, key: &str) -> Result<RedisRateLimiter, RedisLimiterBuildError> {
        use RedisLimiterBuildError as E;
        if self.rate == 0 {
            return Err(E::ZeroRate);
        }
        if self.period.is_zero() {
            return Err(E::ZeroPeriod);
        }
        if self.burst == 0 {
            return Err(E::ZeroBurst);
        }
        let period = self.period.as_nanos();
        let interval = period.div_ceil(u128::from(self.rate));
        let window = interval * u128::from(self.burst);
        if window > MAX_WINDOW.as_nanos() {
            return Err(E::WindowTooLong {
                interval: self.interval(),
                burst: self.burst,
            });
        }
        // interval ≤ 30 days and rate < 2^32: neither side overflows.
        if interval * u128::from(self.rate) * 100 > period * 101 {
            return Err(E::RateTooFine {
                rate: self.rate,
                period: self.period,
            });
        }
        if key.is_empty() {
            return Err(E::EmptyKey);
        }
        let conn = Conn::open(url, RECONNECT.0, RECONNECT.1).map_err(E::Redis)?;
        // Both fit: interval ≤ window ≤ MAX_WINDOW < u64::MAX nanoseconds.
        Ok(RedisRateLimiter {
            conn,
            script: redis::Script::new(SCRIPT),
            key: key.to_owned(),
            interval: u64::try_from(interval).unwrap_or(u64::MAX),
            window: u64::try_from(window).unwrap_or(u64::MAX),
            burst: self.burst,
        })
    }
}

/// A [`RedisRateLimiter`] that cannot be built as configured.
///
/// # Examples
///
/// ```
/// use workwise::redis::{RedisLimiterBuildError, RedisRateLimiter};
///
/// // Checked before connecting: no server needed.
/// let err = RedisRateLimiter::per_second(10).burst(0).build("redis://127.0.0.1:1/", "k");
/// let err = err.unwrap_err();
/// assert!(matches!(err, RedisLimiterBuildError::ZeroBurst));
/// assert!(err.to_string().contains("burst(1)"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisLimiterBuildError {
    /// A rate of zero permits per period.
    ZeroRate,
    /// A period of zero.
    ZeroPeriod,
    /// A burst of zero.
    ZeroBurst,
    /// `interval × burst` longer than 30 days.
    WindowTooLong {
        /// The interval between permits.
        interval: Duration,
        /// The burst asked for.
        burst: u32,
    },
    /// `period / rate`, rounded up to whole nanoseconds, would lower the
    /// rate by more than 1%.
    RateTooFine {
        /// The permits asked for per period.
        rate: u32,
        /// The period.
        period: Duration,
    },
    /// An empty key name.
    EmptyKey,
    /// The URL does not parse, or the server cannot be reached.
    Redis(RedisError),
}

impl fmt::Display for RedisLimiterBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RedisLimiterBuildError as E;
        match self {
            E::ZeroRate => f.write_str(
                "a rate limiter needs a rate of at least 1 permit per period: a rate of 0 would \
                 block every call forever; pick the most calls the service allows (say \
                 RedisRateLimiter::per_second(10)), or per_minute(n) for slower rates",
            ),
            E::ZeroPeriod => f.write_str(
                "a rate limiter needs a period longer than zero: n permits per 0 s is no limit \
                 at all; use RedisRateLimiter::per_second(n) or RedisRateLimiter::new(n, period) \
                 with a period such as Duration::from_secs(1)",
            ),
            E::ZeroBurst => f.write_str(
                "a rate limiter's burst must be at least 1: a burst of 0 would grant nothing; \
                 use .burst(1) (the default) for evenly spaced calls, or more to let that many \
                 go at once",
            ),
            E::WindowTooLong { interval, burst } => write!(
                f,
                "a Redis rate limiter keeps at most 30 days of permits, and an interval of \
                 {interval:?} times a burst of {burst} is longer; use a smaller burst, a higher \
                 rate or a shorter period"
            ),
            E::RateTooFine { rate, period } => write!(
                f,
                "{rate} permits per {period:?} is finer than a rate limiter keeps: it spaces \
                 permits by whole nanoseconds, and rounding that interval up would lower the \
                 rate by more than 1%; ask for at most 10,000,000 permits a second, or a period \
                 that the rate divides into whole nanoseconds"
            ),
            E::EmptyKey => f.write_str(
                "a Redis rate limiter needs a key name to keep its state under: give every \
                 process that shares the limit the same name, such as \"limits:api\"",
            ),
            E::Redis(err) => write!(f, "cannot connect the rate limiter: {err}"),
        }
    }
}

impl std::error::Error for RedisLimiterBuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisLimiterBuildError::Redis(err) => Some(err),
            _ => None,
        }
    }
}
