//! [`ProcessPoolBuilder`]: a process pool's settings, checked in `build`.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use super::driver::drive;
use super::frame;
use super::pool::{lock, ProcessPool, Shared, State};
use super::stats::Counters;
use crate::advice::{Emitted, Watched};

/// Why [`ProcessPoolBuilder::build`] refused.
///
/// # Examples
///
/// ```
/// use workwise::process::{ProcessBuildError, ProcessPool};
///
/// let err = ProcessPool::builder().workers(0).build().unwrap_err();
/// assert_eq!(err, ProcessBuildError::ZeroWorkers);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessBuildError {
    /// [`init`](super::init) was not called before the pool was built.
    NotInitialized,
    /// `workers(0)`.
    ZeroWorkers,
    /// `max_tasks_per_worker(0)`.
    ZeroMaxTasks,
    /// `timeout(Duration::ZERO)`.
    ZeroTimeout,
    /// `max_frame_bytes` below the least a request needs.
    FrameLimitTooSmall {
        /// The number asked for.
        requested: usize,
        /// The least accepted.
        min: usize,
    },
    /// The binary to run as a worker, or a worker process, could not be
    /// started (eager start).
    Spawn {
        /// The operating system's reason.
        message: String,
    },
}

impl fmt::Display for ProcessBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessBuildError::NotInitialized => f.write_str(
                "workwise::process::init(&[..]) was not called: add it, listing your tasks, \
                 as the first line of main (workers are this binary run again)",
            ),
            ProcessBuildError::ZeroWorkers => {
                f.write_str("workers must be at least 1: leave it unset for one per core")
            }
            ProcessBuildError::ZeroMaxTasks => f.write_str(
                "max_tasks_per_worker must be at least 1: leave it unset to never recycle",
            ),
            ProcessBuildError::ZeroTimeout => {
                f.write_str("timeout must be more than zero: leave it unset for no timeout")
            }
            ProcessBuildError::FrameLimitTooSmall { requested, min } => write!(
                f,
                "max_frame_bytes of {requested} is below the least of {min}: leave it unset \
                 for 256 MiB"
            ),
            ProcessBuildError::Spawn { message } => write!(
                f,
                "could not start a worker process ({message}): check that the binary still \
                 exists and that the process limit allows more"
            ),
        }
    }
}

impl std::error::Error for ProcessBuildError {}

/// Configures a [`ProcessPool`]; from [`ProcessPool::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::process::ProcessPool;
///
/// let builder = ProcessPool::builder()
///     .name("decode")
///     .workers(4)
///     .max_tasks_per_worker(1000)
///     .timeout(Duration::from_secs(30))
///     .memory_limit(2 << 30)
///     .retry_crashed(0)
///     .eager(true);
/// # let _ = builder;
/// ```
#[derive(Debug, Clone)]
pub struct ProcessPoolBuilder {
    name: String,
    workers: Option<usize>,
    max_tasks_per_worker: Option<u64>,
    timeout: Option<Duration>,
    memory_limit: Option<u64>,
    eager: bool,
    retry_crashed: u32,
    max_frame_bytes: usize,
}

#[derive(Debug)]
pub(super) struct Config {
    pub(super) name: String,
    pub(super) workers: usize,
    pub(super) max_tasks_per_worker: Option<u64>,
    pub(super) timeout: Option<Duration>,
    pub(super) memory_limit: Option<u64>,
    pub(super) eager: bool,
    pub(super) retry_crashed: u32,
    pub(super) max_frame_bytes: usize,
    pub(super) exe: PathBuf,
}

impl ProcessPoolBuilder {
    /// The defaults; see [`ProcessPool::builder`].
    pub(super) fn defaults() -> Self {
        ProcessPoolBuilder {
            name: "workwise-process".to_owned(),
            workers: None,
            max_tasks_per_worker: None,
            timeout: None,
            memory_limit: None,
            eager: false,
            retry_crashed: 0,
            max_frame_bytes: frame::DEFAULT_MAX_FRAME,
        }
    }

    /// The pool's name, for its driver threads (`{name}-{i}`).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = workwise::process::ProcessPool::builder().name("thumbs");
    /// # let _ = b;
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How many worker processes; by default one per core.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = workwise::process::ProcessPool::builder().workers(2);
    /// # let _ = b;
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// Replaces a worker after it ran `n` tasks (against leaks in the code
    /// it runs); by default never.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = workwise::process::ProcessPool::builder().max_tasks_per_worker(500);
    /// # let _ = b;
    /// ```
    pub fn max_tasks_per_worker(mut self, n: u64) -> Self {
        self.max_tasks_per_worker = Some(n);
        self
    }

