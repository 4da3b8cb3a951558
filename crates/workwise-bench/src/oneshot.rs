//! A one-shot result slot that spins, then parks: what a user of rayon or
//! threadpool would write to wait for one task's result with low latency.
//!
//! `std::sync::mpsc`'s `recv` parks at once, and parking then being woken
//! costs tens of µs on a VM whose idle virtual CPUs halt, so timing a lone
//! task through it would time the channel's park, not the pool. This slot
//! waits the way `TaskHandle::wait` does: a bounded spin
//! (`crossbeam_utils::Backoff`, busy-spins growing into yields) before it
//! parks, and the sender unparks the receiver only when it parked.
//!
//! # Protocol
//!
//! 1. The state moves `EMPTY -> FULL` (the sender got there first) or
//!    `EMPTY -> PARKED -> FULL` (the receiver announced it will park).
//! 2. The sender stores the value before it swaps the state to `FULL`
//!    (release), and unparks the receiver's thread when the state it swapped
//!    out was `PARKED`.
//! 3. The receiver reads the value only after it saw `FULL` (acquire). It
//!    parks only after its `EMPTY -> PARKED` swap succeeded, and parks in a
//!    loop until it sees `FULL`, so a spurious wake-up or an unpark token
//!    left from an earlier slot cannot end its wait early, and by rule 2 the
//!    sender's unpark cannot be lost.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::{self, Thread};

use crossbeam_utils::Backoff;

const EMPTY: u8 = 0;
const PARKED: u8 = 1;
const FULL: u8 = 2;

struct Slot {
    state: AtomicU8,
    value: AtomicU64,
    receiver: Thread,
}

/// The sending half: [`Sender::send`] it to a pool task.
pub struct Sender(Arc<Slot>);

/// The receiving half: it must stay on the thread that called [`channel`],
/// the one that [`Sender::send`] unparks.
pub struct Receiver(Arc<Slot>);

/// A new one-shot slot whose receiver is the calling thread.
pub fn channel() -> (Sender, Receiver) {
    let slot = Arc::new(Slot {
        state: AtomicU8::new(EMPTY),
        value: AtomicU64::new(0),
        receiver: thread::current(),
    });
    (Sender(slot.clone()), Receiver(slot))
}

impl Sender {
    /// Stores `value` and wakes the receiver if it parked (rule 2).
    pub fn send(self, value: u64) {
        self.0.value.store(value, Ordering::Relaxed);
        if self.0.state.swap(FULL, Ordering::AcqRel) == PARKED {
            self.0.receiver.unpark();
        }
    }
}

impl Receiver {
    /// Waits for the value: spins (bounded), then parks (rule 3).
    pub fn recv(self) -> u64 {
        let slot = &*self.0;
        debug_assert_eq!(
            thread::current().id(),
            slot.receiver.id(),
            "a Receiver waits on the thread that made its channel"
        );
        let backoff = Backoff::new();
        while slot.state.load(Ordering::Acquire) != FULL {
            if backoff.is_completed() {
                if slot
                    .state
                    .compare_exchange(EMPTY, PARKED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    while slot.state.load(Ordering::Acquire) != FULL {
                        thread::park();
                    }
                }
                break;
            }
            backoff.snooze();
        }
        slot.value.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `body` on its own thread and fails the test if it has not
    /// finished within 30 s: a lost wake-up would hang, not fail.
    fn within_deadline(body: impl FnOnce() + Send + 'static) {
        let (done_tx, done_rx) = mpsc::channel();
        let runner = thread::spawn(move || {
            body();
            let _ = done_tx.send(());
        });
        match done_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(()) => runner.join().unwrap(),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::panic::resume_unwind(runner.join().unwrap_err())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the receiver still waits after 30 s: a wake-up was lost")
            }
        }
    }

    #[test]
    fn a_value_sent_before_recv_is_received() {
        within_deadline(|| {
            let (tx, rx) = channel();
            tx.send(7);
            assert_eq!(rx.recv(), 7);
        });
    }

    #[test]
    fn a_receiver_that_parked_is_woken_by_a_late_send() {
        within_deadline(|| {
            for _ in 0..50 {
                let (tx, rx) = channel();
                let sender = thread::spawn(move || {
                    // Long past the receiver's spin, so it parks first.
                    thread::sleep(Duration::from_millis(2));
                    tx.send(42);
                });
                assert_eq!(rx.recv(), 42);
                sender.join().unwrap();
            }
        });
    }

    #[test]
    fn many_racing_sends_are_each_received() {
        within_deadline(|| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            for i in 0..20_000u64 {
                let (tx, rx) = channel();
                pool.spawn(move || tx.send(i));
                assert_eq!(rx.recv(), i);
            }
        });
    }
}
