//! A queue's figures (rule 8 of the [queue's protocol](super)): counters
//! striped by thread, a peak written only on a new high, and the time puts
//! spend waiting on a full queue, measured only when a put has to wait.
//!
//! Producers and consumers count in separate stripes, so a put never writes
//! a cache line that a get writes: per message, a producer adds to a line
//! that only producers of its stripe write, a consumer likewise. The
//! figures live in their own `Arc`, free of `T`, so that the advisor's
//! registry can hold them whatever the queue carries.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::advice::Emitted;

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
/// # Ok::<(), workwise::QueueError>(())
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

/// A producer's stripe: written by the producers that share it only.
#[derive(Default)]
struct PutStripe {
    puts: AtomicU64,
    blocked_puts: AtomicU64,
    blocked_ns: AtomicU64,
}

/// A consumer's stripe: written by the consumers that share it only.
#[derive(Default)]
struct GetStripe {
    gets: AtomicU64,
    requeued: AtomicU64,
}

/// Puts waiting now and the most at once: written on the slow path only.
#[derive(Default)]
struct Waiting {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// The figures of one queue, shared by its handles and watched (weakly) by
/// the advisor.
pub(super) struct Figures {
    put_stripes: Box<[CachePadded<PutStripe>]>,
    get_stripes: Box<[CachePadded<GetStripe>]>,
    mask: usize,
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
    /// One stripe per core for each side, rounded up to a power of two, at
    /// most 16 (4 KiB for both sides).
    pub(super) fn new(capacity: Option<usize>) -> Figures {
        let n = crate::available_cores().next_power_of_two().clamp(1, 16);
        Figures {
            put_stripes: (0..n).map(|_| CachePadded::default()).collect(),
            get_stripes: (0..n).map(|_| CachePadded::default()).collect(),
            mask: n - 1,
            peak: CachePadded::default(),
            waiting: CachePadded::default(),
            capacity,
            created: Instant::now(),
            name: Mutex::new(None),
            emitted: Emitted::default(),
        }
    }

    #[inline]
    fn put_stripe(&self) -> &PutStripe {
        &self.put_stripes[stripe_index() & self.mask]
    }

    #[inline]
    fn get_stripe(&self) -> &GetStripe {
        &self.get_stripes[stripe_index() & self.mask]
    }

    /// One item put.
    #[inline]
    pub(super) fn put(&self) {
        self.put_stripe().puts.fetch_add(1, Relaxed);
    }

    /// One item taken.
    #[inline]
    pub(super) fn got(&self) {
        self.get_stripe().gets.fetch_add(1, Relaxed);
    }

    /// One item put back by `Item::requeue`.
    pub(super) fn requeued(&self) {
        self.get_stripe().requeued.fetch_add(1, Relaxed);
    }

    /// Records a new peak if `len()` passes the one seen so far: one relaxed
    /// load per call, and no `len()` at all once a bounded queue has been
    /// full.
    #[inline]
    pub(super) fn note_len(&self, len: impl FnOnce() -> usize) {
        let peak = self.peak.load(Relaxed);
        if peak < self.capacity.unwrap_or(usize::MAX) {
            let len = len();
            if len > peak {
                self.peak.fetch_max(len, Relaxed);
            }
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

    /// The figures now; `len` from the counts (puts and requeues less gets)
    /// and `done` as 0: the caller that has the items and the unfinished
    /// count fills both in.
    pub(super) fn stats(&self) -> QueueStats {
        // Gets first: a get is counted after its put, so reading the puts
        // later keeps `len` from going below the truth by the calls in
        // flight (a get counted before its put was is clamped at 0).
        let (mut gets, mut requeued) = (0u64, 0u64);
        for s in self.get_stripes.iter() {
            gets += s.gets.load(Relaxed);
            requeued += s.requeued.load(Relaxed);
        }
        let (mut puts, mut blocked_puts, mut blocked_ns) = (0u64, 0u64, 0u64);
        for s in self.put_stripes.iter() {
            puts += s.puts.load(Relaxed);
            blocked_puts += s.blocked_puts.load(Relaxed);
            blocked_ns += s.blocked_ns.load(Relaxed);
        }
        let len = (puts + requeued).saturating_sub(gets);
        QueueStats {
            puts,
            gets,
            done: 0,
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
        let stripe = self.figures.put_stripe();
        stripe.blocked_puts.fetch_add(1, Relaxed);
        stripe.blocked_ns.fetch_add(ns, Relaxed);
        self.figures.waiting.now.fetch_sub(1, Relaxed);
    }
}

/// This thread's stripe number, handed out round-robin on first use.
#[inline]
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE
        .try_with(|s| {
            let mut i = s.get();
            if i == usize::MAX {
                i = NEXT.fetch_add(1, Relaxed) & (usize::MAX >> 1);
                s.set(i);
            }
            i
        })
        .unwrap_or(0) // thread-local storage is being torn down
}
