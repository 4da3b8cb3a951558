//! The policy's builder: parts on one clock type.

use std::any::Any;
use std::fmt;
use std::time::Duration;

use crate::breaker::CircuitBreaker;
use crate::clock::{Clock, RealClock};
use crate::limit::RateLimiter;
use crate::pool::{Pool, PoolBuilder};
use crate::retry::Retry;

use super::{Policy, PolicyBuildError, PolicyError};

/// Builds a [`Policy`]; every part is optional.
///
/// The setters may come in any order. The rate limiter, breaker, retry and
/// clock must all be on one clock type (all real, or all one
/// [`ManualClock`](crate::ManualClock)'s clones); each setter moves the
/// parts already set to its part's clock type, and a part that cannot move
/// makes [`build`](Self::build) fail with
/// [`PolicyBuildError::ClockMismatch`] instead of being dropped. The error
/// type `E` must be `'static` for these setters.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{CircuitBreaker, Policy, RateLimiter, Retry};
///
/// let policy = Policy::<std::io::Error>::builder()
///     .rate_limit(RateLimiter::per_second(50).burst(5).build()?)
///     .breaker(CircuitBreaker::builder().failure_threshold(5).build()?)
///     .attempt_timeout(Duration::from_secs(2))
///     .retry(Retry::exponential(Duration::from_millis(50)).max_attempts(3).jitter().build()?)
///     .build()?;
/// # let _ = policy;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct PolicyBuilder<E, C: Clock = RealClock> {
    limiter: Option<RateLimiter<C>>,
    breaker: Option<CircuitBreaker<C>>,
    timeout: Option<Duration>,
    retry: Option<Retry<PolicyError<E>, C>>,
    /// Set by [`clock`](Self::clock); otherwise the parts' clock.
    clock: Option<C>,
    pool: Option<PoolBuilder>,
    /// The first part set on another clock type than the later ones.
    mismatch: Option<&'static str>,
}

impl<E, C: Clock> fmt::Debug for PolicyBuilder<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyBuilder")
            .field("rate_limit", &self.limiter.is_some())
            .field("breaker", &self.breaker.is_some())
            .field("timeout", &self.timeout)
            .field("retry", &self.retry.is_some())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// `a` as a `B`, when `A` and `B` are one type; `None` otherwise.
fn recast<A: 'static, B: 'static>(a: A) -> Option<B> {
    let boxed: Box<dyn Any> = Box::new(a);
    boxed.downcast::<B>().ok().map(|b| *b)
}

/// A part moved to the builder's new clock type, or a mismatch noted.
fn recast_part<A: 'static, B: 'static>(
    part: Option<A>,
    name: &'static str,
    mismatch: &mut Option<&'static str>,
) -> Option<B> {
    let part = part?;
    let moved = recast(part);
    if moved.is_none() {
        mismatch.get_or_insert(name);
    }
    moved
}

impl<E: 'static, C: Clock + Clone> PolicyBuilder<E, C> {
    /// The same builder on the clock type `C2`: the parts already set move
    /// over when they are on `C2` too, and are a build error otherwise.
    fn on_clock<C2: Clock + Clone>(self) -> PolicyBuilder<E, C2> {
        let mut mismatch = self.mismatch;
        PolicyBuilder {
            limiter: recast_part(self.limiter, "rate_limit", &mut mismatch),
            breaker: recast_part(self.breaker, "breaker", &mut mismatch),
            retry: recast_part(self.retry, "retry", &mut mismatch),
            clock: recast_part(self.clock, "clock", &mut mismatch),
            timeout: self.timeout,
            pool: self.pool,
            mismatch,
        }
    }

    /// Waits for a permit of `limiter` before each attempt.
    ///
    /// The setters may come in any order. Every part (limiter, breaker,
    /// retry, clock) must run on one clock type; a part on another is a
    /// [`PolicyBuildError::ClockMismatch`].
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{ManualClock, Policy, RateLimiter};
    ///
    /// let clock = ManualClock::new();
    /// let policy = Policy::<String>::builder()
    ///     .rate_limit(RateLimiter::per_second(1).clock(clock.clone()).build()?)
    ///     .build()?;
    /// assert_eq!(policy.call(|| Ok::<_, String>(1)).unwrap(), 1);
    /// assert!(policy.limiter().unwrap().try_acquire().is_err()); // the permit is spent
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rate_limit<C2: Clock + Clone>(
        mut self,
        limiter: RateLimiter<C2>,
    ) -> PolicyBuilder<E, C2> {
        self.limiter = None;
        let mut b = self.on_clock::<C2>();
        b.limiter = Some(limiter);
        b
    }

    /// Runs each attempt through `breaker`; it must be on the same clock
    /// type as the other parts.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{BreakerState, CircuitBreaker, Policy};
    ///
    /// let policy = Policy::<String>::builder()
    ///     .breaker(CircuitBreaker::builder().failure_threshold(1).build()?)
    ///     .build()?;
    /// let _ = policy.call(|| Err::<(), _>("down".to_string()));
    /// assert_eq!(policy.breaker().unwrap().state(), BreakerState::Open);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn breaker<C2: Clock + Clone>(
        mut self,
        breaker: CircuitBreaker<C2>,
    ) -> PolicyBuilder<E, C2> {
        self.breaker = None;
        let mut b = self.on_clock::<C2>();
        b.breaker = Some(breaker);
        b
    }

    /// Retries failed attempts with `retry`'s schedule. Its error type is
    /// [`PolicyError<E>`]: use `retry_if` to choose which kinds to retry and
    /// `.retry_after(PolicyError::retry_after)` to wait out an open breaker.
    /// It must be on the same clock type as the other parts.
    ///
    /// `retry_if` and `retry_after` run on the calling thread as part of the
    /// call: a panic in them is the caller's and reaches the caller, as a
    /// panic in the call itself does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{Policy, Retry};
    ///
    /// let policy = Policy::<String>::builder()
    ///     .retry(Retry::fixed(Duration::from_millis(1)).max_attempts(2).build()?)
    ///     .build()?;
    /// let err = policy.call(|| Err::<(), _>("down".to_string())).unwrap_err();
    /// assert_eq!(err.attempts, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retry<C2: Clock + Clone>(
        mut self,
        retry: Retry<PolicyError<E>, C2>,
    ) -> PolicyBuilder<E, C2> {
        self.retry = None;
        let mut b = self.on_clock::<C2>();
        b.retry = Some(retry);
        b
    }

    /// The clock that times async attempts. By default it is the rate
    /// limiter's clock, else the breaker's, else the real clock; set it to
    /// time async attempts on a [`ManualClock`](crate::ManualClock) when
    /// only a retry uses one. It must be the parts' clock type.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{ManualClock, Policy};
    ///
    /// let policy = Policy::<String>::builder().clock(ManualClock::new()).build()?;
    /// assert_eq!(policy.call(|| Ok::<_, String>(3)).unwrap(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clock<C2: Clock + Clone>(mut self, clock: C2) -> PolicyBuilder<E, C2> {
        self.clock = None;
        let mut b = self.on_clock::<C2>();
        b.clock = Some(clock);
        b
    }
}

