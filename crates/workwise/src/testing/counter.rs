//! [`CallCounter`]: calls counted across threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts calls from any number of threads: the guide's `mock.call_count`.
///
/// Clones share one count, so a clone can move into each thread or closure
/// while the test keeps one to read.
///
/// # Examples
///
/// ```
/// use workwise::testing::CallCounter;
///
/// let calls = CallCounter::new();
/// let c = calls.clone();
/// std::thread::spawn(move || { c.hit(); }).join().unwrap();
/// assert_eq!(calls.hit(), 2);
/// assert_eq!(calls.count(), 2);
/// calls.reset();
/// assert_eq!(calls.count(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    count: Arc<AtomicU64>,
}

impl CallCounter {
    /// A counter at zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::CallCounter;
    ///
    /// assert_eq!(CallCounter::new().count(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one call and returns the count including it.
    ///
    /// Everything a thread did before `hit` is visible to a thread that
    /// then reads the count that includes it.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::CallCounter;
    ///
    /// let calls = CallCounter::new();
    /// assert_eq!(calls.hit(), 1);
    /// assert_eq!(calls.hit(), 2);
    /// ```
    pub fn hit(&self) -> u64 {
        self.count.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The calls counted so far, from all clones.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::CallCounter;
    ///
    /// let calls = CallCounter::new();
    /// calls.clone().hit();
    /// assert_eq!(calls.count(), 1);
    /// ```
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// Sets the count back to zero, for all clones.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::CallCounter;
    ///
    /// let calls = CallCounter::new();
    /// calls.hit();
    /// calls.reset();
    /// assert_eq!(calls.count(), 0);
    /// ```
    pub fn reset(&self) {
        self.count.store(0, Ordering::Release);
    }

    /// `f`, counting each call on this counter before it runs.
    ///
    /// For a function of no arguments, count in the closure itself
    /// (`move || { calls.hit(); … }`); for several, take a tuple.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::CallCounter;
    /// use workwise::Pool;
    ///
    /// let calls = CallCounter::new();
    /// let square = calls.wrap(|x: u64| x * x);
    /// let pool = Pool::cpu().build()?;
    /// let squares = pool.par_map((0..100u64).collect::<Vec<_>>(), square).expect("no call panics");
    /// assert_eq!(squares.iter().sum::<u64>(), 328_350);
    /// assert_eq!(calls.count(), 100);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn wrap<A, R>(&self, f: impl Fn(A) -> R) -> impl Fn(A) -> R {
        let counter = self.clone();
        move |arg| {
            counter.hit();
            f(arg)
        }
    }
}
