//! [`as_completed`] and [`as_completed_timeout`]: handles read back as they
//! finish.

use std::fmt;
use std::time::{Duration, Instant};

use super::completions::Completions;
use crate::pool::task::{TaskError, TaskHandle};

/// Yields `(index, result)` for each handle as it finishes, where `index` is
/// the handle's position in the input.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let pool = workwise::Pool::io().build()?;
/// let handles: Vec<_> = [30u64, 1, 15]
///     .into_iter()
///     .map(|ms| pool.submit(move || { std::thread::sleep(Duration::from_millis(ms)); ms }))
///     .collect();
/// let mut seen = Vec::new();
/// for (index, result) in workwise::as_completed(handles) {
///     seen.push((index, result.unwrap()));
/// }
/// seen.sort();
/// assert_eq!(seen, [(0, 30), (1, 1), (2, 15)]);
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub fn as_completed<T, I>(handles: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let mut set = Completions::new();
    for h in handles {
        set.insert(h);
    }
    AsCompleted {
        set,
        deadline: None,
    }
}

/// Like [`as_completed`], but the iterator stops when `timeout` (from now)
/// has passed; [`AsCompleted::into_pending`] then gives back the handles it
/// did not yield, so that no task is lost.
///
/// After the iterator ended, the pending list is empty when every handle was
/// yielded, and not empty when the time ran out. Past the deadline `next`
/// no longer waits: it yields a handle only if it has finished, and `None`
/// otherwise. A timeout too long for an
/// [`Instant`] (`Duration::MAX`) means no deadline.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// let pool = workwise::Pool::io().build()?;
/// let (tx, rx) = mpsc::channel::<()>();
/// let fast = pool.submit(|| 1);
/// let slow = pool.submit(move || { rx.recv().ok(); 2 });
/// // Wait for `fast`, so that the 50 ms deadline cannot pass before it ran.
/// while !fast.is_finished() {
///     std::thread::yield_now();
/// }
/// let mut done = workwise::as_completed_timeout(vec![fast, slow], Duration::from_millis(50));
/// assert_eq!(done.next(), Some((0, Ok(1))));
/// assert_eq!(done.next(), None, "the deadline passed");
/// let pending = done.into_pending();
/// assert_eq!(pending.len(), 1);
/// let (index, handle) = pending.into_iter().next().unwrap();
/// tx.send(()).unwrap();
/// assert_eq!((index, handle.wait()), (1, Ok(2)));
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub fn as_completed_timeout<T, I>(handles: I, timeout: Duration) -> AsCompleted<T>
where
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let mut it = as_completed(handles);
    it.deadline = crate::clock::deadline_after(timeout);
    it
}

/// The iterator returned by [`as_completed`] and [`as_completed_timeout`].
pub struct AsCompleted<T> {
    set: Completions<T>,
    /// When the iterator stops (None: never).
    deadline: Option<Instant>,
}

impl<T> AsCompleted<T> {
    /// The handles not yet yielded, with their input positions, in input
    /// order; their results are still in them.
    ///
    /// After [`as_completed_timeout`] ran out of time these are the handles
    /// still running (some may have finished since); after a `break` out of
    /// the loop, the ones not read yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().build()?;
    /// let mut it = workwise::as_completed(vec![pool.submit(|| 1), pool.submit(|| 2)]);
    /// let (first, _) = it.next().unwrap();
    /// let rest = it.into_pending();
    /// assert_eq!(rest.len(), 1);
    /// assert_ne!(rest[0].0, first);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn into_pending(mut self) -> Vec<(usize, TaskHandle<T>)> {
        std::mem::take(&mut self.set.handles)
            .into_iter()
            .enumerate()
            .filter_map(|(i, h)| Some((i, h?)))
            .collect()
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("pending", &self.set.live)
            .finish()
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = (usize, Result<T, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        match self.deadline {
            None => self.set.next(),
            Some(deadline) => self.set.next_until(deadline),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.deadline {
            None => (self.set.live, Some(self.set.live)),
            // The deadline may end it early.
            Some(_) => (0, Some(self.set.live)),
        }
    }
}
