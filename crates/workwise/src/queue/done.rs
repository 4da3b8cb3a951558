//! Done-tracking: `join`, `join_timeout` and `join_async` wait until every
//! item put is done, and each done (and each refused put's take-back) wakes
//! them at zero (rules 1-3 of the [queue's protocol](super)).

use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use super::error::JoinTimeoutError;
use super::wait::{wait_async, wait_until, Phase};
use super::{Inner, Queue};
use crate::clock::deadline_after;
use crate::sync::fence;

impl<T> Queue<T> {
    /// Waits until every item ever put is done.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::bounded(8)?;
    /// q.put(1).unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| drop(q.get().unwrap())); // a consumer finishes the item
    ///     q.join(); // returns once it is done
    /// });
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    pub fn join(&self) {
        let _ = self.join_until(None);
    }

    /// Like [`join`](Queue::join), waiting at most `timeout`.
    /// A `timeout` beyond what an `Instant` can hold (`Duration::MAX`) means
    /// no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q = workwise::Queue::<u8>::bounded(8)?;
    /// assert!(q.join_timeout(Duration::from_millis(1)).is_ok());
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`JoinTimeoutError`] with the number of unfinished items.
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), JoinTimeoutError> {
        self.join_until(deadline_after(timeout))
    }

    /// Rule 3: the wait loop on `all_done`.
    fn join_until(&self, deadline: Option<Instant>) -> Result<(), JoinTimeoutError> {
        let figures = &self.inner.figures;
        let ready = || figures.unfinished() == 0;
        wait_until(&self.inner.all_done, deadline, ready, 0, |last, phase| {
            self.attempt_join(last, phase)
        })
        .map_err(|unfinished| JoinTimeoutError { unfinished })
    }

    /// Like [`join`](Queue::join), for async code on any runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let q = workwise::Queue::<u8>::unbounded();
    /// q.join_async().await;
    /// # });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits.
    pub async fn join_async(&self) {
        wait_async(&self.inner.all_done, 0, |last, phase| {
            self.attempt_join(last, phase)
        })
        .await;
    }

    /// One join attempt of a wait loop: `Ok` when every item put is done,
    /// the count of unfinished items otherwise (`last`, the count read
    /// before, when the broken join skips its re-read).
    #[inline]
    fn attempt_join(&self, last: usize, phase: Phase) -> Result<(), usize> {
        if phase == Phase::Listening && broken_join::skip_reread() {
            return Err(last);
        }
        match self.inner.figures.unfinished() {
            0 => Ok(()),
            unfinished => Err(unfinished),
        }
    }
}

impl<T> Inner<T> {
    /// Rules 2 and 3: one item done, in this thread's count; the last one
    /// wakes the joiners.
    #[inline]
    pub(super) fn done_one(&self) {
        self.figures.done();
        self.wake_joiners_if_done();
    }

    /// Rule 3, after this thread's count went down: fence, and only if a
    /// joiner waits, sum the counts and wake the joiners at zero.
    #[inline]
    pub(super) fn wake_joiners_if_done(&self) {
        if !broken_join::skip_done_fence() {
            fence(SeqCst);
        }
        if self.all_done.waiting() {
            self.wake_joiners_at_zero();
        }
    }

    #[cold]
    fn wake_joiners_at_zero(&self) {
        if self.figures.unfinished() == 0 {
            self.all_done.notify_all();
        }
    }
}

/// The deliberately broken joins (`--cfg workwise_broken_join`), each of
/// which the loom model must catch (`loom_broken_join_is_caught`):
/// `WORKWISE_BROKEN_JOIN=reread` drops the joiner's second read (rule 3),
/// `=fence` the done's fence. Without the cfg both are `false` constants.
mod broken_join {
    #[cfg(not(workwise_broken_join))]
    pub(super) const fn skip_reread() -> bool {
        false
    }

    #[cfg(not(workwise_broken_join))]
    pub(super) const fn skip_done_fence() -> bool {
        false
    }

    #[cfg(workwise_broken_join)]
    pub(super) fn skip_reread() -> bool {
        std::env::var("WORKWISE_BROKEN_JOIN").as_deref() != Ok("fence")
    }

    #[cfg(workwise_broken_join)]
    pub(super) fn skip_done_fence() -> bool {
        std::env::var("WORKWISE_BROKEN_JOIN").as_deref() == Ok("fence")
    }
}
