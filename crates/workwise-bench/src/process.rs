//! The `process.*` rows: `workwise::process::ProcessPool` against Python's
//! `concurrent.futures.ProcessPoolExecutor`, and `SharedBytes` against
//! sending the bytes. Linux only, as the `process` feature is.

use serde_bytes::ByteBuf;
use workwise::process::{ProcessPool, SharedBytes, Task};

use crate::harness::{timed, Round};
use crate::Bench;

/// Round trips per round in `process.roundtrip` (full, quick).
const ROUND_TRIPS: (u64, u64) = (10_000, 1_000);
/// Items per round in `process.map_tiny` (full, quick).
const MAP_ITEMS: (u64, u64) = (1_000_000, 100_000);
/// The input of `process.shared_100mb`, and its tasks per round.
const SHARED_BYTES: usize = 100 << 20;
const SHARED_TASKS: u64 = 8;
/// Timed rounds of `process.shared_100mb` under `--quick`.
const QUICK_SHARED_ROUNDS: usize = 3;
/// `process.shared_100mb`'s tasks read every `STRIDE`th byte: every page,
/// so the input is really there, for little work per byte.
const STRIDE: usize = 4096;

/// The tiny task of `process.roundtrip` and `process.map_tiny`.
fn tiny(i: u64) -> u64 {
    i.wrapping_mul(3)
}
const TINY: Task<u64, u64> = workwise::process_task!(tiny);

fn sample(data: &[u8]) -> u64 {
    data.iter().step_by(STRIDE).map(|&b| b as u64).sum()
}

fn sample_shared(data: SharedBytes) -> u64 {
    sample(&data)
}
const SAMPLE_SHARED: Task<SharedBytes, u64> = workwise::process_task!(sample_shared);

/// The bytes arrive as one byte string (`serde_bytes`: a length and one
/// copy), not as a sequence of 100 million `u8`s.
fn sample_copied(data: ByteBuf) -> u64 {
    sample(&data)
}
const SAMPLE_COPIED: Task<ByteBuf, u64> = workwise::process_task!(sample_copied);

/// The first line of `main`: a worker of these rows is the bench run again.
pub fn init() {
    workwise::process::init(&[&TINY, &SAMPLE_SHARED, &SAMPLE_COPIED]);
}

/// Python's peer for all three rows; prints one line per round:
/// `<ns per op> <sum>`. The executor is made and its workers started (a
/// warm-up of one task per worker) outside the timed region, as ours are.
const SCRIPT: &str = r#"
import sys, time
from concurrent.futures import ProcessPoolExecutor

def tiny(i):
    return i * 3

def sample(data):
    return sum(data[::4096])

