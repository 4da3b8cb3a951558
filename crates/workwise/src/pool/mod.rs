//! Thread pools: [`Pool::io`] (elastic, for waiting) and [`Pool::cpu`]
//! (one thread per core, work-stealing, for computing).
//!
//! This directory is the ground floor of the crate: nothing in it imports
//! from the modules above it except `par`'s per-pool slot. Where each part
//! lives, with the protocol rules it owns (numbered across the directory):
//!
//! - `mod.rs`: [`Pool`], the facade users see.
//! - `builder.rs`: [`PoolBuilder`] and [`PoolBuildError`]: sizes and checks.
//! - `registry.rs`: one pool's shared state: queues, workers, spawning,
//!   shutdown (rules 9, 11-13).
//! - `capacity.rs`: the bounded queue's places and the line of blocked
//!   submitters (rules 1, 2, 8).
//! - `sleep.rs`: how idle workers sleep and are woken (rules 3-7).
//! - `worker.rs`: a worker thread's loop and how it runs a job.
//! - `wait.rs`: how any thread waits for work to finish, and what a waiting
//!   worker may run meanwhile (rule 10).
//! - `task.rs`: the task cell shared by a job and its [`TaskHandle`], and
//!   [`TaskError`] (the cell's own rules 1-3).
//! - `scope.rs`: [`Scope`], tasks that borrow the stack (its own rules 1-3).
//! - `stats.rs`: per-worker counters and the [`PoolStats`] snapshot.

// Atomics, locks and condition variables come from `crate::sync` (loom-aware).
#![deny(clippy::disallowed_types)]

mod builder;
mod capacity;
#[cfg(all(test, loom))]
mod loom_tests;
mod registry;
mod scope;
mod sleep;
mod stats;
pub(crate) mod task;
mod wait;
mod worker;

use std::fmt;
use std::time::Instant;

pub use builder::{PoolBuildError, PoolBuilder, MAX_THREADS};
use capacity::Refused;
use registry::Registry;
pub use scope::Scope;
pub(crate) use stats::{read_schedstat, thread_cpu_time};
pub use stats::{PoolStats, TimeHistogram};
use task::TaskCell;
pub use task::{TaskError, TaskHandle};
pub(crate) use wait::{wait_until, wait_until_rechecking};

use crate::testing::ChaosPoint;
use crate::workload::Workload;
use std::sync::Arc;

/// How many jobs a waiting worker may nest on its stack by running them
/// inside its waits (rule 10 in `wait.rs`); [`PoolStats::deepest_help`]
/// reports the deepest chain reached.
///
/// # Examples
///
/// ```
/// let pool = workwise::Pool::cpu().build()?;
/// pool.submit(|| ()).wait().unwrap();
/// assert!(pool.stats().deepest_help <= workwise::MAX_HELP_DEPTH as u64);
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub const MAX_HELP_DEPTH: usize = 32;

/// Round trips `Pool::advice` runs to measure the pool's cost per task.
const PROBES: usize = 5;
/// The most a measured round trip is taken as (as `par` does): a cold one
/// on an idle machine is tens of µs.
const MAX_ROUND_TRIP_NS: u64 = 1_000_000;

/// A sized, bounded, named thread pool that shuts down when dropped.
///
/// Pick the pool by the work: [`Pool::io`] for tasks that mostly wait,
/// [`Pool::cpu`] for tasks that mostly compute. Every pool is bounded (a full
/// queue makes `submit` wait), every task's panic becomes a
/// [`TaskError::Panicked`], and dropping the pool finishes the queued work and
/// joins its threads, as a `with ThreadPoolExecutor()` block does.
///
/// # Examples
///
/// ```
/// use workwise::Pool;
///
/// let pool = Pool::io().name("fetch").build()?;
/// let handles: Vec<_> = (1..=3).map(|i| pool.submit(move || i * 10)).collect();
/// let total: i32 = handles.into_iter().map(|h| h.wait().unwrap()).sum();
/// assert_eq!(total, 60);
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub struct Pool {
    registry: Arc<Registry>,
    workload: Workload,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name())
            .field("workload", &self.workload)
            .field("max_workers", &self.max_workers())
            .finish()
    }
}

