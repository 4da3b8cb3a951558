//! Time as a parameter: the real monotonic clock, and a manual clock that
//! tests move by hand.
//!
//! Every type in workwise that depends on time (the rate limiter, the circuit
//! breaker, retries) takes a [`Clock`], so that its logic can be tested
//! exactly on a [`ManualClock`] instead of with sleeps.
//!
//! # Which real clock
//!
//! [`RealClock`] reads the CPU's counter directly (`rdtsc` through `quanta`,
//! about 10 ns a read, what governor reads) where the kernel's own
//! clocksource is that counter, so that the kernel has checked it is in step
//! across cores; elsewhere, and from [`RealClock::os`], it reads [`Instant`]
//! (`CLOCK_MONOTONIC` through the vDSO, about 30-40 ns on these VMs). The
//! rate limiter, whose whole decision is one compare-and-swap, is where the
//! difference shows: bench row `limiter.try_acquire.1t`. Why not the counter
//! everywhere (quanta does not check the cores against each other: quanta
//! #111, governor #299) and why not `CLOCK_MONOTONIC_COARSE`: see the
//! `counter` module's notes, summed up in ARCHITECTURE.md's decisions.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use event_listener::{Event, EventListener, Listener};

#[cfg(feature = "tsc")]
use crate::counter::Counter;

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
    /// The time since this clock's origin; it should never decrease.
    ///
    /// A real clock may still step back a little (see the [module
    /// docs](crate::Clock) on the TSC), and [`ManualClock::rewind`] steps
    /// back on purpose: code that reads a clock must never grant more when
    /// the time it reads goes back. [`RateLimiter`](crate::RateLimiter) only
    /// becomes stricter.
    fn now(&self) -> Duration;

    /// [`now`](Self::now) in whole nanoseconds, `u64::MAX` from about 584
    /// years on: what the rate limiter reads. A clock that counts
    /// nanoseconds itself can give them without building a `Duration`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// clock.advance(Duration::from_micros(3));
    /// assert_eq!(clock.now_nanos(), 3_000);
    /// ```
    #[inline]
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Blocks the calling thread until `now() >= at`.
    fn sleep_until(&self, at: Duration);

    /// A future that completes once `now() >= at`; it needs no runtime.
    fn sleep_until_async(&self, at: Duration) -> Sleep;
}

/// The real clock: the CPU's counter where the kernel vouches that it is in
/// step across cores, the OS monotonic clock ([`Instant`]) elsewhere.
///
/// The counter (`rdtsc` on x86-64, read through `quanta`, as governor does)
/// costs about 10 ns a read against `Instant`'s 30-40 ns on these VMs; it is
/// read only where the kernel's own clocksource is that counter, having
/// checked it across cores. See the `counter` notes in ARCHITECTURE.md's
/// decisions for why, and [`Clock::now`] for what a step back does.
///
/// # Examples
///
/// ```
/// use workwise::{Clock, RealClock};
///
/// let clock = RealClock::new();
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// println!("reads the CPU's counter: {}", clock.reads_counter());
/// ```
///
/// # Cost
///
/// One [`now`](Clock::now): a counter read and a multiply-shift, or one
/// [`Instant::now`]. The first `RealClock::new` of a process reads a file
/// from `/sys` and, where the counter is used, lets `quanta` calibrate it
/// against the OS clock (from half a millisecond to at most 200 ms). Bench
/// row `limiter.try_acquire.1t`.
#[derive(Debug, Clone, Copy)]
pub struct RealClock {
    origin: Instant,
    /// The counter, where it is read (`tsc` feature).
    #[cfg(feature = "tsc")]
    counter: Option<Counter>,
}

impl RealClock {
    /// A clock whose origin is now: the counter where the kernel vouches
    /// for it, the OS monotonic clock elsewhere.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{Clock, RealClock};
    ///
    /// assert!(RealClock::new().now() < std::time::Duration::from_secs(60));
    /// ```
    pub fn new() -> Self {
        RealClock {
            origin: Instant::now(),
            #[cfg(feature = "tsc")]
            counter: Counter::new(),
        }
    }