    /// The longest a task may run: past it the worker is killed and
    /// replaced, and the task's handle gives [`TaskError::TimedOut`](crate::TaskError::TimedOut).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = workwise::process::ProcessPool::builder()
    ///     .timeout(std::time::Duration::from_secs(60));
    /// # let _ = b;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Each worker's address-space limit in bytes (`setrlimit(RLIMIT_AS)`):
    /// a task that allocates past it fails its allocation, which aborts the
    /// worker, and gets [`TaskError::WorkerCrashed`](crate::TaskError::WorkerCrashed).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = workwise::process::ProcessPool::builder().memory_limit(1 << 30);
    /// # let _ = b;
    /// ```
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Starts every worker in `build` (true) or each when it first has a
    /// task (false, the default). Eager pools also replace a killed worker
    /// at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = workwise::process::ProcessPool::builder().eager(true);
    /// # let _ = b;
    /// ```
    pub fn eager(mut self, eager: bool) -> Self {
        self.eager = eager;
        self
    }

    /// Runs a task again, on a new worker, up to `n` times when its worker
    /// dies while running it; by default 0, since a task that crashed may
    /// have done part of its work. Only for tasks that are safe to repeat.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = workwise::process::ProcessPool::builder().retry_crashed(2);
    /// # let _ = b;
    /// ```
    pub fn retry_crashed(mut self, n: u32) -> Self {
        self.retry_crashed = n;
        self
    }

    /// The largest frame (an encoded argument or result) in bytes; by
    /// default 256 MiB. Larger inputs belong in [`SharedBytes`](super::SharedBytes).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = workwise::process::ProcessPool::builder().max_frame_bytes(1 << 20);
    /// # let _ = b;
    /// ```
    pub fn max_frame_bytes(mut self, n: usize) -> Self {
        self.max_frame_bytes = n;
        self
    }

    /// Builds the pool.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// fn main() -> Result<(), workwise::process::ProcessBuildError> {
    ///     workwise::process::init(&[]);
    ///     let pool = workwise::process::ProcessPool::builder().build()?;
    ///     # drop(pool);
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ProcessBuildError`] for a setting out of range, when
    /// [`init`](super::init) was not called, or (eager start) when a worker
    /// could not be started.
    pub fn build(self) -> Result<ProcessPool, ProcessBuildError> {
        let workers = match self.workers {
            Some(0) => return Err(ProcessBuildError::ZeroWorkers),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if self.max_tasks_per_worker == Some(0) {
            return Err(ProcessBuildError::ZeroMaxTasks);
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(ProcessBuildError::ZeroTimeout);
        }
        if self.max_frame_bytes < frame::MIN_MAX_FRAME {
            return Err(ProcessBuildError::FrameLimitTooSmall {
                requested: self.max_frame_bytes,
                min: frame::MIN_MAX_FRAME,
            });
        }
        if !super::initialized() {
            return Err(ProcessBuildError::NotInitialized);
        }
        let exe = std::env::current_exe().map_err(|e| ProcessBuildError::Spawn {
            message: format!("cannot find this binary: {e}"),
        })?;
        let shared = Arc::new(Shared {
            config: Config {
                name: self.name,
                workers,
                max_tasks_per_worker: self.max_tasks_per_worker,
                timeout: self.timeout,
                memory_limit: self.memory_limit,
                eager: self.eager,
                retry_crashed: self.retry_crashed,
                max_frame_bytes: self.max_frame_bytes.min(u32::MAX as usize),
                exe,
            },
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closed: false,
                running: 0,
            }),
            work: Condvar::new(),
            counters: Counters::default(),
            pids: Mutex::new(vec![None; workers]),
            emitted: Emitted::default(),
        });
        let watched: Weak<dyn Watched> = Arc::downgrade(&shared) as Weak<dyn Watched>;
        crate::advice::watch(watched);
        let pool = ProcessPool {
            shared: shared.clone(),
            drivers: Mutex::new(Vec::with_capacity(workers)),
        };
        let (ready_tx, ready_rx) = mpsc::channel();
        for slot in 0..workers {
            let shared = shared.clone();
            let ready = shared.config.eager.then(|| ready_tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{slot}", shared.config.name))
                .spawn(move || drive(&shared, slot, ready));
            match spawned {
                Ok(handle) => lock(&pool.drivers).push(handle),
                Err(e) => {
                    return Err(ProcessBuildError::Spawn {
                        message: format!("cannot start a driver thread: {e}"),
                    })
                }
            }
        }
        drop(ready_tx);
        if self.eager {
            for result in ready_rx.iter() {
                if let Err(message) = result {
                    return Err(ProcessBuildError::Spawn { message });
                }
            }
        }
        Ok(pool)
    }
}