/// Why [`Pool::try_submit`] refused a task; it hands the task back.
///
/// # Examples
///
/// ```
/// use workwise::{Pool, TrySubmitError};
///
/// let pool = Pool::io().build()?;
/// pool.shutdown();
/// match pool.try_submit(|| 1) {
///     Err(TrySubmitError::Closed(task)) => assert_eq!(task(), 1),
///     _ => panic!("a shut-down pool takes no work"),
/// }
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
#[non_exhaustive]
pub enum TrySubmitError<F> {
    /// The queue is at its capacity.
    Full(F),
    /// The pool was shut down.
    Closed(F),
}

impl<F> TrySubmitError<F> {
    /// The task that was refused.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = workwise::TrySubmitError::Full(7);
    /// assert_eq!(err.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> F {
        match self {
            TrySubmitError::Full(f) | TrySubmitError::Closed(f) => f,
        }
    }
}

impl<F> fmt::Debug for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("Full(..)"),
            TrySubmitError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<F> fmt::Display for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str(
                "the pool's queue is full: wait with submit, retry later, or raise queue_capacity",
            ),
            TrySubmitError::Closed(_) => {
                f.write_str("the pool was shut down: it takes no new tasks")
            }
        }
    }
}

impl<F> std::error::Error for TrySubmitError<F> {}

impl Pool {
    /// A builder for an elastic pool for I/O-bound work.
    ///
    /// Threads start on demand, up to `min(32, cores + 4)` by default (the
    /// rule of Python's `ThreadPoolExecutor`), and exit after 60 s idle.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().build()?;
    /// assert_eq!(pool.submit(|| "waited").wait(), Ok("waited"));
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn io() -> PoolBuilder {
        PoolBuilder::new(Workload::Io)
    }

    /// A builder for a work-stealing pool for CPU-bound work: one thread per
    /// core, each with its own deque, started with the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::cpu().build()?;
    /// assert_eq!(pool.max_workers(), workwise::available_cores());
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    ///
    /// # Warning
    ///
    /// Tasks that block (sleep, network, disk) hold a core's only thread: put
    /// them on [`Pool::io`].
    pub fn cpu() -> PoolBuilder {
        PoolBuilder::new(Workload::Cpu)
    }

    /// A builder for the pool that suits `workload`; `Async` and `Process`
    /// give a [`PoolBuildError`] that names the right tool.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{Pool, Workload};
    ///
    /// let one = Pool::for_workload(Workload::Sequential).build()?;
    /// assert_eq!(one.max_workers(), 1);
    /// assert!(Pool::for_workload(Workload::Async).build().is_err());
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn for_workload(workload: Workload) -> PoolBuilder {
        PoolBuilder::new(workload)
    }

    /// Runs `f` on the pool and returns a handle to its result.
    ///
    /// When the queue is full this waits for space (a bounded queue is what
    /// keeps a fast producer from eating memory); from a worker of this same
    /// pool it never waits, so tasks may submit subtasks freely and wait
    /// for them (see [`TaskHandle::wait`] for how such a wait helps). After
    /// [`shutdown`](Pool::shutdown) the handle gives [`TaskError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::cpu().build()?;
    /// let h = pool.submit(|| (1..=10).sum::<u32>());
    /// assert_eq!(h.wait(), Ok(55));
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    ///
    /// # Cost
    ///
    /// One allocation and a push; see the bench rows `pool.submit_wait` and
    /// `pool.roundtrip`.
    pub fn submit<F, T>(&self, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let internal = self.registry.on_own_worker();
        match self.registry.reserve(true, internal) {
            Ok(()) => self.push_reserved(f, internal),
            Err(_) => TaskHandle::failed(TaskError::Closed),
        }
    }

