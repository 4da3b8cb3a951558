//! A queue's figures (rule 8 of the [queue's protocol](super)): counts kept
//! per thread, a peak written only on a new high, and the time puts spend
//! waiting on a full queue, measured only when a put has to wait. The same
//! per-thread counts of puts and dones are the queue's done-tracking
//! (rules 1 and 3): `unfinished` is their difference, summed over the
//! threads when asked.
//!
//! Each thread counts in a slot of its own (a cache line), with a plain
//! load and store: no read-modify-write, no line shared with another
//! thread. Measured with cachegrind on an uncontended `put` + `get` of a
//! `Queue::<u64>::bounded(1024)` (243 instructions before the figures):
//! these slots and the gated peak add 7; relaxed `fetch_add`s to stripes
//! per side, as the breaker counts, added 51; reading the length on every
//! put added ~25 and made the compiler stop inlining the push and pop. On
//! this 2-core machine the `queue.*` bench rows do not tell the versions
//! apart (their noise is tens of percent).
//!
//! The figures live in their own `Arc`, free of `T`, so that the advisor's
//! registry can hold them whatever the queue carries.

#[cfg(not(loom))]
use std::cell::Cell;
#[cfg(not(loom))]
use std::sync::atomic::AtomicUsize as StdAtomicUsize;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::advice::Emitted;
use crate::sync::{AtomicU64, AtomicUsize};

/// A snapshot of a [`Queue`](crate::Queue)'s figures, returned by
/// [`Queue::stats`](crate::Queue::stats).
///
/// Each count is exact once the calls it counts have returned; the figures
/// are read one after another, not as one atomic snapshot, so while
/// producers and consumers run they may disagree by the calls in flight.
///
/// # Examples
///
/// ```
/// let q = workwise::Queue::bounded(8)?;
/// for i in 0..5 {
///     q.put(i).unwrap();
/// }
/// drop(q.get().unwrap()); // taken and done
/// let stats = q.stats();
/// assert_eq!((stats.puts, stats.gets, stats.done), (5, 1, 1));
/// assert_eq!((stats.len, stats.peak_len, stats.capacity), (4, 5, Some(8)));
/// assert_eq!(stats.blocked_puts, 0); // there was always room
/// # Ok::<(), workwise::QueueBuildError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Items put (`put`, `try_put`, `put_timeout`, `put_async`); refused
    /// ones are not counted, nor requeued ones.
    pub puts: u64,
    /// Items taken by a get of any kind, requeued ones each time they are
    /// taken.
    pub gets: u64,
    /// Items done: their [`Item`](crate::Item) dropped or gave up its value.
    pub done: u64,
    /// Items put back with [`Item::requeue`](crate::Item::requeue).
    pub requeued: u64,
    /// Puts that found the queue full and had to wait (those that then
    /// timed out, or found it closed, included).
    pub blocked_puts: u64,
    /// Time those puts spent waiting, summed over producers: with two
    /// producers blocked all along, twice the queue's age.
    pub put_blocked: Duration,
    /// The most puts waiting on a full queue at once.
    pub peak_blocked: u64,
    /// The longest the queue has been.
    pub peak_len: usize,
    /// Items waiting in the queue now.
    pub len: usize,
    /// The most items it holds; `None` when unbounded.
    pub capacity: Option<usize>,
    /// Time since the queue was created.
    pub since: Duration,
}

/// One thread's counts, written by that thread only: a plain load and
/// store, no read-modify-write (rule 8).
#[derive(Default)]
struct Slot {
    /// Counted before the push, taken back if refused (rule 1).
    puts: AtomicU64,
    gets: AtomicU64,
    /// Items done by this thread (rule 2); stored with `Release`.
    dones: AtomicU64,
    requeued: AtomicU64,
    blocked_puts: AtomicU64,
    blocked_ns: AtomicU64,
}

/// Puts waiting now and the most at once: written on the slow path only.
#[derive(Default)]
struct Waiting {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// Threads numbered below `INLINE` count in slots inside [`Figures`]: one
/// pointer away from the queue, where a slot in a bucket is three (measured:
/// ~3 ns a message more). Loom models have three threads at most.
const INLINE: usize = if cfg!(loom) { 4 } else { 16 };
/// Buckets after the inline slots, each twice the one before.
const BUCKETS: usize = 8;
/// Threads numbered below this count in a slot of their own (4096).
const SLOTS: usize = INLINE << BUCKETS;

/// The figures of one queue, shared by its handles and watched (weakly) by
/// the advisor.
pub(super) struct Figures {
    /// The slots of threads `0..INLINE`.
    inline: [CachePadded<Slot>; INLINE],
    /// Bucket `b` holds the slots of threads `INLINE << b .. INLINE << (b + 1)`,
    /// allocated when the first of them counts.
    buckets: [OnceLock<Box<[CachePadded<Slot>]>>; BUCKETS],
    /// For threads without a slot of their own (beyond [`SLOTS`], or whose
    /// thread-local storage is being torn down): atomic adds.
    shared: CachePadded<Slot>,
    /// On a line of its own: read on every put, written on a new high.
    peak: CachePadded<AtomicUsize>,
    waiting: CachePadded<Waiting>,
    pub(super) capacity: Option<usize>,
    created: Instant,
    name: Mutex<Option<String>>,
    /// Which findings went out through `tracing` already.
    pub(super) emitted: Emitted,
}

impl Figures {
    pub(super) fn new(capacity: Option<usize>) -> Figures {
        Figures {
            inline: Default::default(),
            buckets: Default::default(),
            shared: CachePadded::default(),
            peak: CachePadded::default(),
            waiting: CachePadded::default(),
            capacity,
            created: Instant::now(),
            name: Mutex::new(None),
            emitted: Emitted::default(),
        }
    }

