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
    // Enough work per task (a few ms) for the pool to pay: its advisor
    // would flag a pool given a few microseconds of work (W09).
    let items: Vec<u64> = (1..=4_000_000).collect();
    let chunk_len = items.len() / 8;

    // Does not compile (see tests/ui/unlocked_counter.rs):
    //     let mut counter = 0;
    //     pool.scope(|s| { s.submit(|| counter += 1); s.submit(|| counter += 1); });
    // error[E0499]: cannot borrow `counter` as mutable more than once at a time

    // Safe sharing: an atomic for a counter, a Mutex for anything bigger.
    let counter = AtomicU64::new(0);
    let seen = Mutex::new(Vec::new());
    pool.scope(|s| {
        for chunk in items.chunks(chunk_len) {
            let (counter, seen) = (&counter, &seen);
            s.submit(move || {
                let odd = chunk
                    .iter()
                    .filter(|&&x| x.wrapping_mul(x) % 3 == 1)
                    .count();
                counter.fetch_add(odd as u64, Ordering::Relaxed);
                seen.lock().unwrap().push(chunk[0]);
            });
        }
    });
    println!(
        "atomic counter (squares that are 1 mod 3): {}",
        counter.load(Ordering::Relaxed)
    );
    println!("chunks seen under a lock: {:?}", seen.lock().unwrap().len());

    // Better: share nothing; each task returns its part, the caller combines.
    let sum: u64 = pool.scope(|s| {
        let parts: Vec<_> = items
            .chunks(chunk_len)
            .map(|c| s.submit(move || c.iter().map(|&x| x.wrapping_mul(x) % 1_000).sum::<u64>()))
            .collect();
        parts.into_iter().map(|h| h.wait().unwrap()).sum()
    });
    println!("sum returned from tasks: {sum}");
    let want: u64 = items.iter().map(|&x| x.wrapping_mul(x) % 1_000).sum();
    assert_eq!(sum, want);
    // Every number not divisible by 3 has a square that is 1 mod 3.
    assert_eq!(counter.load(Ordering::Relaxed), 4_000_000 - 4_000_000 / 3);
    Ok(())
}
