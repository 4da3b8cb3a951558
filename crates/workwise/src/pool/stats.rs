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
/// # Ok::<(), workwise::PoolBuildError>(())
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
    /// How long the tasks that ran took, on a log scale (with timing on):
    /// the median and the tail, where `busy` gives only the sum.
    pub task_times: TimeHistogram,
    /// Tasks running now (with timing on).
    pub running: u64,
    /// The most tasks seen running at the same moment (with timing on): 1
    /// for a chain where each task is submitted after the previous one
    /// finished, however many threads the pool started. Seen at sampled
    /// task starts (one in every 2 ms of a worker's time), so a burst
    /// shorter than that may read low; it never reads high.
    pub peak_running: u64,
    /// How long the oldest task running now has been running (with timing
    /// on); `None` when none runs.
    pub longest_running: Option<Duration>,
    /// Tasks that panicked and whose handles were dropped without being
    /// read: errors nobody will see.
    pub lost_panics: u64,
    /// Time the workers were ready to run but waited for a core that other
    /// threads held (Linux's schedstat; zero where it cannot be read). Many
    /// more busy threads than cores show it; CPU time over busy time alone
    /// would mistake that wait for I/O.
    pub run_delay: Duration,
    /// Wall time of a sample of the tasks (one start in every 2 ms of a
    /// worker's time), each measured on its own thread from start to end.
    pub sampled_wall: Duration,
    /// The sampled tasks' own CPU time: free of the workers' spinning
    /// between tasks, which `cpu` includes.
    pub sampled_cpu: Duration,
    /// The time the sampled tasks were ready to run but waited for a core
    /// (Linux's schedstat; zero elsewhere).
    pub sampled_run_delay: Duration,
    /// The pool's cost for one task, measured as a cold round trip (submit a
    /// no-op, wait for it) once the pool was asked for it (by a
    /// data-parallel call or by [`Pool::advice`](crate::Pool::advice));
    /// `None` until then.
    pub task_cost: Option<Duration>,
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

    /// The share of the tasks' own time on a core that they spent
    /// computing: near 1 for CPU-bound work, near 0 for waiting; `None`
    /// without timing or CPU clocks.
    ///
    /// It is read from the sampled tasks
    /// ([`sampled_cpu`](Self::sampled_cpu) over
    /// [`sampled_wall`](Self::sampled_wall) less
    /// [`sampled_run_delay`](Self::sampled_run_delay)), so sixteen computing
    /// threads on two cores, each on a CPU an eighth of the time and
    /// waiting for a core the rest, still read as computing. Without
    /// samples it is `cpu` over `busy`.
    ///
    /// # Examples
    ///
    /// ```
    /// let stats = workwise::PoolStats::default();
    /// assert_eq!(stats.cpu_share(), None);
    /// ```
    pub fn cpu_share(&self) -> Option<f64> {
        let (cpu, wall) = if self.sampled_wall.is_zero() {
            (self.cpu, self.busy)
        } else {
            let had_core = self.sampled_wall.saturating_sub(self.sampled_run_delay);
            (self.sampled_cpu, had_core.max(self.sampled_cpu))
        };
        if wall.is_zero() || (cpu.is_zero() && self.sampled_wall.is_zero()) {
            return None;
        }
        Some((cpu.as_secs_f64() / wall.as_secs_f64()).min(1.0))
    }
}

/// How many buckets a [`TimeHistogram`] has: four per power of two of
/// nanoseconds, up to 2^40 ns (about 18 minutes; longer lands in the last).
const BUCKETS: usize = 164;

/// A distribution of durations on a log scale: four buckets per doubling,
/// so a quantile is known within about 12%.
///
/// # Examples
///
/// ```
/// let pool = workwise::Pool::cpu().build()?;
/// for h in (0..20).map(|_| pool.submit(|| std::thread::sleep(std::time::Duration::from_millis(1)))).collect::<Vec<_>>() {
///     h.wait().unwrap();
/// }
/// let times = pool.stats().task_times;
/// assert_eq!(times.count(), 20);
/// assert!(times.median().unwrap() >= std::time::Duration::from_micros(800));
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TimeHistogram {
    counts: [u64; BUCKETS],
}

impl Default for TimeHistogram {
    fn default() -> Self {
        TimeHistogram {
            counts: [0; BUCKETS],
        }
    }
}

impl std::fmt::Debug for TimeHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeHistogram")
            .field("count", &self.count())
            .field("median", &self.median())
            .field("p99", &self.quantile(0.99))
            .field("max", &self.max())
            .finish()
    }
}

/// The bucket of a duration of `ns` nanoseconds.
fn bucket(ns: u64) -> usize {
    let ns = ns.clamp(1, (1 << 41) - 1);
    let e = 63 - ns.leading_zeros() as usize;
    let sub = ((ns << 2) >> e) as usize & 3;
    (4 * e + sub).min(BUCKETS - 1)
}