impl<E, C: Clock + Clone> PolicyBuilder<E, C> {
    /// Gives each attempt at most `d`, counted from when it asks the pool
    /// for a thread (sync calls, which must go through
    /// [`Policy::call_timed`]) or starts (async calls); a late attempt
    /// fails with [`PolicyError::TimedOut`] (and counts as a breaker
    /// failure). A `d` past what an [`Instant`](std::time::Instant) can hold, such as
    /// `Duration::MAX`, means no timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{Policy, PolicyError};
    ///
    /// let policy = Policy::<String>::builder()
    ///     .attempt_timeout(Duration::from_millis(10))
    ///     .build()?;
    /// let err = policy
    ///     .call_timed(|| { std::thread::sleep(Duration::from_millis(200)); Ok::<_, String>(()) })
    ///     .unwrap_err();
    /// assert!(matches!(err.last, PolicyError::TimedOut { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attempt_timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// The pool that runs sync attempts when there is an attempt timeout
    /// (default: `Pool::io().name("workwise-policy")`). Its workers and
    /// queue bound how many timed-out attempts can still be running in the
    /// background before new attempts time out without starting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{Policy, Pool};
    ///
    /// let policy = Policy::<String>::builder()
    ///     .attempt_timeout(Duration::from_secs(2))
    ///     .attempt_pool(Pool::io().name("billing-api").max_workers(8).queue_capacity(64))
    ///     .build()?;
    /// assert_eq!(policy.attempt_pool_stats().unwrap().submitted, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attempt_pool(mut self, pool: PoolBuilder) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Builds the policy.
    ///
    /// # Examples
    ///
    /// ```
    /// let policy = workwise::Policy::<String>::builder().build()?;
    /// # let _ = policy;
    /// # Ok::<(), workwise::PolicyBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PolicyBuildError::ZeroTimeout`] for a zero attempt timeout;
    /// [`PolicyBuildError::ClockMismatch`] when the parts are on different
    /// clock types; [`PolicyBuildError::Pool`] when the attempt pool cannot
    /// start.
    pub fn build(self) -> Result<Policy<E, C>, PolicyBuildError> {
        if let Some(part) = self.mismatch {
            return Err(PolicyBuildError::ClockMismatch { part });
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(PolicyBuildError::ZeroTimeout);
        }
        let pool = match self.timeout {
            Some(_) => Some(
                self.pool
                    .unwrap_or_else(|| Pool::io().name("workwise-policy"))
                    .serves_calls()
                    .build()
                    .map_err(PolicyBuildError::Pool)?,
            ),
            None => None,
        };
        let clock = self
            .clock
            .or_else(|| self.limiter.as_ref().map(|l| l.clock().clone()))
            .or_else(|| self.breaker.as_ref().map(|b| b.clock().clone()))
            .or_else(|| recast(RealClock::new()));
        Ok(Policy {
            limiter: self.limiter,
            breaker: self.breaker,
            timeout: self.timeout,
            retry: self.retry,
            clock,
            pool,
        })
    }
}

impl<E> Policy<E, RealClock> {
    /// A builder with no parts: add the ones the call needs.
    ///
    /// # Examples
    ///
    /// ```
    /// let policy = workwise::Policy::<String>::builder().build()?;
    /// assert_eq!(policy.call(|| Ok::<_, String>(1)).unwrap(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> PolicyBuilder<E, RealClock> {
        PolicyBuilder {
            limiter: None,
            breaker: None,
            timeout: None,
            retry: None,
            clock: None,
            pool: None,
            mismatch: None,
        }
    }
}
