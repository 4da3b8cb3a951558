//! [`timeout`]: every wait gets a deadline (the guide's `asyncio.wait_for`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::pool::TaskError;

pin_project_lite::pin_project! {
    /// The future returned by [`timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::aio;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let t: aio::Timeout<_> = aio::timeout(Duration::from_secs(1), async { 5 });
    /// assert_eq!(t.await, Ok(5));
    /// # });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the inner future; it is as cancel safe as that
    /// future is.
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Timed { #[pin] inner: tokio::time::Timeout<F> },
        // The duration is beyond what an `Instant` holds: no deadline.
        Untimed { #[pin] inner: F },
        // No runtime with a timer was there; the future was dropped unpolled.
        NoTimer { message: Option<String> },
    }
}

/// Runs `fut` with a time limit: its output, or [`TaskError::TimedOut`] if
/// `limit` passes first (the future is then dropped, which cancels it).
///
/// The clock starts when `timeout` is called, not at the first poll. A
/// `limit` too large for an [`Instant`](std::time::Instant) (such as
/// [`Duration::MAX`]) means no limit.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{aio, TaskError};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let slow = tokio::time::sleep(Duration::from_secs(60));
/// assert_eq!(aio::timeout(Duration::from_millis(5), slow).await, Err(TaskError::TimedOut));
///
/// let quick = async { "pong" };
/// assert_eq!(aio::timeout(Duration::from_secs(5), quick).await, Ok("pong"));
/// # });
/// ```
///
/// # Errors
///
/// [`TaskError::TimedOut`] when the time ran out. [`TaskError::NoWorker`]
/// when it was called outside a tokio runtime, or in one built without
/// `enable_time`: there is no timer to keep the promise, so `fut` is dropped
/// without being polled and the message says what to do.
///
/// # Cancel safety
///
/// Dropping the returned future drops `fut`: it is as cancel safe as `fut`.
pub fn timeout<F: Future>(limit: Duration, fut: F) -> Timeout<F> {
    let Some(deadline) = crate::clock::deadline_after(limit) else {
        return Timeout {
            state: State::Untimed { inner: fut },
        };
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return no_timer(super::no_runtime_message("aio::timeout"));
    }
    // A runtime without `enable_time` panics when a timer is made; that
    // is the only panic here, so it is caught and becomes an error value.
    let made = crate::pool::task::catch(|| tokio::time::timeout_at(deadline.into(), fut));
    match made {
        Ok(inner) => Timeout {
            state: State::Timed { inner },
        },
        Err(_) => no_timer(
            "aio::timeout: this tokio runtime has no timer: build it with \
             enable_time() or enable_all()"
                .to_owned(),
        ),
    }
}

fn no_timer<F>(message: String) -> Timeout<F> {
    Timeout {
        state: State::NoTimer {
            message: Some(message),
        },
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Timed { inner } => {
                inner.poll(cx).map(|r| r.map_err(|_| TaskError::TimedOut))
            }
            StateProj::Untimed { inner } => inner.poll(cx).map(Ok),
            StateProj::NoTimer { message } => Poll::Ready(Err(TaskError::NoWorker {
                message: message.take().unwrap_or_else(|| {
                    "aio::timeout was polled again after it finished".to_owned()
                }),
            })),
        }
    }
}
