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
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::builder::{Config, ProcessPoolBuilder};
use super::frame::{self, FrameError};
use super::shared::{self, SharedBytes};
use super::stats::{self, Counters, ProcessStats, WorkerMemory};
use super::task::Task;
use crate::advice::{self, Advice, Emitted};
use crate::pool::task::{promise, Promise};
use crate::{TaskError, TaskHandle};

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
    pub(super) shared: Arc<Shared>,
    pub(super) drivers: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPool")
            .field("name", &self.shared.config.name)
            .field("workers", &self.shared.config.workers)
            .finish_non_exhaustive()
    }
}

pub(super) struct Shared {
    pub(super) config: Config,
    pub(super) state: Mutex<State>,
    pub(super) work: Condvar,
    pub(super) counters: Counters,
    /// Each driver's live worker.
    pub(super) pids: Mutex<Vec<Option<u32>>>,
    /// The advisor's findings already emitted for this pool.
    pub(super) emitted: Emitted,
}

impl Shared {
    fn stats(&self) -> ProcessStats {
        let mut s = self.counters.snapshot();
        s.workers = self.config.workers;
        s.live_workers = lock(&self.pids).iter().flatten().count();
        let state = lock(&self.state);
        s.queued = state.jobs.len();
        s.running = state.running;
        s
    }

    fn findings(&self) -> Vec<Advice> {
        super::advice::check(&self.config.name, &self.stats())
    }
}

impl advice::Watched for Shared {
    fn advice(&self) -> Vec<Advice> {
        let found = self.findings();
        advice::emit(&self.emitted, &found);
        found
    }
}

pub(super) struct State {
    pub(super) jobs: VecDeque<Job>,
    pub(super) closed: bool,
    pub(super) running: usize,
}

/// A task's request, encoded.
pub(super) struct Encoded {
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
pub(super) struct Job {
    pub(super) head: Vec<u8>,
    pub(super) arg: Vec<u8>,
    pub(super) sink: Box<dyn Sink>,
    pub(super) started: bool,
    pub(super) attempts: u32,
    /// The `SharedBytes` in the argument, alive until the task is resolved
    /// (shared-memory rule 2).
    pub(super) _keep: Vec<SharedBytes>,
}

/// Where a reply goes: a typed promise.
pub(super) trait Sink: Send {
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

pub(super) fn all_failed<R>(len: usize, e: TaskError) -> Vec<Result<R, TaskError>> {
    (0..len).map(|_| Err(e.clone())).collect()
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
        ProcessPoolBuilder::defaults()
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
        self.push(encoded.into_job(Box::new(OneSink { promise })), 1);
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
            let len = chunk.len();
            let start = Instant::now();
            out.extend(batch_results(self.submit_chunk(task, chunk), len));
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
            let len = part.len();
            handles.push((self.submit_chunk(task, part), len));
        }
        for (h, len) in handles {
            out.extend(batch_results(h, len));
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
                let (a_len, b_len) = (items.len(), rest.len());
                let (a, b) = (
                    self.submit_chunk(task, items),
                    self.submit_chunk(task, rest),
                );
                let (promise, handle) = promise();
                // Both halves are queued; joining them here keeps order.
                let mut joined = batch_results(a, a_len);
                joined.extend(batch_results(b, b_len));
                promise.complete(Ok(joined));
                return handle;
            }
            Err(e) => return failed_batch(len, e),
        };
        let (promise, handle) = promise();
        self.push(encoded.into_job(Box::new(BatchSink { promise, len })), len);
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

    /// Queues `job`, whose argument frame holds `items` arguments.
    fn push(&self, job: Job, items: usize) {
        let mut state = lock(&self.shared.state);
        if state.closed {
            drop(state);
            job.sink.finish(Err(TaskError::Closed));
            return;
        }
        let counters = &self.shared.counters;
        Counters::add(&counters.submitted, 1);
        let large = counters.add_arguments(items as u64, job.arg.len() as u64);
        state.jobs.push_back(job);
        drop(state);
        self.shared.work.notify_one();
        // W11 can only start to hold on a large argument: emitted when
        // first found.
        #[cfg(feature = "tracing")]
        if large && advice::emission_on() {
            advice::emit(&self.shared.emitted, &self.shared.findings());
        }
        #[cfg(not(feature = "tracing"))]
        let _ = large;
    }

