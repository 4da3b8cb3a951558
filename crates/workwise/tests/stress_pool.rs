//! Bounded stress: shutdown racing with submitters, many times over. Every
//! handle must resolve (a value, Cancelled or Closed) and every task that ran
//! must have run exactly once. `WORKWISE_STRESS=long` runs more rounds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use workwise::{Pool, TaskError};

fn rounds() -> usize {
    match std::env::var("WORKWISE_STRESS").as_deref() {
        Ok("long") => 2_000,
        _ => 100,
    }
}

#[test]
fn shutdown_races_with_submitters_and_loses_nothing() {
    for round in 0..rounds() {
        let pool = Arc::new(if round % 2 == 0 {
            Pool::cpu().queue_capacity(64).build().unwrap()
        } else {
            Pool::io()
                .max_workers(3)
                .queue_capacity(64)
                .build()
                .unwrap()
        });
        let ran = Arc::new(AtomicUsize::new(0));
        let submitters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                let ran = ran.clone();
                thread::spawn(move || {
                    (0..500)
                        .map(|_| {
                            let ran = ran.clone();
                            pool.submit(move || ran.fetch_add(1, Ordering::Relaxed))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        if round % 3 == 0 {
            pool.shutdown_now();
        } else {
            pool.shutdown();
        }
        let mut values = 0;
        for s in submitters {
            for mut h in s.join().unwrap() {
                match h.wait_timeout(Duration::from_secs(60)) {
                    Ok(_) => values += 1,
                    Err(TaskError::Cancelled | TaskError::Closed) => {}
                    Err(e) => panic!("round {round}: unexpected {e}"),
                }
            }
        }
        assert_eq!(values, ran.load(Ordering::Relaxed), "round {round}");
        let stats = pool.stats();
        assert_eq!(stats.live_workers, 0, "round {round}: {stats:?}");
        assert_eq!(stats.queued, 0, "round {round}: {stats:?}");
    }
}

#[test]
fn elastic_workers_retire_and_return_under_bursts() {
    let pool = Pool::io()
        .max_workers(4)
        .keep_alive(Duration::from_millis(1))
        .build()
        .unwrap();
    for round in 0..rounds() {
        let handles: Vec<_> = (0..50).map(|i| pool.submit(move || i)).collect();
        let sum: i32 = handles.into_iter().map(|h| h.wait().unwrap()).sum();
        assert_eq!(sum, 1225, "round {round}");
        if round % 10 == 0 {
            thread::sleep(Duration::from_millis(3)); // let workers retire
        }
    }
    assert_eq!(pool.stats().completed, 50 * rounds() as u64);
}
