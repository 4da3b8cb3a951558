//! The protocol engine behind [`CircuitBreaker`](crate::CircuitBreaker):
//! admission, outcomes and transitions, by the numbered rules in the
//! [module docs](super).

use std::collections::VecDeque;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::{PoisonError, TryLockError};
use std::time::Duration;

use crossbeam_utils::CachePadded;

#[cfg(loom)]
use loom::sync::{atomic::AtomicU64, Mutex, MutexGuard};
#[cfg(not(loom))]
use std::sync::{atomic::AtomicU64, Mutex, MutexGuard};

use super::builder::Hook;
use super::error::{BreakerError, BreakerState};
use super::stats::{Count, Stripes};
use super::window::Window;
use super::word::Word;
use crate::clock::Clock;

pub(super) struct Inner<C> {
    /// The state word (protocol rule 1); loaded by every call.
    word: CachePadded<AtomicU64>,
    /// When an open breaker lets a probe through, in clock nanoseconds
    /// (rule 5).
    half_open_at: AtomicU64,
    pub(super) times_opened: AtomicU64,
    cfg: Config,
    pub(super) clock: C,
    pub(super) stats: Stripes,
    window: Option<Mutex<Window>>,
    /// Taken for every transition (rule 5); holds the changes the hook has
    /// yet to see (rule 8).
    transitions: Mutex<VecDeque<(BreakerState, BreakerState)>>,
    hook: Option<Hook>,
    hook_gate: Mutex<()>,
}

pub(super) struct Config {
    pub(super) threshold: Option<u32>,
    pub(super) rate: Option<(f64, u32)>,
    pub(super) reset_after: Duration,
    pub(super) half_open_max: u16,
}

/// What a call was admitted as, and at which epoch (rule 2).
#[derive(Clone, Copy)]
enum Kind {
    Closed(u32),
    Probe(u32),
}

/// An admitted call; dropped without [`finish`](Ticket::finish), it hands a
/// probe's slot back (rule 4).
pub(super) struct Ticket<'a, C: Clock> {
    inner: &'a Inner<C>,
    kind: Kind,
    finished: bool,
}

impl<C: Clock> Ticket<'_, C> {
    #[inline]
    pub(super) fn finish(mut self, failed: bool) {
        self.finished = true;
        self.inner.settle(self.kind, failed);
    }
}

impl<C: Clock> Drop for Ticket<'_, C> {
    fn drop(&mut self) {
        if !self.finished {
            self.inner.abandon(self.kind);
        }
    }
}

/// What an update decides for the word it sees.
enum Step {
    /// Leave it.
    Ignore,
    /// Change the payload (no lock needed).
    Set(Word),
    /// Change the state (under the lock, rule 5).
    Move(Word),
}

/// What an update did.
#[derive(PartialEq, Eq)]
enum Done {
    Nothing,
    Set,
    Moved(Word),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `half_open_at` for a breaker that stays open for good (rule 6): the
/// clock's last nanosecond, a time a call never gets past.
const NEVER: u64 = u64::MAX;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl<C> Inner<C> {
    pub(super) fn new(cfg: Config, clock: C, hook: Option<Hook>) -> Self {
        let window = cfg
            .rate
            .map(|(rate, len)| Mutex::new(Window::new(rate, len)));
        Inner {
            word: CachePadded::new(AtomicU64::new(Word::closed(0, 0).0)),
            half_open_at: AtomicU64::new(0),
            times_opened: AtomicU64::new(0),
            cfg,
            clock,
            stats: Stripes::new(),
            window,
            transitions: Mutex::new(VecDeque::new()),
            hook,
            hook_gate: Mutex::new(()),
        }
    }

    #[inline]
    pub(super) fn load(&self) -> Word {
        Word(self.word.load(Acquire))
    }

    #[inline]
    fn cas(&self, current: Word, new: Word) -> Result<(), Word> {
        self.word
            .compare_exchange(current.0, new.0, AcqRel, Acquire)
            .map(|_| ())
            .map_err(Word)
    }
}

impl<C: Clock> Inner<C> {
    fn ticket(&self, kind: Kind) -> Ticket<'_, C> {
        Ticket {
            inner: self,
            kind,
            finished: false,
        }
    }

