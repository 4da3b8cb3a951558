//! Lazy parallel iteration over a pool: [`Pool::map`], [`Pool::map_unordered`],
//! [`as_completed`] (and [`as_completed_timeout`]), and [`wait`] for a set of
//! handles, as Python's `concurrent.futures.wait`.
//!
//! `map` and `map_unordered` pull their input lazily and keep a bounded number
//! of chunks in flight (two per worker), so a ten-million-item or endless
//! iterator is never buffered whole. The user's closure is a generic
//! parameter all the way into the task, so it is inlined there.
//!
//! # How items are batched
//!
//! 1. Chunks start at one item and are sized from the last finished chunk's
//!    time per item, aiming at ~100 µs of work (up to 4,096 items), so slow
//!    I/O items run one per task while tiny items are batched instead of
//!    paying a task each.
//! 2. A chunk is bounded by time as well as count: it reads the clock every
//!    few items (every item once items take over 2 µs; at most every 4 on
//!    an I/O pool, 256 on others) and stops taking items once it has run for
//!    ~400 µs. It hands its untouched items back; the iterator cuts them into
//!    chunks at the new pace (into no more chunks than it keeps in flight)
//!    and submits them at once, ahead of new input, so idle workers take
//!    them. A run of slow items after fast ones therefore waits side by side
//!    on the pool instead of one after another on one thread.
//! 3. Results keep their input positions, so `map` yields them in input
//!    order however chunks were cut, and each item exactly once.
//! 4. Items handed back are resubmitted when the iterator runs (inside
//!    `next`), as new input is pulled; an iterator left unpolled holds them.
//!
//! # Dropping early
//!
//! Dropping a `Map` or `MapUnordered` cancels every chunk it submitted that
//! has not started (as Python's `Executor.map` cancels the futures it has not
//! yielded): those items never run. A chunk already running finishes its
//! current item and at most its time budget, and its results are dropped.
//!
//! Files: `map.rs` (`map`, `map_unordered` and the engine that batches
//! them), `as_completed.rs`, `wait.rs`, and `completions.rs` (the set of
//! handles read back in completion order, under both).

mod as_completed;
mod completions;
mod map;
mod wait;

pub use as_completed::{as_completed, as_completed_timeout, AsCompleted};
pub use map::{Map, MapUnordered};
pub use wait::{wait, ReturnWhen, Waited};
