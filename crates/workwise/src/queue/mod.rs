//! A producer-consumer queue that tracks when each item is done.
//!
//! Python's `queue.Queue` asks every consumer to call `task_done()` after
//! each item so that `join()` can wait for all the work; a consumer that
//! forgets, or raises before it gets there, makes `join()` hang forever.
//! Here `get` returns an [`Item`] guard, and dropping the guard marks the
//! item done, also when the consumer panics: the bookkeeping cannot be
//! forgotten.
//!
//! An [`Item`] borrows the queue, which keeps `get` free of a
//! reference-count write; [`Queue::get_owned`] returns an [`OwnedItem`]
//! instead, which holds a handle to the queue, so that the item can be moved
//! to another thread or into a pool task and still be marked done where it
//! drops. Both come out of the same wait loops.
//!
//! The items travel through `concurrent-queue` (a lock-free array for a
//! bounded queue of ordinary size, a linked list of blocks otherwise) and
//! waiters sleep on `event-listener` events, the pair that `async-channel`
//! is built from, so the blocking and async sides share one implementation
//! and need no particular runtime.
//!
//! # Protocol
//!
//! 1. `unfinished` is the puts less the dones, each counted by the thread
//!    that does it in a slot of its own with a plain load and `Release`
//!    store (no write that two threads share, see `stats.rs`). A put counts
//!    itself *before* it pushes and takes the count back if the push is
//!    refused, so every done is preceded by its put's count. The sum reads
//!    every slot's dones, then every slot's puts (`Acquire`): each done it
//!    sees brings its put's count along, so it reads 0 only if at one
//!    moment every item counted put was done.
//! 2. An item is done when its [`Item`] or [`OwnedItem`] drops (unwinding
//!    included) or gives up its value with `into_inner`; `requeue` pushes
//!    the value back without a done, so it stays counted. The done is
//!    counted by the thread that drops the guard, whichever it is: an
//!    [`OwnedItem`] that moved to a pool worker counts in the worker's slot.
//!    Its put's count came first on the thread that put it, and reached the
//!    worker through the pop (`Acquire`) and whatever carried the item
//!    across (a channel, a spawn), so rule 1's sum still sees the put with
//!    the done, and the done wakes the joiners as any other (rule 3).
//! 3. A joiner sums `unfinished`, registers a listener (counting itself and
//!    fencing, SeqCst, `signal.rs`), sums it again, and only then waits. A
//!    done (and a refused put's take-back) stores its count, fences
//!    (SeqCst), and only if a joiner is counted sums `unfinished` and at 0
//!    notifies every joiner. By the two fences either the joiner's second
//!    sum sees the done, or the done sees the joiner; of two last dones at
//!    once, the one whose fence comes later sees the other's count. So the
//!    wake-up is not lost, and with no joiner a done costs a store, a fence
//!    and a load, none of them on a line another thread writes.
//! 4. Each push notifies one more getter, each pop one more putter; waiters
//!    listen, retry, then wait. A notified listener that is dropped (a
//!    cancelled future) hands its notification on to another waiter.
//! 5. `close` closes the item queue (pushes are refused and hand the item
//!    back; pops drain what is left, then fail) and wakes every waiter.
//! 6. Items still queued when the last handle is dropped are dropped with
//!    the queue, once each.
//! 7. A bounded queue whose array would pass 1 MiB keeps its items in linked
//!    blocks and counts its slots itself: a push reserves a slot (refused at
//!    the capacity, as closed if the queue is closed) before it pushes and
//!    gives it back if the push is refused; a pop gives its slot back before
//!    it notifies a putter (rule 4), so a woken putter finds the room.
//! 8. The figures ([`QueueStats`], [`Queue::stats`]) add no write that two
//!    threads share: each thread counts its puts and gets in a slot of its
//!    own with a plain load and store (see `stats.rs`), the slots of rule 1.
//!    A put reads the peak length (relaxed), and reads the length only
//!    while a bounded queue has not been full yet (always, when unbounded);
//!    the peak is written only on a new high. A put that finds the queue full reads the clock when it
//!    starts to wait and when it stops. Rule [W07](crate::advice::Code::W07)
//!    reads these figures ([`Queue::advice`], and the advisor's report),
//!    and its findings go out through `tracing` when asked and when the
//!    last handle drops.

