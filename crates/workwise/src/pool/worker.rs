//! A worker thread: its loop, its thread-local context, and how it runs a
//! job (timing it, and catching whatever user code raises: rule 12).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crossbeam_deque::Worker;

use super::registry::Registry;
use super::sleep::Woke;
use super::stats::{thread_cpu_time, WorkerStats};
use super::task::{drop_quietly, JobRef, Outcome, TaskError};
use super::MAX_HELP_DEPTH;
use crate::sync::thread;
use crate::testing::ChaosPoint;
use std::sync::Arc;

/// Rounds a worker looks for work before it parks: 6 of growing busy-spins,
/// then yields. Parking and being woken costs ~27 µs on a VM whose idle
/// virtual CPUs halt; this spin costs a few tens of µs of one core at most.
const SPIN_ROUNDS: u32 = 64;
const CPU_FLUSH_EVERY: Duration = Duration::from_millis(10);
const CPU_FLUSH_IDLE: Duration = Duration::from_millis(1);

thread_local! {
    static CURRENT: RefCell<Option<Rc<WorkerCtx>>> = const { RefCell::new(None) };
}

/// The worker context of the calling thread, if it is a pool worker.
pub(crate) fn current_worker() -> Option<Rc<WorkerCtx>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Whether the calling thread is a worker of `registry`.
pub(crate) fn on_worker_of(registry: &Arc<Registry>) -> bool {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|ctx| Arc::ptr_eq(&ctx.registry, registry))
    })
}

/// Pushes `job` onto the calling worker's own deque if it has one; hands
/// the job back otherwise.
pub(crate) fn push_local(job: JobRef) -> Option<JobRef> {
    CURRENT.with(
        |c| match c.borrow().as_ref().and_then(|ctx| ctx.local.as_ref()) {
            Some(local) => {
                local.push(job);
                None
            }
            None => Some(job),
        },
    )
}

/// Holds `value` until the job running on this worker thread has been
/// counted in the pool's statistics, then drops it; hands it back when the
/// calling thread is not a worker running a job. A scoped task holds its
/// scope's count this way, so that `scope` (and `par_map`) returns only
/// once every chunk's figures are in.
pub(crate) fn hold_until_counted(value: Box<dyn Any>) -> Result<(), Box<dyn Any>> {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(ctx) if ctx.depth.get() > 0 => {
            ctx.held.borrow_mut().push(value);
            Ok(())
        }
        _ => Err(value),
    })
}

/// A worker thread's own state, reachable from its thread-local.
pub(crate) struct WorkerCtx {
    pub(crate) registry: Arc<Registry>,
    index: usize,
    local: Option<Worker<JobRef>>,
    stats: Arc<WorkerStats>,
    /// Jobs nested on this thread's stack: 1 inside a job, more inside a
    /// job run by a wait inside a job (rule 10). Busy time is counted at the
    /// outermost job only, so nested work is not counted twice.
    depth: Cell<u32>,
    cpu_mark: Cell<Option<Duration>>,
    last_flush: Cell<Instant>,
    /// Values a job's closure left to drop once the job is counted (see
    /// `hold_until_counted`).
    held: RefCell<Vec<Box<dyn Any>>>,
}

impl WorkerCtx {
    fn find_job(&self) -> Option<JobRef> {
        self.registry.find_job(self.local.as_ref(), self.index)
    }

    fn spin_for_job(&self) -> Option<JobRef> {
        for round in 0..SPIN_ROUNDS {
            if round < 6 {
                for _ in 0..(1u32 << round) {
                    std::hint::spin_loop();
                }
            } else {
                thread::yield_now();
            }
            if let Some(job) = self.find_job() {
                return Some(job);
            }
            if self.registry.capacity.is_closed_and_empty() {
                return None;
            }
        }
        None
    }

    /// Whether a wait on this thread may run one more job inside it.
    pub(crate) fn may_help(&self) -> bool {
        (self.depth.get() as usize) <= MAX_HELP_DEPTH
    }

    /// Pops a job from this worker's own LIFO deque and runs it inside a
    /// wait (rule 10); false when the deque is empty.
    pub(crate) fn help_locally(&self) -> bool {
        let Some(job) = self.local.as_ref().and_then(Worker::pop) else {
            return false;
        };
        self.registry.capacity.release();
        self.run(job);
        true
    }

    /// Runs a job taken out of a queue, whose place the caller gave back
    /// (rule 9).
    fn run(&self, job: JobRef) {
        if self.registry.cancel_rest.load(Relaxed) {
            let cancelled = panic::catch_unwind(AssertUnwindSafe(|| {
                let c = job.cancel_with(TaskError::Cancelled);
                drop(job);
                c
            }));
            if cancelled.unwrap_or_else(|p| {
                drop_quietly(p);
                true
            }) {
                self.stats.cancelled();
            }
            return;
        }
        let submitted = job.submitted_at();
        self.registry.chaos(ChaosPoint::Dequeue);
        // Each task runs inside a span: the pool, a task id, and the name
        // given with `submit_named`; a subscriber that prints thread names
        // shows the worker too.
        #[cfg(feature = "tracing")]
        let span = tracing::info_span!(
            "task",
            pool = %self.registry.cfg.name,
            id = self.registry.next_task_id(),
            name = job.name(),
        );
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        self.run_nested(submitted, move |stats| job.run(stats));
        self.registry.chaos(ChaosPoint::Complete);
    }

