//! Scoped tasks: tasks that borrow from the caller's stack.
//!
//! # Protocol
//!
//! 1. Every task submitted through a [`Scope`] increments `pending` before it
//!    is handed to the pool.
//! 2. A task's closure, with everything it captured, is dropped (after it ran,
//!    or unrun when the pool cancels it) *before* its `pending` decrement.
//! 3. [`Pool::scope`] returns (or resumes a panic) only after `pending` is
//!    zero. By 1 and 2, no borrow a task holds outlives the scope.

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::task::TaskHandle;
use super::{wait_until, Pool};
use crate::sync::{thread, AtomicUsize, Thread};

struct ScopeState {
    pending: AtomicUsize,
    owner: Thread,
}

impl ScopeState {
    fn task_done(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.owner.unpark();
        }
    }
}

/// Releases one count of the scope when dropped.
struct Release(Arc<ScopeState>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.task_done();
    }
}

/// A scoped task's closure with its count. Struct fields drop in declaration
/// order, so whether the task runs or is dropped unrun, the closure (and all
/// it captured) is gone before the count is released (rule 2).
struct Guarded<F> {
    f: F,
    release: Release,
}

impl<F> Guarded<F> {
    fn call<T>(self) -> T
    where
        F: FnOnce() -> T,
    {
        let Guarded { f, release } = self;
        let out = f();
        // On a worker, the count goes once the task's figures are in, so
        // the scope ends with every figure of its tasks counted; elsewhere
        // (a task run by a waiting thread), at once.
        if let Err(release) = super::worker::hold_until_counted(Box::new(release)) {
            drop(release);
        }
        out
    }
}

/// A place to submit tasks that borrow from the enclosing stack frame; see
/// [`Pool::scope`].
///
/// # Examples
///
/// ```
/// let pool = workwise::Pool::cpu().build()?;
/// let words = vec!["a", "bb", "ccc"];
/// let total = pool.scope(|s| {
///     let handles: Vec<_> = words.iter().map(|w| s.submit(move || w.len())).collect();
///     handles.into_iter().map(|h| h.wait().unwrap()).sum::<usize>()
/// });
/// assert_eq!(total, 6);
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    pool: &'scope Pool,
    state: Arc<ScopeState>,
    // Invariant over 'scope and 'env, as std::thread::Scope is.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("pending", &self.state.pending.load(Ordering::Relaxed))
            .finish()
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Submits a task that may borrow anything that outlives the scope.
    ///
    /// The result type must own its data (`'static`); the closure need not.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::io().build()?;
    /// let mut counts = [0u32; 4];
    /// pool.scope(|s| {
    ///     for (i, slot) in counts.iter_mut().enumerate() {
    ///         s.submit(move || *slot = i as u32 * 2);
    ///     }
    /// });
    /// assert_eq!(counts, [0, 2, 4, 6]);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn submit<F, T>(&'scope self, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'static,
    {
        self.state.pending.fetch_add(1, Ordering::AcqRel);
        let guarded = Guarded {
            f,
            release: Release(self.state.clone()),
        };
        let task: Box<dyn FnOnce() -> T + Send + 'scope> = Box::new(move || guarded.call());
        // SAFETY: only the lifetime bound changes ('scope to 'static); the
        // type is otherwise identical. The pool may hold the box past 'scope
        // only until it runs or drops it, and by rules 1-3 of this module
        // `Pool::scope` does not return, nor unwind, until every such box is
        // gone, so nothing it borrows is used after 'scope ends.
        let task: Box<dyn FnOnce() -> T + Send + 'static> = unsafe { std::mem::transmute(task) };
        self.pool.submit(task)
    }
}

impl Pool {
    /// Runs `f` with a [`Scope`] whose tasks may borrow from the caller's
    /// stack, and returns once every task submitted in it has finished.
    ///
    /// As with `std::thread::scope`, borrowing is checked by the compiler: a
    /// task may hold `&data` or `&mut data` as long as the borrow rules allow
    /// it across all tasks. A task's panic goes to its handle as
    /// [`TaskError::Panicked`](crate::TaskError::Panicked); a panic in `f`
    /// itself is resumed after the tasks have finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = workwise::Pool::cpu().build()?;
    /// let data: Vec<u64> = (1..=1000).collect();
    /// let (left, right) = data.split_at(500);
    /// let sum = pool.scope(|s| {
    ///     let a = s.submit(|| left.iter().sum::<u64>());
    ///     let b = s.submit(|| right.iter().sum::<u64>());
    ///     a.wait().unwrap() + b.wait().unwrap()
    /// });
    /// assert_eq!(sum, 500_500);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let scope = Scope {
            pool: self,
            state: Arc::new(ScopeState {
                pending: AtomicUsize::new(0),
                owner: thread::current(),
            }),
            _scope: PhantomData,
            _env: PhantomData,
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
        let state = &scope.state;
        // Rule 3. The owner thread was recorded in the state, so `register`
        // has nothing to add.
        wait_until(
            || state.pending.load(Ordering::Acquire) == 0,
            None,
            |_| true,
        );
        match result {
            Ok(r) => r,
            Err(payload) => panic::resume_unwind(payload),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Run under miri (`cargo +nightly miri test -p workwise --lib scope`):
    //! these exercise the lifetime erasure in `Scope::submit`, on the paths
    //! where a scoped closure runs and where it is dropped unrun.

    use crate::pool::{Pool, TaskError};

    #[test]
    fn scoped_tasks_read_and_write_borrowed_data() {
        let pool = Pool::cpu().max_workers(2).build().unwrap();
        let input: Vec<u32> = (1..=4).collect();
        let mut out = vec![0u32; 4];
        pool.scope(|s| {
            for (x, o) in input.iter().zip(out.iter_mut()) {
                s.submit(move || *o = x * 10);
            }
        });
        assert_eq!(out, [10, 20, 30, 40]);
    }

    #[test]
    fn scoped_tasks_dropped_unrun_release_the_scope() {
        let pool = Pool::io().max_workers(1).build().unwrap();
        let text = String::from("borrowed");
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let results = pool.scope(|s| {
            let first = s.submit(move || rx.recv().is_ok());
            let second = s.submit(|| text.len());
            assert!(second.cancel());
            tx.send(()).unwrap();
            (first.wait(), second.wait())
        });
        assert_eq!(results, (Ok(true), Err(TaskError::Cancelled)));
        pool.shutdown();
        assert_eq!(
            pool.scope(|s| s.submit(|| text.len()).wait()),
            Err(TaskError::Closed)
        );
    }
}
