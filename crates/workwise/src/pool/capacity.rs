//! Capacity: how many jobs a pool holds, its bounded queue's places, and the
//! line of submitters waiting for one.
//!
//! # Protocol
//!
//! 1. `queued` holds `(count << 1) | CLOSED`. A submitter adds 2 *before* it
//!    pushes its job (a reservation) and takes it back if the closed bit was
//!    set; a worker gives the place back when it takes a job out of a queue.
//! 2. Workers leave only when `queued == CLOSED` (closed and empty), so every
//!    job reserved before the pool closed is run, or cancelled by
//!    `shutdown_now`, before the last worker exits: nothing is lost.
//! 8. A submitter that finds the queue full takes a ticket in the line and
//!    counts itself in `waiters` under the line's lock; only the head of the
//!    line reserves, rereading `queued` under that lock before it waits, and
//!    on leaving it notifies the next. While anyone is in line, a `try_`
//!    reservation is refused and a new blocking one joins the end of the
//!    line: blocked submitters are served first come, first served (one
//!    that finds nobody in line first spins briefly, counted in `waiters`
//!    so that no `try_` reservation overtakes it). A
//!    release that leaves at most half the capacity queued reads `waiters`
//!    and notifies under the same lock. Closing notifies too.
//!
//! (Rules 3-7 are the sleep protocol in `sleep.rs`; the numbers are kept so
//! that comments across `pool/` can cite them.)

use crossbeam_utils::CachePadded;

use crate::sync::{lock, spin_until, wait, AtomicU64, AtomicUsize, Condvar, Mutex};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

const CLOSED: usize = 1;

/// Why a job could not be reserved a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Full,
    Closed,
}

/// The line of submitters waiting for space (rule 8).
#[derive(Default)]
struct Line {
    next_ticket: u64,
    serving: u64,
}

pub(crate) struct Capacity {
    queued: CachePadded<AtomicUsize>,
    capacity: usize,
    submitted: CachePadded<AtomicU64>,
    peak: AtomicUsize,
    waiters: AtomicUsize,
    line: Mutex<Line>,
    space: Condvar,
}

impl Capacity {
    pub(crate) fn new(capacity: usize) -> Capacity {
        Capacity {
            queued: CachePadded::new(AtomicUsize::new(0)),
            capacity,
            submitted: CachePadded::new(AtomicU64::new(0)),
            peak: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            line: Mutex::new(Line::default()),
            space: Condvar::new(),
        }
    }

    /// Reserves a place for one job (rule 1); waits in line for space when
    /// `block` (rule 8). `internal` reservations (from the pool's own
    /// workers) skip the capacity check, so a task that submits subtasks can
    /// never deadlock its pool.
    pub(crate) fn reserve(&self, block: bool, internal: bool) -> Result<(), Refused> {
        if !internal && self.waiters.load(SeqCst) > 0 {
            // Submitters are waiting in line for space: get behind them.
            if self.is_closed() {
                return Err(Refused::Closed);
            }
            if !block {
                return Err(Refused::Full);
            }
            return self.reserve_in_line();
        }
        match self.try_reserve(internal) {
            Err(Refused::Full) if block => {
                // A place often frees within microseconds: with nobody in
                // line, spin briefly before joining it (parking costs ~27 µs
                // here), counted as a waiter so that no `try_` reservation
                // overtakes the spinner meanwhile.
                if self.waiters.load(SeqCst) == 0 {
                    self.waiters.fetch_add(1, SeqCst);
                    let mut got = Err(Refused::Full);
                    spin_until(|| {
                        got = self.try_reserve(false);
                        got != Err(Refused::Full)
                    });
                    self.waiters.fetch_sub(1, SeqCst);
                    if got != Err(Refused::Full) {
                        return got;
                    }
                }
                self.reserve_in_line()
            }
            r => r,
        }
    }

    /// One attempt at a reservation (rule 1).
    fn try_reserve(&self, internal: bool) -> Result<(), Refused> {
        // The broken twin checks for the close before it reserves instead of
        // in the same read-modify-write: a reservation can then slip in after
        // the drain saw the pool empty, and its job is lost.
        #[cfg(workwise_broken_pool)]
        if self.is_closed() {
            return Err(Refused::Closed);
        }
        #[cfg(workwise_broken_pool)]
        let prev = self.queued.fetch_add(2, SeqCst) & !CLOSED;
        #[cfg(not(workwise_broken_pool))]
        let prev = self.queued.fetch_add(2, SeqCst);
        if prev & CLOSED != 0 {
            self.queued.fetch_sub(2, SeqCst);
            return Err(Refused::Closed);
        }
        let n = (prev >> 1) + 1;
        if internal || n <= self.capacity {
            self.submitted.fetch_add(1, Relaxed);
            if n > self.peak.load(Relaxed) {
                self.peak.fetch_max(n, Relaxed);
            }
            return Ok(());
        }
        // Over capacity: the queue was full, so no waiter needs a notify.
        self.queued.fetch_sub(2, SeqCst);
        Err(Refused::Full)
    }

    /// Waits in line until this submitter is at its head and a place is
    /// free, or the pool closes (rule 8).
    fn reserve_in_line(&self) -> Result<(), Refused> {
        let mut line = lock(&self.line);
        let ticket = line.next_ticket;
        line.next_ticket += 1;
        self.waiters.fetch_add(1, SeqCst);
        let result = loop {
            if line.serving == ticket {
                match self.try_reserve(false) {
                    Err(Refused::Full) => {}
                    r => break r,
                }
            } else if self.is_closed() {
                break Err(Refused::Closed);
            }
            line = wait(&self.space, line);
        };
        if line.serving == ticket {
            line.serving += 1;
        }
        let behind = self.waiters.fetch_sub(1, SeqCst) - 1;
        drop(line);
        // The next in line may find space at once (a notify is a syscall:
        // only when someone is there to hear it).
        if behind > 0 {
            self.space.notify_all();
        }
        result
    }

    /// Gives back a reservation or a taken job's place, notifying the line
    /// when the queue has drained to half its capacity (rule 8).
    pub(crate) fn release(&self) {
        let prev = self.queued.fetch_sub(2, SeqCst);
        let n = (prev >> 1).saturating_sub(1);
        if n <= self.capacity / 2 && self.waiters.load(SeqCst) > 0 {
            let _g = lock(&self.line);
            self.space.notify_all();
        }
    }

    /// Refuses every later reservation and wakes the line, whose waiters
    /// then give up with `Refused::Closed`.
    pub(crate) fn close(&self) {
        self.queued.fetch_or(CLOSED, SeqCst);
        let _g = lock(&self.line);
        self.space.notify_all();
    }

    /// Jobs reserved and not yet taken.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(SeqCst) >> 1
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queued.load(SeqCst) & CLOSED != 0
    }

    /// Rule 2: the only state in which a worker may leave.
    pub(crate) fn is_closed_and_empty(&self) -> bool {
        self.queued.load(SeqCst) == CLOSED
    }

    /// Neither jobs nor a close: a would-be sleeper may park (rule 4).
    pub(crate) fn is_idle(&self) -> bool {
        self.queued.load(SeqCst) == 0
    }

    pub(crate) fn submitted(&self) -> u64 {
        self.submitted.load(Relaxed)
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }
}
