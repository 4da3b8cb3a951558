//! # workwise: concurrency with the advice built in
//!
//! The well-known rules of concurrent programming are the defaults here:
//! pick the model by the work, bound every pool and queue, give every wait a
//! timeout, turn a panicking task into an error value, name your threads, and
//! shut pools down when they go out of scope.
//!
//! New to the crate, or coming from Python's `concurrent.futures` and
//! `queue`, from rayon or from tokio? The [`guide`] explains the concepts
//! and maps the names you know to workwise's.
//!
//! ## Which model for which work
//!
//! (The [guide](guide#which-model-for-which-work) says why.)
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
//! # Ok::<(), workwise::PoolBuildError>(())
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
//! | Testing concurrent code | [`testing`]: `wait_for` a condition, `stress` with seeds and `replay`, `CallCounter`, `Chaos` delays |
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
//! ## Debugging: names, logs and spans
//!
//! Worker threads are named `{pool name}-{i}` (visible in debuggers, panic
//! messages and `top -H`), and a panicking task becomes
//! [`TaskError::Panicked`] with its message, never a lost thread.
//!
//! With the feature `tracing`, the pools log through the
//! [`tracing`](https://docs.rs/tracing) facade, so any subscriber shows it:
//!
//! - each task runs inside a span `task` with fields `pool`, `id` (a
//!   number per task of the pool) and `name`, the name given with
//!   [`Pool::submit_named`], so every event a task logs says where it came
//!   from;
//! - workers log their start and exit at DEBUG;
//! - the [`advice`] rules' findings go out once per pool and code at WARN,
//!   with target `workwise::advice`, when first found and when the pool
//!   shuts down (`WORKWISE_ADVICE=off` silences them).
//!
//! Log with a subscriber that prints thread names, as the guide's
//! `%(threadName)s` does:
//!
//! ```
//! # #[cfg(feature = "tracing")] {
//! use workwise::Pool;
//!
//! tracing_subscriber::fmt()
//!     .with_max_level(tracing::Level::INFO)
//!     .with_thread_names(true)
//!     .init();
//!
//! let pool = Pool::io().name("fetch").max_workers(4).build()?;
//! let page = pool.submit_named("GET /a", || {
//!     tracing::info!("fetching"); // inside the span task{pool=fetch id=.. name="GET /a"}
//!     200
//! });
//! assert_eq!(page.wait(), Ok(200));
//! # }
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! `examples/logging.rs` is a whole program; `cargo run -p workwise
//! --features tracing --example logging -- --wrong` prints (its second pool,
//! `chain`, is used wrong on purpose to show the advisor's WARN line):
//!
//! ```text
//!    0.004053161s  INFO fetch-0 task{pool=fetch id=1 name="GET /a"}: logging: fetching
//!    0.004524712s  INFO fetch-1 task{pool=fetch id=2 name="GET /b"}: logging: fetching
//!    0.004975292s  INFO fetch-3 task{pool=fetch id=4 name="GET /d"}: logging: fetching
//!    0.004777033s  INFO fetch-2 task{pool=fetch id=3 name="GET /c"}: logging: fetching
//!    0.024263747s  INFO fetch-0 task{pool=fetch id=1 name="GET /a"}: logging: fetched bytes=200
//!    0.025169036s  INFO fetch-2 task{pool=fetch id=3 name="GET /c"}: logging: fetched bytes=200
//!    0.025358319s  INFO fetch-3 task{pool=fetch id=4 name="GET /d"}: logging: fetched bytes=200
//!    0.025478092s  INFO fetch-1 task{pool=fetch id=2 name="GET /b"}: logging: fetched bytes=200
//!    0.025573219s  INFO    main logging: all fetched total=800
//!    0.028601282s  WARN    main workwise::advice: W09 warning [pool 'chain'] concurrency that does not pay: 10 tasks never ran two at a time (each finished before the next one started), so the pool only added its cost (tasks=10, peak_running=1, max_workers=4); fix: submit them all before waiting (or use map / par_map); if each needs the one before, run them in a plain loop code="W09" source=pool 'chain'
//! ```
//!
//! Each line names its thread (`fetch-2`) and its task (`GET /c`): lines
//! of tasks running at once interleave, and the span keeps them apart. The
//! WARN line comes from the advisor when the `chain` pool shut down; its
//! codes are explained in [`advice::rules`].
//!
//! To expose races that the usual timing hides (the guide's random
//! delays), [`PoolBuilder::chaos`] or `WORKWISE_CHAOS=<seed>` make pools
//! pause at random, repeatably, when a task is submitted, taken and
//! completed.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

pub mod advice;
#[cfg(feature = "tokio")]
pub mod aio;
mod breaker;
mod clock;
#[cfg(feature = "tsc")]
mod counter;
pub mod guide;
mod iter;
mod limit;
mod par;
mod policy;
mod pool;
#[cfg(feature = "process")]
pub mod process;
mod queue;
#[cfg(feature = "redis")]
pub mod redis;
mod retry;
mod sync;
pub mod testing;
mod workload;

pub use breaker::{
    BreakerBuildError, BreakerError, BreakerState, BreakerStats, CircuitBreaker,
    CircuitBreakerBuilder,
};
pub use clock::{Clock, ManualClock, RealClock, Sleep};
pub use iter::{
    as_completed, as_completed_timeout, wait, AsCompleted, Map, MapUnordered, ReturnWhen, Waited,
};
pub use limit::{
    AcquireError, LimitBuildError, RateLimiter, RateLimiterBuilder, RetryAfter, TryAcquireError,
};
pub use par::{collected, Collected, IntoParSource, Par, ParSource};
pub use policy::{Policy, PolicyBuildError, PolicyBuilder, PolicyError};
pub use pool::{
    Pool, PoolBuildError, PoolBuilder, PoolStats, Scope, TaskError, TaskHandle, TimeHistogram,
    TrySubmitError, MAX_HELP_DEPTH, MAX_THREADS,
};
pub use queue::{
    ConsumeSource, ConsumerReport, GetError, GetTimeoutError, Item, JoinTimeoutError, OwnedItem,
    PutError, PutTimeoutError, Queue, QueueBuildError, QueueStats, TryGetError, TryPutError,
};
pub use retry::{Delays, GaveUp, Retry, RetryBuildError, RetryBuilder, RetryError};
pub use workload::{available_cores, Workload};

/// The old name of [`PoolBuildError`], kept so that code written against it
/// still builds.
#[deprecated(note = "renamed to PoolBuildError")]
pub type BuildError = PoolBuildError;

/// The old name of [`QueueBuildError`], kept so that code written against it
/// still builds.
#[deprecated(note = "renamed to QueueBuildError")]
pub type QueueError = QueueBuildError;