    /// Adds `n` (wrapping: `u64::MAX` takes one back) to this thread's
    /// count `field`, as a `Release` store.
    #[inline]
    fn add(&self, field: fn(&Slot) -> &AtomicU64, n: u64) {
        match thread_number() {
            Some(i) => {
                let slot = match self.inline.get(i) {
                    Some(slot) => slot,
                    None => self.bucket_slot(i),
                };
                let count = field(slot);
                // Only this thread writes its slot (see `thread_number`).
                count.store(count.load(Relaxed).wrapping_add(n), Release);
            }
            None => {
                field(&self.shared).fetch_add(n, AcqRel);
            }
        }
    }

    /// The slot of thread `i`, `INLINE <= i < SLOTS`.
    #[cold]
    fn bucket_slot(&self, i: usize) -> &Slot {
        // Bucket b = floor(log2(i / INLINE)) starts at thread INLINE << b.
        let b = (usize::BITS - 1 - (i / INLINE).leading_zeros()) as usize;
        let bucket = self.buckets[b]
            .get_or_init(|| (0..INLINE << b).map(|_| CachePadded::default()).collect());
        &bucket[i - (INLINE << b)]
    }

    /// One item about to be pushed (rule 1): counted put and unfinished.
    #[inline]
    pub(super) fn put(&self) {
        self.add(|s| &s.puts, 1);
    }

    /// The push after [`put`](Figures::put) was refused: uncounted. The
    /// caller then checks for joiners as a done does (rule 3).
    pub(super) fn put_refused(&self) {
        self.add(|s| &s.puts, u64::MAX);
    }

    /// One item done (rule 2); the caller then checks for joiners (rule 3).
    #[inline]
    pub(super) fn done(&self) {
        self.add(|s| &s.dones, 1);
    }

    /// Items put and not yet done (rules 1 and 3): the dones of every slot,
    /// then the puts. Each done read was preceded by its put's count, which
    /// the `Acquire` loads then see, so the result is never below the
    /// truth's low point during the read, and 0 only if at one moment every
    /// item counted put was done.
    pub(super) fn unfinished(&self) -> usize {
        let dones = self.sum(|s| &s.dones);
        let puts = self.sum(|s| &s.puts);
        usize::try_from(puts.wrapping_sub(dones)).unwrap_or(usize::MAX)
    }

    /// The sum of `field` over every slot, each read with `Acquire`.
    fn sum(&self, field: fn(&Slot) -> &AtomicU64) -> u64 {
        self.inline
            .iter()
            .chain(self.buckets.iter().filter_map(OnceLock::get).flatten())
            .map(|slot| &**slot)
            .chain([&*self.shared])
            .map(|slot| field(slot).load(Acquire))
            .fold(0, u64::wrapping_add)
    }

    /// One item taken.
    #[inline]
    pub(super) fn got(&self) {
        self.add(|s| &s.gets, 1);
    }

    /// One item put back by `Item::requeue`.
    pub(super) fn requeued(&self) {
        self.add(|s| &s.requeued, 1);
    }

    /// Records a new peak if `len()` passes the one seen so far. `len()` is
    /// never read once a bounded queue has been full: from then on a put
    /// costs one relaxed load here.
    #[inline]
    pub(super) fn note_len(&self, len: impl FnOnce() -> usize) {
        let peak = self.peak.load(Relaxed);
        if peak < self.capacity.unwrap_or(usize::MAX) {
            self.note_len_below(peak, len);
        }
    }

    /// Out of line: reading the length takes more code than the rest of a
    /// put (measured: reading it on every put cost ~25 instructions and
    /// ~20% of an uncontended put and get).
    #[inline(never)]
    fn note_len_below(&self, peak: usize, len: impl FnOnce() -> usize) {
        let len = len();
        if len > peak {
            self.peak.fetch_max(len, Relaxed);
        }
    }

