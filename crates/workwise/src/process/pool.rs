//! [`ProcessPool`]: tasks run in worker processes, one task per worker at a
//! time, each worker driven by one thread of the parent.
//!
//! # Protocol
//!
//! 1. A task waits in the pool's queue until a driver thread takes it; the
//!    driver starts its promise (`Pending -> Running`), and a task cancelled
//!    first is dropped there, never sent.
//! 2. Before sending, the driver checks its worker is alive; a worker found
//!    dead is reaped and replaced, and the task goes to the new one. A write
//!    that fails (the worker died before reading the whole frame) means the
//!    worker never had the task: it goes to a replacement the same way.
//! 3. Once the request is written, the worker has the task. If the worker
//!    then dies or breaks the frame protocol, the driver kills and reaps it
//!    and the task is resolved with `WorkerCrashed`, or queued again at the
//!    front while `retry_crashed` allows; no other task is touched.
//! 4. Over the `timeout`, the driver kills and reaps the worker and the task
//!    is resolved with `TimedOut`.
//! 5. Every worker is reaped by the driver that started it: after a kill,
//!    after recycling (its input closed, then its exit awaited), and at
//!    shutdown. The driver thread lives as long as the pool, since Linux's
//!    parent-death signal follows the thread that started the child.

use std::collections::VecDeque;
use std::fmt;
use std::io::BufWriter;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::frame::{self, FrameError, FrameReader};
use super::shared::{self, SharedBytes};
use super::stats::{self, Counters, ProcessStats, WorkerMemory};
use super::task::Task;
use super::worker::{ENV_MAX_FRAME, ENV_MEMORY, ENV_WORKER};
use crate::pool::task::{promise, Promise};
use crate::{TaskError, TaskHandle};

/// How long a new worker has to say hello (frame rule 4).
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);
/// The pipe size asked for: 1 MiB, Linux's default `pipe-max-size`.
const PIPE_BYTES: i32 = 1 << 20;
/// How long a retired worker has to exit after its input closes.
const RETIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why [`ProcessPoolBuilder::build`] refused.
///
/// # Examples
///
/// ```
/// use workwise::process::{BuildError, ProcessPool};
///
/// let err = ProcessPool::builder().workers(0).build().unwrap_err();
/// assert_eq!(err, BuildError::ZeroWorkers);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
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

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NotInitialized => f.write_str(
                "workwise::process::init(&[..]) was not called: add it, listing your tasks, \
                 as the first line of main (workers are this binary run again)",
            ),
            BuildError::ZeroWorkers => {
                f.write_str("workers must be at least 1: leave it unset for one per core")
            }
            BuildError::ZeroMaxTasks => f.write_str(
                "max_tasks_per_worker must be at least 1: leave it unset to never recycle",
            ),
            BuildError::ZeroTimeout => {
                f.write_str("timeout must be more than zero: leave it unset for no timeout")
            }
            BuildError::FrameLimitTooSmall { requested, min } => write!(
                f,
                "max_frame_bytes of {requested} is below the least of {min}: leave it unset \
                 for 256 MiB"
            ),
            BuildError::Spawn { message } => write!(
                f,
                "could not start a worker process ({message}): check that the binary still \
                 exists and that the process limit allows more"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

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
struct Config {
    name: String,
    workers: usize,
    max_tasks_per_worker: Option<u64>,
    timeout: Option<Duration>,
    memory_limit: Option<u64>,
    eager: bool,
    retry_crashed: u32,
    max_frame_bytes: usize,
    exe: PathBuf,
}

impl ProcessPoolBuilder {
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
    /// replaced, and the task's handle gives [`TaskError::TimedOut`].
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
    /// worker, and gets [`TaskError::WorkerCrashed`].
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
    /// default 256 MiB. Larger inputs belong in [`SharedBytes`].
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
    /// fn main() -> Result<(), workwise::process::BuildError> {
    ///     workwise::process::init(&[]);
    ///     let pool = workwise::process::ProcessPool::builder().build()?;
    ///     # drop(pool);
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// [`BuildError`] for a setting out of range, when
    /// [`init`](super::init) was not called, or (eager start) when a worker
    /// could not be started.
    pub fn build(self) -> Result<ProcessPool, BuildError> {
        let workers = match self.workers {
            Some(0) => return Err(BuildError::ZeroWorkers),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if self.max_tasks_per_worker == Some(0) {
            return Err(BuildError::ZeroMaxTasks);
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(BuildError::ZeroTimeout);
        }
        if self.max_frame_bytes < frame::MIN_MAX_FRAME {
            return Err(BuildError::FrameLimitTooSmall {
                requested: self.max_frame_bytes,
                min: frame::MIN_MAX_FRAME,
            });
        }
        if !super::initialized() {
            return Err(BuildError::NotInitialized);
        }
        let exe = std::env::current_exe().map_err(|e| BuildError::Spawn {
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
        });
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
                    return Err(BuildError::Spawn {
                        message: format!("cannot start a driver thread: {e}"),
                    })
                }
            }
        }
        drop(ready_tx);
        if self.eager {
            for result in ready_rx.iter() {
                if let Err(message) = result {
                    return Err(BuildError::Spawn { message });
                }
            }
        }
        Ok(pool)
    }
}

