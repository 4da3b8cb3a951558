//! `workwise::testing`: waiting on conditions, seeded stress runs, call
//! counting and chaos, each tested the way a user would use it.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use workwise::testing::{
    replay, stress, wait_for, CallCounter, Chaos, ChaosPause, ChaosPoint, StressFailure,
    StressReport, WaitTimedOut,
};

/// How long a wait that should succeed may take before the test fails.
const LONG: Duration = Duration::from_secs(30);

fn send_sync<T: Send + Sync>() {}

#[test]
fn the_testing_types_are_send_and_sync() {
    send_sync::<WaitTimedOut>();
    send_sync::<StressReport>();
    send_sync::<StressFailure>();
    send_sync::<CallCounter>();
    send_sync::<Chaos>();
    send_sync::<ChaosPoint>();
    send_sync::<ChaosPause>();
}

// ---- wait_for ----

#[test]
fn wait_for_returns_once_another_thread_sets_the_flag() {
    let flag = Arc::new(AtomicBool::new(false));
    let setter = {
        let flag = flag.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            flag.store(true, Ordering::Release);
        })
    };
    assert_eq!(wait_for(|| flag.load(Ordering::Acquire), LONG), Ok(()));
    setter.join().unwrap();
}

#[test]
fn wait_for_a_condition_already_true_returns_at_once() {
    let mut polls = 0;
    let r = wait_for(
        || {
            polls += 1;
            true
        },
        Duration::ZERO,
    );
    assert_eq!(r, Ok(()));
    assert_eq!(polls, 1);
}

#[test]
fn wait_for_a_never_true_condition_times_out_after_within() {
    let within = Duration::from_millis(30);
    let err = wait_for(|| false, within).unwrap_err();
    assert!(err.waited >= within, "waited {:?} < {within:?}", err.waited);
    let text = err.to_string();
    assert!(text.contains("still false"), "{text}");
    assert!(
        text.contains("within"),
        "the message says what to change: {text}"
    );
}

#[test]
fn wait_for_with_zero_within_checks_once_more_then_times_out() {
    let mut polls = 0;
    let err = wait_for(
        || {
            polls += 1;
            false
        },
        Duration::ZERO,
    )
    .unwrap_err();
    assert!(polls >= 1);
    assert!(err.waited >= Duration::ZERO);
}

#[test]
fn wait_for_checks_one_last_time_at_the_deadline() {
    // The condition turns true only once the deadline has passed: the last
    // check, made at the deadline, sees it.
    let within = Duration::from_millis(20);
    let start = std::time::Instant::now();
    let r = wait_for(|| start.elapsed() >= within, within);
    assert_eq!(r, Ok(()));
}

#[test]
fn wait_for_with_duration_max_waits_without_overflowing() {
    let flag = Arc::new(AtomicBool::new(false));
    let setter = {
        let flag = flag.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            flag.store(true, Ordering::Release);
        })
    };
    assert_eq!(
        wait_for(|| flag.load(Ordering::Acquire), Duration::MAX),
        Ok(())
    );
    setter.join().unwrap();
}

// ---- stress and replay ----

/// Fails for every seed that is 3 modulo 7: about one run in seven.
fn fails_on_some_seeds(seed: u64) -> Result<(), String> {
    if seed % 7 == 3 {
        Err(format!("seed {seed} is 3 mod 7"))
    } else {
        Ok(())
    }
}

#[test]
fn stress_reports_the_run_and_seed_of_the_first_failure_and_replay_fails_again() {
    let seen = CallCounter::new();
    let f = |seed| {
        seen.hit();
        fails_on_some_seeds(seed)
    };
    // (6/7)^200 < 1e-13: some run fails.
    let failure = stress(200, f).unwrap_err();
    assert_eq!(failure.seed % 7, 3);
    assert_eq!(failure.message, format!("seed {} is 3 mod 7", failure.seed));
    // It stopped at the first failure.
    assert!(failure.run >= 1);
    assert_eq!(seen.count(), failure.run);
    let base = failure.base_seed.expect("stress names its base seed");
    let text = failure.to_string();
    assert!(text.contains(&failure.seed.to_string()), "{text}");
    assert!(
        text.contains(&format!("WORKWISE_STRESS_SEED={base}")),
        "{text}"
    );
    assert!(text.contains("replay("), "{text}");

    let again = replay(failure.seed, fails_on_some_seeds).unwrap_err();
    assert_eq!(again.seed, failure.seed);
    assert_eq!(again.message, failure.message);
}

#[test]
fn stress_passes_every_run_and_reports_the_count() {
    let seeds = std::sync::Mutex::new(Vec::new());
    let report = stress(50, |seed| {
        seeds.lock().unwrap().push(seed);
        Ok::<(), String>(())
    })
    .unwrap();
    assert_eq!(report.runs, 50);
    let mut seeds = seeds.into_inner().unwrap();
    assert_eq!(seeds.len(), 50);
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), 50, "each run gets its own seed");
}

