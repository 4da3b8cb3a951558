//! Past one machine: the queue and the rate limiter on Redis.
//!
//! When one process is not enough, the guide's producer-consumer queue and
//! rate limiter must be shared by several processes, on one machine or many.
//! workwise does not grow its own distributed system for that: it runs the
//! same contracts on an engine operators already run, Redis.
//!
//! [`LocalServer`] starts a throwaway `redis-server` for tests, examples and
//! the tour.
//!
//! # The queue
//!
//! [`RedisQueue`] keeps the local [`Queue`](crate::Queue)'s contract as far
//! as a network allows: `bounded`/`unbounded`, `put`/`put_timeout`/`try_put`
//! (a put waits while the stream holds `capacity` undone items, across every
//! producer), `get`/`get_timeout`/`try_get` returning a guard that
//! acknowledges on drop, `close`, `join`/`join_timeout` across every process,
//! `len`, `unfinished`, and [`Pool::consume`](crate::Pool::consume).
//!
//! Keys of a queue named `NAME` (the braces are a Redis Cluster hash tag, so
//! one queue's keys live on one node): `workwise:{NAME}:stream` (the items),
//! `workwise:{NAME}:dead` (the dead letters), `workwise:{NAME}:closed` (the
//! flag); consumer group `workwise`. Each handle is a consumer named
//! `HOST:PID:N`; a clone is another consumer.
//!
//! Where it differs from the local queue:
//!
//! - **Delivery is at least once.** An item whose consumer dies, or holds it
//!   longer than the visibility timeout (30 s by default), is delivered again
//!   to another consumer, and may then be handled twice. Make the effect of
//!   an item idempotent: key it by an id of the item (`HSETNX`, an upsert, a
//!   unique constraint). An item delivered more than `max_deliveries` times
//!   (5 by default) goes to the dead letters instead of looping.
//! - **Values are JSON** (serde_json): `T: Serialize + DeserializeOwned`,
//!   copied, never shared; no in-process values such as `Rc`, channels or
//!   closures. A value whose JSON passes `max_value_bytes` (512 KiB by
//!   default) is refused and handed back. An entry that does not decode (a
//!   producer of another type, a hand-written XADD) is moved whole to the
//!   dead letters and the get returns an error naming it.
//! - **Waits poll.** A getter blocks in Redis for at most `poll` (100 ms by
//!   default) at a time, then looks again for items to reclaim and for
//!   `close`; a put on a full stream retries with a backoff of 1 to 10 ms.
//! - **`close` drains across processes.** After `close`, a get says closed
//!   only once nothing waits and no other consumer holds an item (such an
//!   item may still come back if its consumer dies).
//! - **`requeue`** hands the item to the very next get (not the back of the
//!   queue) and counts as a delivery.
//! - Every call can fail with a [`RedisError`]; a lost connection is retried
//!   with the crate's [`Retry`](crate::Retry) and counted in
//!   [`RedisQueueStats::reconnects`].
//! - The async variants (`put_async`, `get_async`, feature `tokio`) run the
//!   blocking calls on tokio's blocking pool.
//!
//! Feature `redis` (default off).

mod conn;
mod limiter;
mod queue;
#[cfg(feature = "tokio")]
mod queue_async;
mod queue_error;
mod scripts;
mod server;

pub use conn::RedisError;
pub use limiter::{
    RedisLimiterBuildError, RedisLimiterError, RedisRateLimiter, RedisRateLimiterBuilder,
};
pub use queue::{RedisItem, RedisQueue, RedisQueueBuilder, RedisQueueStats};
pub use queue_error::{
    RedisDecodeError, RedisGetError, RedisGetTimeoutError, RedisJoinError, RedisPutError,
    RedisPutTimeoutError, RedisQueueBuildError, RedisTryGetError, RedisTryPutError,
};
pub use server::{LocalServer, LocalServerError};