def main():
    mode, count, workers, rounds = sys.argv[1], *(int(a) for a in sys.argv[2:5])
    with ProcessPoolExecutor(max_workers=workers) as ex:
        list(ex.map(tiny, range(workers * 4)))
        data = bytes(range(256)) * (100 * 1024 * 1024 // 256) if mode == "shared" else None
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            if mode == "roundtrip":
                total = 0
                for i in range(count):
                    total += ex.submit(tiny, i).result()
            elif mode == "map":
                total = sum(ex.map(tiny, range(count), chunksize=1000))
            else:
                total = sum(f.result() for f in [ex.submit(sample, data) for _ in range(count)])
            dt = time.perf_counter_ns() - t0
            print(dt / count, total % (1 << 64), flush=True)

if __name__ == "__main__":
    main()
"#;

fn python_round(mode: &str, count: u64, workers: usize, want: u64, name: &str) -> Round {
    let args = [
        mode.to_owned(),
        count.to_string(),
        workers.to_string(),
        "1".to_owned(),
    ];
    crate::python::one_round(name, SCRIPT, &args, want)
}

fn tiny_sum(count: u64) -> u64 {
    (0..count).map(tiny).fold(0, u64::wrapping_add)
}

fn build(b: &Bench) -> Option<ProcessPool> {
    match ProcessPool::builder()
        .name("bench-process")
        .workers(b.workers)
        .eager(true)
        .build()
    {
        Ok(pool) => Some(pool),
        Err(e) => {
            b.note(&format!("process rows skipped: {e}"));
            None
        }
    }
}

fn python_ok(b: &Bench, name: &str) -> bool {
    match crate::python::available("concurrent.futures, multiprocessing") {
        Ok(()) => true,
        Err(why) => {
            b.note(&format!("{name} vs python skipped: {why}"));
            false
        }
    }
}

/// `process.roundtrip` vs `python`: one tiny task submitted and waited at a
/// time.
pub fn roundtrip(b: &mut Bench) -> Result<(), workwise::PoolBuildError> {
    const NAME: &str = "process.roundtrip";
    if !b.wants(NAME, "python") || !python_ok(b, NAME) {
        return Ok(());
    }
    let Some(pool) = build(b) else { return Ok(()) };
    let count = if b.quick {
        ROUND_TRIPS.1
    } else {
        ROUND_TRIPS.0
    };
    let want = tiny_sum(count);
    let workers = b.workers;
    b.run(
        NAME,
        "python",
        1,
        || {
            timed(NAME, "workwise", count, want, || {
                (0..count)
                    .map(|i| {
                        pool.submit(TINY, i)
                            .wait()
                            .expect("a tiny task gives a value")
                    })
                    .fold(0, u64::wrapping_add)
            })
        },
        || python_round("roundtrip", count, workers, want, NAME),
    );
    Ok(())
}

/// `process.map_tiny` vs `python`: tiny items through `map`, chunked
/// automatically, against `executor.map(.., chunksize=1000)`.
pub fn map_tiny(b: &mut Bench) -> Result<(), workwise::PoolBuildError> {
    const NAME: &str = "process.map_tiny";
    if !b.wants(NAME, "python") || !python_ok(b, NAME) {
        return Ok(());
    }
    let Some(pool) = build(b) else { return Ok(()) };
    let count = if b.quick { MAP_ITEMS.1 } else { MAP_ITEMS.0 };
    let want = tiny_sum(count);
    let workers = b.workers;
    b.run(
        NAME,
        "python",
        1,
        || {
            timed(NAME, "workwise", count, want, || {
                pool.map(TINY, 0..count)
                    .into_iter()
                    .map(|r| r.expect("a tiny task gives a value"))
                    .fold(0, u64::wrapping_add)
            })
        },
        || python_round("map", count, workers, want, NAME),
    );
    Ok(())
}

/// `process.shared_100mb` vs `copy` and `python`: 8 tasks reading one
/// 100 MB input.
pub fn shared_100mb(b: &mut Bench) -> Result<(), workwise::PoolBuildError> {
    const NAME: &str = "process.shared_100mb";
    if !["copy", "python"].iter().any(|p| b.wants(NAME, p)) {
        return Ok(());
    }
    let Some(pool) = build(b) else { return Ok(()) };
    // The same bytes as the Python side's `bytes(range(256)) * ..`.
    let data: Vec<u8> = (0..SHARED_BYTES).map(|i| i as u8).collect();
    let want = SHARED_TASKS * sample(&data);
    let start = std::time::Instant::now();
    let shared = match SharedBytes::new(&data) {
        Ok(s) => s,
        Err(e) => {
            b.note(&format!("{NAME} skipped: cannot make SharedBytes: {e}"));
            return Ok(());
        }
    };
    b.note(&format!(
        "{NAME}: placing the 100 MB in shared memory took {:.1} ms, once, outside the rounds",
        start.elapsed().as_secs_f64() * 1e3
    ));
    let ours = || {
        timed(NAME, "workwise", SHARED_TASKS, want, || {
            let handles: Vec<_> = (0..SHARED_TASKS)
                .map(|_| pool.submit(SAMPLE_SHARED, shared.clone()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.wait().expect("the task gives a value"))
                .sum()
        })
    };
    // A copied round moves 800 MB (more in Python): under --quick, 3 timed
    // rounds and no warm-up keep the row within seconds.
    let saved = b.rounds;
    if b.quick {
        b.rounds.timed = QUICK_SHARED_ROUNDS;
    }
    let warmup = if b.quick { 0 } else { 1 };
    if b.wants(NAME, "copy") {
        let copied = ByteBuf::from(data.clone());
        b.run(NAME, "copy", warmup, ours, || {
            timed(NAME, "copy", SHARED_TASKS, want, || {
                let handles: Vec<_> = (0..SHARED_TASKS)
                    .map(|_| pool.submit_ref(SAMPLE_COPIED, &copied))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.wait().expect("the task gives a value"))
                    .sum()
            })
        });
    }
    if b.wants(NAME, "python") && python_ok(b, NAME) {
        let workers = b.workers;
        b.run(NAME, "python", warmup, ours, || {
            python_round("shared", SHARED_TASKS, workers, want, NAME)
        });
    }
    b.rounds = saved;
    Ok(())
}
