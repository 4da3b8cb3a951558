//! [`TaskHandle`]: waiting for, cancelling and polling a task's result.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::{Completion, Outcome, TaskCell, TaskError, Waiter};
use crate::pool::stats::WorkerStats;
use crate::pool::wait::{far_future, help_with, wait_until};
use crate::sync::{lock, AtomicBool, Mutex};
use std::sync::Arc;

/// A result to come from a task submitted to a pool.
///
/// Wait for it with [`wait`](TaskHandle::wait) or
/// [`wait_timeout`](TaskHandle::wait_timeout), poll it with
/// [`try_result`](TaskHandle::try_result), or `.await` it: `TaskHandle`
/// implements [`Future`] through the waker, so async code on any runtime can
/// await pool work. Dropping a handle detaches the task: it still runs, and
/// its result is dropped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::Pool;
///
/// let pool = Pool::io().build()?;
/// let mut handle = pool.submit(|| 6 * 7);
/// assert_eq!(handle.wait_timeout(Duration::from_secs(10)), Ok(42));
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub struct TaskHandle<T> {
    pub(super) cell: Arc<dyn Completion<T>>,
    /// A result was taken through this handle: dropping it loses nothing.
    pub(super) read: AtomicBool,
}

impl<T> Drop for TaskHandle<T> {
    /// Detaches the task; a panic left unread in it (now, or when it ends)
    /// is counted in its pool's [`PoolStats::lost_panics`](crate::PoolStats::lost_panics).
    fn drop(&mut self) {
        if !self.read.load(Ordering::Relaxed) && self.cell.handle_dropped() {
            crate::pool::registry::lost_panic(self.cell.pool_id());
        }
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T: Send + 'static> TaskHandle<T> {
    pub(crate) fn from_cell<F>(cell: Arc<TaskCell<F, T>>) -> Self
    where
        F: FnOnce() -> T + Send + 'static,
    {
        TaskHandle {
            cell,
            read: AtomicBool::new(false),
        }
    }

    /// A handle that is already resolved with `err`.
    pub(crate) fn failed(err: TaskError) -> Self {
        TaskHandle {
            cell: Arc::new(Resolved {
                done: AtomicBool::new(true),
                value: Mutex::new(Some(Err(err))),
            }),
            read: AtomicBool::new(false),
        }
    }
}

/// A completion that was resolved when it was made (a refused submission).
struct Resolved<T> {
    done: AtomicBool,
    value: Mutex<Option<Result<T, TaskError>>>,
}

impl<T: Send> Completion<T> for Resolved<T> {
    fn done(&self) -> &AtomicBool {
        &self.done
    }

    fn take(&self) -> Option<Result<T, TaskError>> {
        Some(
            lock(&self.value)
                .take()
                .unwrap_or(Err(TaskError::ResultTaken)),
        )
    }

    fn set_waiter(&self, _waiter: Waiter) -> bool {
        false
    }

    fn cancel_with(&self, _why: TaskError) -> bool {
        false
    }

    fn is_cancelled(&self) -> bool {
        false
    }

    fn failed(&self) -> bool {
        // Made with an error; once taken it reads as `ResultTaken`.
        true
    }

    fn pool_id(&self) -> usize {
        0
    }

    fn run_inline(&self, _stats: &WorkerStats) -> Outcome {
        Outcome::Skipped
    }
}

impl<T> TaskHandle<T> {
    /// Whether the task has finished (with a value, a panic, or cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().build()?;
    /// let handle = pool.submit(|| 1);
    /// let _ = handle.wait();
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.cell.done().load(Ordering::Acquire)
    }

    /// The result if the task has finished, without waiting; `None` otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().build()?;
    /// let mut handle = pool.submit(|| 1);
    /// loop {
    ///     if let Some(r) = handle.try_result() {
    ///         assert_eq!(r, Ok(1));
    ///         break;
    ///     }
    ///     std::thread::yield_now();
    /// }
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn try_result(&mut self) -> Option<Result<T, TaskError>> {
        if self.is_finished() {
            self.take()
        } else {
            None
        }
    }

