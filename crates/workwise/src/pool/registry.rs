//! The registry: one pool's shared state (its queues, its workers, their
//! statistics) and the protocols that span them: spawning, shutdown, and
//! resolving what no worker is left to run.
//!
//! # Protocol
//!
//! (Rules 1, 2 and 8 are `capacity.rs`'s, 3-7 `sleep.rs`'s, 10 `wait.rs`'s.)
//!
//! 9. A worker gives a job's place back (rule 1) *before* it ends its search
//!    (rule 5), so "jobs remain" never counts the job it just took.
//! 11. `join_workers` runs once: the first caller joins the workers and
//!     resolves leftovers, later callers wait until it is done, so every
//!     `shutdown` returns only after the pool has drained.
//! 12. User code (tasks, their results' and closures' `Drop`, panic
//!     payloads, wakers) runs inside `catch_unwind`; a worker never unwinds.
//! 13. A worker that cannot be started while no worker is alive would leave
//!     queued jobs to no one: they are resolved with `TaskError::NoWorker`
//!     carrying the OS error.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use super::capacity::{Capacity, Refused};
use super::sleep::Sleep;
use super::stats::{PoolStats, Totals, WorkerStats};
use super::task::{drop_quietly, panic_message, JobRef, TaskError};
use super::worker::{on_worker_of, push_local, worker_main};
use super::MAX_THREADS;
use crate::sync::{lock, AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex};
use std::sync::{Arc, Weak};

use crate::advice::pool_rules::{self, PoolFacts};
use crate::advice::{Advice, Emitted, Watched};
use crate::testing::{Chaos, ChaosPoint};
use crate::workload::Workload;

/// How a pool grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Threads start on demand up to the maximum and retire when idle.
    Elastic,
    /// All threads start with the pool, each with a work-stealing deque.
    Fixed,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) name: String,
    pub(crate) flavor: Flavor,
    pub(crate) max_workers: usize,
    pub(crate) capacity: usize,
    pub(crate) stack_size: Option<usize>,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) timing: bool,
    /// What the pool was built for; the advisor's rules read it.
    pub(crate) workload: Workload,
    /// Chaos mode: seeded pauses at submit, dequeue and completion.
    pub(crate) chaos: Option<Chaos>,
    /// The pool runs a `Policy`'s attempts (see `PoolBuilder::serves_calls`).
    pub(crate) serves_calls: bool,
}

/// Where shutdown stands (rule 11).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    Draining,
    Drained,
}

/// Rule 11: the drain runs once, and every caller returns after it ended.
pub(crate) struct Drain {
    phase: Mutex<Phase>,
    drained: Condvar,
}

impl Drain {
    pub(crate) fn new() -> Drain {
        Drain {
            phase: Mutex::new(Phase::Open),
            drained: Condvar::new(),
        }
    }

    /// Runs `drain` if no caller has, or waits until the one that did is
    /// done. `drain` must not unwind (it runs no user code unguarded).
    pub(crate) fn once(&self, drain: impl FnOnce()) {
        {
            let mut phase = lock(&self.phase);
            loop {
                match *phase {
                    Phase::Drained => return,
                    #[cfg(not(workwise_broken_pool))]
                    Phase::Draining => phase = crate::sync::wait(&self.drained, phase),
                    // The defect this rule fixes: a second caller returns
                    // while the first still drains.
                    #[cfg(workwise_broken_pool)]
                    Phase::Draining => return,
                    Phase::Open => {
                        *phase = Phase::Draining;
                        break;
                    }
                }
            }
        }
        drain();
        *lock(&self.phase) = Phase::Drained;
        self.drained.notify_all();
    }
}

