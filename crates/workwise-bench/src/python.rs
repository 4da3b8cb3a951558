//! The Python peer: `concurrent.futures.ThreadPoolExecutor`, run as a
//! `python3` subprocess, timed inside Python.

use std::process::Command;

use crate::harness::Round;

/// Submits `count` tiny tasks to a `ThreadPoolExecutor(max_workers=workers)`
/// and takes each `.result()`, for `rounds` rounds; prints one line per round:
/// `<ns per task> <sum of results>`. The executor is made (and its threads
/// started by a short warm-up) outside the timed region, as our pool is.
const SCRIPT: &str = r#"
import sys, time
from concurrent.futures import ThreadPoolExecutor

def task(i):
    return i * 3

def main():
    count, workers, rounds = (int(a) for a in sys.argv[1:4])
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for fut in [ex.submit(task, i) for i in range(min(count, 2000))]:
            fut.result()
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            futs = [ex.submit(task, i) for i in range(count)]
            total = 0
            for fut in futs:
                total += fut.result()
            dt = time.perf_counter_ns() - t0
            print(dt / count, total, flush=True)

main()
"#;

const PYTHON: &str = "python3";

/// Whether `python3` with `concurrent.futures` can run here.
///
/// # Errors
///
/// Why not, for the note on stderr.
pub fn available() -> Result<(), String> {
    let out = Command::new(PYTHON)
        .args(["-c", "import concurrent.futures"])
        .output()
        .map_err(|e| format!("cannot run {PYTHON}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{PYTHON} cannot import concurrent.futures: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs one Python invocation doing one timed round of `count` tasks on
/// `workers` threads; gives ns per task as Python measured it.
///
/// # Errors
///
/// When Python fails or prints something unexpected.
pub fn round(count: u64, workers: usize, want_sum: u64) -> Round {
    let out = Command::new(PYTHON)
        .args(["-c", SCRIPT])
        .args([count.to_string(), workers.to_string(), "1".to_owned()])
        .output()
        .map_err(|e| format!("cannot run {PYTHON}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{PYTHON} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().next().unwrap_or_default();
    let mut fields = line.split_whitespace();
    let ns: f64 = fields
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| format!("unexpected output from {PYTHON}: {line:?}"))?;
    let sum: u64 = fields
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| format!("unexpected output from {PYTHON}: {line:?}"))?;
    crate::harness::check("pool.submit_wait", "python", sum, want_sum);
    Ok(ns)
}
