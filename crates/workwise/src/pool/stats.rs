//! Pool statistics: per-worker counters written by their owner only, summed
//! into a [`PoolStats`] snapshot on demand.

use std::sync::atomic::Ordering;

use crate::sync::AtomicU64;
use std::time::Duration;

use crossbeam_utils::CachePadded;

/// A snapshot of a pool's counters and times, returned by [`Pool::stats`](crate::Pool::stats).
///
/// Counts are exact, and a task is counted before its handle resolves, so
/// after `wait` returns, `completed` or `panicked` already includes it. Times are kept only when the pool was built with
/// `timing(true)` (the default); `busy` and `queue_wait` come from one
/// monotonic clock read when a task is submitted, starts and ends. `cpu` is
/// the workers' thread CPU clock, read every 10 ms of work, when a worker runs
/// out of work (at most once a millisecond) and before it sleeps: a read costs
/// about 0.7 µs here, too much for every task. It includes the brief spinning
/// a worker does between tasks.
///
/// # Examples
///
/// ```
/// let pool = workwise::Pool::cpu().build()?;
/// let handles: Vec<_> = (0..100).map(|i| pool.submit(move || i * 2)).collect();
/// for h in handles {
///     h.wait().unwrap();
/// }
/// let stats = pool.stats();
/// assert_eq!(stats.submitted, 100);
/// assert_eq!(stats.completed, 100);
/// # Ok::<(), workwise::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Tasks accepted by `submit` (refused ones are not counted).
    pub submitted: u64,
    /// Tasks that ran and returned.
    pub completed: u64,
    /// Tasks that ran and panicked.
    pub panicked: u64,
    /// Tasks cancelled before they started, counted when a worker reaches them.
    pub cancelled: u64,
    /// Tasks waiting in the queue now.
    pub queued: u64,
    /// The longest the queue has been.
    pub peak_queued: u64,
    /// Worker threads alive now.
    pub live_workers: u64,
    /// The most worker threads alive at once.
    pub peak_workers: u64,
    /// Wall time spent inside tasks, summed over workers.
    pub busy: Duration,
    /// Worker thread CPU time while working (see the type's docs).
    pub cpu: Duration,
    /// Time tasks spent queued before a worker started them, summed.
    pub queue_wait: Duration,
    /// Data-parallel calls (`par_map`, `map_reduce`, `for_each`) that ran on
    /// the calling thread because the pool would have cost more than it gave.
    pub inline_runs: u64,
    /// Data-parallel calls that were split across the pool.
    pub parallel_runs: u64,
    /// The deepest chain of jobs a waiting worker ran inside its waits
    /// (0: none); never more than [`MAX_HELP_DEPTH`](crate::MAX_HELP_DEPTH).
    pub deepest_help: u64,
}

impl PoolStats {
    /// Tasks that have finished one way or another.
    ///
    /// # Examples
    ///
    /// ```
    /// let stats = workwise::PoolStats::default();
    /// assert_eq!(stats.finished(), 0);
    /// ```
    pub fn finished(&self) -> u64 {
        self.completed + self.panicked + self.cancelled
    }

    /// Mean wall time per task that ran, if any ran and timing was on.
    ///
    /// # Examples
    ///
    /// ```
    /// let stats = workwise::PoolStats::default();
    /// assert_eq!(stats.mean_task_time(), None);
    /// ```
    pub fn mean_task_time(&self) -> Option<std::time::Duration> {
        let ran = self.completed + self.panicked;
        (ran > 0 && !self.busy.is_zero()).then(|| self.busy / ran.min(u32::MAX as u64) as u32)
    }
}

/// One worker's counters. Only the worker's own thread writes them, so a
/// write is a plain load and store, never a locked read-modify-write.
#[derive(Debug, Default)]
pub(crate) struct WorkerStats {
    inner: CachePadded<WorkerCounters>,
}

#[derive(Debug, Default)]
struct WorkerCounters {
    completed: AtomicU64,
    panicked: AtomicU64,
    cancelled: AtomicU64,
    busy_ns: AtomicU64,
    cpu_ns: AtomicU64,
    queue_wait_ns: AtomicU64,
    deepest_help: AtomicU64,
}

fn bump(a: &AtomicU64, by: u64) {
    a.store(
        a.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl WorkerStats {
    pub(crate) fn completed(&self) {
        bump(&self.inner.completed, 1);
    }
    pub(crate) fn panicked(&self) {
        bump(&self.inner.panicked, 1);
    }
    pub(crate) fn cancelled(&self) {
        bump(&self.inner.cancelled, 1);
    }
    pub(crate) fn busy(&self, d: Duration) {
        bump(&self.inner.busy_ns, nanos(d));
    }
    pub(crate) fn cpu(&self, d: Duration) {
        bump(&self.inner.cpu_ns, nanos(d));
    }
    pub(crate) fn help_depth(&self, depth: u64) {
        let d = &self.inner.deepest_help;
        if depth > d.load(Ordering::Relaxed) {
            d.store(depth, Ordering::Relaxed);
        }
    }
    pub(crate) fn queue_wait(&self, d: Duration) {
        bump(&self.inner.queue_wait_ns, nanos(d));
    }

    /// Adds this worker's counters into `into`.
    pub(crate) fn add_to(&self, into: &mut Totals) {
        let c = &self.inner;
        into.completed += c.completed.load(Ordering::Relaxed);
        into.panicked += c.panicked.load(Ordering::Relaxed);
        into.cancelled += c.cancelled.load(Ordering::Relaxed);
        into.busy_ns += c.busy_ns.load(Ordering::Relaxed);
        into.cpu_ns += c.cpu_ns.load(Ordering::Relaxed);
        into.queue_wait_ns += c.queue_wait_ns.load(Ordering::Relaxed);
        into.deepest_help = into
            .deepest_help
            .max(c.deepest_help.load(Ordering::Relaxed));
    }
}

/// Summed counters: of retired workers, or of a whole snapshot.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Totals {
    pub(crate) completed: u64,
    pub(crate) panicked: u64,
    pub(crate) cancelled: u64,
    pub(crate) busy_ns: u64,
    pub(crate) cpu_ns: u64,
    pub(crate) queue_wait_ns: u64,
    pub(crate) deepest_help: u64,
}

impl Totals {
    pub(crate) fn fill(&self, s: &mut PoolStats) {
        s.completed = self.completed;
        s.panicked = self.panicked;
        s.cancelled = self.cancelled;
        s.busy = Duration::from_nanos(self.busy_ns);
        s.cpu = Duration::from_nanos(self.cpu_ns);
        s.queue_wait = Duration::from_nanos(self.queue_wait_ns);
        s.deepest_help = self.deepest_help;
    }
}

/// The calling thread's CPU clock, or `None` where it cannot be read.
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    #[cfg(all(unix, not(miri)))]
    {
        use nix::time::{clock_gettime, ClockId};
        let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
        let secs = u64::try_from(t.tv_sec()).ok()?;
        let nanos = u32::try_from(t.tv_nsec()).ok()?;
        Some(Duration::new(secs, nanos))
    }
    #[cfg(not(all(unix, not(miri))))]
    {
        None
    }
}
