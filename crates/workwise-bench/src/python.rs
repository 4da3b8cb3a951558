//! The Python peers, each run as a `python3` subprocess (one process per
//! round) and timed inside Python with `perf_counter_ns`:
//! `concurrent.futures.ThreadPoolExecutor` for `pool.submit_wait`, and
//! `queue.Queue` with `task_done`/`join` for the `queue.*` rows; the
//! asyncio script of `aio.gather_limited` lives in `aio.rs` and runs
//! through [`one_round`]. A row runs them with `Race::peer_python`, which
//! verifies the sum each round gives as it verifies ours.

use std::process::Command;
use std::sync::Mutex;

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

/// Puts `count` integers (`0..count`, split into `producers` contiguous
/// shares) through a `queue.Queue(maxsize=cap)` from `producers` threads to
/// `consumers` threads, for `rounds` rounds; prints one line per round:
/// `<ns per message> <sum of what the consumers got>`. Each consumer calls
/// `task_done()` after each item; the main thread waits for the producers,
/// then `q.join()`, then puts one `None` per consumer to stop them. The
/// threads are started inside the timed region, as on the Rust sides; the
/// queue is made just before it.
const QUEUE_SCRIPT: &str = r#"
import sys, threading, time, queue

def main():
    count, producers, consumers, cap, rounds = (int(a) for a in sys.argv[1:6])
    for _ in range(rounds):
        q = queue.Queue(maxsize=cap)
        sums = [0] * consumers

        def produce(lo, hi):
            put = q.put
            for i in range(lo, hi):
                put(i)

        def consume(k):
            get, done = q.get, q.task_done
            total = 0
            while True:
                x = get()
                if x is None:
                    done()
                    break
                total += x
                done()
            sums[k] = total

        t0 = time.perf_counter_ns()
        cs = [threading.Thread(target=consume, args=(k,)) for k in range(consumers)]
        for t in cs:
            t.start()
        ps = [
            threading.Thread(
                target=produce,
                args=(count * p // producers, count * (p + 1) // producers),
            )
            for p in range(producers)
        ]
        for t in ps:
            t.start()
        for t in ps:
            t.join()
        q.join()
        for _ in range(consumers):
            q.put(None)
        for t in cs:
            t.join()
        dt = time.perf_counter_ns() - t0
        print(dt / count, sum(sums), flush=True)

main()
"#;

const PYTHON: &str = "python3";

/// Whether `python3` can run here and import `modules` (a comma-separated
/// list, as in an `import` statement). Asked once per `modules` in a run.
///
/// # Errors
///
/// Why not, for the note on stderr.
pub fn available(modules: &str) -> Result<(), String> {
    static ASKED: Mutex<Vec<(String, Result<(), String>)>> = Mutex::new(Vec::new());
    let mut asked = ASKED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, answer)) = asked.iter().find(|(m, _)| m == modules) {
        return answer.clone();
    }
    let answer = ask(modules);
    asked.push((modules.to_owned(), answer.clone()));
    answer
}

fn ask(modules: &str) -> Result<(), String> {
    let out = Command::new(PYTHON)
        .args(["-c", &format!("import {modules}")])
        .output()
        .map_err(|e| format!("cannot run {PYTHON}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{PYTHON} cannot import {modules}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs one Python invocation doing one timed round of `count` tasks on
/// `workers` threads; gives ns per task as Python measured it, and the sum
/// of the results.
///
/// # Errors
///
/// When Python fails or prints something unexpected.
pub fn round(count: u64, workers: usize) -> Result<(f64, u64), String> {
    let args = [count.to_string(), workers.to_string(), "1".to_owned()];
    one_round(SCRIPT, &args)
}

/// Runs one Python invocation doing one timed round of `count` messages
/// through a `queue.Queue(maxsize=cap)` from `producers` to `consumers`
/// threads; gives ns per message as Python measured it, and the sum the
/// consumers got.
///
/// # Errors
///
/// When Python fails or prints something unexpected.
pub fn queue_round(
    count: u64,
    producers: usize,
    consumers: usize,
    cap: usize,
) -> Result<(f64, u64), String> {
    let args = [
        count.to_string(),
        producers.to_string(),
        consumers.to_string(),
        cap.to_string(),
        "1".to_owned(),
    ];
    one_round(QUEUE_SCRIPT, &args)
}

/// Runs `script` with `args` and reads its first line, `<ns per op> <sum>`.
///
/// # Errors
///
/// When Python fails or prints something unexpected.
pub fn one_round(script: &str, args: &[String]) -> Result<(f64, u64), String> {
    let out = Command::new(PYTHON)
        .args(["-c", script])
        .args(args)
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
    Ok((ns, sum))
}
