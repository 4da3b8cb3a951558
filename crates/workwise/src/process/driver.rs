//! The driver threads: each runs one worker process at a time, by rules 1
//! to 5 of the protocol in `pool.rs`.

use std::io::BufWriter;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::frame::{self, FrameError, FrameReader};
use super::pool::{lock, Job, Shared};
use super::stats::Counters;
use super::worker::{ENV_MAX_FRAME, ENV_MEMORY, ENV_WORKER};
use crate::TaskError;

/// How long a new worker has to say hello (frame rule 4).
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);
/// The pipe size asked for: 1 MiB, Linux's default `pipe-max-size`.
const PIPE_BYTES: i32 = 1 << 20;
/// How long a retired worker has to exit after its input closes.
const RETIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// A live worker process and its pipes.
struct Worker {
    child: Child,
    /// `None` once retired.
    input: Option<BufWriter<ChildStdin>>,
    output: ChildStdout,
    reader: FrameReader,
    tasks: u64,
}

enum Ran {
    Reply(u8, Vec<u8>),
    /// Rule 2: the worker never had the task.
    NotDelivered,
    Crashed(String),
    TimedOut,
}

fn spawn(shared: &Shared, slot: usize) -> Result<Worker, String> {
    let config = &shared.config;
    let mut cmd = Command::new(&config.exe);
    cmd.env(ENV_WORKER, std::process::id().to_string())
        .env(ENV_MAX_FRAME, config.max_frame_bytes.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(limit) = config.memory_limit {
        cmd.env(ENV_MEMORY, limit.to_string());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", config.exe.display()))?;
    Counters::add(&shared.counters.spawned, 1);
    // Larger pipes: fewer wake-ups for a large frame. The kernel may refuse
    // (its pipe-max-size), and the default then serves.
    for fd in [
        child.stdin.as_ref().map(|p| p.as_raw_fd()),
        child.stdout.as_ref().map(|p| p.as_raw_fd()),
    ]
    .into_iter()
    .flatten()
    {
        let _ = fcntl(fd, FcntlArg::F_SETPIPE_SZ(PIPE_BYTES));
    }
    let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
        reap(&mut child, true);
        return Err("the worker's pipes were not set up".to_owned());
    };
    let mut worker = Worker {
        child,
        input: Some(BufWriter::with_capacity(64 << 10, input)),
        output,
        reader: FrameReader::new(config.max_frame_bytes),
        tasks: 0,
    };
    let deadline = Instant::now() + HELLO_TIMEOUT;
    match worker.read_reply(Some(deadline)) {
        Ok(Some(hello)) if hello == frame::HELLO => {
            lock(&shared.pids)[slot] = Some(worker.child.id());
            Ok(worker)
        }
        other => {
            let status = reap(&mut worker.child, true);
            let seen = match other {
                Ok(Some(_)) => "an unknown hello".to_owned(),
                Ok(None) => "no hello in 30 s".to_owned(),
                Err(e) => e.to_string(),
            };
            Err(format!(
                "the worker process did not start ({seen}, {}): call \
                 workwise::process::init(&[..]) as the first line of main{}",
                describe(status),
                match config.memory_limit {
                    Some(limit) => format!(
                        ", and check that memory_limit({limit}) leaves room for the binary itself"
                    ),
                    None => String::new(),
                }
            ))
        }
    }
}

/// Kills (if asked) and waits for a child, so that no zombie is left.
fn reap(child: &mut Child, kill: bool) -> Option<ExitStatus> {
    if kill {
        let _ = child.kill();
    }
    child.wait().ok()
}

fn describe(status: Option<ExitStatus>) -> String {
    match status {
        Some(s) => s.to_string(),
        None => "status unknown".to_owned(),
    }
}

impl Worker {
    /// Sends the job and reads its reply (rules 2 to 4).
    fn run(&mut self, shared: &Shared, job: &Job) -> Ran {
        let max = shared.config.max_frame_bytes;
        let Some(input) = self.input.as_mut() else {
            return Ran::NotDelivered;
        };
        match frame::write_frame(input, &[&job.head, &job.arg], max) {
            Ok(n) => Counters::add(&shared.counters.bytes_sent, n as u64),
            Err(_) => return Ran::NotDelivered,
        }
        // A timeout past what an Instant holds is none.
        let deadline = shared.config.timeout.and_then(crate::clock::deadline_after);
        match self.read_reply(deadline) {
            Ok(Some(reply)) => {
                Counters::add(
                    &shared.counters.bytes_received,
                    (frame::HEADER + reply.len()) as u64,
                );
                match reply.split_first() {
                    Some((&status, body)) if status <= frame::REPLY_BAD_ARGUMENT => {
                        Ran::Reply(status, body.to_vec())
                    }
                    Some((&status, _)) => Ran::Crashed(
                        FrameError::Malformed(format!("a reply with status {status}")).to_string(),
                    ),
                    None => {
                        Ran::Crashed(FrameError::Malformed("an empty reply".into()).to_string())
                    }
                }
            }
            Ok(None) => Ran::TimedOut,
            Err(e) => Ran::Crashed(e.to_string()),
        }
    }

    /// Reads one frame; `Ok(None)` when the deadline passed first.
    fn read_reply(&mut self, deadline: Option<Instant>) -> Result<Option<Vec<u8>>, FrameError> {
        match deadline {
            None => self.reader.read_frame(&mut self.output).map(Some),
            Some(deadline) => read_frame_by(&mut self.reader, &mut self.output, deadline),
        }
    }

    /// Closes the worker's input and waits for it to exit (rule 5).
    fn retire(mut self) {
        drop(self.input.take());
        let deadline = Instant::now() + RETIRE_TIMEOUT;
        // The worker's end of file on its output is its exit.
        let exited = loop {
            match read_frame_by(&mut self.reader, &mut self.output, deadline) {
                Ok(Some(_)) => continue,
                Ok(None) => break false,
                Err(_) => break true,
            }
        };
        reap(&mut self.child, !exited);
    }
}

/// Reads one frame, polling so as to stop at `deadline` (`Ok(None)`).
fn read_frame_by(
    reader: &mut FrameReader,
    output: &mut ChildStdout,
    deadline: Instant,
) -> Result<Option<Vec<u8>>, FrameError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let ms = PollTimeout::try_from(left.as_millis().max(1) as u64).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(output.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(FrameError::Io(e.to_string())),
        }
        if let Some(frame) = reader.read_some(output)? {
            return Ok(Some(frame));
        }
    }
}

