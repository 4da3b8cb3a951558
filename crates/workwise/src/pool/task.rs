//! Task handles: the result of a task to come, and the errors a task can end in.
//!
//! # Protocol
//!
//! A task lives in one shared cell that both the pool (as a job) and the
//! [`TaskHandle`] (as a completion) point at.
//!
//! 1. The cell's stage moves `Pending -> Running -> Done -> Taken`, or
//!    `Pending -> Done(Cancelled)`; every move happens under the cell's mutex,
//!    so exactly one of "a worker starts it" and "`cancel` stops it" wins.
//! 2. The `done` flag is set (release) after the result is stored and before
//!    the waiter is woken; readers that see it (acquire) find the result.
//! 3. A waiter (a parked thread or an async waker) is registered under the
//!    mutex only while the stage is not `Done`; whoever stores the result takes
//!    the waiter under the same lock and wakes it after unlocking, so no wake-up
//!    is lost.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::stats::WorkerStats;
use super::wait::{far_future, help_with, wait_until};
use crate::sync::{lock, AtomicBool, Mutex, Thread};
// Cells are shared as `Arc<dyn Job>`, which loom's `Arc` cannot coerce to.
use std::sync::Arc;

/// Why a task gave no value.
///
/// # Examples
///
/// ```
/// use workwise::{Pool, TaskError};
///
/// let pool = Pool::io().build()?;
/// let handle = pool.submit(|| -> u32 { panic!("bad row 7") });
/// match handle.wait() {
///     Err(TaskError::Panicked { message }) => assert!(message.contains("bad row 7")),
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; the pool caught the panic and kept its worker.
    Panicked {
        /// The panic's message, when it was a string.
        message: String,
    },
    /// The wait ran out of time; the task itself goes on. (From a
    /// `ProcessPool` with a task `timeout`: the task ran out of time and its
    /// worker process was killed.)
    TimedOut,
    /// The task was cancelled before it started, and never ran.
    Cancelled,
    /// The pool was shut down before the task was accepted; it never ran.
    Closed,
    /// The result was already taken from this handle by an earlier wait.
    ResultTaken,
    /// The pool had no worker and could not start one, so the task never
    /// ran.
    NoWorker {
        /// The operating system's reason.
        message: String,
    },
    /// The worker process running the task died or broke the frame
    /// protocol (a `ProcessPool` from the `process` feature); the pool
    /// started another worker and went on with the other tasks.
    WorkerCrashed {
        /// The signal that killed the worker (11 is SIGSEGV, 6 SIGABRT,
        /// 9 SIGKILL, also the out-of-memory killer's), if a signal did.
        signal: Option<i32>,
        /// The worker's exit status, if it exited.
        exit_code: Option<i32>,
        /// What the pool saw: the worker's pipe closed, or what was wrong
        /// with the frame it sent.
        detail: String,
    },
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked { message } => write!(f, "the task panicked: {message}"),
            TaskError::TimedOut => f.write_str(
                "timed out: after a wait_timeout the task still runs (wait again, or cancel it \
                 if it has not started); after a ProcessPool task timeout its worker was killed",
            ),
            TaskError::Cancelled => f.write_str("the task was cancelled before it started"),
            TaskError::Closed => f.write_str(
                "the pool was shut down before the task was accepted: submit before calling shutdown",
            ),
            TaskError::ResultTaken => {
                f.write_str("the result was already taken from this handle by an earlier wait")
            }
            TaskError::NoWorker { message } => write!(
                f,
                "the pool had no worker and the operating system refused to start one \
                 ({message}): the task never ran; lower max_workers or stack_size, or \
                 free threads and submit it again"
            ),
            TaskError::WorkerCrashed {
                signal,
                exit_code,
                detail,
            } => {
                f.write_str("the worker process running this task ")?;
                match (signal, exit_code) {
                    (Some(sig), _) => write!(f, "was killed by signal {sig}")?,
                    (None, Some(code)) => write!(f, "exited with status {code}")?,
                    (None, None) => f.write_str("failed")?,
                }
                write!(
                    f,
                    " ({detail}); the pool replaced it and ran the other tasks: the task ran \
                     at most once; fix the crash, or if the task is safe to run again opt \
                     into ProcessPool::builder().retry_crashed(n)"
                )
            }
        }
    }
}

impl std::error::Error for TaskError {}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Runs `f`, turning a panic into [`TaskError::Panicked`]. The panic's
/// payload is dropped quietly: a payload whose `Drop` panics too is leaked
/// rather than let the second panic escape.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, TaskError> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let message = panic_message(&*p);
        drop_quietly(p);
        TaskError::Panicked { message }
    })
}