    /// Runs user work on this worker at the next depth, timing it at the
    /// outermost level. Nothing it raises unwinds past here (rule 12).
    pub(crate) fn run_nested(
        &self,
        submitted: Option<Instant>,
        work: impl FnOnce(&WorkerStats) -> Outcome,
    ) {
        let start = self.registry.cfg.timing.then(Instant::now);
        let depth = self.depth.get();
        self.depth.set(depth + 1);
        self.stats.set_depth(u64::from(depth) + 1);
        if depth > 0 {
            self.stats.help_depth(u64::from(depth));
        } else if let Some(start) = start {
            let queued = submitted.map(|at| start.saturating_duration_since(at));
            if self.stats.begin_outer(start, queued) {
                self.registry.observe_running();
            }
        }
        // Counts and times land inside `work`, before its handle resolves
        // (`WorkerStats::completed`); a panic here comes from a `Drop` after
        // that (a detached result).
        let outcome =
            panic::catch_unwind(AssertUnwindSafe(|| work(&self.stats))).unwrap_or_else(|p| {
                drop_quietly(p);
                Outcome::Completed
            });
        self.depth.set(depth);
        self.stats.set_depth(u64::from(depth));
        // The job is counted now: what its closure held for that goes.
        let held = std::mem::take(&mut *self.held.borrow_mut());
        if !held.is_empty() {
            drop_quietly(held);
        }
        if outcome == Outcome::Skipped {
            self.stats.cancelled();
        }
        if start.is_some() && depth == 0 {
            self.stats.outer_left();
            // The job's end, as `WorkerStats::completed` read it: no
            // clock read of its own here.
            let end = self.stats.last_end();
            if end.saturating_duration_since(self.last_flush.get()) >= CPU_FLUSH_EVERY {
                self.flush_cpu(end);
            }
        }
    }

    /// Between runs of work: reads the CPU clock if it has not been read for
    /// a millisecond, so `stats()` is current soon after a burst ends while
    /// one-task-at-a-time traffic pays for at most one read per millisecond.
    fn flush_cpu_if_stale(&self) {
        if self.registry.cfg.timing {
            let now = Instant::now();
            if now - self.last_flush.get() >= CPU_FLUSH_IDLE {
                self.flush_cpu(now);
            }
        }
    }

    fn flush_cpu(&self, now: Instant) {
        self.last_flush.set(now);
        let cpu = thread_cpu_time();
        if let (Some(before), Some(after)) = (self.cpu_mark.get(), cpu) {
            self.stats.cpu(after.saturating_sub(before));
        }
        self.cpu_mark.set(cpu);
    }
}

/// The body of a worker thread; the spawner counted it in `live` and as
/// searching.
pub(crate) fn worker_main(
    registry: Arc<Registry>,
    index: usize,
    local: Option<Worker<JobRef>>,
    stats: Arc<WorkerStats>,
) {
    let ctx = Rc::new(WorkerCtx {
        registry,
        index,
        local,
        stats,
        depth: Cell::new(0),
        cpu_mark: Cell::new(thread_cpu_time()),
        last_flush: Cell::new(Instant::now()),
        held: RefCell::new(Vec::new()),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(ctx.clone()));
    ctx.stats.locate_thread();
    #[cfg(feature = "tracing")]
    tracing::debug!(pool = %ctx.registry.cfg.name, worker = ctx.index, "worker started");
    let reg = ctx.registry.clone();
    let mut searching = true;
    loop {
        let found = ctx.find_job().or_else(|| {
            if !searching {
                reg.sleep.start_looking();
                searching = true;
                ctx.flush_cpu_if_stale();
            }
            ctx.spin_for_job()
        });
        if let Some(job) = found {
            // Rule 9: give the place back first, so the search's end sees
            // only the jobs that remain.
            reg.capacity.release();
            if searching {
                searching = false;
                if reg.sleep.work_found(|| reg.capacity.queued() > 0) {
                    reg.wake_or_start();
                }
            }
            ctx.run(job);
            continue;
        }
        if reg.capacity.is_closed_and_empty() {
            reg.sleep.stop_looking();
            reg.leave();
            break;
        }
        ctx.flush_cpu(Instant::now());
        let woke = reg.sleep.no_work_found(
            ctx.index,
            || reg.capacity.is_idle(),
            reg.cfg.keep_alive,
            || reg.leave(),
            || reg.capacity.queued() > 0 && reg.rejoin(),
        );
        if woke == Woke::ToRetire {
            break; // `no_work_found` already took it out of `live`
        }
    }
    ctx.flush_cpu(Instant::now());
    ctx.stats.exit();
    #[cfg(feature = "tracing")]
    tracing::debug!(pool = %reg.cfg.name, worker = ctx.index, "worker exited");
    reg.remove_worker_stats(&ctx.stats, true);
    CURRENT.with(|c| *c.borrow_mut() = None);
}