pub(crate) struct Registry {
    pub(crate) cfg: Config,
    pub(crate) capacity: Capacity,
    pub(crate) sleep: Sleep,
    injector: Injector<JobRef>,
    stealers: Vec<Stealer<JobRef>>,
    live: AtomicUsize,
    peak_workers: AtomicUsize,
    /// Workers of an elastic pool blocked in a wait (rule 10).
    blocked: AtomicUsize,
    pub(crate) cancel_rest: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_index: AtomicUsize,
    worker_stats: Mutex<Vec<Arc<WorkerStats>>>,
    retired: Mutex<Totals>,
    spawn_error: Mutex<Option<String>>,
    drain: Drain,
    /// Test hook: every later spawn fails as the OS would refuse it.
    #[cfg(test)]
    refuse_spawns: AtomicBool,
    /// One slot for a module above the engine to keep per-pool state in
    /// (`par` keeps its cost estimates here), so the pool imports nothing
    /// from it.
    pub(crate) extension: std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>,
    pub(crate) inline_runs: AtomicU64,
    pub(crate) parallel_runs: AtomicU64,
    /// When the pool was built: task start times are kept as ns since.
    pub(crate) epoch: Instant,
    /// The most tasks seen running at once (sampled, with timing on).
    peak_running: AtomicUsize,
    /// A cold task round trip on this pool, in ns; 0 until measured.
    pub(crate) round_trip_ns: AtomicU64,
    /// Panics found unread in handles dropped off the workers' threads.
    lost_panics: AtomicU64,
    /// The advisor's findings already emitted for this pool.
    pub(crate) emitted: Emitted,
    /// The id of the next task to run, for its tracing span.
    #[cfg(feature = "tracing")]
    next_task: AtomicU64,
}

/// Every pool alive, so that a handle dropped with an unread panic can
/// find its pool's counter by the id its cell carries.
/// Not a protocol of the engine (no loom model needs it): a plain lock.
#[allow(clippy::disallowed_types)]
static LIVE: std::sync::Mutex<Vec<Weak<Registry>>> = std::sync::Mutex::new(Vec::new());

#[allow(clippy::disallowed_types)]
fn live_list() -> std::sync::MutexGuard<'static, Vec<Weak<Registry>>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counts a panic left unread in a dropped handle of pool `id`.
pub(crate) fn lost_panic(id: usize) {
    let live = live_list();
    if let Some(reg) = live
        .iter()
        .find(|w| w.as_ptr() as usize == id)
        .and_then(Weak::upgrade)
    {
        reg.lost_panics.fetch_add(1, Relaxed);
    }
}

