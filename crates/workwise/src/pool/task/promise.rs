//! A task that runs elsewhere (in a worker process), started and completed
//! by hand, behind an ordinary [`TaskHandle`].

use std::fmt;
use std::sync::atomic::Ordering;

use super::cell::{Slot, Stage};
use super::{drop_quietly, Completion, Outcome, TaskError, TaskHandle, Waiter};
use crate::pool::stats::WorkerStats;
use crate::sync::{lock, AtomicBool, Mutex};
use std::sync::Arc;

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