/// The middle of bucket `i`, in nanoseconds.
fn bucket_mid(i: usize) -> u64 {
    let (e, sub) = (i / 4, (i % 4) as u64);
    // Bucket (e, sub) holds [(4 + sub) 2^e / 4, (5 + sub) 2^e / 4).
    (((8 + 2 * sub + 1) << e) >> 3).max(1)
}

impl TimeHistogram {
    /// Counts one duration.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut h = workwise::TimeHistogram::default();
    /// h.record(std::time::Duration::from_micros(5));
    /// assert_eq!(h.count(), 1);
    /// ```
    pub fn record(&mut self, d: Duration) {
        self.counts[bucket(nanos(d))] += 1;
    }

    /// How many durations it holds.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(workwise::TimeHistogram::default().count(), 0);
    /// ```
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The duration below which a share `q` (0 to 1) of them fall, within a
    /// bucket's width; `None` when empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut h = workwise::TimeHistogram::default();
    /// for us in 1..=100 {
    ///     h.record(Duration::from_micros(us));
    /// }
    /// let p90 = h.quantile(0.9).unwrap();
    /// assert!(p90 > Duration::from_micros(78) && p90 < Duration::from_micros(102), "{p90:?}");
    /// ```
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Duration::from_nanos(bucket_mid(i)));
            }
        }
        None
    }

    /// The median, within a bucket's width.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(workwise::TimeHistogram::default().median(), None);
    /// ```
    pub fn median(&self) -> Option<Duration> {
        self.quantile(0.5)
    }

    /// The longest, within a bucket's width.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut h = workwise::TimeHistogram::default();
    /// h.record(Duration::from_millis(3));
    /// h.record(Duration::from_millis(40));
    /// assert!(h.max().unwrap() > Duration::from_millis(35));
    /// ```
    pub fn max(&self) -> Option<Duration> {
        self.quantile(1.0)
    }
}

/// One worker's counters. Only the worker's own thread writes them, so a
/// write is a plain load and store, never a locked read-modify-write.
#[derive(Debug)]
pub(crate) struct WorkerStats {
    /// The pool's epoch: task start times are ns since.
    epoch: std::time::Instant,
    inner: CachePadded<WorkerCounters>,
    /// Task durations; a cache line apart from the counters above, since
    /// one bucket is written per task.
    times: Times,
    /// `/proc/<pid>/task/<tid>` of the worker's thread, for its schedstat.
    proc_dir: std::sync::OnceLock<std::path::PathBuf>,
}

impl Default for WorkerStats {
    fn default() -> Self {
        WorkerStats::new(std::time::Instant::now())
    }
}

#[derive(Debug)]
struct Times([AtomicU64; BUCKETS]);

impl Default for Times {
    fn default() -> Self {
        Times(std::array::from_fn(|_| AtomicU64::new(0)))
    }
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
    lost_panics: AtomicU64,
    /// When the task running now started, in ns since the pool's epoch,
    /// plus one; 0 while none runs.
    running_since: AtomicU64,
    /// Run delay (schedstat) the worker had when it exited; 0 while alive.
    exit_run_delay_ns: AtomicU64,
    /// Jobs nested on the worker's stack now (mirrors the worker's own).
    depth: AtomicU64,
    /// The queue wait of the outermost job running now, counted when it ends.
    pending_queue_wait_ns: AtomicU64,
    /// Sampled tasks (see `SAMPLE_EVERY`): when the last sample began (ns
    /// since the epoch, plus one), and the running one's CPU clock and run
    /// delay at its start (0: the task running now is not sampled).
    last_sample_ns: AtomicU64,
    sample_cpu_ns: AtomicU64,
    sample_delay_ns: AtomicU64,
    sampled_wall_ns: AtomicU64,
    sampled_cpu_ns: AtomicU64,
    sampled_delay_ns: AtomicU64,
    /// When the last timed outermost job ended, in ns since the epoch.
    last_end_ns: AtomicU64,
    /// The outermost job's start (ns since the epoch, plus one) until its
    /// task begins (`began`); 0 otherwise.
    pending_start: AtomicU64,
}