/// A pool of worker processes for code that may crash, abort, leak or hang:
/// each such failure costs one task, never the pool.
///
/// In Rust, threads already run CPU work in parallel ([`Pool::cpu`](crate::Pool::cpu));
/// processes pay for isolation: FFI, third-party decoders, untrusted input.
/// Tasks are registered functions ([`process_task!`](crate::process_task))
/// whose argument and result cross a pipe as postcard; large inputs go as
/// [`SharedBytes`]. Handles are the thread pools' [`TaskHandle`]s.
///
/// # Examples
///
/// ```no_run
/// use workwise::process::{ProcessPool, Task};
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
/// const SQUARE: Task<u64, u64> = workwise::process_task!(square);
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     workwise::process::init(&[&SQUARE]); // first line: workers start here
///     let pool = ProcessPool::builder().workers(2).build()?;
///     assert_eq!(pool.submit(SQUARE, 7).wait()?, 49);
///     let squares = pool.map(SQUARE, 1..=1000u64);
///     assert_eq!(squares[999], Ok(1_000_000));
///     Ok(())
/// }
/// ```
///
/// # Cost
///
/// A round trip is two pipe writes and two wake-ups (tens of microseconds;
/// row `process.roundtrip` of workwise-bench); `map` sends items in chunks
/// (row `process.map_tiny`). Each worker is a copy of the binary: see
/// [`worker_memory`](ProcessPool::worker_memory).
///
/// # When to use this instead of `Pool::cpu`
///
/// When a crash, an abort, a leak or a hang in the task must not take the
/// program down. For speed alone, threads are the better model.
pub struct ProcessPool {
    shared: Arc<Shared>,
    drivers: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPool")
            .field("name", &self.shared.config.name)
            .field("workers", &self.shared.config.workers)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: Config,
    state: Mutex<State>,
    work: Condvar,
    counters: Counters,
    /// Each driver's live worker.
    pids: Mutex<Vec<Option<u32>>>,
}

struct State {
    jobs: VecDeque<Job>,
    closed: bool,
    running: usize,
}

/// A task's request, encoded.
struct Encoded {
    head: Vec<u8>,
    arg: Vec<u8>,
    keep: Vec<SharedBytes>,
}

impl Encoded {
    fn into_job(self, sink: Box<dyn Sink>) -> Job {
        Job {
            head: self.head,
            arg: self.arg,
            sink,
            started: false,
            attempts: 0,
            _keep: self.keep,
        }
    }
}

/// A task on its way to a worker.
struct Job {
    head: Vec<u8>,
    arg: Vec<u8>,
    sink: Box<dyn Sink>,
    started: bool,
    attempts: u32,
    /// The `SharedBytes` in the argument, alive until the task is resolved
    /// (shared-memory rule 2).
    _keep: Vec<SharedBytes>,
}

/// Where a reply goes: a typed promise.
trait Sink: Send {
    /// Protocol rule 1.
    fn start(&self) -> bool;
    /// Resolves the task from a reply body or an error.
    fn finish(self: Box<Self>, reply: Result<Vec<u8>, TaskError>);
}