    /// Lets a call through, or says how long until one may go (rules 3, 4, 6).
    #[inline]
    pub(super) fn admit<E>(&self) -> Result<Ticket<'_, C>, BreakerError<E>> {
        let w = self.load();
        if w.state() == BreakerState::Closed {
            return Ok(self.ticket(Kind::Closed(w.epoch())));
        }
        self.admit_slow(w).map_err(|retry_after| {
            self.stats.add(Count::Rejected);
            BreakerError::Open { retry_after }
        })
    }

    fn admit_slow(&self, mut w: Word) -> Result<Ticket<'_, C>, Duration> {
        loop {
            match w.state() {
                BreakerState::Closed => return Ok(self.ticket(Kind::Closed(w.epoch()))),
                BreakerState::HalfOpen => {
                    if w.admitted() >= self.cfg.half_open_max {
                        return Err(Duration::ZERO);
                    }
                    let next = Word::half_open(w.epoch(), w.admitted() + 1, w.succeeded());
                    match self.cas(w, next) {
                        Ok(()) => return Ok(self.ticket(Kind::Probe(w.epoch()))),
                        Err(actual) => w = actual,
                    }
                }
                _ => {
                    let now = nanos(self.clock.now());
                    let at = self.half_open_at.load(Relaxed);
                    if at == NEVER {
                        return Err(Duration::MAX);
                    }
                    if now < at {
                        return Err(Duration::from_nanos(at - now));
                    }
                    let seen = w;
                    let done = self.update_locked(|cur| {
                        if cur == seen {
                            Step::Move(Word::half_open(seen.next_epoch(), 1, 0))
                        } else {
                            Step::Ignore
                        }
                    });
                    if let Done::Moved(next) = done {
                        // The ticket exists before the hook runs, so the
                        // slot is the caller's whatever the hook does.
                        let ticket = self.ticket(Kind::Probe(next.epoch()));
                        self.dispatch();
                        return Ok(ticket);
                    }
                    w = self.load();
                }
            }
        }
    }

    /// Records the outcome of an admitted call (rules 2-5, 7).
    #[inline]
    fn settle(&self, kind: Kind, failed: bool) {
        self.stats.add(if failed {
            Count::Failure
        } else {
            Count::Success
        });
        let closed = BreakerState::Closed;
        let half_open = BreakerState::HalfOpen;
        let done = match kind {
            Kind::Closed(epoch) => {
                let mut done = Done::Nothing;
                if let Some(threshold) = self.cfg.threshold {
                    done = if failed {
                        self.update(|w| {
                            if !w.is(closed, epoch) {
                                Step::Ignore
                            } else if w.failures() >= threshold - 1 {
                                Step::Move(Word::open(w.next_epoch()))
                            } else {
                                Step::Set(Word::closed(epoch, w.failures() + 1))
                            }
                        })
                    } else {
                        // Rule 3: the usual case, no failures to forget,
                        // is a load and no write.
                        self.update(|w| {
                            if w.failures() != 0 && w.is(closed, epoch) {
                                Step::Set(Word::closed(epoch, 0))
                            } else {
                                Step::Ignore
                            }
                        })
                    };
                }
                if let Some(window) = &self.window {
                    if lock(window).record(epoch, failed) {
                        let opened = self.update(|w| {
                            if w.is(closed, epoch) {
                                Step::Move(Word::open(w.next_epoch()))
                            } else {
                                Step::Ignore
                            }
                        });
                        if opened != Done::Nothing {
                            done = opened;
                        }
                    }
                }
                done
            }
            Kind::Probe(epoch) if failed => self.update(|w| {
                if w.is(half_open, epoch) {
                    Step::Move(Word::open(w.next_epoch()))
                } else {
                    Step::Ignore
                }
            }),
            Kind::Probe(epoch) => {
                let max = self.cfg.half_open_max;
                self.update(|w| {
                    if !w.is(half_open, epoch) {
                        Step::Ignore
                    } else if w.succeeded() + 1 >= max {
                        Step::Move(Word::closed(w.next_epoch(), 0))
                    } else {
                        Step::Set(Word::half_open(epoch, w.admitted(), w.succeeded() + 1))
                    }
                })
            }
        };
        if let Done::Moved(_) = done {
            self.dispatch();
        }
    }

    /// A call ended without an outcome: a probe hands its slot back (rule 4).
    #[cold]
    fn abandon(&self, kind: Kind) {
        if let Kind::Probe(epoch) = kind {
            self.update(|w| {
                if w.is(BreakerState::HalfOpen, epoch) {
                    Step::Set(Word::half_open(
                        epoch,
                        w.admitted().saturating_sub(1),
                        w.succeeded(),
                    ))
                } else {
                    Step::Ignore
                }
            });
        }
    }

    /// Applies `decide` to the word: payload changes by compare-and-swap,
    /// transitions under the lock (rule 5).
    #[inline]
    fn update(&self, mut decide: impl FnMut(Word) -> Step) -> Done {
        let mut w = self.load();
        loop {
            match decide(w) {
                Step::Ignore => return Done::Nothing,
                Step::Set(next) => match self.cas(w, next) {
                    Ok(()) => return Done::Set,
                    Err(actual) => w = actual,
                },
                Step::Move(_) => return self.update_locked(decide),
            }
        }
    }

    /// Rule 5: under the lock, decide again until the swap succeeds. The
    /// caller runs [`dispatch`](Self::dispatch) after a `Moved`.
    #[cold]
    fn update_locked(&self, mut decide: impl FnMut(Word) -> Step) -> Done {
        let mut pending = lock(&self.transitions);
        let mut w = self.load();
        loop {
            match decide(w) {
                Step::Ignore => return Done::Nothing,
                Step::Set(next) => match self.cas(w, next) {
                    Ok(()) => return Done::Set,
                    Err(actual) => w = actual,
                },
                Step::Move(next) => {
                    // Rule 5: under the lock the state cannot change (only
                    // the payload can), so the word is not open now. A
                    // caller still holding an older open word may read the
                    // new time: a later one, which is the better answer,
                    // and its own transition then finds the word changed.
                    let opening = next.state() == BreakerState::Open;
                    if opening {
                        // Rule 6: a time at or past the clock's end never
                        // comes, and is kept as NEVER, not pinned there.
                        let now = nanos(self.clock.now());
                        let at = now
                            .checked_add(nanos(self.cfg.reset_after))
                            .unwrap_or(NEVER);
                        self.half_open_at.store(at, Relaxed);
                    }
                    match self.cas(w, next) {
                        Ok(()) => {
                            if opening {
                                self.times_opened.fetch_add(1, Relaxed);
                            }
                            if self.hook.is_some() {
                                pending.push_back((w.state(), next.state()));
                            }
                            return Done::Moved(next);
                        }
                        Err(actual) => w = actual,
                    }
                }
            }
        }
    }

    /// Runs the hook for queued transitions, in order (rule 8).
    #[cold]
    fn dispatch(&self) {
        let Some(hook) = &self.hook else { return };
        loop {
            let gate = match self.hook_gate.try_lock() {
                Ok(gate) => gate,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => return, // the holder will see ours
            };
            loop {
                let next = lock(&self.transitions).pop_front();
                match next {
                    Some((from, to)) => run_hook(hook, from, to),
                    None => break,
                }
            }
            drop(gate);
            if lock(&self.transitions).is_empty() {
                return;
            }
        }
    }
}

/// Calls the user's hook for one transition (rule 8). A panic in it is
/// caught and reported: it is the hook's bug, and must not replace the
/// result of whichever call happened to make the transition, nor leave a
/// transition unreported to the hook.
fn run_hook(hook: &Hook, from: BreakerState, to: BreakerState) {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(from, to)));
    if let Err(payload) = caught {
        #[cfg(feature = "tracing")]
        tracing::warn!(
            %from,
            %to,
            panic = %crate::pool::task::panic_message(&*payload),
            "the circuit breaker's on_state_change hook panicked; the call and the breaker go on"
        );
        // Dropping a payload is user code too.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(payload)));
    }
}
