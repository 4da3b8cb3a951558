//! `Pool::consume`: consumer loops on a pool.

use std::sync::Arc as StdArc;

use super::Queue;
use crate::pool::task::{catch, TaskError, TaskHandle};
use crate::pool::Pool;

/// What one consumer loop of [`Pool::consume`] did.
///
/// # Examples
///
/// ```
/// let report = workwise::ConsumerReport::default();
/// assert_eq!(report.processed, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerReport {
    /// Items it took and handled (including those whose handler panicked).
    pub processed: u64,
    /// Items whose handler panicked; each was still marked done.
    pub panicked: u64,
    /// The message of the first panic, if any.
    pub first_panic: Option<String>,
    /// Why the loop stopped before its source was closed and drained, if it
    /// did (a `RedisQueue` whose Redis stayed unreachable).
    pub stopped_by: Option<String>,
}

/// What [`Pool::consume`] takes items from: a local [`Queue`], or with
/// feature `redis` a [`RedisQueue`](crate::redis::RedisQueue) (each loop a
/// consumer of its own). Implemented in this crate only.
///
/// # Examples
///
/// ```
/// let pool = workwise::Pool::io().build()?;
/// let q = workwise::Queue::<u8>::bounded(4)?;
/// let loops = pool.consume(&q, 1, |_item: u8| {}); // `Queue<u8>: ConsumeSource`
/// q.close();
/// assert_eq!(loops.into_iter().map(|h| h.wait().unwrap().processed).sum::<u64>(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
// Named only through `Pool::consume`'s bound until `queue/mod.rs` and the
// crate root re-export it (files of other sessions when this was written).
#[allow(unreachable_pub)]
pub trait ConsumeSource: Clone + Send + 'static + sealed::Sealed {
    /// The values taken.
    type Item: Send + 'static;

    /// Takes items until the source is closed and drained, calling `each`
    /// on each value while the item is held: it is done (acknowledged)
    /// after `each` returns or unwinds. Returns why it stopped early, if it
    /// did. Not a public API.
    #[doc(hidden)]
    fn drain(&self, each: &mut dyn FnMut(Self::Item)) -> Option<String>;
}

mod sealed {
    #[allow(unreachable_pub)]
    pub trait Sealed {}
    impl<T> Sealed for super::Queue<T> {}
    #[cfg(feature = "redis")]
    impl<T> Sealed for crate::redis::RedisQueue<T> {}
}

impl<T: Send + 'static> ConsumeSource for Queue<T> {
    type Item = T;

    fn drain(&self, each: &mut dyn FnMut(T)) -> Option<String> {
        while let Ok(item) = self.get() {
            let super::Item { value, done } = item;
            // `done` outlives the call, so the item is marked done after
            // `each` returns or unwinds.
            each(value);
            drop(done);
        }
        None
    }
}

// The loop itself lives with the Redis queue (`redis/queue.rs`).
#[cfg(feature = "redis")]
impl<T: serde::de::DeserializeOwned + Send + 'static> ConsumeSource
    for crate::redis::RedisQueue<T>
{
    type Item = T;

    fn drain(&self, each: &mut dyn FnMut(T)) -> Option<String> {
        self.drain_for_consume(each)
    }
}

impl Pool {
    /// Runs `consumers` consumer loops on this pool, each taking items from
    /// `queue` and calling `f` on them until the queue is closed and drained.
    /// `queue` is a local [`Queue`], or with feature `redis` a
    /// [`RedisQueue`](crate::redis::RedisQueue), each loop a consumer of its
    /// own (a Redis error that outlasts the reconnect policy ends the loop:
    /// see [`ConsumerReport::stopped_by`]).
    ///
    /// Each item is marked done after `f` returns, or panics: a panicking
    /// item is counted in the loop's [`ConsumerReport`] and the loop goes on.
    /// Each loop holds a worker for its whole life, so size the pool for
    /// `consumers` plus whatever else it must run.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{Pool, Queue};
    ///
    /// let pool = Pool::io().build()?;
    /// let q = Queue::bounded(16)?;
    /// let consumers = pool.consume(&q, 3, |n: u64| assert!(n < 100));
    /// for n in 0..100 {
    ///     q.put(n).unwrap();
    /// }
    /// q.join();
    /// q.close();
    /// let handled: u64 = consumers.into_iter().map(|h| h.wait().unwrap().processed).sum();
    /// assert_eq!(handled, 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn consume<Q, F>(
        &self,
        queue: &Q,
        consumers: usize,
        f: F,
    ) -> Vec<TaskHandle<ConsumerReport>>
    where
        Q: ConsumeSource,
        F: Fn(Q::Item) + Send + Sync + 'static,
    {
        let f = StdArc::new(f);
        (0..consumers)
            .map(|_| {
                let queue = queue.clone();
                let f = f.clone();
                self.submit(move || consume_loop(&queue, &*f))
            })
            .collect()
    }
}

fn consume_loop<Q: ConsumeSource>(queue: &Q, f: &dyn Fn(Q::Item)) -> ConsumerReport {
    let mut report = ConsumerReport::default();
    let stopped_by = queue.drain(&mut |value| {
        report.processed += 1;
        if let Err(TaskError::Panicked { message }) = catch(|| f(value)) {
            report.panicked += 1;
            report.first_panic.get_or_insert(message);
        }
    });
    report.stopped_by = stopped_by;
    report
}
