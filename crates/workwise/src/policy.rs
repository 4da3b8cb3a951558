//! One call site for the guide's advice on calling other services: a rate
//! limit, a circuit breaker, a timeout on each attempt, and retries.
//!
//! # Order
//!
//! ```text
//! retry (outermost: backs off between attempts)
//!   └─ each attempt: rate limiter (waits for a permit)
//!        └─ circuit breaker (sheds the attempt while open)
//!             └─ timeout (around the call itself)
//!                  └─ the call
//! ```
//!
//! The limiter comes before the breaker so that waiting for a permit never
//! counts against the remote service; the timeout sits inside the breaker so
//! that a call that hangs counts as a failure and can open it; retries sit
//! outside everything, so each attempt asks for its own permit and is judged
//! by the breaker afresh.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::breaker::{BreakerError, CircuitBreaker};
use crate::clock::deadline_after;
use crate::clock::{Clock, RealClock};
use crate::limit::RateLimiter;
use crate::pool::task::catch;
use crate::pool::{Pool, PoolBuilder, PoolStats, TaskError, TaskHandle, TrySubmitError};
use crate::retry::{GaveUp, Retry, RetryError};

/// Why one attempt of a [`Policy`] call failed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::PolicyError;
///
/// let e: PolicyError<String> = PolicyError::Open { retry_after: Duration::from_secs(5) };
/// assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError<E> {
    /// The circuit breaker is open: the call was shed without running.
    Open {
        /// When the breaker will let a probe through; `Duration::MAX` for
        /// never (see [`BreakerError::Open`]).
        retry_after: Duration,
    },
    /// The attempt ran past its timeout.
    TimedOut {
        /// The timeout.
        after: Duration,
    },
    /// The attempt panicked; the panic was caught, with or without an
    /// attempt timeout.
    Panicked {
        /// The panic's message.
        message: String,
    },
    /// [`Policy::call`] was given a policy with an attempt timeout: a timed
    /// attempt runs on another thread, which a borrowing closure cannot go
    /// to. Use [`Policy::call_timed`]. The call did not run.
    NeedsCallTimed,
    /// The pool that runs timed attempts takes no more work (it was shut
    /// down); the attempt did not run.
    AttemptPoolClosed,
    /// The call itself failed.
    Inner(E),
}

impl<E> PolicyError<E> {
    /// How long to wait before the next attempt can succeed, when known: the
    /// time until an open breaker lets a probe through. Pass it to
    /// [`RetryBuilder::retry_after`](crate::RetryBuilder::retry_after).
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::PolicyError;
    ///
    /// assert_eq!(PolicyError::Inner("boom").retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PolicyError::Open { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The call's own error, if that is what failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::PolicyError;
    ///
    /// assert_eq!(PolicyError::Inner(7).into_inner(), Some(7));
    /// ```
    pub fn into_inner(self) -> Option<E> {
        match self {
            PolicyError::Inner(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for PolicyError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Open { retry_after } if *retry_after == Duration::MAX => f.write_str(
                "the circuit breaker is open: the call was shed, and the breaker will not let \
                 a probe through before its clock's end (its reset_after reaches past it)",
            ),
            PolicyError::Open { retry_after } => write!(
                f,
                "the circuit breaker is open: the call was shed; a probe is allowed in {retry_after:?}"
            ),
            PolicyError::TimedOut { after } => {
                write!(f, "the attempt took longer than its {after:?} timeout")
            }
            PolicyError::Panicked { message } => write!(f, "the attempt panicked: {message}"),
            PolicyError::NeedsCallTimed => f.write_str(
                "this policy has an attempt timeout, so its attempts run on another thread: \
                 use Policy::call_timed with a 'static closure (move what it needs into it), \
                 or build the policy without attempt_timeout to call a borrowing closure",
            ),
            PolicyError::AttemptPoolClosed => f.write_str(
                "the policy's attempt pool was shut down and takes no work: build a new policy",
            ),
            PolicyError::Inner(e) => write!(f, "{e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for PolicyError<E> {}

/// Why a [`Policy`] could not be built.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::Policy;
///
/// let err = Policy::<String>::builder().attempt_timeout(Duration::ZERO).build().unwrap_err();
/// assert!(err.to_string().contains("more than zero"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyBuildError {
    /// `attempt_timeout(Duration::ZERO)`.
    ZeroTimeout,
    /// The pool that runs timed sync attempts could not start.
    Pool(crate::pool::PoolBuildError),
    /// A part runs on another clock type than the others.
    ClockMismatch {
        /// The setter of the part that differs: `"rate_limit"`,
        /// `"breaker"`, `"retry"` or `"clock"`.
        part: &'static str,
    },
}

impl fmt::Display for PolicyBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyBuildError::ZeroTimeout => f.write_str(
                "attempt_timeout must be more than zero: every attempt would time out; \
                 leave it unset for no timeout",
            ),
            PolicyBuildError::Pool(e) => write!(f, "the policy's pool could not start: {e}"),
            PolicyBuildError::ClockMismatch { part } => write!(
                f,
                "the policy's {part} runs on a different clock type than a part set after \
                 it: build the rate limiter, breaker and retry with .clock(..) of one clock \
                 (clones of a ManualClock share one time) and pass that clock to the policy, \
                 or leave every part on the real clock"
            ),
        }
    }
}

impl std::error::Error for PolicyBuildError {}

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
    /// failure). A `d` past what an [`Instant`] can hold, such as
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

/// A rate limit, a circuit breaker, a timeout per attempt and retries, in the
/// order the [module docs](crate::Policy) give, behind one `call` (or
/// `call_timed`, when there is an attempt timeout).
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

