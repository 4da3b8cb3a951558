//! A process pool carrying on while its tasks crash their workers.
//!
//! `decode` stands for a third-party decoder with a memory bug: one input
//! in a hundred makes it write through a null pointer, and the worker
//! process dies of SIGSEGV. Only that input's task fails, with
//! `TaskError::WorkerCrashed`; the pool starts a new worker and decodes the
//! rest. The same bug in a thread pool would take the whole program down.
//!
//! Run with `cargo run -p workwise --features process --example process_pool`.

use std::time::Instant;

use workwise::process::{ProcessPool, Task};
use workwise::TaskError;

/// Decodes one "image"; crashes its process on one input in a hundred.
fn decode(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut checksum = 0u64;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        checksum = checksum.wrapping_add(x);
    }
    if seed % 100 == 42 {
        let pixel: *mut u64 = std::ptr::null_mut();
        // SAFETY: deliberately unsafe: this stands for a decoder's memory
        // bug. The write through a null pointer makes this worker process
        // die of SIGSEGV, which the example shows the pool surviving.
        unsafe { std::ptr::write_volatile(pixel, checksum) };
    }
    checksum
}

const DECODE: Task<u64, u64> = workwise::process_task!(decode);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // First line: a worker is this binary run again, and starts here.
    workwise::process::init(&[&DECODE]);

    let pool = ProcessPool::builder().name("decode").build()?;
    let start = Instant::now();
    let handles: Vec<_> = (0..2_000).map(|seed| pool.submit(DECODE, seed)).collect();
    let (mut decoded, mut crashed) = (0, 0);
    for (seed, handle) in handles.into_iter().enumerate() {
        match handle.wait() {
            Ok(_) => decoded += 1,
            Err(TaskError::WorkerCrashed { signal, .. }) => {
                crashed += 1;
                if crashed <= 3 {
                    println!("input {seed}: the worker died (signal {signal:?}); the pool goes on");
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let stats = pool.stats();
    println!(
        "{decoded} decoded, {crashed} crashed, {} workers respawned, in {:.2?}",
        stats.respawns,
        start.elapsed()
    );
    for m in pool.worker_memory() {
        println!(
            "worker {}: {:.1} MB private",
            m.pid,
            m.private_bytes as f64 / 1e6
        );
    }
    assert_eq!((decoded, crashed), (1_980, 20));
    Ok(())
}