impl Registry {
    /// Builds the pool's shared state and, for a fixed pool, starts its workers.
    pub(crate) fn start(cfg: Config) -> std::io::Result<Arc<Registry>> {
        let locals: Vec<Worker<JobRef>> = match cfg.flavor {
            Flavor::Fixed => (0..cfg.max_workers).map(|_| Worker::new_lifo()).collect(),
            Flavor::Elastic => Vec::new(),
        };
        let reg = Arc::new(Registry {
            stealers: locals.iter().map(Worker::stealer).collect(),
            injector: Injector::new(),
            capacity: Capacity::new(cfg.capacity),
            sleep: Sleep::new(),
            live: AtomicUsize::new(0),
            peak_workers: AtomicUsize::new(0),
            blocked: AtomicUsize::new(0),
            cancel_rest: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            next_index: AtomicUsize::new(0),
            worker_stats: Mutex::new(Vec::new()),
            retired: Mutex::new(Totals::default()),
            spawn_error: Mutex::new(None),
            drain: Drain::new(),
            #[cfg(test)]
            refuse_spawns: AtomicBool::new(false),
            extension: std::sync::OnceLock::new(),
            inline_runs: AtomicU64::new(0),
            parallel_runs: AtomicU64::new(0),
            epoch: Instant::now(),
            peak_running: AtomicUsize::new(0),
            round_trip_ns: AtomicU64::new(0),
            lost_panics: AtomicU64::new(0),
            emitted: Emitted::default(),
            #[cfg(feature = "tracing")]
            next_task: AtomicU64::new(1),
            cfg,
        });
        {
            let mut live = live_list();
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(&reg));
        }
        let watched: Weak<dyn Watched> = Arc::downgrade(&reg) as Weak<dyn Watched>;
        crate::advice::watch(watched);
        if reg.cfg.flavor == Flavor::Elastic {
            // Threads start on demand; make sure one can, so that a pool that
            // could never run a task fails here, not at its first wait.
            reg.probe_spawn()?;
        }
        for local in locals {
            reg.live.fetch_add(1, SeqCst);
            reg.sleep.start_looking();
            if let Err(e) = reg.spawn_worker(Some(local)) {
                reg.close(true);
                reg.join_workers();
                return Err(e);
            }
        }
        reg.peak_workers.store(reg.live.load(SeqCst), SeqCst);
        Ok(reg)
    }

    /// This pool's id, which its task cells carry (never 0).
    pub(crate) fn id(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }

    /// Whether the calling thread is one of this pool's workers.
    pub(crate) fn on_own_worker(self: &Arc<Self>) -> bool {
        on_worker_of(self)
    }

    /// Reserves a place for one job; see `Capacity::reserve`.
    pub(crate) fn reserve(&self, block: bool, internal: bool) -> Result<(), Refused> {
        self.capacity.reserve(block, internal)
    }

    /// Pushes a reserved job: onto the caller's own deque when it is one of
    /// this pool's workers (`internal`, as `reserve` was told), else onto the
    /// shared injector; then announces it (rule 3).
    pub(crate) fn push(self: &Arc<Self>, job: JobRef, internal: bool) {
        let job = if internal { push_local(job) } else { Some(job) };
        if let Some(job) = job {
            self.injector.push(job);
        }
        if self.sleep.new_jobs() {
            self.start_worker();
        }
    }

    /// Wakes a sleeper, or starts a worker in an elastic pool (rule 3, 5).
    pub(crate) fn wake_or_start(self: &Arc<Self>) {
        if !self.sleep.wake_one() {
            self.start_worker();
        }
    }

    fn start_worker(self: &Arc<Self>) {
        if self.cfg.flavor == Flavor::Elastic {
            self.try_spawn();
        }
    }

    /// Starts one more elastic worker if the pool is below its limit.
    fn try_spawn(self: &Arc<Self>) {
        if self.capacity.is_closed_and_empty() {
            return;
        }
        let mut live = self.live.load(SeqCst);
        loop {
            if live >= self.worker_limit() {
                return;
            }
            match self.live.compare_exchange(live, live + 1, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => live = now,
            }
        }
        self.peak_workers.fetch_max(live + 1, Relaxed);
        self.sleep.start_looking();
        if let Err(e) = self.spawn_worker(None) {
            self.sleep.stop_looking();
            let left = self.live.fetch_sub(1, SeqCst) - 1;
            let message = e.to_string();
            *lock(&self.spawn_error) = Some(message.clone());
            if left == 0 {
                self.fail_stranded(&message);
            }
        }
    }

    /// The most workers an elastic pool may run now: its maximum, plus one
    /// for each worker blocked in a wait (rule 10).
    fn worker_limit(&self) -> usize {
        (self.cfg.max_workers + self.blocked.load(SeqCst)).min(MAX_THREADS)
    }

    /// A worker of this (elastic) pool is about to park in a wait (rule 10).
    pub(crate) fn block(self: &Arc<Self>) {
        self.blocked.fetch_add(1, SeqCst);
        if self.capacity.queued() > 0 && self.sleep.new_jobs() {
            self.start_worker();
        }
    }

    pub(crate) fn unblock(&self) {
        self.blocked.fetch_sub(1, SeqCst);
    }

    /// Rule 13: no worker is alive and none could be started, so the queued
    /// jobs would wait for no one; resolve them with the OS's reason.
    fn fail_stranded(&self, message: &str) {
        while let Some(job) = self.find_job(None, 0) {
            self.capacity.release();
            lock(&self.retired).cancelled += 1;
            job.cancel_with(TaskError::NoWorker {
                message: message.to_owned(),
            });
            drop_quietly(job);
        }
    }

    fn thread_builder(&self, index: usize) -> std::thread::Builder {
        let mut builder = std::thread::Builder::new().name(format!("{}-{index}", self.cfg.name));
        if let Some(size) = self.cfg.stack_size {
            builder = builder.stack_size(size);
        }
        builder
    }

    /// Runs `spawn` and turns a panic inside std's spawn (a stack size that
    /// overflows when rounded up to a page) into the error it stands for.
    fn spawn_with<T>(
        spawn: impl FnOnce() -> std::io::Result<JoinHandle<T>>,
    ) -> std::io::Result<JoinHandle<T>> {
        panic::catch_unwind(AssertUnwindSafe(spawn)).unwrap_or_else(|p| {
            let message = panic_message(&*p);
            drop_quietly(p);
            Err(std::io::Error::other(message))
        })
    }

    /// Starts and joins one thread configured as a worker would be.
    fn probe_spawn(&self) -> std::io::Result<()> {
        let h = Self::spawn_with(|| self.thread_builder(0).spawn(|| ()))?;
        let _ = h.join();
        Ok(())
    }

    /// Spawns one worker thread; the caller has counted it in `live` and as
    /// searching.
    fn spawn_worker(self: &Arc<Self>, local: Option<Worker<JobRef>>) -> std::io::Result<()> {
        #[cfg(test)]
        if self.refuse_spawns.load(SeqCst) {
            return Err(std::io::Error::from_raw_os_error(11)); // EAGAIN
        }
        let index = self.next_index.fetch_add(1, Relaxed);
        let builder = self.thread_builder(index);
        let stats = Arc::new(WorkerStats::new(self.epoch));
        lock(&self.worker_stats).push(stats.clone());
        let reg = self.clone();
        let worker_stats = stats.clone();
        let spawned = Self::spawn_with(|| {
            builder.spawn(move || worker_main(reg, index, local, worker_stats))
        });
        match spawned {
            Ok(handle) => {
                let mut threads = lock(&self.threads);
                threads.retain(|h| !h.is_finished());
                threads.push(handle);
                Ok(())
            }
            Err(e) => {
                self.remove_worker_stats(&stats, false);
                Err(e)
            }
        }
    }

    /// Drops a worker's entry from the live list; with `fold`, its counts move
    /// to the retired totals first, under the same lock, so a concurrent
    /// snapshot never counts the worker twice or not at all.
    pub(crate) fn remove_worker_stats(&self, stats: &Arc<WorkerStats>, fold: bool) {
        let mut all = lock(&self.worker_stats);
        if fold {
            stats.add_to(&mut lock(&self.retired), false);
        }
        all.retain(|s| !Arc::ptr_eq(s, stats));
    }

    /// Finds a job: the worker's own deque, then the injector, then the other
    /// workers' deques.
    pub(crate) fn find_job(&self, local: Option<&Worker<JobRef>>, me: usize) -> Option<JobRef> {
        if let Some(local) = local {
            if let Some(job) = local.pop() {
                return Some(job);
            }
        }
        loop {
            let mut retry = false;
            let got = match local {
                Some(local) => self.injector.steal_batch_and_pop(local),
                None => self.injector.steal(),
            };
            match got {
                Steal::Success(job) => return Some(job),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            let n = self.stealers.len();
            for i in 1..n {
                match self.stealers[(me + i) % n].steal() {
                    Steal::Success(job) => return Some(job),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// A worker leaves `live`: it exits, or retires (rule 7, under the
    /// sleepers' lock).
    pub(crate) fn leave(&self) {
        self.live.fetch_sub(1, SeqCst);
    }

    /// A retiring worker saw work arrive: count it back in if there is room.
    pub(crate) fn rejoin(&self) -> bool {
        let mut live = self.live.load(SeqCst);
        loop {
            if live >= self.worker_limit() {
                return false;
            }
            match self.live.compare_exchange(live, live + 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(now) => live = now,
            }
        }
    }

    /// Closes the pool to new work; with `cancel`, queued jobs are cancelled
    /// instead of run.
    pub(crate) fn close(&self, cancel: bool) {
        if cancel {
            self.cancel_rest.store(true, SeqCst);
        }
        self.capacity.close();
        self.sleep.wake_all();
    }

    /// Waits for every worker to exit (not when called from a worker of this
    /// pool, which cannot wait for itself), then resolves anything no worker
    /// was left to take. Rule 11: one caller drains, the others wait for it.
    pub(crate) fn join_workers(self: &Arc<Self>) {
        if self.on_own_worker() {
            return;
        }
        self.drain.once(|| {
            loop {
                let handles = std::mem::take(&mut *lock(&self.threads));
                if handles.is_empty() {
                    break;
                }
                for h in handles {
                    // A worker never unwinds: user code is caught inside it.
                    let _ = h.join();
                }
            }
            while let Some(job) = self.find_job(None, 0) {
                self.capacity.release();
                job.cancel_with(TaskError::Closed);
                drop_quietly(job);
            }
        });
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let totals = {
            let all = lock(&self.worker_stats);
            let mut totals = *lock(&self.retired);
            for w in all.iter() {
                w.add_to(&mut totals, true);
            }
            totals
        };
        let mut s = PoolStats::default();
        totals.fill(&mut s);
        s.longest_running = totals.oldest_start_ns.map(|ns| {
            self.epoch
                .elapsed()
                .saturating_sub(Duration::from_nanos(ns))
        });
        s.peak_running = self.peak_running.load(Relaxed) as u64;
        s.lost_panics += self.lost_panics.load(Relaxed);
        s.task_cost = match self.round_trip_ns.load(Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        };
        s.submitted = self.capacity.submitted();
        s.queued = self.capacity.queued() as u64;
        s.peak_queued = self.capacity.peak() as u64;
        s.live_workers = self.live.load(SeqCst) as u64;
        s.peak_workers = self.peak_workers.load(Relaxed) as u64;
        s.inline_runs = self.inline_runs.load(Relaxed);
        s.parallel_runs = self.parallel_runs.load(Relaxed);
        s
    }

    /// A fresh task id for a span (feature `tracing`).
    #[cfg(feature = "tracing")]
    pub(crate) fn next_task_id(&self) -> u64 {
        self.next_task.fetch_add(1, Relaxed)
    }

    /// A chaos point: pauses there in chaos mode; one branch otherwise.
    #[inline]
    pub(crate) fn chaos(&self, point: ChaosPoint) {
        crate::testing::chaos_point(self.cfg.chaos.as_ref(), point);
    }

    /// A sampled task start (see `stats.rs`): counts the workers running a
    /// task now and keeps the most. Once per 2 ms of a worker's time, so a
    /// lock and a look at each worker's line cost nothing per task.
    pub(crate) fn observe_running(&self) {
        // The others running now, and the caller, whose task is about to.
        let now = 1 + lock(&self.worker_stats)
            .iter()
            .filter(|w| w.is_running())
            .count();
        if now > self.peak_running.load(Relaxed) {
            self.peak_running.fetch_max(now, Relaxed);
        }
    }

    /// The advisor's findings over this pool's figures now.
    pub(crate) fn advice(&self) -> Vec<Advice> {
        let facts = PoolFacts {
            name: &self.cfg.name,
            workload: self.cfg.workload,
            max_workers: self.cfg.max_workers,
            cores: crate::workload::available_cores(),
            serves_calls: self.cfg.serves_calls,
        };
        pool_rules::check(&facts, &self.stats())
    }

    pub(crate) fn spawn_error(&self) -> Option<String> {
        lock(&self.spawn_error).clone()
    }
}

impl Watched for Registry {
    fn advice(&self) -> Vec<Advice> {
        let found = Registry::advice(self);
        crate::advice::emit(&self.emitted, &found);
        found
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::pool::task::{TaskCell, TaskHandle};
    use crate::pool::Pool;

    /// Sizes for the engine tests below: small under miri, which runs them
    /// (`cargo +nightly miri test -p workwise --lib pool::`).
    fn n(full: u64) -> u64 {
        if cfg!(miri) {
            (full / 50).max(4)
        } else {
            full
        }
    }

    #[test]
    fn tasks_nested_waits_scopes_and_concurrent_shutdowns_on_both_flavors() {
        for pool in [
            Pool::io().max_workers(2).build().unwrap(),
            Pool::cpu().max_workers(2).build().unwrap(),
        ] {
            let pool = std::sync::Arc::new(pool);
            // Tasks that submit and wait for subtasks (rule 10).
            let outer: Vec<_> = (0..n(200))
                .map(|i| {
                    let p = pool.clone();
                    pool.submit(move || {
                        let subs: Vec<_> = (0..2).map(|j| p.submit(move || i * 2 + j)).collect();
                        subs.into_iter().map(|h| h.wait().unwrap()).sum::<u64>()
                    })
                })
                .collect();
            let sum: u64 = outer.into_iter().map(|h| h.wait().unwrap()).sum();
            assert_eq!(sum, (0..n(200) * 2).sum::<u64>());
            assert!(pool.stats().deepest_help <= crate::pool::MAX_HELP_DEPTH as u64);
            // A scope borrowing the stack.
            let mut slots = vec![0u64; n(100) as usize];
            pool.scope(|s| {
                for (i, slot) in slots.iter_mut().enumerate() {
                    s.submit(move || *slot = i as u64);
                }
            });
            assert!(slots.iter().enumerate().all(|(i, &v)| v == i as u64));
            // A cancelled task never runs; queued tasks survive two
            // concurrent shutdowns (rule 11).
            let handles: Vec<_> = (0..n(100)).map(|i| pool.submit(move || i)).collect();
            let other = {
                let p = pool.clone();
                std::thread::spawn(move || p.shutdown())
            };
            pool.shutdown();
            other.join().unwrap();
            let done = handles
                .into_iter()
                .map(|h| h.wait())
                .filter(|r| r.is_ok())
                .count();
            assert_eq!(done as u64, n(100));
            assert_eq!(pool.submit(|| 0).wait(), Err(TaskError::Closed));
        }
    }

    #[test]
    fn a_spawn_failure_with_no_live_worker_resolves_queued_tasks_with_the_os_error() {
        let cfg = Config {
            name: "refused".into(),
            flavor: Flavor::Elastic,
            max_workers: 2,
            capacity: 16,
            stack_size: None,
            keep_alive: None,
            timing: true,
            workload: Workload::Io,
            chaos: None,
            serves_calls: false,
        };
        let reg = Registry::start(cfg).unwrap();
        reg.refuse_spawns.store(true, SeqCst);
        reg.reserve(true, false).unwrap();
        let cell = Arc::new(TaskCell::new(|| 1, None, reg.id()));
        reg.push(cell.clone(), false);
        let mut handle = TaskHandle::from_cell(cell);
        match handle.wait_timeout(Duration::from_secs(30)) {
            Err(TaskError::NoWorker { message }) => {
                assert!(!message.is_empty());
                assert_eq!(reg.spawn_error().as_deref(), Some(message.as_str()));
            }
            other => panic!("expected NoWorker, got {other:?}"),
        }
        assert_eq!(reg.stats().queued, 0);
        reg.close(false);
        reg.join_workers();
    }
}
