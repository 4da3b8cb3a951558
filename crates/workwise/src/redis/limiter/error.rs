//! [`RedisLimiterError`]: why a [`RedisRateLimiter`] granted nothing.

use std::fmt;
use std::time::Duration;

#[cfg(doc)]
use super::RedisRateLimiter;
use crate::redis::RedisError;
use crate::{RetryAfter, TryAcquireError};

/// Why a [`RedisRateLimiter`] granted nothing.
///
/// # Examples
///
/// ```
/// use workwise::redis::{LocalServer, RedisLimiterError, RedisRateLimiter};
///
/// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
/// let limiter = RedisRateLimiter::per_second(1).burst(2).build(&server.url(), "e")?;
/// let err = limiter.try_acquire_n(3).unwrap_err();
/// assert!(matches!(err, RedisLimiterError::ExceedsBurst { requested: 3, burst: 2 }));
/// assert_eq!(err.retry_after(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisLimiterError {
    /// Not now: a permit is free after this wait, as from the local
    /// [`RateLimiter::try_acquire`](crate::RateLimiter::try_acquire).
    RetryAfter(RetryAfter),
    /// Never: more permits than the burst can ever be free together.
    ExceedsBurst {
        /// The permits asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
    /// The key holds something that is not a rate limiter's state (protocol
    /// rule 7); it is left as it is.
    Corrupt {
        /// The key.
        key: String,
        /// What it holds (its value, or its type when not a string).
        found: String,
    },
    /// The server could not be reached, or answered with an error.
    Redis(RedisError),
}

impl RedisLimiterError {
    /// The wait, when waiting can help.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::redis::{LocalServer, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_minute(1).build(&server.url(), "w")?;
    /// limiter.try_acquire()?;
    /// let wait = limiter.try_acquire().unwrap_err().retry_after().unwrap();
    /// assert!(wait > Duration::from_secs(59) && wait <= Duration::from_secs(60));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RedisLimiterError::RetryAfter(r) => Some(r.0),
            _ => None,
        }
    }
}

impl fmt::Display for RedisLimiterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisLimiterError::RetryAfter(r) => r.fmt(f),
            RedisLimiterError::ExceedsBurst { requested, burst } => TryAcquireError::ExceedsBurst {
                requested: *requested,
                burst: *burst,
            }
            .fmt(f),
            RedisLimiterError::Corrupt { key, found } => write!(
                f,
                "the Redis key {key:?} holds {found:?}, not a rate limiter's state (nanoseconds \
                 since the Unix epoch); another program writes to it: give the limiter a key of \
                 its own, or delete this one (DEL {key}) if nothing else needs it"
            ),
            RedisLimiterError::Redis(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for RedisLimiterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisLimiterError::Redis(err) => Some(err),
            _ => None,
        }
    }
}
