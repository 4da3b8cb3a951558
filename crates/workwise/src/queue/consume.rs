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
}

impl Pool {
    /// Runs `consumers` consumer loops on this pool, each taking items from
    /// `queue` and calling `f` on them until the queue is closed and drained.
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
    pub fn consume<T, F>(
        &self,
        queue: &Queue<T>,
        consumers: usize,
        f: F,
    ) -> Vec<TaskHandle<ConsumerReport>>
    where
        T: Send + 'static,
        F: Fn(T) + Send + Sync + 'static,
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

fn consume_loop<T>(queue: &Queue<T>, f: &dyn Fn(T)) -> ConsumerReport {
    let mut report = ConsumerReport::default();
    while let Ok(item) = queue.get() {
        let super::Item { value, done } = item;
        report.processed += 1;
        // `done` outlives the call, so the item is marked done after `f`
        // returns or unwinds.
        if let Err(TaskError::Panicked { message }) = catch(|| f(value)) {
            report.panicked += 1;
            report.first_panic.get_or_insert(message);
        }
        drop(done);
    }
    report
}
