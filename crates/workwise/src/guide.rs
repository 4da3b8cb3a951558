//! The concepts, for a reader who knows Python's `concurrent.futures` and
//! `queue`, rayon or tokio: which model suits which work, how to bound it,
//! how to wait with a deadline, and which workwise name does what the name
//! you know does.
//!
//! This module holds no code; each section can be linked to
//! (`workwise::guide#timeouts`, say). The items' own docs hold the details.
//!
//! # Which model for which work
//!
//! Ask what a task spends its time on.
//!
//! - **Waiting** (HTTP calls, files, a database): the thread sits idle while
//!   it waits, so run more threads than cores. [`Pool::io`] grows on demand
//!   up to `min(32, cores + 4)` threads and lets idle ones go.
//! - **Computing** (parsing, images, numbers): more threads than cores only
//!   adds switching. [`Pool::cpu`] has one thread per core and lets idle
//!   workers steal queued work. Rust threads run in parallel, so CPU work
//!   needs no processes, unlike Python under its global interpreter lock.
//! - **Code that may crash, abort or leak** (FFI, decoders fed untrusted
//!   input): worker processes, `process::ProcessPool` (feature `process`),
//!   where a crash costs one task and not the program.
//! - **Thousands of waits at once** (connections, sockets): an async
//!   runtime; the `aio` module (feature `tokio`) bounds and times the
//!   futures, and hands blocking calls to a [`Pool::io`].
//! - **Small, cheap or step-by-step work**: a plain loop.
//!   [`Workload::Sequential`] names that choice in code, and the
//!   data-parallel calls make it themselves for inputs too small to pay for
//!   a hand-off (see [batching](#batching-tiny-tasks)).
//!
//! ```
//! use workwise::Pool;
//!
//! let io = Pool::io().name("fetch").build()?;
//! let page = io.submit(|| "<html></html>".len()); // waits on the network
//!
//! let cpu = Pool::cpu().name("crunch").build()?;
//! let total: u64 = cpu.map_reduce(0..1_000u64, |x| x * x, 0, |a, b| a + b)?;
//!
//! assert_eq!(page.wait()?, 13);
//! assert_eq!(total, 332_833_500);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Bounding pools and queues
//!
//! Every pool has a maximum number of threads ([`PoolBuilder::max_workers`])
//! and of tasks waiting to start ([`PoolBuilder::queue_capacity`], 1024
//! per worker unless set). When the queue is full, [`Pool::submit`] blocks
//! the submitter until a place frees up, which slows a producer down to the
//! pace of the workers instead of letting memory grow; [`Pool::try_submit`]
//! returns at once and hands the task back. [`Queue::bounded`] does the same
//! for a producer-consumer queue: `put` waits for room, `try_put` refuses.
//! An unbounded [`Queue`] records its [peak length](Queue::peak_len), and
//! its [`advice`](Queue::advice) says when it keeps growing.
//!
//! ```
//! use workwise::{Pool, TrySubmitError};
//!
//! let pool = Pool::io().max_workers(1).queue_capacity(1).build()?;
//! let (open, gate) = std::sync::mpsc::channel::<()>();
//! let busy = pool.submit(move || gate.recv().ok()); // holds the one worker
//! # workwise::testing::wait_for(|| pool.stats().queued == 0, std::time::Duration::from_secs(30))?;
//! let queued = pool.submit(|| 1); // takes the one queue place
//! // No place left: the task comes back to the caller instead of waiting.
//! assert!(matches!(pool.try_submit(|| 2), Err(TrySubmitError::Full(_))));
//! open.send(())?;
//! assert_eq!(queued.wait()?, 1);
//! # busy.wait()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Timeouts
//!
//! Every wait has a variant with a deadline, and a deadline too far away
//! for the clock (`Duration::MAX`) means "no deadline", never an overflow.
//!
//! | To wait for | Without a deadline | With one |
//! |---|---|---|
//! | one task | [`TaskHandle::wait`] | [`TaskHandle::wait_timeout`] (the task goes on) |
//! | tasks in the order they finish | [`as_completed`] | [`as_completed_timeout`], then [`AsCompleted::into_pending`] |
//! | the first, the first error, or all | [`wait`] with `None` | [`wait`] with `Some(timeout)` |
//! | an item from a queue | [`Queue::get`] | [`Queue::get_timeout`] |
//! | a queue's items all done | [`Queue::join`] | [`Queue::join_timeout`] |
//! | a rate limiter's permit | [`RateLimiter::acquire`] | [`RateLimiter::acquire_timeout`] |
//! | each attempt of a call | [`Policy::call`] | [`Policy::call_timed`] with [`PolicyBuilder::attempt_timeout`] |
//!
//! A thread cannot be stopped from outside: a task whose wait timed out
//! runs on to its end, and only a task that has not started can be
//! [cancelled](TaskHandle::cancel).
//!
//! ```
//! use std::time::Duration;
//! use workwise::{wait, Pool, ReturnWhen, TaskError};
//!
//! let pool = Pool::io().build()?;
//! let (open, gate) = std::sync::mpsc::channel::<()>();
//! let mut slow = pool.submit(move || gate.recv().is_ok());
//! assert_eq!(slow.wait_timeout(Duration::from_millis(10)), Err(TaskError::TimedOut));
//!
//! let quick = pool.submit(|| true);
//! let waited = wait(vec![slow, quick], Some(Duration::from_secs(30)), ReturnWhen::FirstCompleted);
//! assert_eq!((waited.done.len(), waited.pending.len()), (1, 1));
//! open.send(())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Batching tiny tasks
//!
//! Handing a task to another thread costs about a microsecond when a worker
//! is awake and tens of microseconds when it must be woken: a task that
//! adds two numbers loses. [`Pool::par_map`], [`Pool::par_map_results`],
//! [`Pool::map_reduce`] and [`Pool::for_each`] take a whole slice, `Vec` or
//! index range, run a few items on the calling thread to measure what one
//! costs, and go parallel only when the rest is worth it, in chunks of at
//! least about 50 µs of work each; a small input runs inline on the calling
//! thread (counted in [`PoolStats::inline_runs`]). [`Pool::with_chunk_size`]
//! fixes the chunk size when you know better. [`Pool::map`] is the lazy,
//! streaming version for an iterator of unknown length; it chunks too.
//!
//! ```
//! let cpu = workwise::Pool::cpu().build()?;
//! let squares = cpu.par_map(0..100_000u64, |i| i * i)?; // one call, not 100 000 tasks
//! assert_eq!(squares[300], 90_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Rate limiting and circuit breaking
//!
//! A [`RateLimiter`] spaces out calls to what a service allows (a permit
//! per interval, with a burst); [`try_acquire`](RateLimiter::try_acquire)
//! says how long to wait when no permit is free. A [`CircuitBreaker`]
//! stops calling a service that keeps failing, and lets a probe through
//! after a while. [`Retry`] retries with exponential backoff and jitter.
//! [`Policy`] puts all of them, and a timeout per attempt, around one call,
//! in the [order its docs give](Policy#order). Their time comes from a
//! [`Clock`], so that tests can run them on a [`ManualClock`].
//!
//! [`Policy::call`] runs the call on the calling thread, so the closure may
//! borrow:
//!
//! ```
//! use std::time::Duration;
//! use workwise::{CircuitBreaker, Policy, RateLimiter, Retry};
//!
//! let policy = Policy::<String>::builder()
//!     .rate_limit(RateLimiter::per_second(100).burst(10).build()?)
//!     .breaker(CircuitBreaker::builder().failure_threshold(5).build()?)
//!     .retry(Retry::exponential(Duration::from_millis(1)).max_attempts(3).build()?)
//!     .build()?;
//! let users = vec!["ada", "grace"]; // borrowed, not moved
//! let found = policy.call(|| users.iter().position(|u| *u == "grace").ok_or("no grace".to_string()))?;
//! assert_eq!(found, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # From Python
//!
//! | Python | workwise |
//! |---|---|
//! | `ThreadPoolExecutor(max_workers=n)` | [`Pool::io`]`().max_workers(n).build()` |
//! | `executor.submit(f, x)`, a `Future` | [`Pool::submit`]`(move \|\| f(x))`, a [`TaskHandle`] |
//! | `future.result()`, `future.result(timeout=t)` | [`TaskHandle::wait`], [`TaskHandle::wait_timeout`] |
//! | `future.done()`, `future.cancel()` | [`TaskHandle::is_finished`], [`TaskHandle::cancel`] |
//! | an exception raised in the task | [`TaskError::Panicked`] with the panic's message |
//! | `executor.map(f, xs)` | [`Pool::map`] (lazy, in input order, a `Result` per item); [`Pool::par_map`] for a whole slice or range |
//! | `as_completed(fs)`, `as_completed(fs, timeout=t)` | [`as_completed`], [`as_completed_timeout`] (the unfinished come back from [`AsCompleted::into_pending`]) |
//! | `wait(fs, timeout, return_when=FIRST_COMPLETED)` | [`wait`]`(handles, Some(t), `[`ReturnWhen::FirstCompleted`]`)`, giving [`Waited`]`{ done, pending }` |
//! | `executor.shutdown()`, the end of a `with` block | [`Pool::shutdown`], or dropping the pool |
//! | `executor.shutdown(cancel_futures=True)` | [`Pool::shutdown_now`] |
//! | `ProcessPoolExecutor` | [`Pool::cpu`] for CPU work (no lock to escape); `process::ProcessPool` to isolate crashes |
//! | `queue.Queue(maxsize=n)`, `maxsize=0` | [`Queue::bounded`]`(n)`, [`Queue::unbounded`] |
//! | `q.put(x)`, `put(x, timeout=t)`, `put_nowait(x)` | [`Queue::put`], [`Queue::put_timeout`], [`Queue::try_put`] |
//! | `q.get()`, `get(timeout=t)`, `get_nowait()` | [`Queue::get`], [`Queue::get_timeout`], [`Queue::try_get`]: each gives an [`Item`] guard |
//! | `q.task_done()` | dropping the [`Item`] (also when the consumer panics) |
//! | `q.join()` | [`Queue::join`], [`Queue::join_timeout`] |
//! | `q.shutdown()` (Python 3.13) | [`Queue::close`] |
//! | consumer threads reading a queue | [`Pool::consume`] |
//! | `unittest.mock`'s `call_count`, `time.sleep` in tests | [`testing::CallCounter`], [`testing::wait_for`] |
//!
//! `task_done` is the one that changes shape: instead of a call every
//! consumer must remember, the item is a guard that marks itself done when
//! it drops, so `join` cannot hang on a forgotten call.
//!
//! ```
//! use workwise::{Pool, Queue};
//!
//! let pool = Pool::io().build()?;
//! let q = Queue::bounded(8)?;
//! let consumer = {
//!     let q = q.clone();
//!     pool.submit(move || {
//!         let mut sum = 0;
//!         while let Ok(item) = q.get() {
//!             sum += *item; // `item` drops here: done
//!         }
//!         sum
//!     })
//! };
//! for n in 1..=10 {
//!     q.put(n)?;
//! }
//! q.join(); // every item taken and done
//! q.close(); // the consumer's `get` now ends
//! assert_eq!(consumer.wait()?, 55);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # From rayon
//!
//! | rayon | workwise |
//! |---|---|
//! | `v.par_iter().map(f).collect()` | [`Pool::par_map`]`(&v, f)` |
//! | `(0..n).into_par_iter().map(f).collect()` | [`Pool::par_map`]`(0..n, f)` |
//! | `.map(f).reduce(\|\| id, op)` | [`Pool::map_reduce`]`(items, f, id, op)` |
//! | `.for_each(f)` | [`Pool::for_each`] |
//! | `.with_min_len(n)` | [`Pool::with_chunk_size`] |
//! | `rayon::scope`, `rayon::join` | [`Pool::scope`] |
//! | `ThreadPoolBuilder::new().num_threads(n)` | [`Pool::cpu`]`().max_workers(n)` |
//!
//! The differences: there is no global pool, each pool is a value you build
//! and drop; a panic in an item comes back as a [`TaskError`] instead of
//! unwinding into the caller; and a small input runs inline, as measured.
//!
//! # From tokio
//!
//! | tokio | workwise (`aio`, feature `tokio`) |
//! |---|---|
//! | `spawn_blocking(f)` | `aio::run_blocking(&pool, f)`, on a bounded [`Pool::io`] of yours |
//! | `join_all`, `JoinSet` | `aio::gather`, `aio::TaskGroup` |
//! | `buffer_unordered(n)`, a `Semaphore` around spawns | `aio::gather_limited`, `aio::map_unordered` |
//! | `time::timeout` | `aio::timeout` (an error is [`TaskError::TimedOut`]) |
//! | awaiting a `JoinHandle` | awaiting a [`TaskHandle`]: it is a `Future` on any runtime |
//! | finding a blocking call in async code | `aio::BlockingDetector` |
//!
//! ```
//! let pool = workwise::Pool::io().build()?;
//! let handle = pool.submit(|| 6 * 7);
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! assert_eq!(handle.await, Ok(42)); // no runtime-specific handle needed
//! # });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(doc)]
use crate::{
    as_completed, as_completed_timeout, testing, wait, AsCompleted, CircuitBreaker, Clock, Item,
    ManualClock, Policy, PolicyBuilder, Pool, PoolBuilder, PoolStats, Queue, RateLimiter, Retry,
    ReturnWhen, TaskError, TaskHandle, Waited, Workload,
};
