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
mod limiter;
mod server;

pub use conn::RedisError;
pub use limiter::{
    RedisLimiterBuildError, RedisLimiterError, RedisRateLimiter, RedisRateLimiterBuilder,
};
pub use server::{LocalServer, LocalServerError};