    /// A clock whose origin is now that reads the OS monotonic clock
    /// ([`Instant`]) on every call, whatever the kernel's clocksource.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{RateLimiter, RealClock};
    ///
    /// assert!(!RealClock::os().reads_counter());
    /// let limiter = RateLimiter::per_second(10).clock(RealClock::os()).build()?;
    /// limiter.try_acquire()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn os() -> Self {
        RealClock {
            origin: Instant::now(),
            #[cfg(feature = "tsc")]
            counter: None,
        }
    }

    /// Whether this clock reads the CPU's counter (`true`) or the OS
    /// monotonic clock (`false`).
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = workwise::RealClock::new();
    /// if !clock.reads_counter() {
    ///     println!("the kernel's clocksource is not the CPU's counter here");
    /// }
    /// ```
    pub fn reads_counter(&self) -> bool {
        #[cfg(feature = "tsc")]
        return self.counter.is_some();
        #[cfg(not(feature = "tsc"))]
        false
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
        #[cfg(feature = "tsc")]
        if let Some(counter) = &self.counter {
            return counter.now();
        }
        self.origin.elapsed()
    }

    #[inline]
    fn now_nanos(&self) -> u64 {
        #[cfg(feature = "tsc")]
        if let Some(counter) = &self.counter {
            return counter.now_nanos();
        }
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn sleep_until(&self, at: Duration) {
        if self.reads_counter() {
            // The OS sleeps on its own clock, whose rate differs from the
            // calibrated counter's by parts per million: check again.
            loop {
                let now = self.now();
                if now >= at {
                    return;
                }
                std::thread::sleep(at - now);
            }
        }
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
        if self.reads_counter() {
            return Sleep(SleepInner::Rechecking {
                clock: *self,
                at,
                real: RealSleep::new(instant_at(self, at)),
            });
        }
        Sleep(SleepInner::Real(RealSleep::new(
            self.origin.checked_add(at),
        )))
    }
}

