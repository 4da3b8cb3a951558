//! [`Sleep`], the runtime-free timer future, and the shared timer thread
//! behind real-clock sleeps.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use event_listener::EventListener;

use super::manual::ManualClock;
use super::real::{instant_at, RealClock};
use super::Clock;

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
pub struct Sleep(pub(super) SleepInner);

pub(super) enum SleepInner {
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
pub(super) struct RealSleep {
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
    pub(super) fn new(deadline: Option<Instant>) -> Self {
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;
    use crate::clock::deadline_after;

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
