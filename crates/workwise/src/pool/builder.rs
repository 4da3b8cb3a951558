//! `Pool::io()`, `Pool::cpu()` and `Pool::for_workload()` build through here.

use crate::testing::Chaos;
use std::fmt;
use std::time::Duration;

use super::registry::{Config, Flavor, Registry};
use super::Pool;
use crate::workload::Workload;

/// The most threads one pool may have. Past this, threads cost more in memory
/// and scheduling than they give: thousands of waits belong on an async runtime.
pub const MAX_THREADS: usize = 4096;

/// Queue places per worker when `queue_capacity` is not set.
const DEFAULT_CAPACITY_PER_WORKER: usize = 1024;

/// Configures a [`Pool`] before it starts.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::Pool;
///
/// let pool = Pool::io()
///     .name("fetch")
///     .max_workers(16)
///     .queue_capacity(1000)
///     .keep_alive(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(pool.max_workers(), 16);
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PoolBuilder {
    workload: Workload,
    name: Option<String>,
    max_workers: Option<usize>,
    queue_capacity: Option<usize>,
    stack_size: Option<usize>,
    keep_alive: Option<Duration>,
    timing: bool,
    chaos: Option<Chaos>,
    serves_calls: bool,
}

impl PoolBuilder {
    pub(crate) fn new(workload: Workload) -> Self {
        PoolBuilder {
            workload,
            name: None,
            max_workers: None,
            queue_capacity: None,
            stack_size: None,
            keep_alive: None,
            timing: true,
            chaos: None,
            serves_calls: false,
        }
    }

    /// Marks a pool that a `Policy` runs one call's attempts on: how its
    /// tasks come (one at a time, as the caller calls) is the caller's
    /// pattern, not a use of the pool to advise on, so the advisor's use
    /// rules (W05, W06, W09) stay silent on it.
    pub(crate) fn serves_calls(mut self) -> Self {
        self.serves_calls = true;
        self
    }

    /// Names the pool; its threads are called `{name}-{i}`, which shows in
    /// debuggers, panic messages and logs.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The most worker threads (default: [`Workload::default_workers`]).
    ///
    /// On `Pool::io()`, a worker blocked waiting for another task of the
    /// same pool (a nested `wait` it cannot help with) does not count
    /// against this: the pool may start one more worker for each blocked
    /// one, never more than [`MAX_THREADS`], so that queued work goes on (a
    /// managed blocker, as in Java's ForkJoinPool). Those extra workers
    /// retire after `keep_alive` like any other.
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// The most tasks waiting to start (default: 1024 per worker). When the
    /// queue is full, `submit` blocks and `try_submit` hands the task back.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = Some(n);
        self
    }

    /// Each worker thread's stack size in bytes (default: the platform's).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// How long an idle worker of an elastic pool (`Pool::io`) waits for work
    /// before it exits (default: 60 s).
    pub fn keep_alive(mut self, d: Duration) -> Self {
        self.keep_alive = Some(d);
        self
    }

    /// Whether to keep times (busy, CPU, queue wait) in [`Pool::stats`]
    /// (default: on). Counts are always kept.
    ///
    /// # Cost
    ///
    /// Three monotonic clock reads per task; the bench row `pool.stats_cost`
    /// compares a pool with and without them.
    pub fn timing(mut self, on: bool) -> Self {
        self.timing = on;
        self
    }

    /// Turns on chaos mode with `seed`: the pool pauses a little, at
    /// random but repeatably for the seed, when a task is submitted, when a
    /// worker takes it and when it completes, so that a test can shake out
    /// races that the usual timing hides (see
    /// [`testing::Chaos`](crate::testing::Chaos)). Off by default; without
    /// this, `WORKWISE_CHAOS=<seed>` in the environment turns it on for
    /// every pool of the process.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().chaos(42).build()?;
    /// let handles: Vec<_> = (0..20).map(|i| pool.submit(move || i)).collect();
    /// let sum: i32 = handles.into_iter().map(|h| h.wait().unwrap()).sum();
    /// assert_eq!(sum, 190);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    ///
    /// # Cost
    ///
    /// Off, one branch at each of the three points: the bench row
    /// `pool.chaos_off_cost`.
    pub fn chaos(mut self, seed: u64) -> Self {
        self.chaos = Some(Chaos::new(seed));
        self
    }

    /// Starts the pool.
    ///
    /// # Errors
    ///
    /// A [`PoolBuildError`] that says what to change: zero or too many workers,
    /// zero capacity, stack size or keep-alive, a keep-alive on a fixed pool,
    /// a workload that is not served by a thread pool, or a thread the OS
    /// refused to start.
    pub fn build(self) -> Result<Pool, PoolBuildError> {
        let flavor = match self.workload {
            Workload::Io | Workload::Sequential => Flavor::Elastic,
            Workload::Cpu => Flavor::Fixed,
            w => return Err(PoolBuildError::NotAThreadPool { workload: w }),
        };
        let max_workers = self
            .max_workers
            .unwrap_or_else(|| self.workload.default_workers());
        if max_workers == 0 {
            return Err(PoolBuildError::ZeroWorkers);
        }
        if max_workers > MAX_THREADS {
            return Err(PoolBuildError::TooManyWorkers {
                requested: max_workers,
            });
        }
        let capacity = self
            .queue_capacity
            .unwrap_or(DEFAULT_CAPACITY_PER_WORKER.saturating_mul(max_workers));
        if capacity == 0 {
            return Err(PoolBuildError::ZeroCapacity);
        }
        if self.stack_size == Some(0) {
            return Err(PoolBuildError::ZeroStackSize);
        }
        let keep_alive = match (flavor, self.keep_alive) {
            (_, Some(d)) if d.is_zero() => return Err(PoolBuildError::ZeroKeepAlive),
            (Flavor::Fixed, Some(_)) => return Err(PoolBuildError::KeepAliveOnFixedPool),
            (Flavor::Fixed, None) => None,
            (Flavor::Elastic, k) => Some(k.unwrap_or(Duration::from_secs(60))),
        };
        let name = self
            .name
            .unwrap_or_else(|| format!("workwise-{}", self.workload));
        let cfg = Config {
            name,
            flavor,
            max_workers,
            capacity,
            stack_size: self.stack_size,
            keep_alive,
            timing: self.timing,
            workload: self.workload,
            chaos: self.chaos.or_else(crate::testing::chaos_from_env_once),
            serves_calls: self.serves_calls,
        };
        let registry = Registry::start(cfg).map_err(|e| PoolBuildError::Spawn {
            message: e.to_string(),
        })?;
        Ok(Pool {
            registry,
            workload: self.workload,
        })
    }
}

