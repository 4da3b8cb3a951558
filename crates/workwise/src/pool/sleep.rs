//! The sleep/wake protocol of a pool's workers, shaped by events as
//! rayon-core's `sleep/` is: a push announces [`new_jobs`](Sleep::new_jobs),
//! a worker [`start_looking`](Sleep::start_looking)s, then either
//! [`work_found`](Sleep::work_found) or [`no_work_found`](Sleep::no_work_found).
//!
//! # Protocol
//!
//! 3. `state` counts searching workers (low bits) and sleeping workers (high
//!    bits). After a push, the submitter fences (SeqCst) and reads `state`;
//!    if no worker is searching it wakes a sleeper, or, in an elastic pool,
//!    starts a worker. Whoever wakes or starts a worker counts it as
//!    searching.
//! 4. A searching worker that gives up moves itself from searching to
//!    sleeping under the sleepers' lock, fences, and rereads the queue; if it
//!    is not idle it does not park. By 3 and 4, either the submitter sees no
//!    searcher and wakes someone, or the would-be sleeper sees the job (or
//!    the close).
//! 5. The last searcher to find a job wakes one more worker if jobs remain,
//!    so a burst spreads over the pool one worker at a time.
//! 6. A sleeper is woken by being removed from the sleepers' list under its
//!    lock; one that finds itself still listed after `park` returns was not
//!    woken (a spurious return or its keep-alive ran out).
//! 7. An elastic worker retires by removing itself from the list and
//!    leaving `live` under the lock, then fences and rereads the queue; if
//!    work arrived it rejoins. A submitter that finds no sleeper to wake
//!    reads `live` and starts a worker: one of the two sees the other.

use crossbeam_utils::CachePadded;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::sync::{fence, lock, thread, AtomicUsize, Mutex, Thread};

const SEARCH: usize = 1;
const SEARCH_MASK: usize = (1 << 20) - 1;
const SLEEP: usize = 1 << 20;

struct Sleeper {
    index: usize,
    thread: Thread,
}

/// How a worker's sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woke {
    /// It was woken, or never parked, and counts as searching again.
    ToLook,
    /// Its keep-alive ran out and it left `live`: the thread ends.
    ToRetire,
}

pub(crate) struct Sleep {
    state: CachePadded<AtomicUsize>,
    sleepers: Mutex<Vec<Sleeper>>,
}

impl Sleep {
    pub(crate) fn new() -> Sleep {
        Sleep {
            state: CachePadded::new(AtomicUsize::new(0)),
            sleepers: Mutex::new(Vec::new()),
        }
    }

    /// A worker (new, woken by itself, or rejoining) counts as searching.
    pub(crate) fn start_looking(&self) {
        self.state.fetch_add(SEARCH, SeqCst);
    }

    /// A searching worker stops without finding work: it exits, or the
    /// worker its caller counted could not be started.
    pub(crate) fn stop_looking(&self) {
        self.state.fetch_sub(SEARCH, SeqCst);
    }

    /// Rule 3, after a push: returns true when nobody searches and no
    /// sleeper could be woken, so the caller should start a worker.
    pub(crate) fn new_jobs(&self) -> bool {
        fence(SeqCst);
        self.state.load(SeqCst) & SEARCH_MASK == 0 && !self.wake_one()
    }

    /// Wakes one sleeper, counting it as searching (rule 6); false when
    /// none sleeps.
    pub(crate) fn wake_one(&self) -> bool {
        if self.state.load(SeqCst) < SLEEP {
            return false;
        }
        let woken = {
            let mut sleepers = lock(&self.sleepers);
            let s = sleepers.pop();
            if s.is_some() {
                self.state.fetch_sub(SLEEP - SEARCH, SeqCst);
            }
            s
        };
        match woken {
            Some(s) => {
                s.thread.unpark();
                true
            }
            None => false,
        }
    }

