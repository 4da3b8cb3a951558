//! One call site for the guide's advice on calling other services: a rate
//! limit, a circuit breaker, a timeout on each attempt, and retries.
//!
//! The order of the parts, and why, is in [`Policy`]'s docs (section
//! "Order"), where a reader of the API sees it.

mod builder;
mod call;
mod error;

use std::fmt;
use std::time::Duration;

use crate::breaker::CircuitBreaker;
use crate::clock::{Clock, RealClock};
use crate::limit::RateLimiter;
use crate::pool::{Pool, PoolStats};
use crate::retry::Retry;

pub use builder::PolicyBuilder;
pub use error::{PolicyBuildError, PolicyError};

/// A rate limit, a circuit breaker, a timeout per attempt and retries, in the
/// [order](Policy#order) below, behind one `call` (or `call_timed`, when there is
/// an attempt timeout).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use workwise::{Policy, Retry};
///
/// let policy = Policy::<String>::builder()
///     .retry(Retry::fixed(Duration::from_millis(1)).max_attempts(3).build()?)
///     .build()?;
/// let tries = Arc::new(AtomicU32::new(0));
/// let t = tries.clone();
/// let r = policy.call(move || {
///     if t.fetch_add(1, Ordering::SeqCst) < 2 { Err("flaky".to_string()) } else { Ok(42) }
/// });
/// assert_eq!(r.unwrap(), 42);
/// assert_eq!(tries.load(Ordering::SeqCst), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Order
///
/// ```text
/// retry (outermost: backs off between attempts)
///   └─ each attempt: rate limiter (waits for a permit)
///        └─ circuit breaker (sheds the attempt while open)
///             └─ timeout (around the call itself)
///                  └─ the call
/// ```
///
/// The limiter comes before the breaker so that waiting for a permit never
/// counts against the remote service; the timeout sits inside the breaker so
/// that a call that hangs counts as a failure and can open it; retries sit
/// outside everything, so each attempt asks for its own permit and is judged
/// by the breaker afresh.
pub struct Policy<E, C: Clock = RealClock> {
    limiter: Option<RateLimiter<C>>,
    breaker: Option<CircuitBreaker<C>>,
    timeout: Option<Duration>,
    retry: Option<Retry<PolicyError<E>, C>>,
    /// Times async attempts; `None`: the real clock (only a retry was on
    /// another clock type, and no clock was given).
    clock: Option<C>,
    pool: Option<Pool>,
}

impl<E, C: Clock> fmt::Debug for Policy<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("rate_limit", &self.limiter.is_some())
            .field("breaker", &self.breaker.is_some())
            .field("timeout", &self.timeout)
            .field("retry", &self.retry.is_some())
            .finish()
    }
}

impl<E, C: Clock> Policy<E, C> {
    /// The limiter, if any (for its statistics).
    pub fn limiter(&self) -> Option<&RateLimiter<C>> {
        self.limiter.as_ref()
    }

    /// The breaker, if any (for its state and statistics).
    pub fn breaker(&self) -> Option<&CircuitBreaker<C>> {
        self.breaker.as_ref()
    }

    /// The statistics of the pool that runs timed sync attempts, if there
    /// is one: how many attempts are queued or still running (timed-out
    /// ones included), and how many were cancelled before they started.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::Policy;
    ///
    /// let policy = Policy::<String>::builder()
    ///     .attempt_timeout(Duration::from_secs(10))
    ///     .build()?;
    /// policy.call_timed(|| Ok::<_, String>(())).unwrap();
    /// assert_eq!(policy.attempt_pool_stats().unwrap().completed, 1);
    /// assert!(Policy::<String>::builder().build()?.attempt_pool_stats().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attempt_pool_stats(&self) -> Option<PoolStats> {
        self.pool.as_ref().map(Pool::stats)
    }

    /// What the advisor finds about the pool that runs the policy's timed
    /// attempts (see [`Pool::advice`]); empty without an attempt timeout.
    ///
    /// An attempt that ran past its timeout goes on running on its thread
    /// (a thread cannot be stopped from outside): the pool's W10 finding
    /// says so when such an attempt runs far longer than the others.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::Policy;
    ///
    /// let policy = Policy::<String>::builder()
    ///     .attempt_timeout(Duration::from_secs(10))
    ///     .build()?;
    /// policy.call_timed(|| Ok::<_, String>(())).unwrap();
    /// assert!(policy.advice().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn advice(&self) -> Vec<crate::advice::Advice> {
        self.pool.as_ref().map(Pool::advice).unwrap_or_default()
    }
}
