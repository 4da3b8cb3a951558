//! Black-box tests of the real clock's `Sleep`: the shared timer thread must
//! wake every sleep at its deadline, whatever the wakers do.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use workwise::{Clock, RealClock, Sleep};

const HOUR: Duration = Duration::from_secs(3600);
const PATIENCE: Duration = Duration::from_secs(30);

fn poll_with(sleep: &mut Sleep, waker: &Waker) -> Poll<()> {
    Pin::new(sleep).poll(&mut Context::from_waker(waker))
}

/// Waits until `done()`, failing after [`PATIENCE`].
fn wait_until(what: &str, done: impl FnMut() -> bool) {
    if let Err(e) = workwise::testing::wait_for(done, PATIENCE) {
        panic!("{what}: not within {PATIENCE:?}: {e}");
    }
}

/// Sets a flag when woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls a sleep `after` from now until it completes, failing after
/// [`PATIENCE`]: the timer still works.
fn timer_still_wakes(clock: &RealClock, after: Duration) {
    let mut sleep = clock.sleep_until_async(clock.now() + after);
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    if poll_with(&mut sleep, &waker).is_pending() {
        wait_until("a later sleep woke", || flag.0.load(Ordering::SeqCst));
    }
    assert!(poll_with(&mut sleep, &waker).is_ready());
}

#[test]
fn many_sleeps_with_different_deadlines_all_wake() {
    let clock = RealClock::new();
    let start = clock.now();
    // Deadlines in a scrambled order, so that earlier ones are registered
    // after later ones and must move the timer's next wake-up forward.
    let mut sleeps: Vec<(Sleep, Arc<Flag>)> = (0..200u64)
        .map(|i| {
            let at = start + Duration::from_millis((i * 37) % 200);
            (clock.sleep_until_async(at), Arc::new(Flag::default()))
        })
        .collect();
    let mut pending = Vec::new();
    for (sleep, flag) in &mut sleeps {
        if poll_with(sleep, &Waker::from(flag.clone())).is_pending() {
            pending.push(flag.clone());
        }
    }
    wait_until("every sleep woke", || {
        pending.iter().all(|f| f.0.load(Ordering::SeqCst))
    });
    let noop = Waker::noop();
    for (sleep, _) in &mut sleeps {
        assert!(poll_with(sleep, noop).is_ready());
    }
    // A time that no Instant can hold never comes, and needs no entry.
    let mut never = clock.sleep_until_async(Duration::MAX);
    assert!(poll_with(&mut never, noop).is_pending());
}

/// Its `wake` starts and polls another sleep, which registers it with the
/// timer, then drops it, which takes it out again.
struct SleepsOnWake {
    clock: RealClock,
    woke: Mutex<mpsc::Sender<()>>,
}

impl Wake for SleepsOnWake {
    fn wake(self: Arc<Self>) {
        let mut sleep = self.clock.sleep_until_async(self.clock.now() + HOUR);
        assert!(poll_with(&mut sleep, Waker::noop()).is_pending());
        drop(sleep);
        let _ = self.woke.lock().unwrap().send(());
    }
}

#[test]
fn a_waker_that_sleeps_in_wake_does_not_deadlock_the_timer() {
    // Before: the timer thread woke while holding its lock, and the
    // registration inside `wake` waited for that lock forever.
    let clock = RealClock::new();
    let (tx, rx) = mpsc::channel();
    let waker = Waker::from(Arc::new(SleepsOnWake {
        clock,
        woke: Mutex::new(tx),
    }));
    let mut sleep = clock.sleep_until_async(clock.now() + Duration::from_millis(5));
    if poll_with(&mut sleep, &waker).is_pending() {
        rx.recv_timeout(PATIENCE)
            .expect("the waker's own sleep deadlocked the timer");
    }
    timer_still_wakes(&clock, Duration::from_millis(5));
}

/// Its `wake` drops a sleep that is registered with the timer.
struct DropsASleepOnWake {
    held: Mutex<Option<Sleep>>,
    woke: AtomicBool,
}

impl Wake for DropsASleepOnWake {
    fn wake(self: Arc<Self>) {
        drop(self.held.lock().unwrap().take());
        self.woke.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_waker_that_drops_a_sleep_in_wake_does_not_deadlock_the_timer() {
    let clock = RealClock::new();
    let mut held = clock.sleep_until_async(clock.now() + HOUR);
    assert!(poll_with(&mut held, Waker::noop()).is_pending());
    let dropper = Arc::new(DropsASleepOnWake {
        held: Mutex::new(Some(held)),
        woke: AtomicBool::new(false),
    });
    let waker = Waker::from(dropper.clone());
    let mut sleep = clock.sleep_until_async(clock.now() + Duration::from_millis(5));
    if poll_with(&mut sleep, &waker).is_pending() {
        wait_until("the dropping waker ran", || {
            dropper.woke.load(Ordering::SeqCst)
        });
    }
    timer_still_wakes(&clock, Duration::from_millis(5));
}

/// Its `wake` panics.
struct Panics;

impl Wake for Panics {
    fn wake(self: Arc<Self>) {
        panic!("a waker that panics (on purpose, in a test)");
    }
}

#[test]
fn a_waker_that_panics_does_not_stop_the_timer() {
    let clock = RealClock::new();
    let waker = Waker::from(Arc::new(Panics));
    let mut sleep = clock.sleep_until_async(clock.now() + Duration::from_millis(1));
    let _ = poll_with(&mut sleep, &waker);
    timer_still_wakes(&clock, Duration::from_millis(20));
    drop(sleep);
}