struct OneSink<R> {
    promise: Promise<R>,
}

impl<R: DeserializeOwned + Send + 'static> Sink for OneSink<R> {
    fn start(&self) -> bool {
        self.promise.start()
    }

    fn finish(self: Box<Self>, reply: Result<Vec<u8>, TaskError>) {
        let result = reply.and_then(|body| {
            postcard::from_bytes(&body).map_err(|e| TaskError::Panicked {
                message: format!("the task's result could not be decoded: {e}"),
            })
        });
        self.promise.complete(result);
    }
}

struct BatchSink<R> {
    promise: Promise<Vec<Result<R, TaskError>>>,
    len: usize,
}

impl<R: DeserializeOwned + Send + 'static> Sink for BatchSink<R> {
    fn start(&self) -> bool {
        self.promise.start()
    }

    fn finish(self: Box<Self>, reply: Result<Vec<u8>, TaskError>) {
        let len = self.len;
        let results = match reply {
            Ok(body) => match postcard::from_bytes::<Vec<Result<R, String>>>(&body) {
                Ok(items) if items.len() == len => items
                    .into_iter()
                    .map(|r| r.map_err(|message| TaskError::Panicked { message }))
                    .collect(),
                Ok(items) => all_failed(
                    len,
                    TaskError::Panicked {
                        message: format!("a batch of {len} gave {} results", items.len()),
                    },
                ),
                Err(e) => all_failed(
                    len,
                    TaskError::Panicked {
                        message: format!("the task's results could not be decoded: {e}"),
                    },
                ),
            },
            Err(e) => all_failed(len, e),
        };
        self.promise.complete(Ok(results));
    }
}

