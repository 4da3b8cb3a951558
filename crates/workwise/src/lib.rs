//! # workwise: concurrency with the advice built in
//!
//! The well-known rules of concurrent programming are the defaults here:
//! pick the model by the work, bound every pool and queue, give every wait a
//! timeout, turn a panicking task into an error value, name your threads, and
//! shut pools down when they go out of scope.
//!
//! ## Which model for which work
//!
//! | The work | Model | In workwise |
//! |---|---|---|
//! | Web scraping, file I/O, database calls: mostly waiting | threads, more than cores | [`Pool::io`] (elastic, `min(32, cores + 4)`) |
//! | Image processing, number crunching, data analysis | one thread per core, work-stealing | [`Pool::cpu`] |
//! | Thousands of simultaneous connections | an async runtime | `aio` (feature `tokio`): `gather_limited`, `TaskGroup`, `timeout`, `BlockingDetector`; blocking calls go to [`Pool::io`] through `aio::run_blocking` |
//! | Small, fast, or step-by-step dependent work | a plain loop | [`Workload::Sequential`] |
//! | Code that may crash, abort, leak or hang (FFI, decoders, untrusted input) | worker processes, for isolation | `process::ProcessPool` (feature `process`): a crash costs one task, never the pool |
//!
//! Python needs processes for CPU work because of its global interpreter
//! lock; Rust threads run truly in parallel, so [`Pool::cpu`] is the answer
//! there, and the compiler rejects the data races that make shared state
//! dangerous (a closure that is not `Send` cannot be submitted at all).
//!
//! ## Hello, pool
//!
//! ```
//! use std::time::Duration;
//! use workwise::{Pool, TaskError};
//!
//! let pool = Pool::io().name("fetch").build()?;     // bounded, named, sized
//! let mut h = pool.submit(|| "page body".len());
//! assert_eq!(h.wait_timeout(Duration::from_secs(30)), Ok(9));
//!
//! let bad = pool.submit(|| -> usize { panic!("parse error") });
//! assert!(matches!(bad.wait(), Err(TaskError::Panicked { .. })));
//!
//! let squares: Vec<u32> = pool.map(1..=3u32, |x| x * x).map(Result::unwrap).collect();
//! assert_eq!(squares, [1, 4, 9]);
//! # Ok::<(), workwise::BuildError>(())
//! ```
//!
//! Dropping `pool` finishes its queued tasks and joins its threads.
//!
//! ## The patterns
//!
//! | Pattern | In workwise |
//! |---|---|
//! | Map-reduce, batching tiny items | [`Pool::map_reduce`], [`Pool::par_map`]: chunked automatically |
//! | Fan-out, fan-in | [`Pool::map`], [`as_completed`], [`Pool::scope`]; `.await` a [`TaskHandle`] |
//! | Producer-consumer | [`Queue`] (bounded, done-tracking [`Item`] guards, `join`, `close`), [`Pool::consume`] |
//! | Rate limiting | [`RateLimiter`] (GCRA, FIFO waiters, monotonic clock) |
//! | Circuit breaking | [`CircuitBreaker`] (exact under concurrency) |
//! | Retries with backoff | [`Retry`] (exponential, full jitter, server hints) |
//! | All of the above around one call | [`Policy`] |
//! | Testing time-dependent code | [`ManualClock`] |
//!
//! ## When not to use concurrency
//!
//! Small inputs, cheap steps and step-by-step dependencies cost more in
//! hand-offs than they gain: a task hand-off costs about a microsecond when a
//! worker is spinning and tens of microseconds when it must be woken. The
//! data-parallel calls measure this and run small inputs inline
//! ([`PoolStats::inline_runs`]); [`Workload::Sequential`] names the case in
//! code.
//!
//! ## Memory
//!
//! Threads share memory: tasks borrow (with [`Pool::scope`]) or move data,
//! nothing is copied to workers as it is to worker processes. Each thread
//! costs its stack (set with [`PoolBuilder::stack_size`]), which is why pools
//! are bounded ([`MAX_THREADS`]) and queues have capacities: a queue records
//! its [`peak length`](Queue::peak_len) and [`figures`](Queue::stats), and
//! [`Queue::advice`] says when an unbounded one keeps growing.
//!
//! ## Debugging
//!
//! Worker threads are named `{pool name}-{i}` (visible in debuggers, panic
//! messages and `top -H`); with the `tracing` feature, workers log their
//! start and exit. A panicking task becomes [`TaskError::Panicked`] with its
//! message, never a lost thread.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

pub mod advice;
#[cfg(feature = "tokio")]
pub mod aio;
mod breaker;
mod clock;
mod iter;
mod limit;
mod par;
mod policy;
mod pool;
#[cfg(feature = "process")]
pub mod process;
mod queue;
mod retry;
mod sync;
mod workload;

pub use breaker::{
    BreakerBuildError, BreakerError, BreakerState, BreakerStats, CircuitBreaker,
    CircuitBreakerBuilder,
};
pub use clock::{Clock, ManualClock, RealClock, Sleep};
pub use iter::{as_completed, AsCompleted, Map, MapUnordered};
pub use limit::{LimitError, RateLimiter, RateLimiterBuilder, RetryAfter, TryAcquireError};
pub use par::{IntoParSource, Par, ParSource};
pub use policy::{Policy, PolicyBuildError, PolicyBuilder, PolicyError};
pub use pool::{
    BuildError, Pool, PoolBuilder, PoolStats, Scope, TaskError, TaskHandle, TrySubmitError,
    MAX_HELP_DEPTH, MAX_THREADS,
};
pub use queue::{
    ConsumerReport, GetError, Item, JoinTimeoutError, PutError, PutTimeoutError, Queue, QueueError,
    QueueStats, TryPutError,
};
pub use retry::{Delays, GaveUp, Retry, RetryBuildError, RetryBuilder, RetryError};
pub use workload::{available_cores, Workload};