/// The [`Instant`] at which `clock` reaches `at`, judged now; `None` when that
/// lies beyond what an `Instant` holds. The clock is read first, so the
/// deadline errs late, never early.
fn instant_at(clock: &RealClock, at: Duration) -> Option<Instant> {
    deadline_after(at.saturating_sub(clock.now()))
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

    /// Moves the time *back* by `d` (stopping at zero), for tests of what
    /// code does when a real clock steps back.
    ///
    /// This breaks [`Clock::now`]'s promise on purpose: a real clock can
    /// still step back a little, for instance a TSC read on a core whose
    /// counter is behind another's, and code that reads a clock must never
    /// hand out more because of it. A thread asleep on this clock sleeps on
    /// until the time passes its deadline again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{Clock, ManualClock, RateLimiter};
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::per_second(1).clock(clock.clone()).build()?;
    /// clock.advance(Duration::from_secs(10));
    /// limiter.try_acquire()?;
    /// clock.rewind(Duration::from_secs(5));
    /// assert_eq!(clock.now(), Duration::from_secs(5));
    /// assert!(limiter.try_acquire().is_err()); // the step back grants nothing
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rewind(&self, d: Duration) {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(d))
            });
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
/// first use) wakes sleeping futures, so it works on any runtime or none. A
/// pending sleep holds one entry in that timer, however often it is polled,
/// and gives it back when it is dropped; the timer wakes with no lock held,
/// so a waker may itself start, poll or drop sleeps.
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
    Real(RealSleep),
    /// On the counter: the timer's deadline is judged when the sleep
    /// starts, and `clock` is read again when it fires.
    Rechecking {
        clock: RealClock,
        at: Duration,
        real: RealSleep,
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
            SleepInner::Real(real) => real.poll(cx, timer),
            SleepInner::Rechecking { clock, at, real } => loop {
                if clock.now() >= *at {
                    return Poll::Ready(());
                }
                if real.poll(cx, timer).is_pending() {
                    return Poll::Pending;
                }
                // The timer fired early on `clock` (their rates differ by
                // parts per million): wait for the rest.
                *real = RealSleep::new(instant_at(clock, *at));
            },
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

/// A real-clock sleep: one entry in the timer from its first pending poll
/// until it drops.
///
/// # Protocol
///
/// 1. A sleep has at most one entry in the timer, keyed by its deadline and
///    an id, whose shared part holds the waker to wake. A later poll with
///    another waker replaces it in place (`Waker::will_wake`).
/// 2. The timer takes a due entry out of its map under the map lock, then,
///    with no lock held, takes the waker out of the entry (`None` from then
///    on: fired) and wakes it. A waker may thus start, poll or drop sleeps.
/// 3. A poll that finds its entry fired returns ready: the timer fires an
///    entry only once its deadline has passed. The waker is stored and taken
///    under the entry's lock, so a waker set by a poll is either woken or
///    seen as fired by that poll.
/// 4. Dropping a sleep takes its entry out of the map (unless it fired), and
///    drops what it removed after the lock is released: a waker's `Drop` is
///    user code too.
struct RealSleep {
    /// `None`: beyond what an Instant can hold, a time that never comes.
    deadline: Option<Instant>,
    entry: Option<Registered>,
}

/// A sleep's place in a timer (rule 1).
struct Registered {
    timer: &'static Timer,
    key: Key,
    shared: Arc<Entry>,
}

/// A deadline and a unique id: entries with one deadline stay apart.
type Key = (Instant, u64);

/// What a sleep and the timer share: the waker to wake, `None` once fired.
struct Entry {
    waker: Mutex<Option<Waker>>,
}

/// Locks, ignoring poison: the one user code run under these locks is a
/// waker's `clone`, and a panic there leaves the data whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RealSleep {
    fn new(deadline: Option<Instant>) -> Self {
        RealSleep {
            deadline,
            entry: None,
        }
    }

    /// `timer` is called on the first pending poll (the shared timer
    /// thread starts then; unit tests pass a timer of their own).
    fn poll(&mut self, cx: &mut Context<'_>, timer: impl FnOnce() -> &'static Timer) -> Poll<()> {
        let Some(deadline) = self.deadline else {
            return Poll::Pending;
        };
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        match &self.entry {
            None => self.entry = Some(timer().register(deadline, cx.waker().clone())),
            Some(entry) => {
                let mut waker = lock(&entry.shared.waker);
                let Some(current) = waker.as_mut() else {
                    return Poll::Ready(()); // rule 3: fired
                };
                if !current.will_wake(cx.waker()) {
                    let old = std::mem::replace(current, cx.waker().clone());
                    drop(waker);
                    drop(old); // rule 4: user code, no lock held
                }
            }
        }
        Poll::Pending
    }
}

impl Drop for RealSleep {
    /// Rule 4.
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            let fired = lock(&entry.shared.waker).is_none();
            if !fired {
                entry.timer.remove(entry.key);
            }
        }
    }
}

/// The shared timer thread behind real-clock [`Sleep`]s.
struct Timer {
    entries: Mutex<Entries>,
    /// Signalled when an entry comes before every other one.
    changed: Condvar,
}

#[derive(Default)]
struct Entries {
    by_deadline: BTreeMap<Key, Arc<Entry>>,
    next_id: u64,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(Timer::start)
}

impl Timer {
    /// A timer and its thread; they live as long as the process.
    fn start() -> &'static Timer {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            entries: Mutex::new(Entries::default()),
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
    }

    #[cfg(all(test, not(loom)))]
    fn entries(&self) -> usize {
        lock(&self.entries).by_deadline.len()
    }

    /// Rule 1.
    fn register(&'static self, deadline: Instant, waker: Waker) -> Registered {
        let shared = Arc::new(Entry {
            waker: Mutex::new(Some(waker)),
        });
        let mut entries = lock(&self.entries);
        let key = (deadline, entries.next_id);
        entries.next_id += 1;
        let earliest = entries
            .by_deadline
            .first_key_value()
            .is_none_or(|(first, _)| key < *first);
        entries.by_deadline.insert(key, shared.clone());
        drop(entries);
        if earliest {
            self.changed.notify_one();
        }
        Registered {
            timer: self,
            key,
            shared,
        }
    }

    /// Rule 4.
    fn remove(&self, key: Key) {
        let removed = lock(&self.entries).by_deadline.remove(&key);
        drop(removed);
    }

    fn run(&self) {
        let mut due = Vec::new();
        let mut entries = lock(&self.entries);
        loop {
            let now = Instant::now();
            while let Some(first) = entries.by_deadline.first_entry() {
                if first.key().0 > now {
                    break;
                }
                due.push(first.remove());
            }
            if !due.is_empty() {
                // Rule 2: wake with no lock held.
                drop(entries);
                for entry in due.drain(..) {
                    entry.fire();
                }
                entries = lock(&self.entries);
                continue;
            }
            let next = entries.by_deadline.first_key_value().map(|(key, _)| key.0);
            entries = match next {
                None => self
                    .changed
                    .wait(entries)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(now);
                    match self.changed.wait_timeout(entries, wait) {
                        Ok((g, _)) => g,
                        Err(e) => e.into_inner().0,
                    }
                }
            };
        }
    }
}