/// A worker samples one task start in every this much of its time: reads
/// its thread's CPU clock and run delay at the start and the end (~5 µs in
/// all), which gives the tasks' own CPU share, free of the spinning between
/// tasks and of the time waiting for a core.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);

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
    pub(crate) fn new(epoch: std::time::Instant) -> Self {
        WorkerStats {
            epoch,
            inner: CachePadded::default(),
            times: Times::default(),
            proc_dir: std::sync::OnceLock::new(),
        }
    }

    /// The task ran and returned; called before its handle resolves, so
    /// every figure of the task is in before anyone can see its result.
    pub(crate) fn completed(&self) {
        bump(&self.inner.completed, 1);
        self.end_outer();
    }
    pub(crate) fn panicked(&self) {
        bump(&self.inner.panicked, 1);
        self.end_outer();
    }

    /// An outermost job (with timing on) starts at `start`, having waited
    /// `queued` in the queue.
    /// Whether this worker is running a task now (with timing on).
    pub(crate) fn is_running(&self) -> bool {
        self.inner.running_since.load(Ordering::Relaxed) != 0
    }

    /// When the last timed outermost job ended (ns since the epoch); the
    /// worker reads it instead of the clock.
    pub(crate) fn last_end(&self) -> std::time::Instant {
        self.epoch + Duration::from_nanos(self.inner.last_end_ns.load(Ordering::Relaxed))
    }

    /// Returns whether this start is sampled.
    pub(crate) fn begin_outer(&self, start: std::time::Instant, queued: Option<Duration>) -> bool {
        let c = &self.inner;
        let since = nanos(start.saturating_duration_since(self.epoch));
        // Published as running only when the job turns out to be a task
        // that starts (`began`): a stale queue entry of a task that ran
        // elsewhere never shows as running.
        c.pending_start
            .store(since.saturating_add(1), Ordering::Relaxed);
        c.pending_queue_wait_ns
            .store(queued.map_or(0, nanos), Ordering::Relaxed);
        let last = c.last_sample_ns.load(Ordering::Relaxed);
        let due = last == 0 || since.saturating_sub(last - 1) >= nanos(SAMPLE_EVERY);
        let sample = due.then(|| self.own_clocks()).flatten();
        if let Some((cpu, delay)) = sample {
            c.last_sample_ns
                .store(since.saturating_add(1), Ordering::Relaxed);
            c.sample_cpu_ns.store(cpu.max(1), Ordering::Relaxed);
            c.sample_delay_ns.store(delay, Ordering::Relaxed);
            true
        } else {
            c.sample_cpu_ns.store(0, Ordering::Relaxed);
            false
        }
    }

    /// The calling (worker) thread's CPU clock, precise to the moment, and
    /// its run delay (schedstat; 0 where it cannot be read), in ns.
    fn own_clocks(&self) -> Option<(u64, u64)> {
        let cpu = nanos(thread_cpu_time()?);
        let delay = self.schedstat().map_or(0, |(_, d)| nanos(d));
        Some((cpu, delay))
    }

    /// Ends the outermost job's timing, if the job ending is the outermost
    /// and it was timed: its busy time, duration and queue wait land.
    fn end_outer(&self) {
        let c = &self.inner;
        let since = c.running_since.load(Ordering::Relaxed);
        if since == 0 || c.depth.load(Ordering::Relaxed) != 1 {
            return;
        }
        let now = self.epoch.elapsed();
        c.last_end_ns.store(nanos(now), Ordering::Relaxed);
        let took = now.saturating_sub(Duration::from_nanos(since - 1));
        bump(&c.busy_ns, nanos(took));
        bump(&self.times.0[bucket(nanos(took))], 1);
        let cpu0 = c.sample_cpu_ns.load(Ordering::Relaxed);
        if cpu0 > 0 {
            if let Some((cpu, delay)) = self.own_clocks() {
                bump(&c.sampled_wall_ns, nanos(took));
                bump(&c.sampled_cpu_ns, cpu.saturating_sub(cpu0));
                let delay0 = c.sample_delay_ns.load(Ordering::Relaxed);
                bump(&c.sampled_delay_ns, delay.saturating_sub(delay0));
            }
        }
        bump(
            &c.queue_wait_ns,
            c.pending_queue_wait_ns.load(Ordering::Relaxed),
        );
        c.running_since.store(0, Ordering::Relaxed);
    }

    /// The task the outermost job holds has started its closure: it shows
    /// as running from the job's start. Called by the task cell when it
    /// wins the start.
    pub(crate) fn began(&self) {
        let c = &self.inner;
        if c.depth.load(Ordering::Relaxed) != 1 {
            return;
        }
        let pending = c.pending_start.load(Ordering::Relaxed);
        if pending != 0 {
            c.running_since.store(pending, Ordering::Relaxed);
            c.pending_start.store(0, Ordering::Relaxed);
        }
    }

    /// The worker's nesting depth, as it changes.
    pub(crate) fn set_depth(&self, depth: u64) {
        self.inner.depth.store(depth, Ordering::Relaxed);
    }

    /// Clears the outermost job's mark if it did not end through
    /// `completed` or `panicked` (skipped, or run elsewhere).
    pub(crate) fn outer_left(&self) {
        self.inner.running_since.store(0, Ordering::Relaxed);
        self.inner.pending_start.store(0, Ordering::Relaxed);
    }
    pub(crate) fn cancelled(&self) {
        bump(&self.inner.cancelled, 1);
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
    pub(crate) fn lost_panic(&self) {
        bump(&self.inner.lost_panics, 1);
    }

    /// Remembers where the calling thread's schedstat is; called on the
    /// worker's own thread when it starts.
    pub(crate) fn locate_thread(&self) {
        // Miri runs isolated from the file system: no schedstat there.
        if cfg!(miri) {
            return;
        }
        if let Ok(dir) = std::fs::read_link("/proc/thread-self") {
            let dir = if dir.is_absolute() {
                dir
            } else {
                std::path::Path::new("/proc").join(dir)
            };
            let _ = self.proc_dir.set(dir);
        }
    }

    /// The worker thread's CPU time and run delay now, from schedstat.
    pub(crate) fn schedstat(&self) -> Option<(Duration, Duration)> {
        read_schedstat(self.proc_dir.get()?)
    }

    /// Keeps the run delay the exiting worker had (called on its thread).
    pub(crate) fn exit(&self) {
        if let Some((_, delay)) = self.schedstat() {
            self.inner
                .exit_run_delay_ns
                .store(nanos(delay), Ordering::Relaxed);
        }
    }

    /// Adds this worker's counters into `into`.
    ///
    /// With `live`, the worker is still running: its CPU time and run delay
    /// are read from schedstat now (current to the moment), where the
    /// platform has it; a retired worker's are what it had at exit.
    pub(crate) fn add_to(&self, into: &mut Totals, live: bool) {
        let c = &self.inner;
        into.completed += c.completed.load(Ordering::Relaxed);
        into.panicked += c.panicked.load(Ordering::Relaxed);
        into.cancelled += c.cancelled.load(Ordering::Relaxed);
        into.busy_ns += c.busy_ns.load(Ordering::Relaxed);
        into.queue_wait_ns += c.queue_wait_ns.load(Ordering::Relaxed);
        into.lost_panics += c.lost_panics.load(Ordering::Relaxed);
        into.sampled_wall_ns += c.sampled_wall_ns.load(Ordering::Relaxed);
        into.sampled_cpu_ns += c.sampled_cpu_ns.load(Ordering::Relaxed);
        into.sampled_delay_ns += c.sampled_delay_ns.load(Ordering::Relaxed);
        let flushed_cpu = c.cpu_ns.load(Ordering::Relaxed);
        match self.schedstat().filter(|_| live) {
            Some((cpu, delay)) => {
                into.cpu_ns += flushed_cpu.max(nanos(cpu));
                into.run_delay_ns += nanos(delay);
            }
            None => {
                into.cpu_ns += flushed_cpu;
                into.run_delay_ns += c.exit_run_delay_ns.load(Ordering::Relaxed);
            }
        }
        into.deepest_help = into
            .deepest_help
            .max(c.deepest_help.load(Ordering::Relaxed));
        for (t, c) in into.times.counts.iter_mut().zip(self.times.0.iter()) {
            *t += c.load(Ordering::Relaxed);
        }
        let since = c.running_since.load(Ordering::Relaxed);
        if since > 0 {
            into.running += 1;
            into.oldest_start_ns =
                Some(into.oldest_start_ns.map_or(since - 1, |o| o.min(since - 1)));
        }
    }
}

