//! Crash isolation: what processes are for in Rust (Linux, as
//! `workwise::process` is).
//!
//! 2,000 decode tasks (400 under `--quick`), each "decoding" a small
//! generated image into its checksum, stand for a third-party decoder with
//! a memory bug: 1% of the inputs, chosen by a seeded generator, make it
//! crash its process, half of them by a write through a null pointer
//! (SIGSEGV), half by `std::process::abort` (SIGABRT). Two rows:
//!
//! - `ProcessPool`, the reference: each task in a worker process; a crash
//!   costs only its own task, which gets `TaskError::WorkerCrashed`, and the
//!   pool starts a new worker. Every other task must succeed with the right
//!   checksum.
//! - `Pool::cpu`, run in a child process of the tour (this binary run again
//!   with the hidden `crash-child` subcommand), because the first crash
//!   takes the whole process down: the child prints each result as it is
//!   made, and the row counts the results that never came as lost.
//!
//! Figures: `tasks`, `succeeded`, `crashed` (tasks told their worker
//! crashed), `lost` (tasks that gave neither a result nor an error),
//! `respawns`; on both rows `succeeded + crashed + lost == tasks`. A crashed
//! or lost task is the lesson, not an error of the tour; a wrong checksum, a
//! clean input reported crashed or a poisoned one that succeeded is.
//!
//! While the scenario runs, the tour lowers its own core-dump limit to zero
//! (inherited by its worker processes and the child), so that the crashes
//! leave no core files behind, and restores it after.

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use serde::{Deserialize, Serialize};
use workwise::process::Task;
use workwise::{Pool, TaskError};
use workwise_workloads::{image, Rng};

use super::{processes, Column, Figure, Key, Measurement, ScenarioInfo, Size, Tour, TourError};

/// Tasks a run decodes.
const TASKS: Size = Size::count("tasks", 400, 2_000);
/// One task in this many crashes its process.
const CRASH_EVERY: usize = 100;
/// The seed of the choice of crashing inputs (and of the images: input `i`
/// decodes the image of seed `SEED + i`).
const SEED: u64 = 0x5EED_0003;
/// Each decoded image's width and height, in pixels.
const SIZE: usize = 64;
/// The child process of the `Pool::cpu` row is killed if it runs this long.
const CHILD_DEADLINE: Duration = Duration::from_secs(120);
/// The hidden subcommand that runs the `Pool::cpu` row in a child process.
pub(crate) const CHILD_COMMAND: &str = "crash-child";

/// How a poisoned input makes the decoder crash its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Fault {
    /// A clean input: the decoder returns its checksum.
    None,
    /// A write through a null pointer: SIGSEGV.
    Segfault,
    /// `std::process::abort`: SIGABRT.
    Abort,
}

/// One decode task's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Input {
    /// The image's seed.
    seed: u64,
    /// What the decoder's bug does with this input.
    fault: Fault,
}

/// The inputs of a run of `tasks`: 1% of them poisoned, chosen by the seed,
/// alternately to segfault and to abort.
fn inputs(tasks: usize) -> Vec<Input> {
    let mut rng = Rng::new(SEED);
    let poisoned = (tasks / CRASH_EVERY).max(1).min(tasks);
    let mut chosen = HashSet::new();
    while chosen.len() < poisoned {
        chosen.insert(rng.below(tasks as u64) as usize);
    }
    let mut order: Vec<usize> = chosen.into_iter().collect();
    order.sort_unstable();
    let mut out: Vec<Input> = (0..tasks)
        .map(|i| Input {
            seed: SEED + i as u64,
            fault: Fault::None,
        })
        .collect();
    for (k, i) in order.into_iter().enumerate() {
        out[i].fault = if k % 2 == 0 {
            Fault::Segfault
        } else {
            Fault::Abort
        };
    }
    out
}

/// The right answer for a clean input.
fn checksum(seed: u64) -> u64 {
    image::checksum(&image::generate(SIZE, SIZE, seed))
}