/// Drops `value`, catching a panic from its `Drop`. The second payload is
/// leaked, not dropped, since its own `Drop` may panic as well. User values
/// (results, closures, payloads) are dropped through here wherever the pool
/// drops them, so user code cannot unwind through a worker.
pub(crate) fn drop_quietly<V>(value: V) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
        std::mem::forget(payload);
    }
}

/// What running a job did, for the pool's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Completed,
    Panicked,
    /// It had been cancelled through its handle before a worker reached it.
    Skipped,
    /// A thread waiting for it ran it already (see `TaskHandle::wait`); the
    /// queue entry a worker reached was only a stale copy.
    RanElsewhere,
}

/// The pool's view of a task: something to run once, or to cancel.
pub(crate) trait Job: Send + Sync {
    /// Runs the task, counting its outcome in `stats` *before* the handle
    /// sees the result, so counts are never behind a resolved handle.
    fn run(self: Arc<Self>, stats: &WorkerStats) -> Outcome;
    /// The same as `run`, through a shared reference: a waiter that runs
    /// the task it waits for while its queue entry stays behind.
    fn run_here(&self, stats: &WorkerStats) -> Outcome;
    /// Resolves the task with `why` if it has not started; returns whether it did.
    fn cancel_with(&self, why: TaskError) -> bool;
    fn submitted_at(&self) -> Option<Instant>;
    /// The name given with `submit_named`, for the task's span.
    #[cfg(feature = "tracing")]
    fn name(&self) -> Option<&str> {
        None
    }
}

pub(crate) type JobRef = Arc<dyn Job>;

/// The handle's view of a task.
trait Completion<T>: Send + Sync {
    fn done(&self) -> &AtomicBool;
    fn take(&self) -> Option<Result<T, TaskError>>;
    /// Registers `waiter` unless the task is done; returns false when done.
    fn set_waiter(&self, waiter: Waiter) -> bool;
    fn cancel_with(&self, why: TaskError) -> bool;
    /// Whether the task was cancelled with [`TaskError::Cancelled`] (by a
    /// `cancel`, or by the pool's `shutdown_now`), whether or not the result
    /// was read since.
    fn is_cancelled(&self) -> bool;
    /// Whether the task is done and reading it gives an error (a result
    /// already taken reads as [`TaskError::ResultTaken`]).
    fn failed(&self) -> bool;
    /// The id of the pool whose queue holds the task (0: none).
    fn pool_id(&self) -> usize;
    /// Runs the task on the calling thread if it has not started.
    fn run_inline(&self, stats: &WorkerStats) -> Outcome;
    /// The handle is gone without having read the result: marks the task
    /// detached, and says whether a panic was left unread in it.
    fn handle_dropped(&self) -> bool {
        false
    }
}

pub(crate) enum Waiter {
    Thread(Thread),
    Waker(Waker),
}

impl Waiter {
    /// Wakes the waiter. A user's waker may panic in `wake`; the panic is
    /// caught here so that it never unwinds through a pool worker.
    fn wake(self) {
        match self {
            Waiter::Thread(t) => t.unpark(),
            Waiter::Waker(w) => {
                if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| w.wake())) {
                    drop_quietly(payload);
                }
            }
        }
    }
}

enum Stage<F, T> {
    Pending(F),
    Running,
    Done(Result<T, TaskError>),
    Taken,
}