fn all_failed<R>(len: usize, e: TaskError) -> Vec<Result<R, TaskError>> {
    (0..len).map(|_| Err(e.clone())).collect()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ProcessPool {
    /// A builder with the defaults: one worker per core, lazy start, no
    /// timeout, no recycling, no memory limit, no retries.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = workwise::process::ProcessPool::builder();
    /// # let _ = builder;
    /// ```
    pub fn builder() -> ProcessPoolBuilder {
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

    /// Runs `task(arg)` in a worker process.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// fn shout(s: String) -> String { s.to_uppercase() }
    /// const SHOUT: workwise::process::Task<String, String> = workwise::process_task!(shout);
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     workwise::process::init(&[&SHOUT]);
    ///     let pool = workwise::process::ProcessPool::builder().workers(1).build()?;
    ///     assert_eq!(pool.submit(SHOUT, "hi".to_owned()).wait()?, "HI");
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// The handle gives [`TaskError::WorkerCrashed`] when the worker died
    /// running it, [`TaskError::TimedOut`] past the pool's timeout,
    /// [`TaskError::Panicked`] for a panic that unwound in the worker (and for
    /// a task missing from [`init`](super::init), or an argument that could
    /// not be encoded or is over the frame limit: the message says which),
    /// [`TaskError::Closed`] after shutdown, [`TaskError::NoWorker`] when no
    /// worker could be started.
    pub fn submit<A, R>(&self, task: Task<A, R>, arg: A) -> TaskHandle<R>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.submit_ref(task, &arg)
    }

    /// The same as [`submit`](ProcessPool::submit), with the argument
    /// borrowed: it is encoded before this returns, so a large argument
    /// sent by copy need not be cloned first.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// fn len(v: Vec<u8>) -> usize { v.len() }
    /// const LEN: workwise::process::Task<Vec<u8>, usize> = workwise::process_task!(len);
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     workwise::process::init(&[&LEN]);
    ///     let pool = workwise::process::ProcessPool::builder().workers(1).build()?;
    ///     let data = vec![0u8; 1000];
    ///     assert_eq!(pool.submit_ref(LEN, &data).wait()?, 1000);
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`submit`](ProcessPool::submit).
    pub fn submit_ref<A, R>(&self, task: Task<A, R>, arg: &A) -> TaskHandle<R>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let encoded = match self.encode(task.name(), false, arg) {
            Ok(encoded) => encoded,
            Err(e) => return TaskHandle::failed(e),
        };
        let (promise, handle) = promise();
        self.push(encoded.into_job(Box::new(OneSink { promise })));
        handle
    }

    /// Runs `task` over every item in worker processes, in chunks, and
    /// returns the results in order.
    ///
    /// Chunks are sized as [`Pool::par_map`](crate::Pool::par_map) does: the
    /// first item and then the next 16 go alone to measure the round trip
    /// and the time per item, then the rest goes in chunks of at least ten
    /// round trips' worth of work, and at least four chunks per worker when
    /// the input allows. A worker that crashes fails the items of its chunk.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// fn inc(x: u32) -> u32 { x + 1 }
    /// const INC: workwise::process::Task<u32, u32> = workwise::process_task!(inc);
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     workwise::process::init(&[&INC]);
    ///     let pool = workwise::process::ProcessPool::builder().workers(2).build()?;
    ///     let out: Result<Vec<u32>, _> = pool.map(INC, 0..10_000).into_iter().collect();
    ///     assert_eq!(out?[9_999], 10_000);
    ///     Ok(())
    /// }
    /// ```
    pub fn map<A, R>(
        &self,
        task: Task<A, R>,
        items: impl IntoIterator<Item = A>,
    ) -> Vec<Result<R, TaskError>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let mut items: VecDeque<A> = items.into_iter().collect();
        let total = items.len();
        let mut out = Vec::with_capacity(total);
        // Two probes, run one after the other, time the round trip and the
        // work per item.
        let probe = |n: usize, items: &mut VecDeque<A>, out: &mut Vec<_>| {
            let chunk: Vec<A> = items.drain(..n.min(items.len())).collect();
            let start = Instant::now();
            out.extend(self.submit_chunk(task, chunk).wait().unwrap_or_default());
            start.elapsed()
        };
        let one = probe(1, &mut items, &mut out);
        let sixteen = probe(16, &mut items, &mut out);
        if items.is_empty() {
            return out;
        }
        let per_item = sixteen.saturating_sub(one).as_nanos() as u64 / 15;
        let overhead = (one.as_nanos() as u64).saturating_sub(per_item).max(1_000);
        let by_cost = (10 * overhead).div_ceil(per_item.max(1)) as usize;
        let balanced = items.len().div_ceil(4 * self.shared.config.workers);
        let chunk = by_cost.max(balanced).clamp(1, items.len());
        let mut handles = Vec::with_capacity(items.len().div_ceil(chunk));
        while !items.is_empty() {
            let part: Vec<A> = items.drain(..chunk.min(items.len())).collect();
            handles.push(self.submit_chunk(task, part));
        }
        for h in handles {
            out.extend(h.wait().unwrap_or_default());
        }
        out
    }

    /// Sends `items` as one batch; a batch over the frame limit is split.
    fn submit_chunk<A, R>(
        &self,
        task: Task<A, R>,
        items: Vec<A>,
    ) -> TaskHandle<Vec<Result<R, TaskError>>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let len = items.len();
        let encoded = match self.encode(task.name(), true, &items) {
            Ok(encoded) => encoded,
            Err(_) if len > 1 => {
                let mut items = items;
                let rest = items.split_off(len / 2);
                let (a, b) = (
                    self.submit_chunk(task, items),
                    self.submit_chunk(task, rest),
                );
                let (promise, handle) = promise();
                // Both halves are queued; joining them here keeps order.
                let mut joined = a.wait().unwrap_or_default();
                joined.extend(b.wait().unwrap_or_default());
                promise.complete(Ok(joined));
                return handle;
            }
            Err(e) => return TaskHandle::failed(e).map_all(len),
        };
        let (promise, handle) = promise();
        self.push(encoded.into_job(Box::new(BatchSink { promise, len })));
        handle
    }

    fn encode<T: Serialize + ?Sized>(
        &self,
        name: &'static str,
        batch: bool,
        arg: &T,
    ) -> Result<Encoded, TaskError> {
        if !super::registered(name) {
            return Err(TaskError::Panicked {
                message: format!(
                    "not run: the task `{name}` is not listed in workwise::process::init(&[..]): \
                     add it there"
                ),
            });
        }
        shared::start_keeping();
        let encoded = postcard::to_allocvec(arg);
        let keep = shared::take_kept();
        let arg = encoded.map_err(|e| TaskError::Panicked {
            message: format!("not run: the argument could not be encoded with postcard: {e}"),
        })?;
        let head = frame::request_head(name, batch);
        let max = self.shared.config.max_frame_bytes;
        if head.len() + arg.len() > max {
            return Err(TaskError::Panicked {
                message: format!(
                    "not run: {}",
                    FrameError::Oversized {
                        len: (head.len() + arg.len()) as u64,
                        max
                    }
                ),
            });
        }
        Ok(Encoded { head, arg, keep })
    }

    fn push(&self, job: Job) {
        let mut state = lock(&self.shared.state);
        if state.closed {
            drop(state);
            job.sink.finish(Err(TaskError::Closed));
            return;
        }
        Counters::add(&self.shared.counters.submitted, 1);
        state.jobs.push_back(job);
        drop(state);
        self.shared.work.notify_one();
    }

    /// The pool's counts now.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # workwise::process::init(&[]);
    /// let pool = workwise::process::ProcessPool::builder().workers(2).build()?;
    /// assert_eq!(pool.stats().workers, 2);
    /// # Ok::<(), workwise::process::BuildError>(())
    /// ```
    pub fn stats(&self) -> ProcessStats {
        let mut s = self.shared.counters.snapshot();
        s.workers = self.shared.config.workers;
        s.live_workers = lock(&self.shared.pids).iter().flatten().count();
        let state = lock(&self.shared.state);
        s.queued = state.jobs.len();
        s.running = state.running;
        s
    }

    /// The process ids of the live workers.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # workwise::process::init(&[]);
    /// let pool = workwise::process::ProcessPool::builder().workers(2).eager(true).build()?;
    /// assert_eq!(pool.worker_pids().len(), 2);
    /// # Ok::<(), workwise::process::BuildError>(())
    /// ```
    pub fn worker_pids(&self) -> Vec<u32> {
        lock(&self.shared.pids).iter().flatten().copied().collect()
    }

    /// Each live worker's private resident memory, read from
    /// `/proc/<pid>/smaps_rollup`: what a worker process costs.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # workwise::process::init(&[]);
    /// let pool = workwise::process::ProcessPool::builder().workers(1).eager(true).build()?;
    /// let memory = pool.worker_memory();
    /// assert!(memory[0].private_bytes > 0);
    /// # Ok::<(), workwise::process::BuildError>(())
    /// ```
    pub fn worker_memory(&self) -> Vec<WorkerMemory> {
        self.worker_pids()
            .into_iter()
            .filter_map(|pid| {
                stats::private_bytes(pid).map(|private_bytes| WorkerMemory { pid, private_bytes })
            })
            .collect()
    }

    /// Finishes every queued task, then stops and reaps the workers.
    ///
    /// Later submissions give [`TaskError::Closed`]. Dropping the pool does
    /// the same as this.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// fn id(x: u8) -> u8 { x }
    /// const ID: workwise::process::Task<u8, u8> = workwise::process_task!(id);
    /// workwise::process::init(&[&ID]);
    /// let pool = workwise::process::ProcessPool::builder().build()?;
    /// let h = pool.submit(ID, 1);
    /// pool.shutdown();
    /// assert_eq!(h.wait(), Ok(1));
    /// assert_eq!(pool.submit(ID, 2).wait(), Err(workwise::TaskError::Closed));
    /// # Ok::<(), workwise::process::BuildError>(())
    /// ```
    pub fn shutdown(&self) {
        lock(&self.shared.state).closed = true;
        self.shared.work.notify_all();
        let mut drivers = lock(&self.drivers);
        for d in drivers.drain(..) {
            let _ = d.join();
        }
    }

    /// Cancels every task that has not started (their handles give
    /// [`TaskError::Cancelled`]), waits for running ones, and stops.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # workwise::process::init(&[]);
    /// let pool = workwise::process::ProcessPool::builder().build()?;
    /// pool.shutdown_now();
    /// # Ok::<(), workwise::process::BuildError>(())
    /// ```
    pub fn shutdown_now(&self) {
        let pending: Vec<Job> = {
            let mut state = lock(&self.shared.state);
            state.closed = true;
            state.jobs.drain(..).collect()
        };
        for job in pending {
            if job.sink.start() {
                Counters::add(&self.shared.counters.cancelled, 1);
            }
            job.sink.finish(Err(TaskError::Cancelled));
        }
        self.shutdown();
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<T: Send + 'static> TaskHandle<Vec<Result<T, TaskError>>> {
    /// A failed batch of `len`: one error per item.
    fn map_all(self, len: usize) -> Self {
        let err = self.wait().err().unwrap_or(TaskError::Closed);
        let (promise, handle) = promise();
        promise.complete(Ok(all_failed(len, err)));
        handle
    }
}

