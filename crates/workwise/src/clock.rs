//! Time as a parameter: the real monotonic clock, and a manual clock that
//! tests move by hand.
//!
//! Every type in workwise that depends on time (the rate limiter, the circuit
//! breaker, retries) takes a [`Clock`], so that its logic can be tested
//! exactly on a [`ManualClock`] instead of with sleeps.
//!
//! # Which real clock
//!
//! [`RealClock`] reads [`Instant`], the OS monotonic clock (`CLOCK_MONOTONIC`
//! through the vDSO on Linux): about 30-40 ns a read on these VMs. A raw TSC
//! read (what `quanta`, and so governor, uses) is about 10 ns, but a TSC
//! clock can run backwards when a thread moves between cores whose counters
//! are not in step (governor issue #299), and a limiter that sees time go
//! backwards can grant a burst it should not. workwise pays the extra
//! nanoseconds for a clock that never goes back; the bench row
//! `limiter.try_acquire.1t` reports the cost against governor both ways.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use event_listener::{Event, EventListener, Listener};

/// The deadline `timeout` from now, or `None` when it lies beyond what an
/// [`Instant`] can hold: a far deadline means "no deadline", never an
/// overflow panic. Every deadline computed from a user's `Duration` goes
/// through here.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    deadline_from(Instant::now(), timeout)
}

/// [`deadline_after`] from a given instant.
pub(crate) fn deadline_from(start: Instant, timeout: Duration) -> Option<Instant> {
    start.checked_add(timeout)
}

/// A source of monotonic time, as a duration since the clock's own origin.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// assert_eq!(clock.now(), Duration::ZERO);
/// clock.advance(Duration::from_secs(3));
/// assert_eq!(clock.now(), Duration::from_secs(3));
/// ```
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The time since this clock's origin; never decreases.
    fn now(&self) -> Duration;

    /// Blocks the calling thread until `now() >= at`.
    fn sleep_until(&self, at: Duration);

    /// A future that completes once `now() >= at`; it needs no runtime.
    fn sleep_until_async(&self, at: Duration) -> Sleep;
}

/// The monotonic clock of the OS; see the [module docs](crate::Clock) for
/// why this one.
///
/// # Examples
///
/// ```
/// use workwise::{Clock, RealClock};
///
/// let clock = RealClock::new();
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RealClock {
    origin: Instant,
}

impl RealClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        RealClock {
            origin: Instant::now(),
        }
    }
}

impl Default for RealClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for RealClock {
    #[inline]
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep_until(&self, at: Duration) {
        let Some(deadline) = self.origin.checked_add(at) else {
            // Beyond what an Instant can hold: that time never comes.
            loop {
                std::thread::park();
            }
        };
        loop {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            std::thread::sleep(deadline - now);
        }
    }

    fn sleep_until_async(&self, at: Duration) -> Sleep {
        Sleep(SleepInner::Real {
            deadline: self.origin.checked_add(at),
        })
    }
}

/// A clock that moves only when told to, for tests. Clones share one time.
///
/// Threads blocked in [`Clock::sleep_until`] and futures from
/// [`Clock::sleep_until_async`] wake when [`advance`](ManualClock::advance)
/// moves the time past their deadline.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let sleeper = {
///     let clock = clock.clone();
///     std::thread::spawn(move || clock.sleep_until(Duration::from_secs(60)))
/// };
/// clock.advance(Duration::from_secs(60)); // no real minute passes
/// sleeper.join().unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug, Default)]
struct ManualInner {
    nanos: AtomicU64,
    moved: Event,
}

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the time forward by `d`.
    pub fn advance(&self, d: Duration) {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(d))
            });
        self.inner.moved.notify(usize::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.inner.nanos.load(Ordering::Acquire))
    }

    fn sleep_until(&self, at: Duration) {
        loop {
            if self.now() >= at {
                return;
            }
            let listener = self.inner.moved.listen();
            if self.now() >= at {
                return;
            }
            listener.wait();
        }
    }

    fn sleep_until_async(&self, at: Duration) -> Sleep {
        Sleep(SleepInner::Manual {
            clock: self.clone(),
            at,
            listener: None,
        })
    }
}

/// The future returned by [`Clock::sleep_until_async`].
///
/// For the real clock, one shared timer thread (`workwise-timer`, started on
/// first use) wakes sleeping futures, so it works on any runtime or none.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{Clock, RealClock};
///
/// let clock = RealClock::new();
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// clock.sleep_until_async(clock.now() + Duration::from_millis(5)).await;
/// # });
/// ```
pub struct Sleep(SleepInner);

enum SleepInner {
    Real {
        /// `None`: beyond what an Instant can hold, a time that never comes.
        deadline: Option<Instant>,
    },
    Manual {
        clock: ManualClock,
        at: Duration,
        listener: Option<EventListener>,
    },
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sleep")
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.get_mut().0 {
            SleepInner::Real { deadline } => {
                let Some(deadline) = *deadline else {
                    return Poll::Pending;
                };
                if Instant::now() >= deadline {
                    return Poll::Ready(());
                }
                // Register on every pending poll: the waker may have changed.
                // A stale entry only wakes its task once more, harmlessly.
                timer().register(deadline, cx.waker().clone());
                Poll::Pending
            }
            SleepInner::Manual {
                clock,
                at,
                listener,
            } => loop {
                if clock.now() >= *at {
                    return Poll::Ready(());
                }
                match listener {
                    Some(l) => {
                        if Pin::new(&mut *l).poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        *listener = None;
                    }
                    None => *listener = Some(clock.inner.moved.listen()),
                }
            },
        }
    }
}

/// The shared timer thread behind real-clock [`Sleep`]s.
struct Timer {
    heap: Mutex<BinaryHeap<Reverse<TimerEntry>>>,
    changed: Condvar,
}

struct TimerEntry {
    deadline: Instant,
    waker: Waker,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.deadline.cmp(&other.deadline)
    }
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            heap: Mutex::new(BinaryHeap::new()),
            changed: Condvar::new(),
        }));
        // Without the thread (the OS refused it) real-clock sleeps would
        // never wake; that is the one failure here, and it is reported.
        let started = std::thread::Builder::new()
            .name("workwise-timer".into())
            .spawn(move || timer.run());
        if let Err(e) = started {
            eprintln!("workwise: could not start the timer thread: {e}");
        }
        timer
    })
}

impl Timer {
    fn register(&self, deadline: Instant, waker: Waker) {
        let mut heap = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        let earliest = heap.peek().is_none_or(|Reverse(e)| deadline < e.deadline);
        heap.push(Reverse(TimerEntry { deadline, waker }));
        drop(heap);
        if earliest {
            self.changed.notify_one();
        }
    }

    fn run(&self) {
        let mut heap = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            while heap.peek().is_some_and(|Reverse(e)| e.deadline <= now) {
                if let Some(Reverse(e)) = heap.pop() {
                    e.waker.wake();
                }
            }
            let next = heap.peek().map(|Reverse(e)| e.deadline);
            heap = match next {
                None => self.changed.wait(heap).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(now);
                    match self.changed.wait_timeout(heap, wait) {
                        Ok((g, _)) => g,
                        Err(e) => e.into_inner().0,
                    }
                }
            };
        }
    }
}