    /// The pool's counts now.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # workwise::process::init(&[]);
    /// let pool = workwise::process::ProcessPool::builder().workers(2).build()?;
    /// assert_eq!(pool.stats().workers, 2);
    /// # Ok::<(), workwise::process::ProcessBuildError>(())
    /// ```
    pub fn stats(&self) -> ProcessStats {
        self.shared.stats()
    }

    /// What the advisor finds wrong with how this pool is used, from its
    /// figures now ([`stats`](ProcessPool::stats)): W11 when tasks'
    /// arguments are large copies that a [`SharedBytes`] handle would
    /// spare (at least 4 arguments of 64 KiB or more, and a mean argument
    /// of 64 KiB or more or 16 MiB of them in all). Each finding also goes
    /// out once through `tracing` (see [`advice`](crate::advice)), and
    /// [`advice::report`](crate::advice::report) asks the pool while it
    /// lives.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use workwise::advice::Code;
    /// use workwise::process::{ProcessPool, SharedBytes, Task};
    ///
    /// fn checksum(data: Vec<u8>) -> u64 { data.iter().map(|&b| b as u64).sum() }
    /// const CHECKSUM: Task<Vec<u8>, u64> = workwise::process_task!(checksum);
    /// fn checksum_shared(data: SharedBytes) -> u64 { data.iter().map(|&b| b as u64).sum() }
    /// const CHECKSUM_SHARED: Task<SharedBytes, u64> = workwise::process_task!(checksum_shared);
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     workwise::process::init(&[&CHECKSUM, &CHECKSUM_SHARED]);
    ///     let pool = ProcessPool::builder().workers(2).build()?;
    ///     let data = vec![1u8; 1 << 20];
    ///     // The wrong way: 1 MiB copied into every task.
    ///     let handles: Vec<_> = (0..8).map(|_| pool.submit_ref(CHECKSUM, &data)).collect();
    ///     for h in handles {
    ///         h.wait()?;
    ///     }
    ///     let advice = pool.advice();
    ///     assert!(advice.iter().any(|a| a.code == Code::W11), "{advice:?}");
    ///
    ///     // The fix: the bytes placed once, a handle in each task.
    ///     let pool = ProcessPool::builder().workers(2).build()?;
    ///     let shared = SharedBytes::new(&data)?;
    ///     let handles: Vec<_> =
    ///         (0..8).map(|_| pool.submit(CHECKSUM_SHARED, shared.clone())).collect();
    ///     for h in handles {
    ///         h.wait()?;
    ///     }
    ///     assert!(pool.advice().is_empty());
    ///     Ok(())
    /// }
    /// ```
    pub fn advice(&self) -> Vec<Advice> {
        advice::Watched::advice(&*self.shared)
    }

    /// The process ids of the live workers.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # workwise::process::init(&[]);
    /// let pool = workwise::process::ProcessPool::builder().workers(2).eager(true).build()?;
    /// assert_eq!(pool.worker_pids().len(), 2);
    /// # Ok::<(), workwise::process::ProcessBuildError>(())
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
    /// # Ok::<(), workwise::process::ProcessBuildError>(())
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
    /// # Ok::<(), workwise::process::ProcessBuildError>(())
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
    /// # Ok::<(), workwise::process::ProcessBuildError>(())
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

/// A batch's results, one error per item if the batch itself failed.
fn batch_results<R>(
    handle: TaskHandle<Vec<Result<R, TaskError>>>,
    len: usize,
) -> Vec<Result<R, TaskError>> {
    match handle.wait() {
        Ok(results) => results,
        Err(e) => all_failed(len, e),
    }
}

/// A batch of `len` that failed before it was sent.
fn failed_batch<R: Send + 'static>(
    len: usize,
    e: TaskError,
) -> TaskHandle<Vec<Result<R, TaskError>>> {
    let (promise, handle) = promise();
    promise.complete(Ok(all_failed(len, e)));
    handle
}