/// Why a pool could not be built; its message says what to do instead.
///
/// # Examples
///
/// ```
/// use workwise::{PoolBuildError, Pool};
///
/// let err = Pool::io().max_workers(0).build().unwrap_err();
/// assert_eq!(err, PoolBuildError::ZeroWorkers);
/// assert!(err.to_string().contains("at least 1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolBuildError {
    /// `max_workers(0)`.
    ZeroWorkers,
    /// More than [`MAX_THREADS`] workers.
    TooManyWorkers {
        /// The number asked for.
        requested: usize,
    },
    /// `queue_capacity(0)`.
    ZeroCapacity,
    /// `stack_size(0)`.
    ZeroStackSize,
    /// `keep_alive(Duration::ZERO)`.
    ZeroKeepAlive,
    /// `keep_alive` on `Pool::cpu()`, whose threads live as long as the pool.
    KeepAliveOnFixedPool,
    /// A workload that a thread pool does not serve.
    NotAThreadPool {
        /// The workload asked for.
        workload: Workload,
    },
    /// The operating system refused to start a thread.
    Spawn {
        /// The OS's reason.
        message: String,
    },
}

impl fmt::Display for PoolBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolBuildError::ZeroWorkers => f.write_str(
                "max_workers must be at least 1: leave it unset for the workload's default",
            ),
            PoolBuildError::TooManyWorkers { requested } => write!(
                f,
                "{requested} threads is more than {MAX_THREADS}: each costs memory and scheduling; \
                 for thousands of waits use an async runtime, for CPU work use Pool::cpu()"
            ),
            PoolBuildError::ZeroCapacity => f.write_str(
                "queue_capacity must be at least 1: leave it unset for 1024 places per worker",
            ),
            PoolBuildError::ZeroStackSize => {
                f.write_str("stack_size must be more than 0 bytes: leave it unset for the default")
            }
            PoolBuildError::ZeroKeepAlive => f.write_str(
                "keep_alive must be more than zero: idle threads would exit at once and be \
                 restarted for every task; leave it unset for 60 s",
            ),
            PoolBuildError::KeepAliveOnFixedPool => f.write_str(
                "keep_alive applies to Pool::io(), whose threads come and go; \
                 Pool::cpu() keeps one thread per core for its whole life: remove keep_alive",
            ),
            PoolBuildError::NotAThreadPool { workload } => match workload {
                Workload::Async => f.write_str(
                    "async work (thousands of waits) belongs on an async runtime such as tokio, \
                     not a thread pool: await TaskHandles from it, and use Pool::io() for blocking calls",
                ),
                Workload::Process => f.write_str(
                    "process isolation needs worker processes, which this build of workwise does not \
                     have yet: use Pool::cpu() for CPU work that needs no isolation",
                ),
                other => write!(f, "the {other} workload has no thread pool"),
            },
            PoolBuildError::Spawn { message } => write!(
                f,
                "the operating system refused to start a worker thread ({message}): \
                 lower max_workers or stack_size"
            ),
        }
    }
}

impl std::error::Error for PoolBuildError {}