/// Takes the next job, or `None` once the pool is closed and drained.
fn next_job(shared: &Shared) -> Option<Job> {
    let mut state = lock(&shared.state);
    loop {
        if let Some(job) = state.jobs.pop_front() {
            state.running += 1;
            return Some(job);
        }
        if state.closed {
            return None;
        }
        state = shared.work.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

/// One driver thread: runs its slot's worker process (rules 1 to 5).
pub(super) fn drive(shared: &Shared, slot: usize, ready: Option<mpsc::Sender<Result<(), String>>>) {
    let counters = &shared.counters;
    let mut worker: Option<Worker> = None;
    if let Some(ready) = ready {
        match spawn(shared, slot) {
            Ok(w) => {
                worker = Some(w);
                let _ = ready.send(Ok(()));
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        }
    }
    // A worker died or was killed: the next one started replaces it.
    let mut replacing = false;
    while let Some(mut job) = next_job(shared) {
        let finished = run_job(shared, slot, &mut worker, &mut replacing, &mut job);
        match finished {
            Some(reply) => job.sink.finish(reply),
            None => {
                // Rule 3: queued again at the front, already started.
                let mut state = lock(&shared.state);
                state.jobs.push_front(job);
                state.running -= 1;
                drop(state);
                shared.work.notify_one();
                continue;
            }
        }
        lock(&shared.state).running -= 1;
        let _ = counters;
    }
    lock(&shared.pids)[slot] = None;
    if let Some(w) = worker.take() {
        w.retire();
    }
}

/// Runs one job on this slot's worker; `None` when it is to be retried.
fn run_job(
    shared: &Shared,
    slot: usize,
    worker: &mut Option<Worker>,
    replacing: &mut bool,
    job: &mut Job,
) -> Option<Result<Vec<u8>, TaskError>> {
    let counters = &shared.counters;
    if !job.started {
        if !job.sink.start() {
            Counters::add(&counters.cancelled, 1);
            return Some(Err(TaskError::Cancelled));
        }
        job.started = true;
    }
    // Rule 2: a worker found dead, or that could not read the request,
    // never had the task; the task goes to its replacement (a few times at
    // most, so a binary whose workers die at once cannot loop forever).
    for _ in 0..3 {
        if let Some(w) = worker.as_mut() {
            if matches!(w.child.try_wait(), Ok(Some(_))) {
                let mut dead = worker.take().expect("checked");
                // Out of the list before the pid is freed, so it is never reused there.
                lock(&shared.pids)[slot] = None;
                reap(&mut dead.child, false);
                *replacing = true;
            }
        }
        if worker.is_none() {
            match spawn(shared, slot) {
                Ok(w) => {
                    if std::mem::take(replacing) {
                        Counters::add(&counters.respawns, 1);
                    }
                    *worker = Some(w);
                }
                Err(message) => return Some(Err(TaskError::NoWorker { message })),
            }
        }
        let w = worker.as_mut().expect("started above");
        match w.run(shared, job) {
            Ran::NotDelivered => {
                let mut dead = worker.take().expect("running");
                // Out of the list before the pid is freed, so it is never reused there.
                lock(&shared.pids)[slot] = None;
                reap(&mut dead.child, true);
                *replacing = true;
                continue;
            }
            Ran::Reply(status, body) => {
                w.tasks += 1;
                let result = reply_result(counters, status, body);
                if shared
                    .config
                    .max_tasks_per_worker
                    .is_some_and(|m| w.tasks >= m)
                {
                    let old = worker.take().expect("running");
                    lock(&shared.pids)[slot] = None;
                    old.retire();
                    Counters::add(&counters.recycled, 1);
                    if shared.config.eager {
                        *worker = spawn(shared, slot).ok();
                    }
                }
                return Some(result);
            }
            Ran::TimedOut => {
                let mut dead = worker.take().expect("running");
                // Out of the list before the pid is freed, so it is never reused there.
                lock(&shared.pids)[slot] = None;
                reap(&mut dead.child, true);
                Counters::add(&counters.timed_out, 1);
                respawn_if_eager(shared, slot, worker, replacing);
                return Some(Err(TaskError::TimedOut));
            }
            Ran::Crashed(detail) => {
                let mut dead = worker.take().expect("running");
                // Out of the list before the pid is freed, so it is never reused there.
                lock(&shared.pids)[slot] = None;
                let status = reap(&mut dead.child, true);
                Counters::add(&counters.crashed, 1);
                respawn_if_eager(shared, slot, worker, replacing);
                if job.attempts < shared.config.retry_crashed {
                    job.attempts += 1;
                    Counters::add(&counters.retried, 1);
                    return None;
                }
                return Some(Err(TaskError::WorkerCrashed {
                    signal: status.and_then(|s| s.signal()),
                    exit_code: status.and_then(|s| s.code()),
                    detail,
                }));
            }
        }
    }
    Some(Err(TaskError::NoWorker {
        message: "three new workers in a row died before reading the task".to_owned(),
    }))
}

fn respawn_if_eager(
    shared: &Shared,
    slot: usize,
    worker: &mut Option<Worker>,
    replacing: &mut bool,
) {
    *replacing = true;
    if shared.config.eager {
        if let Ok(w) = spawn(shared, slot) {
            Counters::add(&shared.counters.respawns, 1);
            *replacing = false;
            *worker = Some(w);
        }
    }
}

fn reply_result(counters: &Counters, status: u8, body: Vec<u8>) -> Result<Vec<u8>, TaskError> {
    let text = || String::from_utf8_lossy(&body).into_owned();
    match status {
        frame::REPLY_OK => {
            Counters::add(&counters.completed, 1);
            Ok(body)
        }
        frame::REPLY_UNKNOWN_TASK => {
            Counters::add(&counters.panicked, 1);
            Err(TaskError::Panicked {
                message: format!("not run: {}", text()),
            })
        }
        frame::REPLY_BAD_ARGUMENT => {
            Counters::add(&counters.panicked, 1);
            Err(TaskError::Panicked {
                message: format!(
                    "not run: the worker could not decode the argument: {}",
                    text()
                ),
            })
        }
        _ => {
            Counters::add(&counters.panicked, 1);
            Err(TaskError::Panicked { message: text() })
        }
    }
}
