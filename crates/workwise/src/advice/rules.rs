//! The rule reference: what each code means, the figures it reads, when it
//! speaks, which of the guide's pitfalls it catches, and a wrong and a right
//! use side by side.
//!
//! This module holds documentation only. The examples marked wrong are the
//! mistake each rule exists for, run on a real pool; the right ones do the
//! same work the way the fix says, and the rule stays silent. Each runnable
//! example asserts both, so this page cannot drift from the rules.
//!
//! # Reading a finding
//!
//! A finding is an [`Advice`](super::Advice): a [`Code`](super::Code), a
//! [`Severity`](super::Severity) (W06 is `Info`, every other rule
//! `Warning`), the object it is about (`pool 'fetch'`), a sentence, the
//! [`Figure`](super::Figure)s that triggered it, and the fix. Its `Display`
//! is one line:
//!
//! ```text
//! W09 warning [pool 'script'] concurrency that does not pay: 20 tasks never ran two at a time (each finished before the next one started), so the pool only added its cost (tasks=20, peak_running=1, max_workers=8); fix: submit them all before waiting (or use map / par_map); if each needs the one before, run them in a plain loop
//! ```
//!
//! # The figures the pool rules read
//!
//! The pool rules (W01, W02, W04, W05, W06, W08, W09, W10) read
//! [`PoolStats`](crate::PoolStats), kept while the pool's timing is on (the
//! default; [`PoolBuilder::timing`](crate::PoolBuilder::timing)`(false)`
//! leaves only counts, and most rules then stay silent):
//!
//! - the **CPU share** ([`PoolStats::cpu_share`](crate::PoolStats::cpu_share)):
//!   of the time sampled tasks had a core, how much they spent computing.
//!   Time spent waiting for a core (Linux's schedstat run delay) is taken
//!   out first, so eight computing threads on two cores still read as
//!   computing rather than waiting;
//! - the **task times** (a histogram: median, 99th percentile), **busy**
//!   time and **queue wait**;
//! - **peak running**, the most tasks that ran at the same moment, and the
//!   age of the oldest task running now;
//! - **lost panics**, panicked tasks whose handles were dropped unread;
//! - the **task cost**: one cold round trip through the pool (submit a
//!   no-op, wait for it), the fastest of five, measured by
//!   [`Pool::advice`](crate::Pool::advice) the first time it finds the pool
//!   open and idle.
//!
//! Every threshold is a ratio of measured figures, with a floor on how much
//! was seen before a rule may speak: the model rules (W01, W02 and W04's
//! first form) wait for 16 finished tasks and 20 ms of busy time, so a
//! handful of tasks never triggers anything.
//!
//! # The guide's pitfalls, and who catches them
//!
//! | Code | Rule | The guide's pitfall | Asked of |
//! |---|---|---|---|
//! | W01 | CPU-bound work on an I/O pool | threads used for CPU-bound work (pitfall 1) | [`Pool::advice`](crate::Pool::advice) |
//! | W02 | I/O-bound work on the CPU pool | the decision table read backwards: waiting work on a pool sized for computing | `Pool::advice` |
//! | W03 | a blocking call in an async task | blocking the event loop (pitfall 2) | `aio::BlockingDetector` (feature `tokio`) |
//! | W04 | too many workers | too many workers (pitfall 4), pool sizes | `Pool::advice` |
//! | W05 | tiny tasks | one task per item instead of batches | `Pool::advice` |
//! | W06 | the pool's size is the limit | I/O-bound pools may have more workers than cores | `Pool::advice` |
//! | W07 | a queue that does not keep up | a producer-consumer queue without a limit, or without enough consumers | `Queue::advice` |
//! | W08 | lost errors | exceptions in workers nobody handles | `Pool::advice` |
//! | W09 | concurrency that does not pay | when not to use concurrency: dependent steps, small inputs | `Pool::advice` |
//! | W10 | a task that may hang | waiting without a timeout | `Pool::advice` |
//! | W11 | large arguments copied into worker processes | large data copied to each worker process | `ProcessPool::advice` (feature `process`) |
//!
//! Two of the guide's pitfalls need no rule: shared state without a lock
//! (pitfall 3) does not compile, since a closure given to a pool must be
//! `Send` and a plain `&mut` counter cannot be shared; and a pool that is
//! never shut down (pitfall 5) cannot happen, since dropping a
//! [`Pool`](crate::Pool) finishes its queue and joins its threads.
//!
//! The examples below share one helper, shown once here and hidden in the
//! others: `compute(d)` keeps its thread on a CPU for about `d`.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! fn compute(d: Duration) -> u64 {
//!     let end = Instant::now() + d;
//!     let mut x = 1u64;
//!     while Instant::now() < end {
//!         x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
//!     }
//!     x
//! }
//! assert_ne!(compute(Duration::from_millis(1)), 0);
//! ```
//!
//! # W01: CPU-bound work on an I/O pool
//!
//! The threads of a [`Pool::io`](crate::Pool::io) outnumber the cores
//! (`min(32, cores + 4)` by default) because its tasks are expected to
//! wait. When they compute instead, the extra threads only take turns on
//! the cores, and every task takes longer than it would on a
//! [`Pool::cpu`](crate::Pool::cpu).
//!
//! **Reads**: the CPU share, over at least 16 finished tasks and 20 ms of
//! busy time. **Speaks** on an I/O pool whose tasks were on a CPU more than
//! 0.7 (70%) of the time they had a core. **Figures**: `cpu_share`,
//! `tasks`, `busy`, `cpu`, `sampled_run_delay`.
//!
//! **The guide's pitfall**: the first of its common pitfalls, threads for
//! CPU-bound work. In Python the interpreter lock serialises such threads;
//! in Rust they do run in parallel, but more of them than cores only adds
//! switching, so the fix is the cores-sized pool rather than processes.
//!
//! Wrong: 64 computations of 3 ms on eight I/O threads.
//!
//! ```
//! # use std::time::{Duration, Instant};
//! # fn compute(d: Duration) -> u64 {
//! #     let end = Instant::now() + d;
//! #     let mut x = 1u64;
//! #     while Instant::now() < end {
//! #         x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
//! #     }
//! #     x
//! # }
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().max_workers(8).build()?;
//! let handles: Vec<_> = (0..64)
//!     .map(|_| pool.submit(|| compute(Duration::from_millis(3))))
//!     .collect();
//! for h in handles {
//!     h.wait().unwrap();
//! }
//! let advice = pool.advice();
//! assert!(advice.iter().any(|a| a.code == Code::W01), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! Right: the same work on the CPU pool (or with
//! [`Pool::par_map`](crate::Pool::par_map)).
//!
//! ```
//! # use std::time::{Duration, Instant};
//! # fn compute(d: Duration) -> u64 {
//! #     let end = Instant::now() + d;
//! #     let mut x = 1u64;
//! #     while Instant::now() < end {
//! #         x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
//! #     }
//! #     x
//! # }
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::cpu().build()?;
//! let handles: Vec<_> = (0..64)
//!     .map(|_| pool.submit(|| compute(Duration::from_millis(3))))
//!     .collect();
//! for h in handles {
//!     h.wait().unwrap();
//! }
//! let advice = pool.advice();
//! assert!(!advice.iter().any(|a| a.code == Code::W01), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! # W02: I/O-bound work on the CPU pool
//!
//! [`Pool::cpu`](crate::Pool::cpu) has one thread per core. A task that
//! sleeps, reads a socket or waits for a database holds one of those few
//! threads while its core idles, and the queue behind it waits.
//!
//! **Reads**: the CPU share, with the same floors as W01 (16 tasks, 20 ms
//! busy). **Speaks** on a CPU pool whose tasks were on a CPU less than 0.3
//! (30%) of their busy time. **Figures**: as W01.
//!
//! **The guide's pitfall**: its decision table read the wrong way round:
//! waiting work belongs on threads that outnumber the cores, not on a pool
//! sized for computing.
//!
//! Wrong: 32 waits of 3 ms on the CPU pool.
//!
//! ```
//! use std::time::Duration;
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::cpu().build()?;
//! let handles: Vec<_> = (0..32)
//!     .map(|_| pool.submit(|| std::thread::sleep(Duration::from_millis(3))))
//!     .collect();
//! for h in handles {
//!     h.wait().unwrap();
//! }
//! let advice = pool.advice();
//! assert!(advice.iter().any(|a| a.code == Code::W02), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! Right: waiting work on the I/O pool.
//!
//! ```
//! use std::time::Duration;
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().max_workers(32).build()?;
//! let handles: Vec<_> = (0..64)
//!     .map(|_| pool.submit(|| std::thread::sleep(Duration::from_millis(3))))
//!     .collect();
//! for h in handles {
//!     h.wait().unwrap();
//! }
//! let advice = pool.advice();
//! assert!(!advice.iter().any(|a| a.code == Code::W02), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! # W03: a blocking call in an async task
//!
//! An async task must return from each poll quickly: a runtime thread runs
//! many tasks, one poll at a time. A `std::thread::sleep`, a blocking read
//! or a long computation inside a poll holds that thread, and every other
//! task on it stalls for as long.
//!
//! **Reads**: the duration of each poll of the tasks an
//! `aio::BlockingDetector` watches (tasks spawned with its `spawn_named`,
//! wrapped with its `watch`, or spawned by a `TaskGroup` while it is
//! installed; plain `tokio::spawn` is not watched). **Speaks** about a
//! task with a poll longer than the detector's threshold (10 ms unless set
//! with `BlockingDetector::with_threshold`), naming the task and how long
//! it held its thread.
//!
//! **The guide's pitfall**: the second, blocking the event loop.
//!
//! Needs the feature `tokio`, and the detector's findings as advice, which
//! are being added alongside `aio::BlockingDetector`; until then its
//! `reports()` give the same facts. So these examples are not compiled here.
//!
//! Wrong: a synchronous sleep inside an async task.
//!
//! ```ignore
//! use std::time::Duration;
//! use workwise::advice::Code;
//! use workwise::aio::BlockingDetector;
//!
//! let detector = BlockingDetector::with_threshold(Duration::from_millis(20));
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! detector
//!     .spawn_named("parse-config", async {
//!         std::thread::sleep(Duration::from_millis(50)); // holds the runtime thread
//!     })
//!     .await
//!     .unwrap();
//! # });
//! assert!(detector.advice().iter().any(|a| a.code == Code::W03));
//! ```
//!
//! Right: await the runtime's sleep, and send blocking calls to a thread
//! pool with `aio::run_blocking`.
//!
//! ```ignore
//! use std::time::Duration;
//! use workwise::advice::Code;
//! use workwise::aio::{self, BlockingDetector};
//! use workwise::Pool;
//!
//! let detector = BlockingDetector::with_threshold(Duration::from_millis(20));
//! let files = Pool::io().name("files").build()?;
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! detector
//!     .spawn_named("parse-config", async move {
//!         tokio::time::sleep(Duration::from_millis(50)).await; // yields the thread
//!         aio::run_blocking(&files, || std::fs::read("config.toml")).await
//!     })
//!     .await
//!     .unwrap();
//! # });
//! assert!(!detector.advice().iter().any(|a| a.code == Code::W03));
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! # W04: too many workers
//!
//! More computing threads than cores do not finish sooner: they take turns,
//! each switch costs, and each thread holds its stack. A pool configured far
//! above anything its work used is the same mistake at rest.
//!
//! **Speaks** in two forms:
//!
//! - **computing threads above the cores**: with W01's floors (16 tasks,
//!   20 ms busy), the CPU share above 0.7 and more than 2 × cores tasks
//!   running at once (on any pool). **Figures**: W01's, plus
//!   `peak_running` and `cores`.
//! - **a pool sized far above its use**: after 64 tasks, a pool of at least
//!   64 workers whose size is at least 8 times the most tasks that ever ran
//!   at once. **Figures**: `max_workers`, `peak_running`, `tasks`; the fix
//!   suggests twice the peak.
//!
//! **The guide's pitfall**: the fourth, too many workers, and its advice to
//! size pools by the cores for computing and more generously, but within
//! bounds, for waiting.
//!
//! Wrong: a pool of 256 for work that never runs more than four at a time.
//!
//! ```
//! use std::time::Duration;
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().max_workers(256).build()?;
//! for _ in 0..16 {
//!     let four: Vec<_> = (0..4)
//!         .map(|_| pool.submit(|| std::thread::sleep(Duration::from_millis(1))))
//!         .collect();
//!     for h in four {
//!         h.wait().unwrap();
//!     }
//! }
//! let advice = pool.advice();
//! assert!(advice.iter().any(|a| a.code == Code::W04), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! Wrong too: far more computing threads than cores.
//!
//! ```
//! # use std::time::{Duration, Instant};
//! # fn compute(d: Duration) -> u64 {
//! #     let end = Instant::now() + d;
//! #     let mut x = 1u64;
//! #     while Instant::now() < end {
//! #         x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
//! #     }
//! #     x
//! # }
//! use workwise::advice::Code;
//! use workwise::{available_cores, Pool};
//!
//! let cores = available_cores();
//! let pool = Pool::io().max_workers(4 * cores + 2).build()?;
//! let handles: Vec<_> = (0..16 * cores)
//!     .map(|_| pool.submit(|| compute(Duration::from_millis(4))))
//!     .collect();
//! for h in handles {
//!     h.wait().unwrap();
//! }
//! let advice = pool.advice();
//! assert!(advice.iter().any(|a| a.code == Code::W04), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! Right: a pool sized to what runs at once.
//!
//! ```
//! use std::time::Duration;
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().max_workers(8).build()?;
//! for _ in 0..16 {
//!     let four: Vec<_> = (0..4)
//!         .map(|_| pool.submit(|| std::thread::sleep(Duration::from_millis(1))))
//!         .collect();
//!     for h in four {
//!         h.wait().unwrap();
//!     }
//! }
//! let advice = pool.advice();
//! assert!(!advice.iter().any(|a| a.code == Code::W04), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! # W05: tiny tasks
//!
//! Each task costs a hand-off: a queue push, often a wake-up, a handle to
//! resolve. A task much smaller than that spends most of its time in the
//! pool, not in the work.
//!
//! **Reads**: the median task time and the measured task cost. **Speaks**
//! after 64 tasks when the median task took less than 10 times the task
//! cost, the cost taken as at most 100 µs (a cold round trip is 30-60 µs
//! here; a slower probe was preempted). **Figures**: `median_task`, `task_cost`, `tasks` (in µs); the fix
//! suggests a batch size, about ten task costs' worth of items.
//!
//! **The guide's pitfall**: its tip to batch work instead of submitting one
//! task per item, and "simple, fast operations" among the times not to use
//! concurrency.
//!
//! Wrong: five thousand multiplications, one task each.
//!
//! ```
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::cpu().build()?;
//! let handles: Vec<_> = (0..5_000u64)
//!     .map(|i| pool.submit(move || i.wrapping_mul(31)))
//!     .collect();
//! for h in handles {
//!     h.wait().unwrap();
//! }
//! let advice = pool.advice();
//! assert!(advice.iter().any(|a| a.code == Code::W05), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! Right: the same items through [`Pool::par_map`](crate::Pool::par_map),
//! which cuts them into chunks by measured cost (and runs an input this
//! small inline).
//!
//! ```
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::cpu().build()?;
//! let items: Vec<u64> = (0..5_000).collect();
//! let out = pool.par_map(&items, |i| i.wrapping_mul(31)).unwrap();
//! assert_eq!(out.len(), 5_000);
//! let advice = pool.advice();
//! assert!(!advice.iter().any(|a| a.code == Code::W05), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! # W06: the pool's size is the limit
//!
//! An I/O pool whose every worker is busy waiting, with tasks queued behind
//! them, finishes only as fast as its size allows: the work is neither
//! computing nor short of cores, it is short of threads. This is the one
//! rule of severity `Info`: nothing is wrong, the run could be faster.
//!
//! **Reads**: with W01's floors (16 tasks, 20 ms busy), peak running, the
//! CPU share, the queue wait and the median task. **Speaks** on an I/O pool
//! when as many tasks ran at once as it has workers, the CPU share was
//! under 0.3, and each task waited in the queue on average at least as long
//! as the median task ran. **Figures**: `max_workers`, `mean_queue_wait`,
//! `median_task`, `cpu_share`. The fix names a size: enough workers for
//! everything that was in flight (Little's law over busy and queue time),
//! capped by what the cores could serve at that CPU share, and kept between
//! one more than now and [`MAX_THREADS`](crate::MAX_THREADS).
//!
//! **The guide's pitfall**: the other side of its pool-size advice: for
//! I/O-bound work, more workers than cores are fine, and a pool too small
//! for its waits leaves the run slow for no reason.
//!
//! Wrong: forty 5 ms waits on two workers.
//!
//! ```
//! use std::time::Duration;
//! use workwise::advice::{Code, Severity};
//! use workwise::Pool;
//!
//! let pool = Pool::io().max_workers(2).build()?;
//! let handles: Vec<_> = (0..40)
//!     .map(|_| pool.submit(|| std::thread::sleep(Duration::from_millis(5))))
//!     .collect();
//! for h in handles {
//!     h.wait().unwrap();
//! }
//! let advice = pool.advice();
//! let w06 = advice.iter().find(|a| a.code == Code::W06).expect("W06");
//! assert_eq!(w06.severity, Severity::Info);
//! assert!(w06.fix.contains("max_workers("), "{w06}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! Right: a pool large enough for its waits.
//!
//! ```
//! use std::time::Duration;
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().max_workers(64).build()?;
//! let handles: Vec<_> = (0..40)
//!     .map(|_| pool.submit(|| std::thread::sleep(Duration::from_millis(5))))
//!     .collect();
//! for h in handles {
//!     h.wait().unwrap();
//! }
//! let advice = pool.advice();
//! assert!(!advice.iter().any(|a| a.code == Code::W06), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! # W07: a queue that does not keep up
//!
//! A producer-consumer [`Queue`](crate::Queue) shows whether its consumers
//! keep up: an unbounded one that only grows will exhaust memory, and a
//! bounded one whose producers mostly wait for room has consumers for a
//! bottleneck.
//!
//! **Reads** the queue's own figures (puts, gets, length and peak length,
//! puts that found the queue full and how long they waited). **Speaks** in
//! two forms: an unbounded queue with a large backlog (on the order of a
//! thousand items) still at its peak, holding at least half of everything
//! ever put; or a bounded queue, after a few dozen puts, where at least half
//! the puts found it full and the producers spent more than half the
//! queue's life waiting. The fix: bound the queue so producers wait for
//! room, or add consumers; a larger capacity only delays the wait.
//!
//! **The guide's pitfall**: its producer-consumer advice, a queue with a
//! `maxsize`: a limit turns a backlog into back-pressure.
//!
//! Asked of a queue with `Queue::advice`, which is being added with the
//! queue's figures; these examples are not compiled here until it lands.
//!
//! Wrong: an unbounded queue nobody drains.
//!
//! ```ignore
//! use workwise::advice::Code;
//! use workwise::Queue;
//!
//! let q = Queue::unbounded();
//! for i in 0..5_000 {
//!     q.put(i).unwrap();
//! }
//! assert!(q.advice().iter().any(|a| a.code == Code::W07));
//! ```
//!
//! Right: a bounded queue with consumers that keep up.
//!
//! ```ignore
//! use workwise::advice::Code;
//! use workwise::{Pool, Queue};
//!
//! let pool = Pool::io().build()?;
//! let q = Queue::bounded(100)?;
//! let consumers = pool.consume(&q, 4, |n: u64| {
//!     std::hint::black_box(n);
//! });
//! for n in 0..5_000 {
//!     q.put(n).unwrap();
//! }
//! q.join();
//! q.close();
//! for c in consumers {
//!     c.wait().unwrap();
//! }
//! assert!(!q.advice().iter().any(|a| a.code == Code::W07));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # W08: lost errors
//!
//! A task that panics becomes a [`TaskError::Panicked`](crate::TaskError)
//! in its handle. Drop the handle unread and the error is gone: the
//! program carries on without the result and without a word.
//!
//! **Reads**: lost panics, counted whether the handle was dropped before
//! or after its task panicked. **Speaks** as soon as one is lost: there is
//! no floor. **Figures**: `lost_panics`, `panicked`.
//!
//! **The guide's pitfall**: its advice to handle exceptions in workers; a
//! fire-and-forget submit is where they go unhandled.
//!
//! Wrong: fire and forget.
//!
//! ```
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().build()?;
//! drop(pool.submit(|| -> u32 { panic!("parse error") }));
//! pool.shutdown(); // every accepted task has run
//! let advice = pool.advice();
//! let w08 = advice.iter().find(|a| a.code == Code::W08).expect("W08");
//! assert_eq!(w08.figure("lost_panics"), Some(1.0));
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! Right: keep the handle and read it (or catch the error inside the task
//! and log it).
//!
//! ```
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().build()?;
//! let h = pool.submit(|| -> u32 { panic!("parse error") });
//! if let Err(e) = h.wait() {
//!     eprintln!("parsing failed: {e}"); // read, reported
//! }
//! pool.shutdown();
//! let advice = pool.advice();
//! assert!(!advice.iter().any(|a| a.code == Code::W08), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! # W09: concurrency that does not pay
//!
//! A pool pays only when tasks overlap. Submitting a task and waiting for
//! it before submitting the next runs everything one at a time, plus the
//! pool's cost per task; so does a whole input smaller than that cost.
//!
//! **Speaks** in two forms:
//!
//! - **a chain**: after 8 tasks, on a pool of more than one worker, when
//!   never more than one task ran at once. **Figures**: `tasks`,
//!   `peak_running`, `max_workers`.
//! - **a run too small**: after 8 tasks, when all of them together were
//!   busy less than 1 ms: spread over any number of threads, that work
//!   could save less than a millisecond, and each task pays a hand-off (and
//!   on an idle pool a wake-up). **Figures**: `tasks`, `busy`, and
//!   `task_cost` once measured.
//!
//! **The guide's pitfall**: its list of times not to use concurrency:
//! steps that depend on the one before, small inputs, simple and fast
//! operations.
//!
//! Wrong: each task waited for before the next is submitted.
//!
//! ```
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().max_workers(8).build()?;
//! for i in 0..20u64 {
//!     assert_eq!(pool.submit(move || i + 1).wait(), Ok(i + 1));
//! }
//! let advice = pool.advice();
//! assert!(advice.iter().any(|a| a.code == Code::W09), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! Right: submit everything, then wait (or use
//! [`Pool::map`](crate::Pool::map)); if each step needs the one before, a
//! plain loop without a pool.
//!
//! ```
//! use std::time::Duration;
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().max_workers(8).build()?;
//! let handles: Vec<_> = (0..16)
//!     .map(|_| pool.submit(|| std::thread::sleep(Duration::from_millis(5))))
//!     .collect();
//! for h in handles {
//!     h.wait().unwrap();
//! }
//! let advice = pool.advice();
//! assert!(!advice.iter().any(|a| a.code == Code::W09), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! # W10: a task that may hang
//!
//! A thread cannot be stopped from outside: a task stuck on a call with no
//! timeout holds its worker for good, and a
//! [`wait_timeout`](crate::TaskHandle::wait_timeout) on its handle only
//! stops the waiting, not the task.
//!
//! **Reads**: the age of the oldest running task and the task-time
//! histogram. **Speaks** while a task has been running at least 20 times
//! the 99th percentile of the finished tasks and at least 1 s, once 10
//! tasks have finished; with fewer to compare with, once it has run 30 s.
//! The finding goes away when the task ends. **Figures**: `running_for`,
//! `finished`, `p99_task`.
//!
//! **The guide's pitfall**: its advice to set timeouts: on the blocking
//! call itself, since the wait for a thread's result cannot end the thread.
//!
//! Wrong: a task stuck on a receive that nothing will answer. This example
//! is not run here: the rule's floor is a task running for a second, longer
//! than a doc test should take; the test
//! `w10_a_task_running_far_longer_than_the_rest_is_suspected` in
//! `tests/advice.rs` runs this same workload.
//!
//! ```no_run
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().max_workers(4).build()?;
//! let quick: Vec<_> = (0..20)
//!     .map(|_| pool.submit(|| std::thread::sleep(Duration::from_millis(1))))
//!     .collect();
//! for h in quick {
//!     h.wait().unwrap();
//! }
//! let (_peer, rx) = mpsc::channel::<u32>(); // the peer never sends
//! let _stuck = pool.submit(move || rx.recv().ok());
//! workwise::testing::wait_for(
//!     || pool.advice().iter().any(|a| a.code == Code::W10),
//!     Duration::from_secs(30),
//! )
//! .expect("W10 once the task has run for a second");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! Right: the call that may hang has its own timeout, so the task ends by
//! itself. (For code with no timeout of its own, a
//! `process::ProcessPool` with a `timeout` kills the worker process, which
//! a thread pool cannot do.)
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! let pool = Pool::io().max_workers(4).build()?;
//! let quick: Vec<_> = (0..20)
//!     .map(|_| pool.submit(|| std::thread::sleep(Duration::from_millis(1))))
//!     .collect();
//! for h in quick {
//!     h.wait().unwrap();
//! }
//! let (_peer, rx) = mpsc::channel::<u32>(); // the peer never sends
//! let bounded = pool.submit(move || rx.recv_timeout(Duration::from_millis(100)).ok());
//! assert_eq!(bounded.wait(), Ok(None)); // timed out, the worker is free
//! let advice = pool.advice();
//! assert!(!advice.iter().any(|a| a.code == Code::W10), "{advice:?}");
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```
//!
//! # W11: large arguments copied into worker processes
//!
//! A worker process shares no memory with its parent: every argument is
//! serialized and written down a pipe, once per task. A large input sent
//! with each of many tasks costs its size in copying each time, and its
//! size again in each worker's memory.
//!
//! **Reads** the process pool's figures: the bytes written to the workers
//! per task. **Speaks** when tasks carry large arguments that a
//! `process::SharedBytes` would map into every worker once instead of
//! copying. The fix: put the large data in `SharedBytes` and send the
//! handle.
//!
//! **The guide's pitfall**: its warning about process pools: the large data
//! copied (pickled) into each process, where shared memory is the fix.
//!
//! Asked of a process pool with `ProcessPool::advice`, feature `process`
//! (Linux), which is being added with the process pool's figures. A process
//! pool also needs `process::init` as the first line of `main`, which a doc
//! test cannot give; so these examples are not compiled here.
//!
//! Wrong: the same megabyte copied into every task.
//!
//! ```ignore
//! use workwise::advice::Code;
//! use workwise::process::{ProcessPool, Task};
//!
//! fn count_zeros((data, from): (Vec<u8>, usize)) -> usize {
//!     data[from..].iter().filter(|&&b| b == 0).count()
//! }
//! const COUNT_ZEROS: Task<(Vec<u8>, usize), usize> = workwise::process_task!(count_zeros);
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     workwise::process::init(&[&COUNT_ZEROS]);
//!     let pool = ProcessPool::builder().workers(4).build()?;
//!     let data = vec![0u8; 1 << 20];
//!     let handles: Vec<_> = (0..64)
//!         .map(|i| pool.submit(COUNT_ZEROS, (data.clone(), i)))
//!         .collect();
//!     for h in handles {
//!         h.wait()?;
//!     }
//!     assert!(pool.advice().iter().any(|a| a.code == Code::W11));
//!     Ok(())
//! }
//! ```
//!
//! Right: the megabyte mapped once by every worker.
//!
//! ```ignore
//! use workwise::advice::Code;
//! use workwise::process::{ProcessPool, SharedBytes, Task};
//!
//! fn count_zeros((data, from): (SharedBytes, usize)) -> usize {
//!     data[from..].iter().filter(|&&b| b == 0).count()
//! }
//! const COUNT_ZEROS: Task<(SharedBytes, usize), usize> = workwise::process_task!(count_zeros);
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     workwise::process::init(&[&COUNT_ZEROS]);
//!     let pool = ProcessPool::builder().workers(4).build()?;
//!     let data = SharedBytes::new(&vec![0u8; 1 << 20])?;
//!     let handles: Vec<_> = (0..64)
//!         .map(|i| pool.submit(COUNT_ZEROS, (data.clone(), i)))
//!         .collect();
//!     for h in handles {
//!         h.wait()?;
//!     }
//!     assert!(!pool.advice().iter().any(|a| a.code == Code::W11));
//!     Ok(())
//! }
//! ```
