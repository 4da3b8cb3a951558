//! Why a policy call or a policy build failed.

use std::fmt;
use std::time::Duration;

/// Why one attempt of a [`Policy`](super::Policy) call failed.
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
        /// never (see [`BreakerError::Open`](crate::BreakerError::Open)).
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
    /// [`Policy::call`](super::Policy::call) was given a policy with an attempt timeout: a timed
    /// attempt runs on another thread, which a borrowing closure cannot go
    /// to. Use [`Policy::call_timed`](super::Policy::call_timed). The call did not run.
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

/// Why a [`Policy`](super::Policy) could not be built.
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