/// Decodes one input: its image's checksum, or, for a poisoned input, the
/// end of the process that runs it.
fn decode(input: Input) -> u64 {
    let sum = checksum(input.seed);
    match input.fault {
        Fault::None => sum,
        Fault::Segfault => {
            let pixel: *mut u64 = std::ptr::null_mut();
            // SAFETY: deliberately unsafe: this stands for a decoder's
            // memory bug. The write through a null pointer kills the process
            // running it with SIGSEGV, which is what this scenario shows a
            // ProcessPool surviving and a thread pool not.
            unsafe { std::ptr::write_volatile(pixel, sum) };
            sum
        }
        Fault::Abort => std::process::abort(),
    }
}

/// The decoder, for `ProcessPool`.
pub(crate) const DECODE: Task<Input, u64> = workwise::process_task!(decode);

/// The model name of the thread pool's row.
const THREADS: &str = "Pool::cpu";

/// The crash isolation scenario.
pub(crate) const INFO: ScenarioInfo = ScenarioInfo {
    name: "crash isolation",
    slug: "crash",
    about: "what processes are for: decode tasks of which 1% crash their process (Linux)",
    help: "Linux: decode tasks of which 1% crash their process, on a `ProcessPool`, which loses \
           only those, and on `Pool::cpu` in a child process, which the first crash ends",
    sizes: &[TASKS],
    models: &[processes::MODEL, THREADS],
    // The thread pool's wall time is the time to its crash.
    no_speedup: &[THREADS],
    columns: &[
        Column {
            key: "succeeded",
            header: "succeeded",
        },
        Column {
            key: "crashed",
            header: "crashed",
        },
        Column {
            key: "lost",
            header: "lost",
        },
        Column {
            key: "respawns",
            header: "respawns",
        },
    ],
    keys: &[
        Key::new("tasks", "decode tasks"),
        Key::new("succeeded", "tasks that gave the right checksum"),
        Key::new("crashed", "tasks told that their worker process crashed"),
        Key::new(
            "lost",
            "tasks that gave neither a result nor an error: on `Pool::cpu`, every one after \
             the crash that ended the process",
        ),
        Key::new(
            "respawns",
            "worker processes started to replace crashed ones; the `Pool::cpu` row's speedup \
             is null (its wall time is the time until the crash)",
        ),
        processes::WORKER_MB,
        processes::SENT_MB,
        processes::RECEIVED_MB,
    ],
    errors: "the crashed and lost tasks are the lesson, and an error is a wrong checksum, a \
             clean input reported crashed, a poisoned one that did not crash, or a child \
             process that did not end at its first crash",
    run,
    process_tasks: &[&DECODE],
};

fn run(tour: &mut Tour) -> Result<(), TourError> {
    let tasks = TASKS.items(tour.quick());
    let inputs = inputs(tasks);
    let poisoned = inputs.iter().filter(|i| i.fault != Fault::None).count();
    tour.intro(&format!(
        "{tasks} decode tasks (a {SIZE}x{SIZE} image each) of which {poisoned} crash their \
             process (a seeded 1%: half write through a null pointer, half abort), standing \
             for a third-party decoder with a memory bug; the guide's processes are for \
             speed, in Rust they are for isolation: a ProcessPool loses only the crashed \
             tasks, a thread pool loses the program (run here in a child process)"
    ))?;
    // Computed before any clock starts.
    let expected: Vec<u64> = inputs.iter().map(|i| checksum(i.seed)).collect();
    let _no_cores = NoCoreDumps::new();

    let bar = tour.progress(processes::MODEL, tasks);
    let (results, run) = processes::timed_on_process_pool("crash", |pool| {
        let handles: Vec<_> = inputs.iter().map(|&i| pool.submit(DECODE, i)).collect();
        handles
            .into_iter()
            .map(|h| {
                let r = h.wait();
                bar.inc(1);
                r
            })
            .collect::<Vec<_>>()
    })?;
    bar.finish_and_clear();
    let pooled = PoolRow::check(&inputs, &expected, &results);
    tour.record(pooled.measurement(&run))?;

    let bar = tour.progress(THREADS, tasks);
    let child = run_child(tasks, &bar)?;
    bar.finish_and_clear();
    tour.record(child.measurement(&inputs, &expected))
}