impl<F, T> Stage<F, T> {
    /// The result, once: `Done` becomes `Taken`; `None` while not done
    /// (the cell's rule 1).
    fn take_result(&mut self) -> Option<Result<T, TaskError>> {
        match std::mem::replace(self, Stage::Taken) {
            Stage::Done(r) => Some(r),
            Stage::Taken => Some(Err(TaskError::ResultTaken)),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Whether a result is stored or was taken: no waiter may register
    /// then (rule 3).
    fn is_resolved(&self) -> bool {
        matches!(self, Stage::Done(_) | Stage::Taken)
    }

    /// Whether reading the result gives an error.
    fn failed(&self) -> bool {
        matches!(self, Stage::Done(Err(_)) | Stage::Taken)
    }
}

struct Slot<F, T> {
    stage: Stage<F, T>,
    waiter: Option<Waiter>,
    /// The task left `Pending` by starting (not by being cancelled).
    started: bool,
    /// The task left `Pending` by being cancelled with
    /// [`TaskError::Cancelled`]; stays set once the result is taken.
    cancelled: bool,
    /// The handle was dropped without reading the result: a panic stored
    /// from now on is one nobody will see (counted as lost).
    detached: bool,
}

impl<F, T> Slot<F, T> {
    /// Registers `waiter` unless a result is stored or was taken (rule 3);
    /// false then, and the caller reads the result instead.
    fn register(&mut self, waiter: Waiter) -> bool {
        if self.stage.is_resolved() {
            return false;
        }
        self.waiter = Some(waiter);
        true
    }
}

pub(crate) struct TaskCell<F, T> {
    done: AtomicBool,
    submitted_at: Option<Instant>,
    pool: usize,
    slot: Mutex<Slot<F, T>>,
    /// The name given with `submit_named`: kept only for tracing spans.
    #[cfg(feature = "tracing")]
    name: Option<std::borrow::Cow<'static, str>>,
}

impl<F, T> TaskCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    /// A pending task for the pool whose id is `pool` (see
    /// `Shared::id`).
    pub(crate) fn new(f: F, submitted_at: Option<Instant>, pool: usize) -> Self {
        TaskCell {
            done: AtomicBool::new(false),
            submitted_at,
            pool,
            slot: Mutex::new(Slot {
                stage: Stage::Pending(f),
                waiter: None,
                started: false,
                cancelled: false,
                detached: false,
            }),
            #[cfg(feature = "tracing")]
            name: None,
        }
    }

    /// Names the task, for its tracing span (without the feature `tracing`
    /// the name is dropped).
    #[cfg_attr(not(feature = "tracing"), allow(unused_mut, unused_variables))]
    pub(crate) fn named(mut self, name: std::borrow::Cow<'static, str>) -> Self {
        #[cfg(feature = "tracing")]
        {
            self.name = Some(name);
        }
        self
    }

    /// Stores the result (rule 1 and 2) and wakes the waiter (rule 3);
    /// returns whether it was a panic that nobody will read (the handle is
    /// gone).
    fn finish(&self, result: Result<T, TaskError>) -> bool {
        let panicked = matches!(result, Err(TaskError::Panicked { .. }));
        let lost;
        #[cfg(not(workwise_broken_pool))]
        let waiter = {
            let mut slot = lock(&self.slot);
            lost = panicked && slot.detached;
            slot.stage = Stage::Done(result);
            self.done.store(true, Ordering::Release);
            slot.waiter.take()
        };
        // The broken twin takes the waiter in one critical section and
        // stores the result in another (against rule 3): a waiter that
        // registers in between is never woken.
        #[cfg(workwise_broken_pool)]
        let waiter = {
            let early = lock(&self.slot).waiter.take();
            let mut slot = lock(&self.slot);
            lost = panicked && slot.detached;
            slot.stage = Stage::Done(result);
            self.done.store(true, Ordering::Release);
            early
        };
        if let Some(w) = waiter {
            w.wake();
        }
        lost
    }
}

impl<F, T> Job for TaskCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(self: Arc<Self>, stats: &WorkerStats) -> Outcome {
        self.run_here(stats)
    }

    fn run_here(&self, stats: &WorkerStats) -> Outcome {
        let f = {
            let mut slot = lock(&self.slot);
            match std::mem::replace(&mut slot.stage, Stage::Running) {
                Stage::Pending(f) => {
                    slot.started = true;
                    stats.began();
                    f
                }
                other => {
                    slot.stage = other;
                    return if slot.started {
                        Outcome::RanElsewhere
                    } else {
                        Outcome::Skipped
                    };
                }
            }
        };
        let result = catch(f);
        let outcome = if result.is_ok() {
            stats.completed();
            Outcome::Completed
        } else {
            stats.panicked();
            Outcome::Panicked
        };
        if self.finish(result) {
            stats.lost_panic();
        }
        outcome
    }

    fn cancel_with(&self, why: TaskError) -> bool {
        let (f, waiter) = {
            let mut slot = lock(&self.slot);
            if !matches!(slot.stage, Stage::Pending(_)) {
                return false;
            }
            slot.cancelled = why == TaskError::Cancelled;
            let f = std::mem::replace(&mut slot.stage, Stage::Done(Err(why)));
            self.done.store(true, Ordering::Release);
            (f, slot.waiter.take())
        };
        // The closure (and what it captured) is dropped outside the lock,
        // and its `Drop` may not unwind into the caller (a worker, or
        // `cancel`: the task is cancelled either way).
        drop_quietly(f);
        if let Some(w) = waiter {
            w.wake();
        }
        true
    }

    fn submitted_at(&self) -> Option<Instant> {
        self.submitted_at
    }

    #[cfg(feature = "tracing")]
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl<F, T> Completion<T> for TaskCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn done(&self) -> &AtomicBool {
        &self.done
    }

    fn take(&self) -> Option<Result<T, TaskError>> {
        lock(&self.slot).stage.take_result()
    }

    fn set_waiter(&self, waiter: Waiter) -> bool {
        lock(&self.slot).register(waiter)
    }

    fn cancel_with(&self, why: TaskError) -> bool {
        Job::cancel_with(self, why)
    }

    fn is_cancelled(&self) -> bool {
        lock(&self.slot).cancelled
    }

    fn failed(&self) -> bool {
        lock(&self.slot).stage.failed()
    }

    fn pool_id(&self) -> usize {
        self.pool
    }

