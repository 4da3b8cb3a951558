//! The cell a pool task lives in: its stage, its waiter, and the job the
//! pool runs (rules 1 to 3 of the module's protocol).

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{catch, drop_quietly, Completion, Job, Outcome, TaskError, Waiter};
use crate::pool::stats::WorkerStats;
use crate::sync::{lock, AtomicBool, Mutex};
use std::sync::Arc;

pub(super) enum Stage<F, T> {
    Pending(F),
    Running,
    Done(Result<T, TaskError>),
    Taken,
}

impl<F, T> Stage<F, T> {
    /// The result, once: `Done` becomes `Taken`; `None` while not done
    /// (the cell's rule 1).
    pub(super) fn take_result(&mut self) -> Option<Result<T, TaskError>> {
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
    pub(super) fn is_resolved(&self) -> bool {
        matches!(self, Stage::Done(_) | Stage::Taken)
    }

    /// Whether reading the result gives an error.
    pub(super) fn failed(&self) -> bool {
        matches!(self, Stage::Done(Err(_)) | Stage::Taken)
    }
}

pub(super) struct Slot<F, T> {
    pub(super) stage: Stage<F, T>,
    pub(super) waiter: Option<Waiter>,
    /// The task left `Pending` by starting (not by being cancelled).
    pub(super) started: bool,
    /// The task left `Pending` by being cancelled with
    /// [`TaskError::Cancelled`]; stays set once the result is taken.
    pub(super) cancelled: bool,
    /// The handle was dropped without reading the result: a panic stored
    /// from now on is one nobody will see (counted as lost).
    pub(super) detached: bool,
}

impl<F, T> Slot<F, T> {
    /// Registers `waiter` unless a result is stored or was taken (rule 3);
    /// false then, and the caller reads the result instead.
    pub(super) fn register(&mut self, waiter: Waiter) -> bool {
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