#[test]
fn stress_with_zero_runs_runs_nothing() {
    let report = stress(0, |_| -> Result<(), String> { panic!("never called") }).unwrap();
    assert_eq!(report.runs, 0);
}

#[test]
fn stress_catches_a_panic_as_a_failure() {
    let failure = stress(100, |seed| -> Result<(), String> {
        if seed % 2 == 1 {
            panic!("odd seed {seed}");
        }
        Ok(())
    })
    .unwrap_err();
    assert_eq!(failure.seed % 2, 1);
    assert!(
        failure
            .message
            .contains(&format!("odd seed {}", failure.seed)),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("panicked"), "{}", failure.message);
}

#[test]
fn replay_catches_a_panic_whose_payload_panics_on_drop() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("the payload's drop panics too");
        }
    }
    let failure = replay(9, |_| -> Result<(), String> { std::panic::panic_any(Bomb) }).unwrap_err();
    assert_eq!(failure.seed, 9);
    assert!(failure.message.contains("panicked"), "{}", failure.message);
}

#[test]
fn replay_passes_a_seed_that_passes() {
    assert_eq!(replay(4, fails_on_some_seeds), Ok(()));
}

#[test]
fn stress_reports_an_error_whose_display_panics() {
    struct Rude;
    impl fmt::Display for Rude {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            panic!("Display of the error panics");
        }
    }
    let failure = replay(1, |_| Err(Rude)).unwrap_err();
    assert!(failure.message.contains("panicked"), "{}", failure.message);
}

// ---- CallCounter ----

#[test]
fn call_counter_counts_8000_calls_from_8_threads() {
    let counter = CallCounter::new();
    thread::scope(|s| {
        for _ in 0..8 {
            let c = counter.clone();
            s.spawn(move || {
                for _ in 0..1000 {
                    c.hit();
                }
            });
        }
    });
    assert_eq!(counter.count(), 8000);
    counter.reset();
    assert_eq!(counter.count(), 0);
}

#[test]
fn a_wrapped_function_counts_each_call_from_many_threads() {
    let counter = CallCounter::new();
    let double = counter.wrap(|x: u64| x * 2);
    let sums: u64 = thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| (0..1000u64).map(&double).sum::<u64>()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(sums, 8 * 999 * 1000);
    assert_eq!(counter.count(), 8000);
}

// ---- Chaos ----

#[test]
fn chaos_with_the_same_seed_makes_the_same_decisions() {
    let points = [
        ChaosPoint::Submit,
        ChaosPoint::Dequeue,
        ChaosPoint::Complete,
    ];
    let run = |seed| {
        let chaos = Chaos::new(seed);
        (0..300)
            .map(|i| chaos.pause(points[i % 3]))
            .collect::<Vec<_>>()
    };
    let a = run(42);
    assert_eq!(a, run(42));
    assert_ne!(a, run(43), "another seed decides otherwise");
    // It pauses sometimes, not always.
    let paused = a.iter().filter(|p| **p != ChaosPause::None).count();
    assert!(paused > 0 && paused < a.len(), "{paused} of {}", a.len());
}

#[test]
fn chaos_clones_share_one_sequence_of_decisions() {
    let whole: Vec<_> = {
        let chaos = Chaos::new(7);
        (0..40).map(|_| chaos.pause(ChaosPoint::Dequeue)).collect()
    };
    let chaos = Chaos::new(7);
    let twin = chaos.clone();
    let interleaved: Vec<_> = (0..40)
        .map(|i| {
            if i % 2 == 0 {
                chaos.pause(ChaosPoint::Dequeue)
            } else {
                twin.pause(ChaosPoint::Dequeue)
            }
        })
        .collect();
    assert_eq!(whole, interleaved);
    assert_eq!(chaos.seed(), 7);
}

/// A deliberately racy counter: read, (chaos), write back one more. Two
/// threads each add `per_thread`; a lost update leaves the total short.
fn racy_check_then_act(chaos: &Chaos, per_thread: u64) -> Result<(), String> {
    let total = AtomicU64::new(0);
    let start = Barrier::new(2);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                start.wait();
                for _ in 0..per_thread {
                    let seen = total.load(Ordering::SeqCst);
                    chaos.pause(ChaosPoint::Complete);
                    total.store(seen + 1, Ordering::SeqCst);
                }
            });
        }
    });
    let total = total.into_inner();
    if total == 2 * per_thread {
        Ok(())
    } else {
        Err(format!(
            "lost {} of {} updates",
            2 * per_thread - total,
            2 * per_thread
        ))
    }
}

#[test]
fn chaos_exposes_a_lost_update_within_a_bounded_number_of_runs() {
    // Each run: two threads, 50 read-pause-write steps each. The pauses
    // (yields, spins, sleeps) between the read and the write let the other
    // thread write in between, and its update is lost.
    let failure = stress(200, |seed| racy_check_then_act(&Chaos::new(seed), 50))
        .expect_err("chaos exposes the race within 200 runs");
    assert!(failure.message.starts_with("lost "), "{}", failure.message);
}