    fn run_inline(&self, stats: &WorkerStats) -> Outcome {
        self.run_here(stats)
    }

    fn handle_dropped(&self) -> bool {
        let mut slot = lock(&self.slot);
        slot.detached = true;
        matches!(slot.stage, Stage::Done(Err(TaskError::Panicked { .. })))
    }
}

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
    cell: Arc<dyn Completion<T>>,
    /// A result was taken through this handle: dropping it loses nothing.
    read: AtomicBool,
}

impl<T> Drop for TaskHandle<T> {
    /// Detaches the task; a panic left unread in it (now, or when it ends)
    /// is counted in its pool's [`PoolStats::lost_panics`](crate::PoolStats::lost_panics).
    fn drop(&mut self) {
        if !self.read.load(Ordering::Relaxed) && self.cell.handle_dropped() {
            super::registry::lost_panic(self.cell.pool_id());
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

/// The producing side of a task that runs elsewhere (in a worker
/// process): the pool starts it, then completes it with a result; the
/// paired [`TaskHandle`] waits, cancels and polls as for a thread pool's
/// task. The same protocol as [`TaskCell`] (rules 1 to 3), without a
/// closure: `start` is the move `Pending -> Running`.
#[cfg_attr(not(feature = "process"), allow(dead_code))]
pub(crate) struct Promise<T> {
    cell: Arc<PromiseCell<T>>,
}

#[cfg_attr(not(feature = "process"), allow(dead_code))]
impl<T> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Promise").finish_non_exhaustive()
    }
}

#[cfg_attr(not(feature = "process"), allow(dead_code))]
struct PromiseCell<T> {
    done: AtomicBool,
    slot: Mutex<Slot<(), T>>,
}

/// A task that a pool will start and complete by hand (see [`Promise`]).
#[cfg_attr(not(feature = "process"), allow(dead_code))]
pub(crate) fn promise<T: Send + 'static>() -> (Promise<T>, TaskHandle<T>) {
    let cell = Arc::new(PromiseCell {
        done: AtomicBool::new(false),
        slot: Mutex::new(Slot {
            stage: Stage::Pending(()),
            waiter: None,
            started: false,
            cancelled: false,
            detached: false,
        }),
    });
    let handle = TaskHandle {
        cell: cell.clone(),
        read: AtomicBool::new(false),
    };
    (Promise { cell }, handle)
}

#[cfg_attr(not(feature = "process"), allow(dead_code))]
impl<T> Promise<T> {
    /// Moves the task from pending to running (rule 1); false when it was
    /// cancelled (or completed) first, and must not run.
    pub(crate) fn start(&self) -> bool {
        let mut slot = lock(&self.cell.slot);
        if matches!(slot.stage, Stage::Pending(())) {
            slot.stage = Stage::Running;
            true
        } else {
            false
        }
    }

    /// Stores the result unless the task is already done, and wakes the
    /// waiter (rules 2 and 3).
    pub(crate) fn complete(self, result: Result<T, TaskError>) {
        self.store(result);
    }

    fn store(&self, result: Result<T, TaskError>) {
        let (old, waiter) = {
            let mut slot = lock(&self.cell.slot);
            if matches!(slot.stage, Stage::Done(_) | Stage::Taken) {
                (Some(result), None)
            } else {
                slot.stage = Stage::Done(result);
                self.cell.done.store(true, Ordering::Release);
                (None, slot.waiter.take())
            }
        };
        drop_quietly(old);
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

#[cfg_attr(not(feature = "process"), allow(dead_code))]
impl<T> Drop for Promise<T> {
    /// A promise dropped without a result (its pool dropped the job)
    /// resolves its handle with [`TaskError::Closed`], so no waiter hangs.
    fn drop(&mut self) {
        if !self.cell.done.load(Ordering::Acquire) {
            self.store(Err(TaskError::Closed));
        }
    }
}

#[cfg_attr(not(feature = "process"), allow(dead_code))]
impl<T: Send> Completion<T> for PromiseCell<T> {
    fn done(&self) -> &AtomicBool {
        &self.done
    }

    fn take(&self) -> Option<Result<T, TaskError>> {
        lock(&self.slot).stage.take_result()
    }

    fn set_waiter(&self, waiter: Waiter) -> bool {
        lock(&self.slot).register(waiter)
    }

    fn cancel_with(&self, why: TaskError) -> bool {
        let waiter = {
            let mut slot = lock(&self.slot);
            if !matches!(slot.stage, Stage::Pending(())) {
                return false;
            }
            slot.cancelled = why == TaskError::Cancelled;
            slot.stage = Stage::Done(Err(why));
            self.done.store(true, Ordering::Release);
            slot.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
        true
    }

    fn is_cancelled(&self) -> bool {
        lock(&self.slot).cancelled
    }

    fn failed(&self) -> bool {
        lock(&self.slot).stage.failed()
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
