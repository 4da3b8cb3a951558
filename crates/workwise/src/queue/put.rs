//! The puts: `put`, `put_timeout`, `try_put` and `put_async`, each with its
//! own error ([`PutError`], [`PutTimeoutError`], [`TryPutError`]), which
//! hands the item back.

use std::time::{Duration, Instant};

use concurrent_queue::PushError;

use super::error::{PutError, PutTimeoutError, TryPutError};
use super::stats::Blocked;
use super::wait::{wait_async, wait_until};
use super::Queue;
use crate::clock::deadline_after;

impl<T> Queue<T> {
    /// Puts `item` at the back, waiting while the queue is full.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::bounded(2)?;
    /// q.put("a").unwrap();
    /// assert_eq!(q.len(), 1);
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PutError::Closed`] with the item if the queue is closed.
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        match self.put_until(item, None) {
            Ok(Ok(())) => Ok(()),
            // With no deadline the loop ends only through an attempt: a
            // handed-back item can only be a closed queue's.
            Ok(Err(item)) | Err(item) => Err(PutError::Closed(item)),
        }
    }

    /// Like [`put`](Queue::put), waiting at most `timeout` for room.
    /// A `timeout` beyond what an `Instant` can hold (`Duration::MAX`) means
    /// no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q = workwise::Queue::bounded(1)?;
    /// assert!(q.put_timeout(1, Duration::from_secs(1)).is_ok());
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PutTimeoutError::Timeout`] or [`PutTimeoutError::Closed`], with the
    /// item.
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutTimeoutError<T>> {
        match self.put_until(item, deadline_after(timeout)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(item)) => Err(PutTimeoutError::Closed(item)),
            Err(item) => Err(PutTimeoutError::Timeout(item)),
        }
    }

    /// Puts `item` if there is room right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::bounded(1)?;
    /// assert!(q.try_put(1).is_ok());
    /// assert!(q.try_put(2).is_err());
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TryPutError::Full`] or [`TryPutError::Closed`], with the item.
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        self.try_push(item).map_err(|e| match e {
            PushError::Full(v) => TryPutError::Full(v),
            PushError::Closed(v) => TryPutError::Closed(v),
        })
    }

    /// Like [`put`](Queue::put), for async code on any runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let q = workwise::Queue::bounded(1)?;
    /// q.put_async("hello").await.unwrap();
    /// assert_eq!(*q.get_async().await.unwrap(), "hello");
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`PutError::Closed`] with the item if the queue is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops the item without
    /// putting it: an item is either in the queue or it is not.
    pub async fn put_async(&self, item: T) -> Result<(), PutError<T>> {
        // Rule 8: timed from the first refusal until this future completes
        // or is dropped.
        let mut blocked = None;
        wait_async(&self.inner.popped, item, |item, _| {
            self.attempt_put(item, &mut blocked)
        })
        .await
        .map_err(PutError::Closed)
    }

    /// Every blocking put: the wait loop on `popped` (rule 4), whose `Err`
    /// is the item when the deadline passed, and whose `Ok(Err)` is the
    /// item a closed queue refused.
    fn put_until(&self, item: T, deadline: Option<Instant>) -> Result<Result<(), T>, T> {
        // Rule 8: timed from the first refusal to the return.
        let mut blocked = None;
        let items = &self.inner.items;
        let ready = || !items.is_full() || items.is_closed();
        wait_until(&self.inner.popped, deadline, ready, item, |item, _| {
            self.attempt_put(item, &mut blocked)
        })
    }

    /// One put attempt of a wait loop: `Ok` when it is over (put, or
    /// refused by a closed queue), the item back when the queue is full,
    /// after starting the clock of rule 8 on the first refusal.
    #[inline]
    fn attempt_put<'q>(
        &'q self,
        item: T,
        blocked: &mut Option<Blocked<'q>>,
    ) -> Result<Result<(), T>, T> {
        match self.try_push(item) {
            Ok(()) => Ok(Ok(())),
            Err(PushError::Closed(item)) => Ok(Err(item)),
            Err(PushError::Full(item)) => {
                blocked.get_or_insert_with(|| self.inner.figures.blocked());
                Err(item)
            }
        }
    }
}
