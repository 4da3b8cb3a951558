//! The gets, of an [`Item`] (which borrows the queue) and of an
//! [`OwnedItem`] (which holds a handle to it): `get`, `get_timeout`,
//! `try_get`, `get_async` and their `_owned` twins, each kind with its own
//! error ([`GetError`], [`GetTimeoutError`], [`TryGetError`]). Both kinds of
//! item come out of the same wait loops.

use std::time::{Duration, Instant};

use concurrent_queue::PopError;

use super::error::{GetError, GetTimeoutError, TryGetError};
use super::item::{Item, OwnedItem};
use super::wait::{wait_async, wait_until};
use super::Queue;
use crate::clock::deadline_after;

impl<T> Queue<T> {
    /// Takes the item at the front, waiting while the queue is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::bounded(4)?;
    /// q.put(7).unwrap();
    /// let item = q.get().unwrap();
    /// assert_eq!(*item, 7);
    /// assert_eq!(q.unfinished(), 1);
    /// drop(item); // done
    /// assert_eq!(q.unfinished(), 0);
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`GetError::Closed`] once the queue is closed and drained.
    pub fn get(&self) -> Result<Item<'_, T>, GetError> {
        self.pop().map(|value| self.item(value))
    }

    /// Like [`get`](Queue::get), waiting at most `timeout`.
    /// A `timeout` beyond what an `Instant` can hold (`Duration::MAX`) means
    /// no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::GetTimeoutError;
    ///
    /// let q = workwise::Queue::<u8>::bounded(1)?;
    /// let err = q.get_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err, GetTimeoutError::Timeout);
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`GetTimeoutError::Timeout`] or [`GetTimeoutError::Closed`].
    pub fn get_timeout(&self, timeout: Duration) -> Result<Item<'_, T>, GetTimeoutError> {
        self.pop_timeout(timeout).map(|value| self.item(value))
    }

    /// Takes the front item if there is one right now.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::TryGetError;
    ///
    /// let q = workwise::Queue::<u8>::unbounded();
    /// assert_eq!(q.try_get().unwrap_err(), TryGetError::Empty);
    /// ```
    ///
    /// # Errors
    ///
    /// [`TryGetError::Empty`] or [`TryGetError::Closed`].
    pub fn try_get(&self) -> Result<Item<'_, T>, TryGetError> {
        self.try_pop()
            .map(|value| self.item(value))
            .map_err(try_get_error)
    }

    /// Like [`get`](Queue::get), but the item holds a handle to the queue
    /// instead of borrowing it: it can be moved to another thread or into a
    /// pool task, and is marked done wherever it drops, also when that task
    /// panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{Pool, Queue};
    ///
    /// let pool = Pool::io().build()?;
    /// let q = Queue::bounded(4)?;
    /// q.put(String::from("resize photo.jpg")).unwrap();
    /// let item = q.get_owned().unwrap();
    /// // The task owns the item, and marks it done when it drops it.
    /// let task = pool.submit(move || item.len());
    /// q.join(); // returns once the task has dropped the item
    /// assert_eq!(task.wait()?, 16);
    /// assert_eq!(q.unfinished(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`GetError::Closed`] once the queue is closed and drained.
    ///
    /// # Cost
    ///
    /// What [`get`](Queue::get) costs, and a reference-count increment (the
    /// handle) when the item is taken and a decrement when it is done.
    pub fn get_owned(&self) -> Result<OwnedItem<T>, GetError> {
        self.pop().map(|value| self.owned_item(value))
    }

    /// Like [`get_owned`](Queue::get_owned), waiting at most `timeout`.
    /// A `timeout` beyond what an `Instant` can hold (`Duration::MAX`) means
    /// no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::GetTimeoutError;
    ///
    /// let q = workwise::Queue::<u8>::bounded(1)?;
    /// let err = q.get_owned_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err, GetTimeoutError::Timeout);
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`GetTimeoutError::Timeout`] or [`GetTimeoutError::Closed`].
    pub fn get_owned_timeout(&self, timeout: Duration) -> Result<OwnedItem<T>, GetTimeoutError> {
        self.pop_timeout(timeout)
            .map(|value| self.owned_item(value))
    }

    /// Like [`try_get`](Queue::try_get), with an [`OwnedItem`]: takes the
    /// front item if there is one right now.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::TryGetError;
    ///
    /// let q = workwise::Queue::unbounded();
    /// assert_eq!(q.try_get_owned().unwrap_err(), TryGetError::Empty);
    /// q.put(1).unwrap();
    /// let item = q.try_get_owned().unwrap();
    /// // Another thread marks it done.
    /// std::thread::spawn(move || assert_eq!(*item, 1)).join().unwrap();
    /// assert_eq!(q.unfinished(), 0);
    /// ```
    ///
    /// # Errors
    ///
    /// [`TryGetError::Empty`] or [`TryGetError::Closed`].
    pub fn try_get_owned(&self) -> Result<OwnedItem<T>, TryGetError> {
        self.try_pop()
            .map(|value| self.owned_item(value))
            .map_err(try_get_error)
    }

    /// Like [`get`](Queue::get), for async code on any runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let q = workwise::Queue::<u8>::bounded(1)?;
    /// q.close();
    /// assert!(q.get_async().await.is_err());
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`GetError::Closed`] once the queue is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// An item is taken only in the poll that returns it: dropping the
    /// future before then takes nothing, and its wake-up passes to another
    /// getter.
    pub async fn get_async(&self) -> Result<Item<'_, T>, GetError> {
        self.pop_async().await.map(|value| self.item(value))
    }

    /// Like [`get_owned`](Queue::get_owned), for async code on any runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let q = workwise::Queue::bounded(1)?;
    /// q.put_async(5).await.unwrap();
    /// let item = q.get_owned_async().await.unwrap();
    /// // The item outlives this borrow of `q`: it may go to a spawned task.
    /// std::thread::spawn(move || assert_eq!(*item, 5)).join().unwrap();
    /// assert_eq!(q.unfinished(), 0);
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`GetError::Closed`] once the queue is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// As [`get_async`](Queue::get_async): an item is taken only in the poll
    /// that returns it.
    pub async fn get_owned_async(&self) -> Result<OwnedItem<T>, GetError> {
        self.pop_async().await.map(|value| self.owned_item(value))
    }

    /// The blocking get of every kind of item.
    fn pop(&self) -> Result<T, GetError> {
        match self.pop_until(None) {
            Ok(popped) => popped,
            // With no deadline the loop ends only through an attempt.
            Err(()) => Err(GetError::Closed),
        }
    }

    /// The timed get of every kind of item.
    fn pop_timeout(&self, timeout: Duration) -> Result<T, GetTimeoutError> {
        match self.pop_until(deadline_after(timeout)) {
            Ok(popped) => popped.map_err(GetTimeoutError::from),
            Err(()) => Err(GetTimeoutError::Timeout),
        }
    }

    /// The wait loop on `pushed` (rule 4); `Err` when the deadline passed.
    fn pop_until(&self, deadline: Option<Instant>) -> Result<Result<T, GetError>, ()> {
        let items = &self.inner.items;
        let ready = || !items.is_empty() || items.is_closed();
        wait_until(&self.inner.pushed, deadline, ready, (), |(), _| {
            self.attempt_pop()
        })
    }

    /// The async get of every kind of item (rule 4).
    async fn pop_async(&self) -> Result<T, GetError> {
        wait_async(&self.inner.pushed, (), |(), _| self.attempt_pop()).await
    }

    /// One get attempt of a wait loop: `Ok` when it is over (an item, or
    /// a closed and drained queue), `Err` while the queue is empty.
    #[inline]
    fn attempt_pop(&self) -> Result<Result<T, GetError>, ()> {
        match self.try_pop() {
            Ok(value) => Ok(Ok(value)),
            Err(PopError::Closed) => Ok(Err(GetError::Closed)),
            Err(PopError::Empty) => Err(()),
        }
    }
}

fn try_get_error(e: PopError) -> TryGetError {
    match e {
        PopError::Empty => TryGetError::Empty,
        PopError::Closed => TryGetError::Closed,
    }
}
