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

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use crate::{
    BreakerError, CircuitBreaker, Clock, GaveUp, Pool, RateLimiter, RealClock, Retry, RetryError,
    TaskError,
};

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
        /// When the breaker will let a probe through.
        retry_after: Duration,
    },
    /// The attempt ran past its timeout.
    TimedOut {
        /// The timeout.
        after: Duration,
    },
    /// The attempt panicked (sync calls with a timeout run on a pool thread).
    Panicked {
        /// The panic's message.
        message: String,
    },
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
            PolicyError::Open { retry_after } => write!(
                f,
                "the circuit breaker is open: the call was shed; a probe is allowed in {retry_after:?}"
            ),
            PolicyError::TimedOut { after } => {
                write!(f, "the attempt took longer than its {after:?} timeout")
            }
            PolicyError::Panicked { message } => write!(f, "the attempt panicked: {message}"),
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
    Pool(crate::BuildError),
}

impl fmt::Display for PolicyBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyBuildError::ZeroTimeout => f.write_str(
                "attempt_timeout must be more than zero: every attempt would time out; \
                 leave it unset for no timeout",
            ),
            PolicyBuildError::Pool(e) => write!(f, "the policy's pool could not start: {e}"),
        }
    }
}

impl std::error::Error for PolicyBuildError {}

/// Builds a [`Policy`]; every part is optional.
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
    clock: C,
}

impl<E, C: Clock> fmt::Debug for PolicyBuilder<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyBuilder")
            .field("rate_limit", &self.limiter.is_some())
            .field("breaker", &self.breaker.is_some())
            .field("timeout", &self.timeout)
            .field("retry", &self.retry.is_some())
            .finish()
    }
}

impl<E, C: Clock + Clone> PolicyBuilder<E, C> {
    /// Waits for a permit of `limiter` before each attempt.
    pub fn rate_limit(mut self, limiter: RateLimiter<C>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Runs each attempt through `breaker`.
    pub fn breaker(mut self, breaker: CircuitBreaker<C>) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Gives each attempt at most `d`; a late attempt fails with
    /// [`PolicyError::TimedOut`] (and counts as a breaker failure).
    pub fn attempt_timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Retries failed attempts with `retry`'s schedule. Its error type is
    /// [`PolicyError<E>`]: use `retry_if` to choose which kinds to retry and
    /// `.retry_after(PolicyError::retry_after)` to wait out an open breaker.
    pub fn retry(mut self, retry: Retry<PolicyError<E>, C>) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The clock that times async attempts (use the components' clock).
    pub fn clock<C2: Clock + Clone>(self, clock: C2) -> PolicyBuilder<E, C2> {
        PolicyBuilder {
            limiter: None,
            breaker: None,
            timeout: self.timeout,
            retry: None,
            clock,
        }
    }

    /// Builds the policy.
    ///
    /// # Errors
    ///
    /// [`PolicyBuildError::ZeroTimeout`] for a zero attempt timeout.
    pub fn build(self) -> Result<Policy<E, C>, PolicyBuildError> {
        if self.timeout == Some(Duration::ZERO) {
            return Err(PolicyBuildError::ZeroTimeout);
        }
        let pool = match self.timeout {
            Some(_) => Some(
                Pool::io()
                    .name("workwise-policy")
                    .build()
                    .map_err(PolicyBuildError::Pool)?,
            ),
            None => None,
        };
        Ok(Policy {
            limiter: self.limiter,
            breaker: self.breaker,
            timeout: self.timeout,
            retry: self.retry,
            clock: self.clock,
            pool,
        })
    }
}

/// A rate limit, a circuit breaker, a timeout per attempt and retries, in the
/// order the [module docs](crate::Policy) give, behind one `call`.
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
    clock: C,
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
            clock: RealClock::new(),
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

    /// Calls `f` under the policy, blocking while it waits for permits and
    /// between retries.
    ///
    /// With an attempt timeout, each attempt runs on a small I/O pool of the
    /// policy's own and the caller waits at most the timeout; an attempt that
    /// times out goes on in the background and its result is dropped (a
    /// thread cannot be stopped from outside). That is why `f` must be
    /// `'static`.
    ///
    /// # Errors
    ///
    /// [`RetryError`] with the last attempt's [`PolicyError`] and the number
    /// of attempts, once retries (if any) are spent.
    ///
    /// # Warning
    ///
    /// Dropping the policy shuts its pool down, which waits for attempts that
    /// timed out but are still running: give the call itself a timeout too
    /// (an HTTP client's, say) so none runs forever.
    pub fn call<T, F>(&self, f: F) -> Result<T, RetryError<PolicyError<E>>>
    where
        F: Fn() -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let f = Arc::new(f);
        match &self.retry {
            Some(retry) => retry.call(|| self.attempt(&f)),
            None => self.attempt(&f).map_err(once),
        }
    }

    fn attempt<T, F>(&self, f: &Arc<F>) -> Result<T, PolicyError<E>>
    where
        F: Fn() -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        if let Some(limiter) = &self.limiter {
            limiter.acquire();
        }
        let run = || match (self.timeout, &self.pool) {
            (Some(after), Some(pool)) => {
                let f = f.clone();
                let mut handle = pool.submit(move || f());
                match handle.wait_timeout(after) {
                    Ok(r) => r.map_err(PolicyError::Inner),
                    Err(TaskError::TimedOut) => Err(PolicyError::TimedOut { after }),
                    Err(TaskError::Panicked { message }) => Err(PolicyError::Panicked { message }),
                    Err(other) => Err(PolicyError::Panicked {
                        message: other.to_string(),
                    }),
                }
            }
            _ => f().map_err(PolicyError::Inner),
        };
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
                    let deadline = self.clock.now() + after;
                    let mut call = pin!(f());
                    let mut timer = pin!(self.clock.sleep_until_async(deadline));
                    std::future::poll_fn(|cx| {
                        if let Poll::Ready(r) = call.as_mut().poll(cx) {
                            return Poll::Ready(r.map_err(PolicyError::Inner));
                        }
                        match timer.as_mut().poll(cx) {
                            Poll::Ready(()) => Poll::Ready(Err(PolicyError::TimedOut { after })),
                            Poll::Pending => Poll::Pending,
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