    /// Rule 5: a searching worker found a job. Returns true when it was the
    /// last searcher and `jobs_remain()`, so the caller should wake or start
    /// one more worker.
    pub(crate) fn work_found(&self, jobs_remain: impl FnOnce() -> bool) -> bool {
        let prev = self.state.fetch_sub(SEARCH, SeqCst);
        prev & SEARCH_MASK == 1 && jobs_remain()
    }

    /// Rules 4, 6 and 7: a searching worker found nothing. It parks until
    /// woken, unless `idle()` turns false first; with a `keep_alive` it
    /// retires when that runs out: `leave()` runs under the sleepers' lock
    /// (it leaves `live`), then `rejoin()` decides, after a fence, whether
    /// work arrived meanwhile and the worker may count itself back in.
    pub(crate) fn no_work_found(
        &self,
        index: usize,
        idle: impl Fn() -> bool,
        keep_alive: Option<Duration>,
        leave: impl FnOnce(),
        rejoin: impl FnOnce() -> bool,
    ) -> Woke {
        {
            let mut sleepers = lock(&self.sleepers);
            sleepers.push(Sleeper {
                index,
                thread: thread::current(),
            });
            self.state.fetch_add(SLEEP - SEARCH, SeqCst);
        }
        fence(SeqCst);
        // The broken twin skips rule 4's second look, the lost wake-up that
        // the loom model must catch.
        if !cfg!(workwise_broken_pool) && !idle() {
            self.unlist(index);
            return Woke::ToLook;
        }
        let deadline = Deadline::after(keep_alive);
        loop {
            deadline.park();
            let mut sleepers = lock(&self.sleepers);
            let Some(pos) = sleepers.iter().position(|s| s.index == index) else {
                return Woke::ToLook; // woken: the waker counted us as searching
            };
            if deadline.passed() {
                sleepers.swap_remove(pos);
                self.state.fetch_sub(SLEEP, SeqCst);
                leave();
                drop(sleepers);
                fence(SeqCst);
                if rejoin() {
                    self.start_looking();
                    return Woke::ToLook;
                }
                return Woke::ToRetire;
            }
        }
    }

    /// Takes a worker that decided not to park off the list, unless a waker
    /// already did (then the waker counted it as searching).
    fn unlist(&self, index: usize) {
        let mut sleepers = lock(&self.sleepers);
        if let Some(pos) = sleepers.iter().position(|s| s.index == index) {
            sleepers.swap_remove(pos);
            self.state.fetch_sub(SLEEP - SEARCH, SeqCst);
        }
    }

    /// Wakes every sleeper (the pool closed), counting each as searching.
    pub(crate) fn wake_all(&self) {
        let drained = std::mem::take(&mut *lock(&self.sleepers));
        self.state
            .fetch_sub((SLEEP - SEARCH) * drained.len(), SeqCst);
        for s in drained {
            s.thread.unpark();
        }
    }
}

/// When a sleeping worker's keep-alive runs out. Under loom there is no
/// time: a worker sleeps until woken.
struct Deadline(#[cfg(not(loom))] Option<std::time::Instant>);

impl Deadline {
    #[cfg(not(loom))]
    fn after(keep_alive: Option<Duration>) -> Deadline {
        // An endless keep-alive (no Instant that far) means never retire.
        Deadline(keep_alive.and_then(crate::clock::deadline_after))
    }

    #[cfg(loom)]
    fn after(_keep_alive: Option<Duration>) -> Deadline {
        Deadline()
    }

    fn park(&self) {
        #[cfg(not(loom))]
        match self.0 {
            None => thread::park(),
            Some(d) => thread::park_timeout(d.saturating_duration_since(std::time::Instant::now())),
        }
        #[cfg(loom)]
        thread::park();
    }

    fn passed(&self) -> bool {
        #[cfg(not(loom))]
        return self.0.is_some_and(|d| std::time::Instant::now() >= d);
        #[cfg(loom)]
        false
    }
}