    /// A put found the queue full: the wait is timed until the guard drops.
    pub(super) fn blocked(&self) -> Blocked<'_> {
        let now = self.waiting.now.fetch_add(1, Relaxed) + 1;
        if now > self.waiting.peak.load(Relaxed) {
            self.waiting.peak.fetch_max(now, Relaxed);
        }
        Blocked {
            figures: self,
            start: Instant::now(),
        }
    }

    pub(super) fn set_name(&self, name: String) {
        *self.name.lock().unwrap_or_else(PoisonError::into_inner) = Some(name);
    }

    pub(super) fn name(&self) -> Option<String> {
        self.name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn peak_len(&self) -> usize {
        self.peak.load(Relaxed)
    }

    /// `queue 'name'`, or `queue` when it has none.
    pub(super) fn source(&self) -> String {
        match &*self.name.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(name) => format!("queue '{name}'"),
            None => "queue".to_string(),
        }
    }

    /// The figures now; `len` from the counts (puts and requeues less gets):
    /// the caller that has the items fills in the true length.
    pub(super) fn stats(&self) -> QueueStats {
        // Dones and gets first: each is counted after its put, so reading
        // the puts later keeps `len` from going below the truth by the calls
        // in flight (a get counted before its put was is clamped at 0).
        let sum = |field| self.sum(field);
        let done = sum(|s| &s.dones);
        let gets = sum(|s| &s.gets);
        let requeued = sum(|s| &s.requeued);
        let puts = sum(|s| &s.puts);
        let blocked_puts = sum(|s| &s.blocked_puts);
        let blocked_ns = sum(|s| &s.blocked_ns);
        let len = (puts.wrapping_add(requeued)).saturating_sub(gets);
        QueueStats {
            puts,
            gets,
            done,
            requeued,
            blocked_puts,
            put_blocked: Duration::from_nanos(blocked_ns),
            peak_blocked: self.waiting.peak.load(Relaxed) as u64,
            peak_len: self.peak.load(Relaxed),
            len: usize::try_from(len).unwrap_or(usize::MAX),
            capacity: self.capacity,
            since: self.created.elapsed(),
        }
    }
}

/// A put waiting on a full queue; when it drops (the put went in, timed
/// out, found the queue closed, or its future was dropped), the wait is
/// counted.
pub(super) struct Blocked<'a> {
    figures: &'a Figures,
    start: Instant,
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        let ns = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.figures.add(|s| &s.blocked_puts, 1);
        self.figures.add(|s| &s.blocked_ns, ns);
        self.figures.waiting.now.fetch_sub(1, Relaxed);
    }
}

#[cfg(not(loom))]
mod numbers {
    use super::*;

    static FREE_NUMBERS: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    static NEXT_NUMBER: StdAtomicUsize = StdAtomicUsize::new(0);

    /// `NUMBER` before the thread has one.
    const UNSET: usize = usize::MAX;
    /// `NUMBER` once the thread has given its number back.
    const GONE: usize = usize::MAX - 1;

    thread_local! {
        static NUMBER: Cell<usize> = const { Cell::new(UNSET) };
        static HELD: Held = Held::take();
    }

    /// A thread's number, held until the thread ends, then handed to the next
    /// new thread. No two live threads share one, and the hand-over goes
    /// through `FREE_NUMBERS`' lock, so a slot written with a plain load and
    /// store by its thread stays exact when the number changes hands.
    struct Held(usize);

    impl Held {
        fn take() -> Held {
            let free = FREE_NUMBERS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            Held(free.unwrap_or_else(|| NEXT_NUMBER.fetch_add(1, Relaxed)))
        }
    }

    impl Drop for Held {
        fn drop(&mut self) {
            // Counts from here on (other thread-locals' destructors) go to the
            // shared slot.
            let _ = NUMBER.try_with(|n| n.set(GONE));
            FREE_NUMBERS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(self.0);
        }
    }

    /// This thread's slot number, if it has one below [`SLOTS`].
    #[inline]
    pub(super) fn thread_number() -> Option<usize> {
        match NUMBER.try_with(Cell::get) {
            Ok(n) if n < SLOTS => Some(n),
            Ok(UNSET) => first_number(),
            _ => None,
        }
    }

    #[cold]
    fn first_number() -> Option<usize> {
        let n = HELD.try_with(|held| held.0).ok()?;
        NUMBER.try_with(|cell| cell.set(n)).ok()?;
        (n < SLOTS).then_some(n)
    }
}
#[cfg(not(loom))]
use numbers::thread_number;

/// Under loom each model thread numbers itself from a counter that every
/// execution starts again at 0 (loom's `lazy_static` is per execution).
#[cfg(loom)]
fn thread_number() -> Option<usize> {
    loom::lazy_static! {
        static ref NEXT: AtomicUsize = AtomicUsize::new(0);
    }
    loom::thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Relaxed);
    }
    NUMBER.with(|n| (*n < SLOTS).then_some(*n))
}