/// CPU time and run delay of a thread from its `schedstat` (Linux: time on
/// a CPU, time runnable waiting for one, slices; in ns).
pub(crate) fn read_schedstat(dir: &std::path::Path) -> Option<(Duration, Duration)> {
    if cfg!(miri) {
        return None;
    }
    let text = std::fs::read_to_string(dir.join("schedstat")).ok()?;
    let mut fields = text.split_ascii_whitespace().map(|f| f.parse::<u64>().ok());
    let cpu = fields.next()??;
    let delay = fields.next()??;
    Some((Duration::from_nanos(cpu), Duration::from_nanos(delay)))
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
    pub(crate) lost_panics: u64,
    pub(crate) run_delay_ns: u64,
    pub(crate) sampled_wall_ns: u64,
    pub(crate) sampled_cpu_ns: u64,
    pub(crate) sampled_delay_ns: u64,
    pub(crate) times: TimeHistogram,
    /// Workers running a task now, and the earliest start among them (ns
    /// since the pool's epoch): live workers only.
    pub(crate) running: u64,
    pub(crate) oldest_start_ns: Option<u64>,
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
        s.lost_panics = self.lost_panics;
        s.run_delay = Duration::from_nanos(self.run_delay_ns);
        s.sampled_wall = Duration::from_nanos(self.sampled_wall_ns);
        s.sampled_cpu = Duration::from_nanos(self.sampled_cpu_ns);
        s.sampled_run_delay = Duration::from_nanos(self.sampled_delay_ns);
        s.task_times = self.times;
        s.running = self.running;
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