    /// Cancels the task if it has not started; returns whether the task is
    /// cancelled.
    ///
    /// A cancelled task never runs and its handle gives
    /// [`TaskError::Cancelled`]: the first read of the result (`wait`,
    /// `wait_timeout`, `try_result`, `.await`) gives `Cancelled`, a later one
    /// [`TaskError::ResultTaken`], as for any result already read. A task
    /// that already started runs to the end (threads cannot be stopped
    /// safely from outside), and `cancel` returns false for it, also once it
    /// finished. As Python's `Future.cancel()`, it returns true again for a
    /// task already cancelled (by an earlier `cancel` or by the pool's
    /// `shutdown_now`), before or after its result was read.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use workwise::{Pool, TaskError};
    ///
    /// let pool = Pool::io().max_workers(1).build()?;
    /// let (tx, rx) = mpsc::channel::<()>();
    /// let blocker = pool.submit(move || rx.recv().ok());
    /// let queued = pool.submit(|| "never");
    /// assert!(queued.cancel());
    /// assert!(queued.cancel(), "already cancelled");
    /// tx.send(()).unwrap();
    /// assert!(blocker.wait().is_ok());
    /// assert_eq!(queued.wait(), Err(TaskError::Cancelled));
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.cell.cancel_with(TaskError::Cancelled) || self.cell.is_cancelled()
    }

    /// Blocks until the task finishes and returns its result.
    ///
    /// Called on a worker thread of the task's own pool (a task waiting for
    /// a subtask it submitted), it runs the awaited task right there if no
    /// worker has started it, and otherwise runs jobs from its own work
    /// queue, never more than [`MAX_HELP_DEPTH`](crate::MAX_HELP_DEPTH)
    /// nested on its stack; so nested waits cannot starve the pool, and the
    /// stack grows with how deeply the program nests its tasks, never with
    /// how many are queued. A worker of `Pool::io()` that has to block lets
    /// the pool start another worker in its place meanwhile.
    ///
    /// A second wait on the same handle (after `try_result` or a future's
    /// poll took the result) gives [`TaskError::ResultTaken`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::cpu().build()?;
    /// assert_eq!(pool.submit(|| 2 + 2).wait(), Ok(4));
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TaskError::Panicked`], [`TaskError::Cancelled`] or
    /// [`TaskError::Closed`] when the task gave no value.
    pub fn wait(mut self) -> Result<T, TaskError> {
        self.wait_deadline(None)
    }

    /// Waits at most `timeout` for the result.
    ///
    /// On timeout it returns [`TaskError::TimedOut`] and the task goes on: wait
    /// again, or [`cancel`](TaskHandle::cancel) it if it has not started.
    /// Unlike [`wait`](TaskHandle::wait), it never runs other queued tasks
    /// while it waits on a worker thread, so the deadline holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use workwise::{Pool, TaskError};
    ///
    /// let pool = Pool::io().build()?;
    /// let (tx, rx) = mpsc::channel::<u8>();
    /// let mut handle = pool.submit(move || rx.recv().unwrap());
    /// assert_eq!(handle.wait_timeout(Duration::from_millis(10)), Err(TaskError::TimedOut));
    /// tx.send(7).unwrap();
    /// assert_eq!(handle.wait_timeout(Duration::from_secs(30)), Ok(7));
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TaskError::TimedOut`] when the time ran out, or what
    /// [`wait`](TaskHandle::wait) gives.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<T, TaskError> {
        match crate::clock::deadline_after(timeout) {
            Some(deadline) => self.wait_deadline(Some(deadline)),
            // Beyond what an Instant holds: no deadline, but keep the
            // promise never to run other work while waiting.
            None => self.wait_deadline(Some(far_future())),
        }
    }

    fn wait_deadline(&mut self, deadline: Option<Instant>) -> Result<T, TaskError> {
        let done = || self.cell.done().load(Ordering::Acquire);
        if deadline.is_none() && !done() {
            // A wait without a deadline on a worker of the task's own pool
            // runs the task right here if no worker has started it: the
            // waiter's own subtask, so the stack grows with the program's
            // nesting, never with the queue's length.
            help_with(self.cell.pool_id(), |stats| self.cell.run_inline(stats));
        }
        if !wait_until(done, deadline, |t| self.cell.set_waiter(Waiter::Thread(t))) {
            return Err(TaskError::TimedOut);
        }
        self.take().unwrap_or(Err(TaskError::ResultTaken))
    }

    /// Whether the task has finished and its handle gives an error.
    pub(crate) fn finished_with_error(&self) -> bool {
        self.is_finished() && self.cell.failed()
    }

    /// Registers `waker` to be woken when the task finishes; false if it has.
    pub(crate) fn register_waker(&self, waker: Waker) -> bool {
        self.cell.set_waiter(Waiter::Waker(waker))
    }

    pub(crate) fn take(&self) -> Option<Result<T, TaskError>> {
        let result = self.cell.take();
        if result.is_some() {
            self.read.store(true, Ordering::Relaxed);
        }
        result
    }
}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.is_finished() && self.register_waker(cx.waker().clone()) {
            return Poll::Pending;
        }
        Poll::Ready(self.take().unwrap_or(Err(TaskError::ResultTaken)))
    }
}