/// The `ProcessPool` row, checked task by task.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PoolRow {
    tasks: usize,
    /// Handles that resolved, with a result or an error.
    returned: usize,
    succeeded: u64,
    crashed: u64,
    segfaults: u64,
    aborts: u64,
    /// Errors of the tour: a wrong checksum, a clean input reported
    /// crashed, a poisoned input that succeeded, another error.
    failed: u64,
    first_failure: Option<String>,
}

impl PoolRow {
    fn check(inputs: &[Input], expected: &[u64], results: &[Result<u64, TaskError>]) -> Self {
        let mut row = PoolRow {
            tasks: inputs.len(),
            returned: results.len().min(inputs.len()),
            succeeded: 0,
            crashed: 0,
            segfaults: 0,
            aborts: 0,
            failed: 0,
            first_failure: None,
        };
        let fail = |row: &mut PoolRow, why: String| {
            row.failed += 1;
            row.first_failure.get_or_insert(why);
        };
        if results.len() != inputs.len() {
            fail(
                &mut row,
                format!("{} results came back, not {}", results.len(), inputs.len()),
            );
        }
        for (i, (input, result)) in inputs.iter().zip(results).enumerate() {
            match (input.fault, result) {
                (Fault::None, Ok(sum)) if *sum == expected[i] => row.succeeded += 1,
                (Fault::None, Ok(sum)) => fail(
                    &mut row,
                    format!(
                        "task {i}: checksum {sum:016x}, the loop's {:016x}",
                        expected[i]
                    ),
                ),
                (_, Err(TaskError::WorkerCrashed { signal, .. })) => {
                    row.crashed += 1;
                    match signal {
                        Some(11) => row.segfaults += 1,
                        Some(6) => row.aborts += 1,
                        _ => {}
                    }
                    if input.fault == Fault::None {
                        fail(
                            &mut row,
                            format!(
                                "task {i}: a clean input's worker crashed: {}",
                                result_text(result)
                            ),
                        );
                    }
                }
                (_, Ok(_)) => fail(
                    &mut row,
                    format!(
                        "task {i}: a poisoned input ({:?}) did not crash",
                        input.fault
                    ),
                ),
                (_, Err(e)) => fail(&mut row, format!("task {i}: {e}")),
            }
        }
        row
    }

    fn measurement(self, run: &processes::ProcRun) -> Measurement {
        let crashed = self.crashed;
        let respawns = run.stats.respawns;
        let advice = format!(
            "{crashed} of {} tasks crashed their worker process ({} by SIGSEGV, {} by \
             SIGABRT) and each got TaskError::WorkerCrashed; the pool started {respawns} new \
             workers ({} worker processes, {:.1} MB private memory each) and the other {} \
             tasks succeeded, nothing lost: processes pay in Rust for code that may crash, \
             abort, leak or hang (FFI, third-party decoders, untrusted input); for speed \
             alone, threads are the better model",
            self.tasks,
            self.segfaults,
            self.aborts,
            run.workers,
            run.worker_mb(),
            self.succeeded,
        );
        // Every handle resolves: a task with neither a result nor an error
        // would be one that never came back.
        let lost = (self.tasks - self.returned) as u64;
        let mut figures = figures(self.tasks, self.succeeded, crashed, lost, respawns);
        figures.extend(run.figures());
        Measurement {
            model: processes::MODEL,
            workers: run.workers,
            wall: run.wall,
            figures,
            failed: self.failed,
            errors: None,
            first_failure: self.first_failure,
            advice,
            findings: Vec::new(),
        }
    }
}

fn result_text(r: &Result<u64, TaskError>) -> String {
    match r {
        Ok(v) => v.to_string(),
        Err(e) => e.to_string(),
    }
}

/// The figures of a row, in output order.
fn figures(
    tasks: usize,
    succeeded: u64,
    crashed: u64,
    lost: u64,
    respawns: u64,
) -> Vec<(&'static str, Figure)> {
    vec![
        ("tasks", Figure::Count(tasks as u64)),
        ("succeeded", Figure::Count(succeeded)),
        ("crashed", Figure::Count(crashed)),
        ("lost", Figure::Count(lost)),
        ("respawns", Figure::Count(respawns)),
    ]
}