/// A live worker process and its pipes.
struct Worker {
    child: Child,
    /// `None` once retired.
    input: Option<BufWriter<ChildStdin>>,
    output: ChildStdout,
    reader: FrameReader,
    tasks: u64,
}

enum Ran {
    Reply(u8, Vec<u8>),
    /// Rule 2: the worker never had the task.
    NotDelivered,
    Crashed(String),
    TimedOut,
}

fn spawn(shared: &Shared, slot: usize) -> Result<Worker, String> {
    let config = &shared.config;
    let mut cmd = Command::new(&config.exe);
    cmd.env(ENV_WORKER, std::process::id().to_string())
        .env(ENV_MAX_FRAME, config.max_frame_bytes.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(limit) = config.memory_limit {
        cmd.env(ENV_MEMORY, limit.to_string());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", config.exe.display()))?;
    Counters::add(&shared.counters.spawned, 1);
    // Larger pipes: fewer wake-ups for a large frame. The kernel may refuse
    // (its pipe-max-size), and the default then serves.
    for fd in [
        child.stdin.as_ref().map(|p| p.as_raw_fd()),
        child.stdout.as_ref().map(|p| p.as_raw_fd()),
    ]
    .into_iter()
    .flatten()
    {
        let _ = fcntl(fd, FcntlArg::F_SETPIPE_SZ(PIPE_BYTES));
    }
    let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
        reap(&mut child, true);
        return Err("the worker's pipes were not set up".to_owned());
    };
    let mut worker = Worker {
        child,
        input: Some(BufWriter::with_capacity(64 << 10, input)),
        output,
        reader: FrameReader::new(config.max_frame_bytes),
        tasks: 0,
    };
    let deadline = Instant::now() + HELLO_TIMEOUT;
    match worker.read_reply(Some(deadline)) {
        Ok(Some(hello)) if hello == frame::HELLO => {
            lock(&shared.pids)[slot] = Some(worker.child.id());
            Ok(worker)
        }
        other => {
            let status = reap(&mut worker.child, true);
            let seen = match other {
                Ok(Some(_)) => "an unknown hello".to_owned(),
                Ok(None) => "no hello in 30 s".to_owned(),
                Err(e) => e.to_string(),
            };
            Err(format!(
                "the worker process did not start ({seen}, {}): call \
                 workwise::process::init(&[..]) as the first line of main",
                describe(status)
            ))
        }
    }
}

/// Kills (if asked) and waits for a child, so that no zombie is left.
fn reap(child: &mut Child, kill: bool) -> Option<ExitStatus> {
    if kill {
        let _ = child.kill();
    }
    child.wait().ok()
}

fn describe(status: Option<ExitStatus>) -> String {
    match status {
        Some(s) => s.to_string(),
        None => "status unknown".to_owned(),
    }
}

impl Worker {
    /// Sends the job and reads its reply (rules 2 to 4).
    fn run(&mut self, shared: &Shared, job: &Job) -> Ran {
        let max = shared.config.max_frame_bytes;
        let Some(input) = self.input.as_mut() else {
            return Ran::NotDelivered;
        };
        match frame::write_frame(input, &[&job.head, &job.arg], max) {
            Ok(n) => Counters::add(&shared.counters.bytes_sent, n as u64),
            Err(_) => return Ran::NotDelivered,
        }
        // A timeout past what an Instant holds is none.
        let deadline = shared.config.timeout.and_then(crate::clock::deadline_after);
        match self.read_reply(deadline) {
            Ok(Some(reply)) => {
                Counters::add(
                    &shared.counters.bytes_received,
                    (frame::HEADER + reply.len()) as u64,
                );
                match reply.split_first() {
                    Some((&status, body)) if status <= frame::REPLY_BAD_ARGUMENT => {
                        Ran::Reply(status, body.to_vec())
                    }
                    Some((&status, _)) => Ran::Crashed(
                        FrameError::Malformed(format!("a reply with status {status}")).to_string(),
                    ),
                    None => {
                        Ran::Crashed(FrameError::Malformed("an empty reply".into()).to_string())
                    }
                }
            }
            Ok(None) => Ran::TimedOut,
            Err(e) => Ran::Crashed(e.to_string()),
        }
    }

    /// Reads one frame; `Ok(None)` when the deadline passed first.
    fn read_reply(&mut self, deadline: Option<Instant>) -> Result<Option<Vec<u8>>, FrameError> {
        match deadline {
            None => self.reader.read_frame(&mut self.output).map(Some),
            Some(deadline) => read_frame_by(&mut self.reader, &mut self.output, deadline),
        }
    }

    /// Closes the worker's input and waits for it to exit (rule 5).
    fn retire(mut self) {
        drop(self.input.take());
        let deadline = Instant::now() + RETIRE_TIMEOUT;
        // The worker's end of file on its output is its exit.
        let exited = loop {
            match read_frame_by(&mut self.reader, &mut self.output, deadline) {
                Ok(Some(_)) => continue,
                Ok(None) => break false,
                Err(_) => break true,
            }
        };
        reap(&mut self.child, !exited);
    }
}

/// Reads one frame, polling so as to stop at `deadline` (`Ok(None)`).
fn read_frame_by(
    reader: &mut FrameReader,
    output: &mut ChildStdout,
    deadline: Instant,
) -> Result<Option<Vec<u8>>, FrameError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let ms = PollTimeout::try_from(left.as_millis().max(1) as u64).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(output.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(FrameError::Io(e.to_string())),
        }
        if let Some(frame) = reader.read_some(output)? {
            return Ok(Some(frame));
        }
    }
}

