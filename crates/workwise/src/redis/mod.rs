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
//! Feature `redis` (default off).

mod conn;
mod queue;
#[cfg(feature = "tokio")]
mod queue_async;
mod queue_error;
mod scripts;
mod server;

pub use conn::RedisError;
pub use queue::{RedisItem, RedisQueue, RedisQueueBuilder, RedisQueueStats};
pub use queue_error::{
    RedisDecodeError, RedisGetError, RedisGetTimeoutError, RedisJoinError, RedisPutError,
    RedisPutTimeoutError, RedisQueueBuildError, RedisTryGetError, RedisTryPutError,
};
pub use server::{LocalServer, LocalServerError};