    /// Calls `f` under the policy on the calling thread, blocking while it
    /// waits for permits and between retries; `f` may borrow from the
    /// caller.
    ///
    /// A panic in `f` is caught and reported as [`PolicyError::Panicked`]
    /// (it counts as a failure for the breaker, and retries see it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use workwise::Policy;
    ///
    /// let policy = Policy::<String>::builder().build()?;
    /// let names = vec!["ada".to_string(), "grace".to_string()];
    /// let calls = Cell::new(0);
    /// let longest = policy.call(|| {
    ///     calls.set(calls.get() + 1);
    ///     names.iter().map(String::len).max().ok_or_else(|| "no names".to_string())
    /// })?;
    /// assert_eq!((longest, calls.get()), (5, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RetryError`] with the last attempt's [`PolicyError`] and the number
    /// of attempts, once retries (if any) are spent.
    ///
    /// [`PolicyError::NeedsCallTimed`] (after 0 attempts, `f` not run) when
    /// the policy has an attempt timeout: a timed attempt runs on another
    /// thread and may outlive the call, so it needs
    /// [`call_timed`](Policy::call_timed) and a `'static` closure.
    pub fn call<T, F>(&self, f: F) -> Result<T, RetryError<PolicyError<E>>>
    where
        F: Fn() -> Result<T, E>,
    {
        if self.pool.is_some() {
            return Err(RetryError {
                attempts: 0,
                ..once(PolicyError::NeedsCallTimed)
            });
        }
        match &self.retry {
            Some(retry) => retry.call(|| self.attempt(|| run_here(&f))),
            None => self.attempt(|| run_here(&f)).map_err(once),
        }
    }

    /// Calls `f` under the policy, with the policy's attempt timeout if it
    /// has one, blocking while it waits for permits and between retries.
    ///
    /// With an attempt timeout, each attempt runs on a small I/O pool of the
    /// policy's own (see [`attempt_pool`](PolicyBuilder::attempt_pool)), and
    /// the caller waits at most the timeout for it, waiting for a place in
    /// the pool's queue included. An attempt that has not started by then
    /// is cancelled and never runs, so no side effect of `f` comes after the
    /// caller was told the attempt failed, except from an attempt that had
    /// started: that one goes on in the background and its result is
    /// dropped (a thread cannot be stopped from outside). That is why `f`
    /// must be `'static`. Without an attempt timeout it runs on the calling
    /// thread, as [`call`](Policy::call) does.
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
    /// let url = String::from("https://example.com");
    /// let len = policy.call_timed(move || Ok::<_, String>(url.len()))?;
    /// assert_eq!(len, 19);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RetryError`] with the last attempt's [`PolicyError`] and the number
    /// of attempts, once retries (if any) are spent; a panic in `f` is
    /// [`PolicyError::Panicked`].
    ///
    /// # Warning
    ///
    /// Dropping the policy shuts its pool down, which waits for attempts that
    /// timed out but are still running: give the call itself a timeout too
    /// (an HTTP client's, say) so none runs forever.
    pub fn call_timed<T, F>(&self, f: F) -> Result<T, RetryError<PolicyError<E>>>
    where
        F: Fn() -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let f = Arc::new(f);
        let run = || match (self.timeout, &self.pool) {
            (Some(after), Some(pool)) => run_timed(pool, &f, after),
            _ => run_here(&*f),
        };
        match &self.retry {
            Some(retry) => retry.call(|| self.attempt(run)),
            None => self.attempt(run).map_err(once),
        }
    }

    /// One attempt: a permit, then `run` through the breaker.
    fn attempt<T>(
        &self,
        run: impl FnOnce() -> Result<T, PolicyError<E>>,
    ) -> Result<T, PolicyError<E>> {
        if let Some(limiter) = &self.limiter {
            limiter.acquire();
        }
        match &self.breaker {
            None => run(),
            Some(breaker) => breaker.call(run).map_err(flatten),
        }
    }

    /// Calls `f` under the policy from async code, on any runtime.
    ///
    /// # Errors
    ///
    /// As [`call`](Policy::call).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops between or inside attempts; an attempt
    /// already admitted by the breaker and dropped is neither a success nor a
    /// failure for it.
    pub async fn call_async<T, F, Fut>(&self, f: F) -> Result<T, RetryError<PolicyError<E>>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        match &self.retry {
            Some(retry) => retry.call_async(|| self.attempt_async(&f)).await,
            None => self.attempt_async(&f).await.map_err(once),
        }
    }

    async fn attempt_async<T, F, Fut>(&self, f: &F) -> Result<T, PolicyError<E>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(limiter) = &self.limiter {
            limiter.acquire_async().await;
        }
        let run = || async {
            match self.timeout {
                None => f().await.map_err(PolicyError::Inner),
                Some(after) => {
                    // A deadline past what the clock can count is none.
                    let timer = match &self.clock {
                        Some(clock) => clock
                            .now()
                            .checked_add(after)
                            .map(|at| clock.sleep_until_async(at)),
                        None => {
                            let clock = RealClock::new();
                            clock
                                .now()
                                .checked_add(after)
                                .map(|at| clock.sleep_until_async(at))
                        }
                    };
                    let mut call = pin!(f());
                    let mut timer = pin!(timer);
                    std::future::poll_fn(|cx| {
                        if let Poll::Ready(r) = call.as_mut().poll(cx) {
                            return Poll::Ready(r.map_err(PolicyError::Inner));
                        }
                        match timer.as_mut().as_pin_mut().map(|t| t.poll(cx)) {
                            Some(Poll::Ready(())) => {
                                Poll::Ready(Err(PolicyError::TimedOut { after }))
                            }
                            _ => Poll::Pending,
                        }
                    })
                    .await
                }
            }
        };
        match &self.breaker {
            None => run().await,
            Some(breaker) => breaker.call_async(run).await.map_err(flatten),
        }
    }
}

