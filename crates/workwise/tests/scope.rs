//! Black-box tests of `Pool::scope`: tasks that borrow from the stack.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use workwise::Pool;

#[test]
fn scope_tasks_borrow_from_the_stack() {
    let pool = Pool::cpu().build().unwrap();
    let data: Vec<u64> = (1..=10_000).collect();
    let mut partial = [0u64; 8];
    pool.scope(|s| {
        for (chunk, out) in data.chunks(1250).zip(partial.iter_mut()) {
            s.submit(move || *out = chunk.iter().sum());
        }
    });
    assert_eq!(partial.iter().sum::<u64>(), 50_005_000);
}

#[test]
fn scope_waits_for_its_tasks_even_when_its_body_panics() {
    let pool = Pool::io().build().unwrap();
    let finished = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.scope(|s| {
            for _ in 0..4 {
                s.submit(|| {
                    thread::sleep(Duration::from_millis(5));
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
            panic!("the body fails");
        })
    }));
    assert!(r.is_err());
    assert_eq!(finished.load(Ordering::SeqCst), 4);
}
