//! [`RetryBuilder`]: the settings of a [`Retry`], checked by `build`.

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{Backoff, Hint, Predicate, Retry, RetryPlan, DEFAULT_MAX_ATTEMPTS};
use crate::clock::{Clock, RealClock};

/// Configures a [`Retry`]; made by [`Retry::exponential`] or
/// [`Retry::fixed`], finished by [`build`](RetryBuilder::build).
///
/// # Examples
///
/// ```
/// use std::io;
/// use std::time::Duration;
/// use workwise::{ManualClock, Retry};
///
/// let retry = Retry::exponential(Duration::from_millis(100))
///     .max_attempts(8)                          // counts the first attempt
///     .max_delay(Duration::from_secs(5))        // cap on one wait
///     .max_elapsed(Duration::from_secs(20))     // budget from the first attempt
///     .jitter()                                 // each wait uniform in [0, delay]
///     .seed(42)                                 // same jitter every run: for tests
///     .retry_if(|e: &io::Error| e.kind() != io::ErrorKind::PermissionDenied)
///     .retry_after(|_: &io::Error| None)        // a server's hint, if the error has one
///     .clock(ManualClock::new())                // time from a test clock
///     .build()?;
/// assert_eq!(retry.delays().len(), 7);
/// # Ok::<(), workwise::RetryBuildError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryBuilder<E, C: Clock = RealClock> {
    plan: RetryPlan,
    retry_if: Option<Predicate<E>>,
    retry_after: Option<Hint<E>>,
    clock: C,
}

impl<E> RetryBuilder<E, RealClock> {
    pub(super) fn new(backoff: Backoff, base: Duration) -> Self {
        RetryBuilder {
            plan: RetryPlan {
                backoff,
                base,
                max_delay: None,
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                max_elapsed: None,
                jitter: false,
                seed: None,
            },
            retry_if: None,
            retry_after: None,
            clock: RealClock::new(),
        }
    }
}

impl<E, C: Clock> RetryBuilder<E, C> {
    /// The most attempts in all, the first one included (default 3);
    /// `1` means no retries.
    pub fn max_attempts(mut self, n: usize) -> Self {
        self.plan.max_attempts = n;
        self
    }

    /// The longest delay the schedule uses (default: 30 s, or the base
    /// delay if that is longer). A `retry_after` hint may wait longer.
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.plan.max_delay = Some(d);
        self
    }

    /// A time budget from the start of the first attempt (default: none):
    /// the policy gives up, without waiting, when the next wait would end
    /// past it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{GaveUp, Retry};
    ///
    /// let retry = Retry::fixed(Duration::from_secs(10))
    ///     .max_attempts(100)
    ///     .max_elapsed(Duration::from_secs(5))
    ///     .build()?;
    /// // The first wait would already pass the budget: no sleep at all.
    /// let err = retry.call(|| Err::<(), _>("busy")).unwrap_err();
    /// assert_eq!((err.reason, err.attempts), (GaveUp::Elapsed, 1));
    /// # Ok::<(), workwise::RetryBuildError>(())
    /// ```
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.plan.max_elapsed = Some(d);
        self
    }

    /// Full jitter: each wait is drawn uniformly from `[0, delay]`, so that
    /// clients that failed together spread out instead of retrying in
    /// lockstep. Off by default, which keeps the schedule exact.
    pub fn jitter(mut self) -> Self {
        self.plan.jitter = true;
        self
    }

    /// Seeds the jitter, so that every call draws the same delays: for
    /// tests and for reproducing a run. Without it each call draws fresh
    /// random delays.
    ///
    /// # Warning
    ///
    /// Do not seed in production: clients with the same seed jitter in
    /// lockstep, which is what jitter is there to prevent.
    pub fn seed(mut self, seed: u64) -> Self {
        self.plan.seed = Some(seed);
        self
    }

    /// Retries only the errors for which `f` returns `true` (default:
    /// every error). On any other error the call stops at once with
    /// [`GaveUp::NotRetryable`](super::GaveUp::NotRetryable).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{GaveUp, Retry};
    ///
    /// #[derive(Debug, PartialEq)]
    /// enum ApiError { Unavailable, BadRequest }
    ///
    /// let retry = Retry::fixed(Duration::from_millis(1))
    ///     .retry_if(|e: &ApiError| *e == ApiError::Unavailable)
    ///     .build()?;
    /// let err = retry.call(|| Err::<(), _>(ApiError::BadRequest)).unwrap_err();
    /// assert_eq!((err.reason, err.attempts), (GaveUp::NotRetryable, 1));
    /// # Ok::<(), workwise::RetryBuildError>(())
    /// ```
    pub fn retry_if<F>(mut self, f: F) -> Self
    where
        F: Fn(&E) -> bool + Send + Sync + 'static,
    {
        self.retry_if = Some(Arc::new(f));
        self
    }

    /// Reads a server's "retry after" hint from an error (an HTTP 429 or
    /// 503 `Retry-After` header, a rate limiter's answer). When `f` returns
    /// `Some(hint)` the wait is `max(hint, delay)`: never sooner than the
    /// server asked, never shorter than the backoff. The hint is not capped
    /// by `max_delay` (only at about 100 years, which no clock can
    /// overflow), but it counts against `max_elapsed`: set one when the
    /// hint comes from a server you do not control.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{Clock, ManualClock, Retry};
    ///
    /// struct TooManyRequests { retry_after: Duration }
    ///
    /// let clock = ManualClock::new();
    /// let retry = Retry::fixed(Duration::from_millis(100))
    ///     .retry_after(|e: &TooManyRequests| Some(e.retry_after))
    ///     .max_elapsed(Duration::from_secs(1))
    ///     .clock(clock.clone())
    ///     .build()?;
    /// // The server asks for 5 s: past the 1 s budget, so it gives up at once.
    /// let err = retry
    ///     .call(|| Err::<(), _>(TooManyRequests { retry_after: Duration::from_secs(5) }))
    ///     .unwrap_err();
    /// assert_eq!(err.attempts, 1);
    /// assert_eq!(clock.now(), Duration::ZERO);
    /// # Ok::<(), workwise::RetryBuildError>(())
    /// ```
    pub fn retry_after<F>(mut self, f: F) -> Self
    where
        F: Fn(&E) -> Option<Duration> + Send + Sync + 'static,
    {
        self.retry_after = Some(Arc::new(f));
        self
    }

    /// Takes time from `clock` (default: a [`RealClock`]); a
    /// [`ManualClock`](crate::ManualClock) makes the waits testable.
    pub fn clock<C2: Clock>(self, clock: C2) -> RetryBuilder<E, C2> {
        RetryBuilder {
            plan: self.plan,
            retry_if: self.retry_if,
            retry_after: self.retry_after,
            clock,
        }
    }

    /// Checks the settings and makes the [`Retry`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{Retry, RetryBuildError};
    ///
    /// let err = Retry::<std::io::Error>::exponential(Duration::from_millis(100))
    ///     .max_attempts(0)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err, RetryBuildError::ZeroAttempts);
    /// ```
    ///
    /// # Errors
    ///
    /// A [`RetryBuildError`] that says what to change: a zero base delay,
    /// zero `max_attempts`, a zero `max_elapsed`, or a `max_delay` below the
    /// base delay.
    pub fn build(self) -> Result<Retry<E, C>, RetryBuildError> {
        let p = &self.plan;
        if p.base.is_zero() {
            return Err(RetryBuildError::ZeroDelay);
        }
        if p.max_attempts == 0 {
            return Err(RetryBuildError::ZeroAttempts);
        }
        if p.max_elapsed.is_some_and(|d| d.is_zero()) {
            return Err(RetryBuildError::ZeroMaxElapsed);
        }
        if let Some(max_delay) = p.max_delay.filter(|&m| m < p.base) {
            return Err(RetryBuildError::MaxDelayBelowBase {
                base: p.base,
                max_delay,
            });
        }
        Ok(Retry {
            plan: self.plan,
            retry_if: self.retry_if,
            retry_after: self.retry_after,
            clock: self.clock,
        })
    }
}