/// One sync attempt on `pool`, bounded by `after` from now: getting a queue
/// place included. An attempt that has not started by the deadline is
/// cancelled, so it never runs after its caller was told it failed.
fn run_timed<T, E, F>(pool: &Pool, f: &Arc<F>, after: Duration) -> Result<T, PolicyError<E>>
where
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let job = {
        let f = f.clone();
        move || f()
    };
    let Some(deadline) = deadline_after(after) else {
        // No deadline an Instant can hold: no timeout.
        return from_task(pool.submit(job).wait());
    };
    let timed_out = || Err(PolicyError::TimedOut { after });
    let mut handle = match submit_by(pool, job, deadline) {
        Ok(handle) => handle,
        Err(None) => return timed_out(),
        Err(Some(e)) => return from_task(Err(e)),
    };
    let left = deadline.saturating_duration_since(Instant::now());
    match handle.wait_timeout(left) {
        Err(TaskError::TimedOut) => {
            if handle.cancel() {
                // It had not started, and now never will.
                return timed_out();
            }
            // It started: a genuine timeout, unless it has just finished.
            match handle.try_result() {
                Some(r) => from_task(r),
                None => timed_out(),
            }
        }
        r => from_task(r),
    }
}

/// Submits `job` to `pool`, waiting for a queue place until `deadline` at
/// most: `Err(None)` when there was none by then, `Err(Some(Closed))` when
/// the pool takes no work.
fn submit_by<T, J>(
    pool: &Pool,
    mut job: J,
    deadline: Instant,
) -> Result<TaskHandle<T>, Option<TaskError>>
where
    J: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // The pool offers no wait for a place with a deadline, so poll, backing
    // off to a millisecond: a full queue means attempts already hang, and
    // a millisecond more matters little then.
    let mut pause = Duration::from_micros(50);
    loop {
        match pool.try_submit(job) {
            Ok(handle) => return Ok(handle),
            Err(TrySubmitError::Full(back)) => job = back,
            // Closed: only dropping the policy shuts its pool down.
            Err(_) => return Err(Some(TaskError::Closed)),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

/// One attempt of `f` on the calling thread, its panic caught.
fn run_here<T, E>(f: &impl Fn() -> Result<T, E>) -> Result<T, PolicyError<E>> {
    from_task(catch(f))
}

/// An attempt's result from its task's.
fn from_task<T, E>(r: Result<Result<T, E>, TaskError>) -> Result<T, PolicyError<E>> {
    match r {
        Ok(r) => r.map_err(PolicyError::Inner),
        Err(TaskError::Panicked { message }) => Err(PolicyError::Panicked { message }),
        // Refused or cancelled by a pool that was shut down.
        Err(TaskError::Closed | TaskError::Cancelled) => Err(PolicyError::AttemptPoolClosed),
        Err(other) => Err(PolicyError::Panicked {
            message: other.to_string(),
        }),
    }
}

fn flatten<E>(e: BreakerError<PolicyError<E>>) -> PolicyError<E> {
    match e {
        BreakerError::Open { retry_after } => PolicyError::Open { retry_after },
        BreakerError::Inner(inner) => inner,
    }
}

/// The error of a policy without retries: one attempt, given up.
fn once<E>(last: PolicyError<E>) -> RetryError<PolicyError<E>> {
    RetryError {
        attempts: 1,
        elapsed: Duration::ZERO,
        reason: GaveUp::Attempts,
        last,
    }
}