mod advice;
mod consume;
mod done;
mod error;
mod get;
mod item;
mod items;
#[cfg(all(test, loom))]
mod loom_tests;
mod put;
mod signal;
mod stats;
mod wait;

use std::fmt;
use std::sync::{Arc as StdArc, Weak};

use concurrent_queue::{PopError, PushError};

pub use consume::{ConsumeSource, ConsumerReport};
pub use error::{
    GetError, GetTimeoutError, JoinTimeoutError, PutError, PutTimeoutError, QueueBuildError,
    TryGetError, TryPutError,
};
pub use item::{Item, OwnedItem};
pub use stats::QueueStats;

use crate::advice::{emit, watch, Advice, Watched};
use crate::sync::Arc;
use items::Items;
use signal::Signal;
use stats::Figures;

struct Inner<T> {
    items: Items<T>,
    capacity: Option<usize>,
    /// Rules 1, 3 and 8: the per-thread counts, the done-tracking among
    /// them; in an `Arc` of its own, free of `T`, for the advisor.
    figures: StdArc<Figures>,
    /// Notified on each push: getters wait on it.
    pushed: Signal,
    /// Notified on each pop of a bounded queue: putters wait on it.
    popped: Signal,
    /// Notified when `unfinished` reaches zero: joiners wait on it.
    all_done: Signal,
}

