//! The worker side: what `init` does in a re-executed copy of the binary.
//!
//! The worker reads requests on its original standard input and writes
//! replies on its original standard output (frame protocol rules 4 and 5);
//! it moves those pipes aside first, so that a task that prints writes to
//! standard error instead of into the protocol.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::resource::{setrlimit, Resource};
use nix::unistd::{dup2, getppid, Pid};

use super::frame::{self, FrameError, FrameReader, REPLY_UNKNOWN_TASK};
use super::task::Registered;

/// Marks a worker; its value is the parent's process id.
pub(crate) const ENV_WORKER: &str = "WORKWISE_PROCESS_WORKER";
/// The worker's address-space limit in bytes, if any.
pub(crate) const ENV_MEMORY: &str = "WORKWISE_PROCESS_MEMORY_LIMIT";
/// The largest frame the worker reads.
pub(crate) const ENV_MAX_FRAME: &str = "WORKWISE_PROCESS_MAX_FRAME";

/// Exit status of a worker whose parent broke the frame protocol.
const EXIT_PROTOCOL: i32 = 3;
/// Exit status of a worker that could not set itself up.
const EXIT_SETUP: i32 = 4;

/// Runs as a worker if this process is one; returns if it is not.
pub(crate) fn run_if_worker(tasks: &[&dyn Registered]) {
    let Ok(parent) = std::env::var(ENV_WORKER) else {
        return;
    };
    let memory = env_number(ENV_MEMORY);
    let max = env_number(ENV_MAX_FRAME).map_or(frame::DEFAULT_MAX_FRAME, |m| m as usize);
    // Not inherited by what the tasks start: another workwise binary would
    // take itself for a worker. `init` is the first line of `main`, so no
    // other thread reads the environment yet.
    for key in [ENV_WORKER, ENV_MEMORY, ENV_MAX_FRAME] {
        std::env::remove_var(key);
    }
    let Ok(parent) = parent.parse::<i32>() else {
        eprintln!("workwise worker: {ENV_WORKER}={parent:?} is not a process id");
        std::process::exit(EXIT_SETUP);
    };
    match serve(tasks, Pid::from_raw(parent), memory, max) {
        Ok(()) | Err(FrameError::Closed) => std::process::exit(0),
        Err(e) => {
            eprintln!("workwise worker {}: {e}", std::process::id());
            std::process::exit(EXIT_PROTOCOL);
        }
    }
}

fn serve(
    tasks: &[&dyn Registered],
    parent: Pid,
    memory: Option<u64>,
    max: usize,
) -> Result<(), FrameError> {
    die_with_parent(parent);
    if let Some(limit) = memory {
        if let Err(e) = setrlimit(Resource::RLIMIT_AS, limit, limit) {
            eprintln!("workwise worker: cannot set the memory limit of {limit} bytes: {e}");
            std::process::exit(EXIT_SETUP);
        }
    }
    let (mut input, output) = take_pipes().unwrap_or_else(|e| {
        eprintln!("workwise worker: cannot set up its pipes: {e}");
        std::process::exit(EXIT_SETUP);
    });
    let mut output = BufWriter::with_capacity(64 << 10, output);
    frame::write_frame(&mut output, &[frame::HELLO], max)?;
    let mut reader = FrameReader::new(max);
    loop {
        let request = reader.read_frame(&mut input)?;
        let request = frame::parse_request(&request)?;
        let (status, body) = match tasks.iter().find(|t| t.task_name() == request.task) {
            Some(task) => (task.dispatch())(request.arg, request.batch),
            None => (
                REPLY_UNKNOWN_TASK,
                format!(
                    "the task `{}` is not listed in this binary's workwise::process::init(&[..]): \
                     add it there",
                    request.task
                )
                .into_bytes(),
            ),
        };
        let written = frame::write_frame(&mut output, &[&[status], &body], max);
        if let Err(FrameError::Oversized { len, max }) = written {
            let message = format!(
                "the task's result of {len} bytes is over the maximum frame of {max} bytes: \
                 raise ProcessPool::builder().max_frame_bytes or return less"
            );
            frame::write_frame(
                &mut output,
                &[&[frame::REPLY_PANICKED], message.as_bytes()],
                max,
            )?;
        } else {
            written?;
        }
    }
}

fn env_number(key: &str) -> Option<u64> {
    std::env::var(key).ok()?.parse().ok()
}

/// Ends this process when its parent goes: the kernel's parent-death
/// signal on Linux, and a thread that sees the parent change (the
/// pipe-closed check is the read loop's end of file).
fn die_with_parent(parent: Pid) {
    #[cfg(target_os = "linux")]
    {
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    }
    // The parent may have died before the signal was armed.
    if getppid() != parent {
        std::process::exit(0);
    }
    let _ = std::thread::Builder::new()
        .name("workwise-parent-watch".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            if getppid() != parent {
                std::process::exit(0);
            }
        });
}

/// Moves the protocol pipes off standard input and output, which then read
/// from `/dev/null` and write to standard error.
fn take_pipes() -> io::Result<(File, File)> {
    use std::os::fd::AsRawFd;
    let input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let output = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let null = File::open("/dev/null")?;
    dup2(null.as_raw_fd(), 0)?;
    dup2(2, 1)?;
    let _ = RAW_OUTPUT.set(output.try_clone()?);
    Ok((input, output))
}

/// The reply pipe, for [`write_raw`].
static RAW_OUTPUT: OnceLock<File> = OnceLock::new();

/// Writes bytes straight to the reply pipe (tests break the protocol with
/// it); an error outside a worker.
pub(crate) fn write_raw(bytes: &[u8]) -> io::Result<()> {
    let mut out = RAW_OUTPUT
        .get()
        .ok_or_else(|| io::Error::other("not a workwise worker process"))?;
    out.write_all(bytes)?;
    out.flush()
}