/// What the `Pool::cpu` child process did.
#[derive(Debug)]
struct ChildRun {
    /// `(task, checksum)` for each result it printed before it ended.
    results: Vec<(usize, u64)>,
    /// How it ended; `None` when it was killed at the deadline.
    status: Option<ExitStatus>,
    /// What it wrote on stderr.
    stderr: String,
    /// Its threads (the cores).
    workers: usize,
    wall: Duration,
}

impl ChildRun {
    fn measurement(self, inputs: &[Input], expected: &[u64]) -> Measurement {
        let tasks = inputs.len();
        let mut failed = 0;
        let mut first_failure = None;
        let mut fail = |why: String| {
            failed += 1;
            first_failure.get_or_insert(why);
        };
        let mut seen = HashSet::new();
        for &(i, sum) in &self.results {
            match (inputs.get(i), expected.get(i)) {
                (Some(input), Some(&want)) if input.fault == Fault::None && sum == want => {
                    if !seen.insert(i) {
                        fail(format!("task {i}: two results"));
                    }
                }
                (Some(input), _) if input.fault != Fault::None => fail(format!(
                    "task {i}: a poisoned input ({:?}) did not crash the child process",
                    input.fault
                )),
                (Some(_), Some(&want)) => fail(format!(
                    "task {i}: checksum {sum:016x}, the loop's {want:016x}"
                )),
                _ => fail(format!("task {i}: no such task")),
            }
        }
        let succeeded = seen.len() as u64;
        let lost = tasks as u64 - succeeded;
        let ended = match self.status {
            None => {
                fail(format!(
                    "the child process ran past {} and was killed",
                    super::advice::human(CHILD_DEADLINE)
                ));
                "was killed at the deadline".to_string()
            }
            Some(s) => match (s.signal(), s.code()) {
                (Some(sig), _) => format!("died of signal {sig} ({})", signal_name(sig)),
                (None, Some(0)) => {
                    fail("the child process finished: no input crashed it".into());
                    "finished".to_string()
                }
                (None, code) => {
                    let why = self.stderr.lines().last().unwrap_or("").trim().to_string();
                    fail(format!(
                        "the child process could not run: exit {code:?}: {why}"
                    ));
                    format!("exited with status {code:?}")
                }
            },
        };
        let advice = format!(
            "the same tasks on Pool::cpu, in a child process of the tour: it {ended} at the \
             first crash, after {succeeded} results; the other {lost} were lost, with no error \
             to tell which task crashed: threads share one address space, so one task's memory \
             bug or abort ends every task; use ProcessPool for code that may crash"
        );
        Measurement {
            model: THREADS,
            workers: self.workers,
            wall: self.wall,
            figures: figures(tasks, succeeded, 0, lost, 0),
            failed,
            errors: None,
            first_failure,
            advice,
            findings: Vec::new(),
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        11 => "SIGSEGV",
        6 => "SIGABRT",
        9 => "SIGKILL",
        _ => "another signal",
    }
}

/// Runs the `Pool::cpu` row in a child process: this binary run again with
/// the hidden subcommand, its stdout read line by line (one line per
/// result) until it ends.
fn run_child(tasks: usize, bar: &indicatif::ProgressBar) -> Result<ChildRun, TourError> {
    let exe = std::env::current_exe()
        .map_err(|e| TourError::Setup(format!("cannot find the workwise binary to rerun: {e}")))?;
    let start = Instant::now();
    let mut child = Command::new(exe)
        .args([CHILD_COMMAND, &tasks.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| TourError::Setup(format!("cannot start the child process: {e}")))?;
    let (stdout, mut stderr) = match (child.stdout.take(), child.stderr.take()) {
        (Some(out), Some(err)) => (out, err),
        _ => return Err(TourError::Setup("the child process has no pipes".into())),
    };
    let (lines, results) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let mut parts = line.split_ascii_whitespace().map(str::parse::<u64>);
            if let (Some(Ok(i)), Some(Ok(sum))) = (parts.next(), parts.next()) {
                if lines.send((i as usize, sum)).is_err() {
                    break;
                }
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut got = Vec::new();
    let status = loop {
        match results.recv_timeout(Duration::from_millis(20)) {
            Ok(r) => {
                got.push(r);
                bar.inc(1);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Its stdout closed: it ended.
                break child.wait().ok();
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if start.elapsed() > CHILD_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
    };
    let wall = start.elapsed();
    let _ = reader.join();
    got.extend(results.try_iter());
    let stderr = errors.join().unwrap_or_default();
    Ok(ChildRun {
        results: got,
        status,
        stderr,
        workers: workwise::available_cores(),
        wall,
    })
}

/// The `crash-child` subcommand: runs the scenario's `tasks` on
/// `Pool::cpu`, each task printing `<task> <checksum>` on stdout as it
/// finishes, until the first poisoned input ends the process.
pub(crate) fn child(tasks: usize) -> ExitCode {
    let pool = match Pool::cpu().name("crash").build() {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("workwise {CHILD_COMMAND}: cannot build a pool: {e}");
            return ExitCode::FAILURE;
        }
    };
    let handles: Vec<_> = inputs(tasks)
        .into_iter()
        .enumerate()
        .map(|(i, input)| {
            pool.submit(move || {
                let sum = decode(input);
                // Stdout writes line by line: each result is out before the
                // next task starts.
                let _ = writeln!(io::stdout().lock(), "{i} {sum}");
            })
        })
        .collect();
    pool.shutdown();
    drop(handles);
    ExitCode::SUCCESS
}

/// Lowers this process's core-dump limit to zero while alive (worker
/// processes and the child inherit it), so that the deliberate crashes
/// write no core files; restores it on drop. Best effort: a limit that
/// cannot be read or set is left as it is.
struct NoCoreDumps {
    before: Option<(u64, u64)>,
}

impl NoCoreDumps {
    fn new() -> Self {
        let before = getrlimit(Resource::RLIMIT_CORE)
            .ok()
            .filter(|&(_, hard)| setrlimit(Resource::RLIMIT_CORE, 0, hard).is_ok());
        NoCoreDumps { before }
    }
}

impl Drop for NoCoreDumps {
    fn drop(&mut self) {
        if let Some((soft, hard)) = self.before {
            let _ = setrlimit(Resource::RLIMIT_CORE, soft, hard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_input_in_a_hundred_is_poisoned_by_the_seed() {
        let a = inputs(2_000);
        assert_eq!(a, inputs(2_000));
        let faults: Vec<Fault> = a.iter().map(|i| i.fault).collect();
        let count = |f| faults.iter().filter(|&&x| x == f).count();
        assert_eq!((count(Fault::Segfault), count(Fault::Abort)), (10, 10));
        assert_eq!(
            inputs(400)
                .iter()
                .filter(|i| i.fault != Fault::None)
                .count(),
            4
        );
        assert_eq!(
            inputs(10).iter().filter(|i| i.fault != Fault::None).count(),
            1
        );
    }

    #[test]
    fn the_pool_row_counts_crashes_and_fails_wrong_answers() {
        let inputs = inputs(200);
        let expected: Vec<u64> = inputs.iter().map(|i| i.seed).collect();
        let crashed = TaskError::WorkerCrashed {
            signal: Some(11),
            exit_code: None,
            detail: String::new(),
        };
        let mut results: Vec<Result<u64, TaskError>> = inputs
            .iter()
            .map(|i| match i.fault {
                Fault::None => Ok(i.seed),
                _ => Err(crashed.clone()),
            })
            .collect();
        let row = PoolRow::check(&inputs, &expected, &results);
        assert_eq!((row.succeeded, row.crashed, row.failed), (198, 2, 0));
        assert_eq!(row.segfaults, 2);

        let clean = inputs.iter().position(|i| i.fault == Fault::None).unwrap();
        results[clean] = Ok(7);
        let row = PoolRow::check(&inputs, &expected, &results);
        assert_eq!((row.succeeded, row.failed), (197, 1));
        assert!(row.first_failure.unwrap().contains("checksum"));
        results[clean] = Err(crashed);
        let row = PoolRow::check(&inputs, &expected, &results);
        assert_eq!((row.crashed, row.failed), (3, 1));
    }
}