/// A multi-producer, multi-consumer queue with done-tracking, `join` and
/// `close`, usable from threads and from async code.
///
/// Clone it to get another handle to the same queue.
///
/// # Examples
///
/// ```
/// use std::thread;
/// use workwise::Queue;
///
/// let q = Queue::bounded(100)?;
/// let consumer = {
///     let q = q.clone();
///     thread::spawn(move || {
///         let mut sum = 0;
///         while let Ok(item) = q.get() {
///             sum += *item; // `item` is marked done when it drops
///         }
///         sum
///     })
/// };
/// for i in 1..=10 {
///     q.put(i).unwrap();
/// }
/// q.join();   // every item put so far is done
/// q.close();  // the consumer drains what is left, then `get` fails
/// assert_eq!(consumer.join().unwrap(), 55);
/// # Ok::<(), workwise::QueueBuildError>(())
/// ```
pub struct Queue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("name", &self.name())
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("unfinished", &self.unfinished())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> Queue<T> {
    /// A queue that holds at most `capacity` items: `put` waits while it is
    /// full, which keeps a fast producer from outrunning its consumers.
    ///
    /// Any capacity from 1 to `usize::MAX` is served, and memory follows
    /// the items, not the capacity: a capacity whose slots fit in 1 MiB
    /// (65 536 `u64`s) gets one array up front, the fastest storage; a
    /// bigger one allocates blocks of 31 slots as items arrive and frees
    /// them as items leave.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::<String>::bounded(100)?;
    /// assert_eq!(q.capacity(), Some(100));
    /// let big = workwise::Queue::<u64>::bounded(usize::MAX)?; // allocates as items come
    /// big.put(1).unwrap();
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`QueueBuildError::ZeroCapacity`] for a capacity of 0.
    ///
    /// # Cost
    ///
    /// On the array, a put and a get cost what the bench rows
    /// `queue.*.cap100` and `queue.*.cap1024` show against
    /// crossbeam-channel. Above 1 MiB of slots, each put and get also
    /// updates a shared count of the slots in use.
    pub fn bounded(capacity: usize) -> Result<Self, QueueBuildError> {
        if capacity == 0 {
            return Err(QueueBuildError::ZeroCapacity);
        }
        Ok(Self::with(Items::bounded(capacity), Some(capacity)))
    }

    /// A queue with no limit. It records its longest length
    /// ([`peak_len`](Queue::peak_len)), so that a queue growing without bound
    /// can be spotted.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::unbounded();
    /// for i in 0..1000 {
    ///     q.put(i).unwrap();
    /// }
    /// assert_eq!(q.peak_len(), 1000);
    /// ```
    ///
    /// # Warning
    ///
    /// Nothing slows a producer down: prefer [`Queue::bounded`].
    pub fn unbounded() -> Self {
        Self::with(Items::unbounded(), None)
    }

    fn with(items: Items<T>, capacity: Option<usize>) -> Self {
        let figures = StdArc::new(Figures::new(capacity));
        let watched: StdArc<dyn Watched> = figures.clone();
        watch(StdArc::downgrade(&watched) as Weak<dyn Watched>);
        Queue {
            inner: Arc::new(Inner {
                items,
                capacity,
                figures,
                pushed: Signal::new(),
                popped: Signal::new(),
                all_done: Signal::new(),
            }),
        }
    }

    /// Rule 1: count, push, and take the count back if refused.
    ///
    /// Inlined by force, as `try_pop`: with the figures' few instructions
    /// the compiler stopped inlining these and the pushes and pops inside
    /// them (measured: ~45 more instructions a put and get).
    #[inline(always)]
    fn try_push(&self, item: T) -> Result<(), PushError<T>> {
        let inner = &*self.inner;
        inner.figures.put();
        match inner.items.push(item) {
            Ok(()) => {
                inner.pushed.notify_one();
                inner.figures.note_len(|| inner.items.len()); // rule 8
                Ok(())
            }
            Err(refused) => {
                inner.figures.put_refused();
                inner.wake_joiners_if_done();
                Err(refused)
            }
        }
    }

    /// Pops a value for an [`Item`] or an [`OwnedItem`], which the caller
    /// wraps at once: nothing between the pop and the guard can fail.
    #[inline(always)]
    fn try_pop(&self) -> Result<T, PopError> {
        let value = self.inner.items.pop()?;
        if self.inner.capacity.is_some() {
            self.inner.popped.notify_one();
        }
        self.inner.figures.got(); // rule 8
        Ok(value)
    }

    /// Closes the queue: later puts are refused and hand their item back,
    /// getters take what is left and then fail with `Closed`
    /// ([`GetError::Closed`], [`TryGetError::Closed`],
    /// [`GetTimeoutError::Closed`]). Returns whether this call closed it.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::bounded(4)?;
    /// q.put(1).unwrap();
    /// assert!(q.close());
    /// assert!(!q.close());
    /// assert_eq!(*q.get().unwrap(), 1);
    /// assert!(q.get().is_err());
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    pub fn close(&self) -> bool {
        let closed = self.inner.items.close();
        self.inner.pushed.notify_all();
        self.inner.popped.notify_all();
        closed
    }

    /// Whether [`close`](Queue::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::<u8>::unbounded();
    /// assert!(!q.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.items.is_closed()
    }

    /// Items waiting in the queue now.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::unbounded();
    /// q.put(1).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.items.len()
    }

    /// Whether no item is waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(workwise::Queue::<u8>::unbounded().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.items.is_empty()
    }

    /// The most items the queue holds; `None` when unbounded.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(workwise::Queue::<u8>::unbounded().capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.inner.capacity
    }

    /// Items put and not yet done: waiting, or held by a consumer.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::unbounded();
    /// q.put(1).unwrap();
    /// let item = q.get().unwrap();
    /// assert_eq!((q.len(), q.unfinished()), (0, 1));
    /// drop(item);
    /// assert_eq!(q.unfinished(), 0);
    /// ```
    ///
    /// # Cost
    ///
    /// Puts and dones are counted per thread, so that they share no write
    /// (rule 1): this sums the counts, 16 cache lines and one more per
    /// thread beyond the first 16 of the process that has used the queue,
    /// as [`stats`](Queue::stats) does. While the queue is in use the
    /// answer is stale as soon as it is read; [`join`](Queue::join) is the
    /// way to wait for 0.
    pub fn unfinished(&self) -> usize {
        self.inner.figures.unfinished()
    }

    /// The longest the queue has been.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::unbounded();
    /// q.put(1).unwrap();
    /// assert_eq!(q.peak_len(), 1);
    /// let full = workwise::Queue::bounded(2)?;
    /// full.put(1).unwrap();
    /// full.put(2).unwrap();
    /// drop(full.get().unwrap());
    /// assert_eq!(full.peak_len(), 2);
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    pub fn peak_len(&self) -> usize {
        self.inner.figures.peak_len()
    }

    /// Names the queue: the advisor's findings about it say `queue 'name'`
    /// (`queue` for an unnamed one). Every handle sees the name.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::<u64>::bounded(64)?.named("jobs");
    /// assert_eq!(q.name().as_deref(), Some("jobs"));
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    pub fn named(self, name: impl Into<String>) -> Self {
        self.inner.figures.set_name(name.into());
        self
    }

    /// The name given by [`named`](Queue::named), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(workwise::Queue::<u8>::unbounded().name(), None);
    /// ```
    pub fn name(&self) -> Option<String> {
        self.inner.figures.name()
    }

    /// The queue's figures now: items put, taken and done, puts that had to
    /// wait for room and how long, the peak and current length, its age.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q = workwise::Queue::bounded(1)?;
    /// q.put(1).unwrap();
    /// // A put on a full queue waits; here it gives up after 1 ms.
    /// assert!(q.put_timeout(2, Duration::from_millis(1)).is_err());
    /// let stats = q.stats();
    /// assert_eq!((stats.puts, stats.blocked_puts), (1, 1));
    /// assert!(stats.put_blocked > Duration::ZERO && stats.put_blocked <= stats.since);
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Cost
    ///
    /// Counting costs each put, get and done a plain load and store to a
    /// cache line of the calling thread's own (these counts are also the
    /// done-tracking, rules 1 and 3), a done one more fence, and a put one
    /// relaxed load of the peak (rule 8), plus a read of the length while a
    /// bounded queue has never been full (about 18 instructions). Measured
    /// with cachegrind, one thread, `bounded(1024)`: 299 instructions a
    /// put, get and done, against 263 with one shared `unfinished` counter,
    /// which cost two read-modify-writes of a line every thread wrote.
    /// A put that finds the queue full reads the clock twice. The bench
    /// rows `queue.*` run with the figures on. Reading them sums 16 cache
    /// lines, and one more per thread beyond the first 16 of the process
    /// that has used the queue.
    pub fn stats(&self) -> QueueStats {
        let mut stats = self.inner.figures.stats();
        stats.len = self.len();
        stats
    }

    /// What the advisor finds wrong with this queue (rule
    /// [`W07`](crate::advice::Code::W07)): an unbounded queue that keeps
    /// growing, or a bounded one whose producers spend most of their time
    /// waiting for room. With the feature `tracing`, each finding is also
    /// emitted once (see [`advice`](crate::advice)), here and when the last
    /// handle is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::advice::Code;
    ///
    /// // Nobody consumes: a backlog that only grows.
    /// let q = workwise::Queue::unbounded().named("backlog");
    /// for i in 0..5_000 {
    ///     q.put(i).unwrap();
    /// }
    /// let advice = q.advice();
    /// assert_eq!(advice[0].code, Code::W07);
    /// assert_eq!(advice[0].source, "queue 'backlog'");
    /// assert!(advice[0].fix.contains("Queue::bounded"));
    /// ```
    pub fn advice(&self) -> Vec<Advice> {
        let found = advice::w07(&self.stats(), &self.inner.figures.source());
        emit(&self.inner.figures.emitted, &found);
        found
    }
}

impl<T> Drop for Inner<T> {
    /// The last handle is gone: what the advisor finds goes out through
    /// `tracing` now, the figures as they end.
    fn drop(&mut self) {
        // Nobody puts or gets any more: the figures are exact.
        emit(&self.figures.emitted, &self.figures.advice());
    }
}
