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
//!
//! Files: `error.rs` (`TaskError`, catching panics), `cell.rs` (the cell a
//! pool task lives in), `handle.rs` (`TaskHandle`: wait, cancel, poll),
//! `promise.rs` (a task completed by hand, for the process pool); here, the
//! two views of a task that they share.

mod cell;
mod error;
mod handle;
mod promise;

use std::panic::{self, AssertUnwindSafe};
use std::task::Waker;
use std::time::Instant;

use super::stats::WorkerStats;
use crate::sync::{AtomicBool, Thread};
// Cells are shared as `Arc<dyn Job>`, which loom's `Arc` cannot coerce to.
use std::sync::Arc;

pub(crate) use cell::TaskCell;
pub use error::TaskError;
pub(crate) use error::{catch, drop_quietly, panic_message};
pub use handle::TaskHandle;
#[cfg_attr(not(feature = "process"), allow(unused_imports))]
pub(crate) use promise::{promise, Promise};

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