/// Takes the next job, or `None` once the pool is closed and drained.
fn next_job(shared: &Shared) -> Option<Job> {
    let mut state = lock(&shared.state);
    loop {
        if let Some(job) = state.jobs.pop_front() {
            state.running += 1;
            return Some(job);
        }
        if state.closed {
            return None;
        }
        state = shared.work.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

/// One driver thread: runs its slot's worker process (rules 1 to 5).
fn drive(shared: &Shared, slot: usize, ready: Option<mpsc::Sender<Result<(), String>>>) {
    let counters = &shared.counters;
    let mut worker: Option<Worker> = None;
    if let Some(ready) = ready {
        match spawn(shared, slot) {
            Ok(w) => {
                worker = Some(w);
                let _ = ready.send(Ok(()));
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        }
    }
    // A worker died or was killed: the next one started replaces it.
    let mut replacing = false;
    while let Some(mut job) = next_job(shared) {
        let finished = run_job(shared, slot, &mut worker, &mut replacing, &mut job);
        match finished {
            Some(reply) => job.sink.finish(reply),
            None => {
                // Rule 3: queued again at the front, already started.
                let mut state = lock(&shared.state);
                state.jobs.push_front(job);
                state.running -= 1;
                drop(state);
                shared.work.notify_one();
                continue;
            }
        }
        lock(&shared.state).running -= 1;
        let _ = counters;
    }
    if let Some(w) = worker.take() {
        w.retire();
    }
    lock(&shared.pids)[slot] = None;
}

/// Runs one job on this slot's worker; `None` when it is to be retried.
fn run_job(
    shared: &Shared,
    slot: usize,
    worker: &mut Option<Worker>,
    replacing: &mut bool,
    job: &mut Job,
) -> Option<Result<Vec<u8>, TaskError>> {
    let counters = &shared.counters;
    if !job.started {
        if !job.sink.start() {
            Counters::add(&counters.cancelled, 1);
            return Some(Err(TaskError::Cancelled));
        }
        job.started = true;
    }
    // Rule 2: a worker found dead, or that could not read the request,
    // never had the task; the task goes to its replacement (a few times at
    // most, so a binary whose workers die at once cannot loop forever).
    for _ in 0..3 {
        if let Some(w) = worker.as_mut() {
            if matches!(w.child.try_wait(), Ok(Some(_))) {
                let mut dead = worker.take().expect("checked");
                reap(&mut dead.child, false);
                lock(&shared.pids)[slot] = None;
                *replacing = true;
            }
        }
        if worker.is_none() {
            match spawn(shared, slot) {
                Ok(w) => {
                    if std::mem::take(replacing) {
                        Counters::add(&counters.respawns, 1);
                    }
                    *worker = Some(w);
                }
                Err(message) => return Some(Err(TaskError::NoWorker { message })),
            }
        }
        let w = worker.as_mut().expect("started above");
        match w.run(shared, job) {
            Ran::NotDelivered => {
                let mut dead = worker.take().expect("running");
                reap(&mut dead.child, true);
                lock(&shared.pids)[slot] = None;
                *replacing = true;
                continue;
            }
            Ran::Reply(status, body) => {
                w.tasks += 1;
                let result = reply_result(counters, status, body);
                if shared
                    .config
                    .max_tasks_per_worker
                    .is_some_and(|m| w.tasks >= m)
                {
                    let old = worker.take().expect("running");
                    lock(&shared.pids)[slot] = None;
                    old.retire();
                    Counters::add(&counters.recycled, 1);
                    if shared.config.eager {
                        *worker = spawn(shared, slot).ok();
                    }
                }
                return Some(result);
            }
            Ran::TimedOut => {
                let mut dead = worker.take().expect("running");
                reap(&mut dead.child, true);
                lock(&shared.pids)[slot] = None;
                Counters::add(&counters.timed_out, 1);
                respawn_if_eager(shared, slot, worker, replacing);
                return Some(Err(TaskError::TimedOut));
            }
            Ran::Crashed(detail) => {
                let mut dead = worker.take().expect("running");
                let status = reap(&mut dead.child, true);
                lock(&shared.pids)[slot] = None;
                Counters::add(&counters.crashed, 1);
                respawn_if_eager(shared, slot, worker, replacing);
                if job.attempts < shared.config.retry_crashed {
                    job.attempts += 1;
                    Counters::add(&counters.retried, 1);
                    return None;
                }
                return Some(Err(TaskError::WorkerCrashed {
                    signal: status.and_then(|s| s.signal()),
                    exit_code: status.and_then(|s| s.code()),
                    detail,
                }));
            }
        }
    }
    Some(Err(TaskError::NoWorker {
        message: "three new workers in a row died before reading the task".to_owned(),
    }))
}

fn respawn_if_eager(
    shared: &Shared,
    slot: usize,
    worker: &mut Option<Worker>,
    replacing: &mut bool,
) {
    *replacing = true;
    if shared.config.eager {
        if let Ok(w) = spawn(shared, slot) {
            Counters::add(&shared.counters.respawns, 1);
            *replacing = false;
            *worker = Some(w);
        }
    }
}

fn reply_result(counters: &Counters, status: u8, body: Vec<u8>) -> Result<Vec<u8>, TaskError> {
    let text = || String::from_utf8_lossy(&body).into_owned();
    match status {
        frame::REPLY_OK => {
            Counters::add(&counters.completed, 1);
            Ok(body)
        }
        frame::REPLY_UNKNOWN_TASK => {
            Counters::add(&counters.panicked, 1);
            Err(TaskError::Panicked {
                message: format!("not run: {}", text()),
            })
        }
        frame::REPLY_BAD_ARGUMENT => {
            Counters::add(&counters.panicked, 1);
            Err(TaskError::Panicked {
                message: format!(
                    "not run: the worker could not decode the argument: {}",
                    text()
                ),
            })
        }
        _ => {
            Counters::add(&counters.panicked, 1);
            Err(TaskError::Panicked { message: text() })
        }
    }
}
