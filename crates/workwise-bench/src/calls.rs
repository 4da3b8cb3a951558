//! What the `limiter.*` and `breaker.*` rows share: one round makes `calls`
//! calls on each of T threads (`.1t`, `.2t`) against one limiter or breaker,
//! built once before the row and shared by the threads. With one thread the
//! calls run on the bench's own thread; with two, both threads are spawned
//! (`std::thread::scope`) and start together at a barrier, inside the timed
//! region (tens of µs against rounds of tens of ms). A round reports wall
//! time / `calls`: the time each thread takes per call, so a `.2t` figure
//! above the `.1t` one is what contention costs.

use std::sync::Barrier;
use std::thread;

use crate::harness::Bench;

/// Calls per thread per round (full, `--quick`).
const CALLS: (u64, u64) = (2_000_000, 500_000);
/// The thread counts of the `.1t` and `.2t` rows.
pub const THREADS: [usize; 2] = [1, 2];

/// Runs `op(i)` for `i` in `0..calls` on each of `threads` threads (on this
/// thread when `threads == 1`), started together, and gives the wrapping
/// sum of every result.
pub fn hammer(threads: usize, calls: u64, op: impl Fn(u64) -> u64 + Sync) -> u64 {
    if threads == 1 {
        return (0..calls).map(&op).fold(0, u64::wrapping_add);
    }
    let barrier = Barrier::new(threads);
    let (op, barrier) = (&op, &barrier);
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    barrier.wait();
                    (0..calls).map(op).fold(0, u64::wrapping_add)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a bench thread does not panic"))
            .fold(0, u64::wrapping_add)
    })
}

/// Calls per thread per round: the full count, or the `--quick` one (said
/// on stderr).
pub fn calls(b: &Bench, what: &str) -> u64 {
    b.size(what, CALLS, "calls per thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hammer_runs_every_call_on_every_thread() {
        let one = (0..1_000u64).fold(0, u64::wrapping_add);
        for threads in THREADS {
            assert_eq!(hammer(threads, 1_000, |i| i), one * threads as u64);
        }
    }
}
