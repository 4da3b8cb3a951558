//! [`RetryError`]: why a [`Retry`](super::Retry) gave up, with the last error.

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// Why a [`Retry`](super::Retry) stopped, in a [`RetryError`].
///
/// # Examples
///
/// ```
/// use workwise::GaveUp;
///
/// assert_eq!(GaveUp::Attempts.to_string(), "max_attempts reached");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GaveUp {
    /// `max_attempts` attempts ran and all failed.
    Attempts,
    /// The next wait would have ended past `max_elapsed`.
    Elapsed,
    /// `retry_if` said the last error is not worth retrying.
    NotRetryable,
    /// The next attempt could never come: the `retry_after` hint was longer
    /// than about 100 years (`Duration::MAX` is how a breaker says it stays
    /// open for good), or the wait would end past the clock's last instant.
    Never,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GaveUp::Attempts => "max_attempts reached",
            GaveUp::Elapsed => "the next wait would pass max_elapsed",
            GaveUp::NotRetryable => "retry_if rejected the error",
            GaveUp::Never => "the next attempt could never come (a retry-after hint of never, or a wait past the clock's end)",
        })
    }
}

/// A call that a [`Retry`](super::Retry) gave up on: the last error, how many attempts
/// ran, for how long, and why it stopped.
///
/// Its `Display` says why it stopped; the last error is its
/// [`source`](Error::source) (print both with an error reporter, or
/// `"{err}: {err.last}"`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{GaveUp, Retry};
///
/// let retry = Retry::fixed(Duration::from_millis(1)).max_attempts(2).build()?;
/// let err = retry.call(|| "x".parse::<u8>()).unwrap_err();
/// assert_eq!(err.to_string(), "gave up after 2 attempts: max_attempts reached");
/// assert_eq!(err.reason, GaveUp::Attempts);
/// let last: std::num::ParseIntError = err.into_last();
/// assert_eq!(last.to_string(), "invalid digit found in string");
/// # Ok::<(), workwise::RetryBuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryError<E> {
    /// The attempts that ran, the first one included.
    pub attempts: usize,
    /// The time from the start of the first attempt to giving up.
    pub elapsed: Duration,
    /// Why it stopped.
    pub reason: GaveUp,
    /// The error of the last attempt.
    pub last: E,
}

impl<E> RetryError<E> {
    /// The error of the last attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::Retry;
    ///
    /// let retry = Retry::fixed(Duration::from_millis(1)).max_attempts(1).build()?;
    /// assert_eq!(retry.call(|| Err::<(), _>(404)).unwrap_err().into_last(), 404);
    /// # Ok::<(), workwise::RetryBuildError>(())
    /// ```
    pub fn into_last(self) -> E {
        self.last
    }
}

impl<E> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.attempts == 1 { "" } else { "s" };
        write!(f, "gave up after {} attempt{s}", self.attempts)?;
        if self.reason == GaveUp::Elapsed {
            write!(f, " in {:?}", self.elapsed)?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl<E: Error + 'static> Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.last)
    }
}
