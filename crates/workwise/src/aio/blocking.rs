//! [`run_blocking`]: blocking work on a bounded, named workwise pool,
//! awaited from async code.
//!
//! tokio's own `spawn_blocking` pool grows to 512 threads by default, and
//! they are all named alike; a workwise [`Pool::io`](crate::Pool::io) is
//! bounded, its threads carry the pool's name, and its statistics show the
//! queue.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::pool::{Pool, TaskError, TaskHandle};

/// Runs the blocking closure `f` on `pool` and gives a future of its result,
/// so async code never blocks its runtime's threads (pitfall 2 of the
/// guide: a blocking call in a task stalls every task on that thread).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{aio, Pool};
///
/// let pool = Pool::io().name("disk").build()?;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let n = aio::run_blocking(&pool, || {
///     std::thread::sleep(Duration::from_millis(5)); // a blocking call
///     42
/// })
/// .await;
/// assert_eq!(n, Ok(42));
/// # });
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
///
/// # Errors
///
/// What [`TaskHandle`] gives: [`TaskError::Panicked`] when `f` panicked,
/// [`TaskError::Closed`] when the pool was shut down, and so on.
///
/// # Cancel safety
///
/// Dropping the future before `f` started cancels it: it never runs. Once
/// it runs, it runs to its end on the pool and its result is dropped there.
pub fn run_blocking<F, T>(pool: &Pool, f: F) -> RunBlocking<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    RunBlocking {
        handle: pool.submit(f),
        done: false,
    }
}

/// The future returned by [`run_blocking`].
///
/// # Examples
///
/// ```
/// use workwise::{aio, Pool};
///
/// let pool = Pool::io().build()?;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let fut: aio::RunBlocking<u8> = aio::run_blocking(&pool, || 7);
/// assert_eq!(fut.await, Ok(7));
/// # });
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
///
/// # Cancel safety
///
/// Dropping it cancels the closure if it has not started; a started one
/// finishes on the pool.
#[must_use = "futures do nothing unless awaited; dropping this cancels the work if it has not started"]
#[derive(Debug)]
pub struct RunBlocking<T> {
    handle: TaskHandle<T>,
    done: bool,
}

impl<T> Future for RunBlocking<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.handle).poll(cx);
        if r.is_ready() {
            this.done = true;
        }
        r
    }
}

impl<T> Drop for RunBlocking<T> {
    fn drop(&mut self) {
        if !self.done {
            self.handle.cancel();
        }
    }
}