    /// Like [`submit`](Pool::submit), but never waits: a full queue or a
    /// closed pool hands the task back.
    ///
    /// Submitters blocked in `submit` are served first come, first served:
    /// while any waits for space, `try_submit` counts the queue as full, so
    /// a stream of `try_submit`s cannot starve a blocked `submit`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use workwise::{Pool, TrySubmitError};
    ///
    /// let pool = Pool::io().max_workers(1).queue_capacity(1).build()?;
    /// let (tx, rx) = mpsc::channel::<()>();
    /// let running = pool.submit(move || rx.recv().ok());
    /// // Wait until the worker holds the first task, so the queue is empty.
    /// while pool.stats().queued > 0 { std::thread::yield_now(); }
    /// let queued = pool.try_submit(|| 2).ok().unwrap();
    /// assert!(matches!(pool.try_submit(|| 3), Err(TrySubmitError::Full(_))));
    /// tx.send(()).unwrap();
    /// assert!(running.wait().is_ok());
    /// assert_eq!(queued.wait(), Ok(2));
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] or [`TrySubmitError::Closed`], with the task.
    pub fn try_submit<F, T>(&self, f: F) -> Result<TaskHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let internal = self.registry.on_own_worker();
        match self.registry.reserve(false, internal) {
            Ok(()) => Ok(self.push_reserved(f, internal)),
            Err(Refused::Full) => Err(TrySubmitError::Full(f)),
            Err(Refused::Closed) => Err(TrySubmitError::Closed(f)),
        }
    }

    /// Like [`submit`](Pool::submit), naming the task: with the feature
    /// `tracing`, the task runs inside a span `task` with fields `pool`,
    /// `id` and this `name`, so every event it logs says which task it
    /// came from (the guide's advice to name threads and log with them).
    /// Without the feature the name is not kept.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().name("fetch").build()?;
    /// let page = pool.submit_named("GET /index", || "<html>");
    /// assert_eq!(page.wait(), Ok("<html>"));
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn submit_named<F, T>(
        &self,
        name: impl Into<std::borrow::Cow<'static, str>>,
        f: F,
    ) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let internal = self.registry.on_own_worker();
        match self.registry.reserve(true, internal) {
            Ok(()) => self.push_named(f, internal, Some(name.into())),
            Err(_) => TaskHandle::failed(TaskError::Closed),
        }
    }

    fn push_reserved<F, T>(&self, f: F, internal: bool) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.push_named(f, internal, None)
    }

    fn push_named<F, T>(
        &self,
        f: F,
        internal: bool,
        name: Option<std::borrow::Cow<'static, str>>,
    ) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.registry.chaos(ChaosPoint::Submit);
        let stamp = self.registry.cfg.timing.then(Instant::now);
        let mut cell = TaskCell::new(f, stamp, self.registry.id());
        if let Some(name) = name {
            cell = cell.named(name);
        }
        let cell = Arc::new(cell);
        self.registry.push(cell.clone(), internal);
        TaskHandle::from_cell(cell)
    }

    /// Finishes every queued task, then stops the workers and waits for them.
    ///
    /// Later submissions give [`TaskError::Closed`]. Every accepted task
    /// runs, however many threads call `shutdown` at once: each call returns
    /// only once the pool has drained. Called from one of this pool's own
    /// workers it closes the pool without waiting (a thread cannot wait for
    /// itself). Dropping the pool does the same as this.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{Pool, TaskError};
    ///
    /// let pool = Pool::io().build()?;
    /// let h = pool.submit(|| 1);
    /// pool.shutdown();
    /// assert_eq!(h.wait(), Ok(1));
    /// assert_eq!(pool.submit(|| 2).wait(), Err(TaskError::Closed));
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn shutdown(&self) {
        self.registry.close(false);
        self.registry.join_workers();
        self.emit_advice();
    }

    /// Emits the advisor's findings that were not emitted yet, now that the
    /// pool's figures are final (feature `tracing`, or
    /// `WORKWISE_ADVICE=stderr`).
    fn emit_advice(&self) {
        if crate::advice::emission_wanted() {
            crate::advice::emit(&self.registry.emitted, &self.registry.advice());
        }
    }

    /// What the advisor finds wrong with how this pool is used, from its
    /// figures now ([`stats`](Pool::stats)); each finding also goes out once
    /// through `tracing` (see [`advice`](crate::advice)).
    ///
    /// The rules need the pool's cost per task ([`PoolStats::task_cost`]):
    /// if it was not measured yet and the pool is open and idle, this
    /// measures it by running a few no-op tasks one after another (the
    /// fastest round trip counts), which then show in the counts.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::advice::Code;
    /// use workwise::Pool;
    ///
    /// let pool = Pool::io().max_workers(8).build()?;
    /// // A chain: each task submitted after the previous one finished.
    /// for i in 0..20 {
    ///     pool.submit(move || i * 2).wait().unwrap();
    /// }
    /// let advice = pool.advice();
    /// assert!(advice.iter().any(|a| a.code == Code::W09), "{advice:?}");
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn advice(&self) -> Vec<crate::advice::Advice> {
        if self.round_trip_ns() == 0 && !self.registry.capacity.is_closed() {
            let s = self.stats();
            if s.queued == 0 && s.running == 0 {
                // The fastest of a few round trips: one alone may include a
                // preemption of this shared machine's cores.
                let fastest = (0..PROBES)
                    .filter_map(|_| {
                        let start = Instant::now();
                        let mut probe = self.submit(|| ());
                        probe
                            .wait_timeout(std::time::Duration::from_secs(1))
                            .ok()
                            .map(|()| start.elapsed())
                    })
                    .min();
                if let Some(d) = fastest {
                    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
                    self.set_round_trip_ns(ns.clamp(1, MAX_ROUND_TRIP_NS));
                }
            }
        }
        let found = self.registry.advice();
        crate::advice::emit(&self.registry.emitted, &found);
        found
    }

    /// Cancels every task that has not started (their handles give
    /// [`TaskError::Cancelled`]), waits for running ones, and stops.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use workwise::{Pool, TaskError};
    ///
    /// let pool = Pool::io().max_workers(1).build()?;
    /// let (tx, rx) = mpsc::channel::<()>();
    /// let (started_tx, started) = mpsc::channel::<()>();
    /// let running = pool.submit(move || { started_tx.send(()).unwrap(); rx.recv().ok() });
    /// let queued = pool.submit(|| 2);
    /// started.recv().unwrap();
    /// let releaser = std::thread::spawn(move || tx.send(()));
    /// pool.shutdown_now();
    /// releaser.join().unwrap().unwrap();
    /// assert_eq!(running.wait(), Ok(Some(())));
    /// assert_eq!(queued.wait(), Err(TaskError::Cancelled));
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn shutdown_now(&self) {
        self.registry.close(true);
        self.registry.join_workers();
    }

    /// A cold task round trip on this pool (submit a no-op, wait), in ns,
    /// as measured once and kept; 0 until then. It is
    /// [`PoolStats::task_cost`].
    pub(crate) fn round_trip_ns(&self) -> u64 {
        self.registry
            .round_trip_ns
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn set_round_trip_ns(&self, ns: u64) {
        self.registry
            .round_trip_ns
            .store(ns, std::sync::atomic::Ordering::Relaxed);
    }

    /// A snapshot of the pool's counters and times.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().build()?;
    /// pool.submit(|| ()).wait().unwrap();
    /// assert_eq!(pool.stats().completed, 1);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn stats(&self) -> PoolStats {
        self.registry.stats()
    }

    /// The most worker threads this pool runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().max_workers(3).build()?;
    /// assert_eq!(pool.max_workers(), 3);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn max_workers(&self) -> usize {
        self.registry.cfg.max_workers
    }

    /// The pool's name, the prefix of its threads' names.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::cpu().name("render").build()?;
    /// assert_eq!(pool.name(), "render");
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.registry.cfg.name
    }

    /// The workload the pool was built for.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::cpu().build()?;
    /// assert_eq!(pool.workload(), workwise::Workload::Cpu);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn workload(&self) -> Workload {
        self.workload
    }

    /// The queue's capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().queue_capacity(10).build()?;
    /// assert_eq!(pool.queue_capacity(), 10);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn queue_capacity(&self) -> usize {
        self.registry.cfg.capacity
    }

    /// Why the pool last failed to start a thread, if it ever did.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().build()?;
    /// assert_eq!(pool.last_spawn_error(), None);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn last_spawn_error(&self) -> Option<String> {
        self.registry.spawn_error()
    }
}

impl Pool {
    /// The pool's extension slot, made with `init` on first use: per-pool
    /// state of a module above the engine (`par`'s cost estimates).
    ///
    /// # Panics
    ///
    /// If two types were stored; only `par` stores here (one type).
    pub(crate) fn extension<T: std::any::Any + Send + Sync>(&self, init: fn() -> T) -> &T {
        self.registry
            .extension
            .get_or_init(|| Box::new(init()))
            .downcast_ref::<T>()
            .expect("a pool's extension slot holds one type, par's")
    }

    /// Whether the pool was shut down (it refuses new work).
    pub(crate) fn is_closed(&self) -> bool {
        self.registry.capacity.is_closed()
    }

    /// Counts a data-parallel call in [`PoolStats`]: run inline or split.
    pub(crate) fn count_par_run(&self, inline: bool) {
        let counter = if inline {
            &self.registry.inline_runs
        } else {
            &self.registry.parallel_runs
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown();
    }
}