impl Entry {
    /// Rule 2: marks the entry fired and wakes its waker. The timer thread
    /// survives a waker that panics, and a panic payload whose drop panics.
    fn fire(&self) {
        let waker = lock(&self.waker).take();
        if let Some(waker) = waker {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
                if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                    std::mem::forget(again);
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    /// Counts its wakes.
    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn wakes(w: &CountingWaker) -> usize {
        w.0.load(Ordering::SeqCst)
    }

    #[test]
    fn polling_a_pending_sleep_keeps_one_timer_entry() {
        // Before: each pending poll pushed an entry holding a waker clone,
        // and entries left only at their deadline.
        let timer = Timer::start();
        let counting = Arc::new(CountingWaker::default());
        let waker = Waker::from(counting.clone());
        let mut cx = Context::from_waker(&waker);
        let mut sleep = RealSleep::new(deadline_after(HOUR));
        for _ in 0..2_000_000 {
            assert!(sleep.poll(&mut cx, || timer).is_pending());
        }
        assert_eq!(timer.entries(), 1);
        // Another waker replaces the first in the same entry.
        let other = Waker::from(Arc::new(CountingWaker::default()));
        assert!(sleep
            .poll(&mut Context::from_waker(&other), || timer)
            .is_pending());
        assert_eq!(timer.entries(), 1);
        assert_eq!(
            Arc::strong_count(&counting),
            2,
            "the first waker is held still"
        );
        drop(sleep);
        assert_eq!(timer.entries(), 0);
        assert_eq!(wakes(&counting), 0);
    }

    #[test]
    fn dropping_a_sleep_removes_its_timer_entry_and_its_waker() {
        let timer = Timer::start();
        let counting = Arc::new(CountingWaker::default());
        let waker = Waker::from(counting.clone());
        let mut cx = Context::from_waker(&waker);
        let mut sleeps: Vec<_> = (1..=3)
            .map(|h| RealSleep::new(deadline_after(HOUR * h)))
            .collect();
        for sleep in &mut sleeps {
            assert!(sleep.poll(&mut cx, || timer).is_pending());
        }
        assert_eq!(timer.entries(), 3);
        drop(sleeps.remove(1));
        assert_eq!(timer.entries(), 2);
        drop(sleeps);
        assert_eq!(timer.entries(), 0);
        drop(waker);
        assert_eq!(
            Arc::strong_count(&counting),
            1,
            "a waker clone outlived its sleep"
        );
    }

    #[test]
    fn a_sleep_wakes_only_its_latest_waker() {
        let timer = Timer::start();
        let (first, latest) = (
            Arc::new(CountingWaker::default()),
            Arc::new(CountingWaker::default()),
        );
        let mut sleep = RealSleep::new(deadline_after(Duration::from_millis(20)));
        for w in [&first, &latest] {
            let waker = Waker::from(w.clone());
            if sleep
                .poll(&mut Context::from_waker(&waker), || timer)
                .is_ready()
            {
                return; // a slow machine passed the deadline: nothing to see
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while wakes(&latest) == 0 {
            assert!(Instant::now() < deadline, "the sleep never woke");
            std::thread::yield_now();
        }
        assert_eq!(wakes(&first), 0);
        assert_eq!(timer.entries(), 0);
        let waker = Waker::from(latest);
        assert!(sleep
            .poll(&mut Context::from_waker(&waker), || timer)
            .is_ready());
    }
}