impl<E, C: Clock + Clone> Clone for RetryBuilder<E, C> {
    fn clone(&self) -> Self {
        RetryBuilder {
            plan: self.plan,
            retry_if: self.retry_if.clone(),
            retry_after: self.retry_after.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl<E, C: Clock> fmt::Debug for RetryBuilder<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBuilder")
            .field("plan", &self.plan)
            .field("retry_if", &self.retry_if.is_some())
            .field("retry_after", &self.retry_after.is_some())
            .field("clock", &self.clock)
            .finish()
    }
}

/// Why a [`Retry`] could not be built; its message says what to do instead.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{Retry, RetryBuildError};
///
/// let err = Retry::<()>::exponential(Duration::ZERO).build().unwrap_err();
/// assert_eq!(err, RetryBuildError::ZeroDelay);
/// assert!(err.to_string().contains("more than zero"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryBuildError {
    /// A zero base delay for `exponential` or `fixed`.
    ZeroDelay,
    /// `max_attempts(0)`.
    ZeroAttempts,
    /// `max_elapsed(Duration::ZERO)`.
    ZeroMaxElapsed,
    /// A `max_delay` shorter than the base delay.
    MaxDelayBelowBase {
        /// The base delay.
        base: Duration,
        /// The `max_delay` asked for.
        max_delay: Duration,
    },
}

impl fmt::Display for RetryBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryBuildError::ZeroDelay => f.write_str(
                "the retry delay must be more than zero: retrying at once hammers a service \
                 that is already failing; start at 50-100 ms for a network call",
            ),
            RetryBuildError::ZeroAttempts => f.write_str(
                "max_attempts must be at least 1 (it counts the first attempt): use 1 for no \
                 retries, or leave it unset for 3",
            ),
            RetryBuildError::ZeroMaxElapsed => f.write_str(
                "max_elapsed must be more than zero: a zero budget allows no retry at all; use \
                 max_attempts(1) for that, or leave max_elapsed unset for no time limit",
            ),
            RetryBuildError::MaxDelayBelowBase { base, max_delay } => write!(
                f,
                "max_delay ({max_delay:?}) is below the base delay ({base:?}), so every wait \
                 would be cut to it: raise max_delay, or use Retry::fixed({max_delay:?}) for a \
                 constant delay"
            ),
        }
    }
}

impl Error for RetryBuildError {}
