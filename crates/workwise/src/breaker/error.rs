//! What a breaker says: its state, and the error of a call through it.

use std::fmt;
use std::time::Duration;

/// The three states of a [`CircuitBreaker`](crate::CircuitBreaker).
///
/// # Examples
///
/// ```
/// use workwise::{BreakerState, CircuitBreaker};
///
/// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// let _ = breaker.call(|| Err::<(), _>("timeout"));
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert_eq!(BreakerState::HalfOpen.to_string(), "half-open");
/// # Ok::<(), workwise::BreakerBuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls are shed without running until `reset_after` has passed.
    Open,
    /// A few probe calls go through; the rest are shed. The probes' outcome
    /// closes the breaker or opens it again.
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        })
    }
}

/// The error of a call through a [`CircuitBreaker`](crate::CircuitBreaker):
/// shed without running, or the call's own error.
///
/// For [`Inner`](BreakerError::Inner) it is transparent: `Display` and
/// `source` are the inner error's.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{BreakerError, CircuitBreaker};
///
/// let breaker = CircuitBreaker::builder()
///     .failure_threshold(1)
///     .reset_after(Duration::from_secs(30))
///     .build()?;
/// match breaker.call(|| Err::<(), _>("connection refused")) {
///     Err(BreakerError::Inner(e)) => assert_eq!(e, "connection refused"),
///     other => panic!("{other:?}"),
/// }
/// match breaker.call(|| Ok::<_, &str>(())) {
///     Err(BreakerError::Open { retry_after }) => assert!(retry_after <= Duration::from_secs(30)),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), workwise::BreakerBuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerError<E> {
    /// The breaker shed the call without running it.
    Open {
        /// How long until the breaker lets a probe call through: the rest
        /// of `reset_after` while open, zero while half-open with every
        /// probe slot taken (a probe may close it at any moment; back off
        /// by your own schedule). `Duration::MAX` while open for good: the
        /// end of `reset_after` lies past the clock's end.
        retry_after: Duration,
    },
    /// The call ran and returned this error.
    Inner(E),
}

impl<E> BreakerError<E> {
    /// Whether the call was shed without running.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::BreakerError;
    ///
    /// let shed = BreakerError::<()>::Open { retry_after: Duration::ZERO };
    /// assert!(shed.is_open());
    /// assert!(!BreakerError::Inner(()).is_open());
    /// ```
    pub fn is_open(&self) -> bool {
        matches!(self, BreakerError::Open { .. })
    }

    /// How long until a probe may go through, if the call was shed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::BreakerError;
    ///
    /// let shed = BreakerError::<()>::Open { retry_after: Duration::from_secs(3) };
    /// assert_eq!(shed.retry_after(), Some(Duration::from_secs(3)));
    /// assert_eq!(BreakerError::Inner(()).retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            BreakerError::Open { retry_after } => Some(*retry_after),
            BreakerError::Inner(_) => None,
        }
    }

    /// The call's own error, if it ran.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::BreakerError;
    ///
    /// assert_eq!(BreakerError::Inner("refused").into_inner(), Some("refused"));
    /// ```
    pub fn into_inner(self) -> Option<E> {
        match self {
            BreakerError::Inner(e) => Some(e),
            BreakerError::Open { .. } => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for BreakerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerError::Open { retry_after } if *retry_after == Duration::MAX => f.write_str(
                "circuit breaker open: the call was shed without running, and the breaker will \
                 not let a probe through before its clock's end (reset_after reaches past it); \
                 serve a fallback, and build the breaker with a shorter reset_after",
            ),
            BreakerError::Open { retry_after } => write!(
                f,
                "circuit breaker open: the call was shed without running; \
                 serve a fallback, or retry in {retry_after:?} or later"
            ),
            BreakerError::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for BreakerError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BreakerError::Open { .. } => None,
            BreakerError::Inner(e) => e.source(),
        }
    }
}
