//! Shared state, three ways: the unlocked counter that Rust refuses to
//! compile, a counter made safe with an atomic or a lock, and the better
//! habit of returning results instead of sharing them.
//!
//! Run: `cargo run -p workwise --example shared_state`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use workwise::Pool;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::cpu().build()?;
    let items: Vec<u64> = (1..=10_000).collect();

    // Does not compile (see tests/ui/unlocked_counter.rs):
    //     let mut counter = 0;
    //     pool.scope(|s| { s.submit(|| counter += 1); s.submit(|| counter += 1); });
    // error[E0499]: cannot borrow `counter` as mutable more than once at a time

    // Safe sharing: an atomic for a counter, a Mutex for anything bigger.
    let counter = AtomicU64::new(0);
    let seen = Mutex::new(Vec::new());
    pool.scope(|s| {
        for chunk in items.chunks(2_500) {
            let (counter, seen) = (&counter, &seen);
            s.submit(move || {
                counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                seen.lock().unwrap().push(chunk[0]);
            });
        }
    });
    println!("atomic counter: {}", counter.load(Ordering::Relaxed));
    println!("chunks seen under a lock: {:?}", seen.lock().unwrap().len());

    // Better: share nothing; each task returns its part, the caller combines.
    let sum: u64 = pool.scope(|s| {
        let parts: Vec<_> = items
            .chunks(2_500)
            .map(|c| s.submit(move || c.iter().sum::<u64>()))
            .collect();
        parts.into_iter().map(|h| h.wait().unwrap()).sum()
    });
    println!("sum returned from tasks: {sum}");
    assert_eq!(sum, 50_005_000);
    Ok(())
}
