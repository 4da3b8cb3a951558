//! Past one machine: a producer and three worker processes share one
//! `RedisQueue`. The producer puts 300 jobs on a queue bounded at 50 (it
//! waits while 50 are undone, whoever consumes them), then closes it; each
//! worker runs two consumer loops (`Pool::consume`) until the queue is
//! closed and drained, and records each job's effect with `HSETNX`, keyed
//! by the job's id: delivery is at least once (a job whose worker dies
//! comes back to another), so an effect must not count twice.
//!
//! The example starts its own throwaway `redis-server` (`LocalServer`;
//! Debian's `redis-server` package) and runs this same binary again as the
//! workers, telling them where Redis is through an environment variable.
//! On a real deployment the workers are separate machines given the
//! server's URL.
//!
//! Run: `cargo run -p workwise --features redis --example redis_workers`

use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use workwise::redis::{LocalServer, RedisQueue};
use workwise::Pool;

/// Set in a worker process: the Redis URL, then `:` and the worker's number.
const WORKER_ENV: &str = "REDIS_WORKERS_EXAMPLE_WORKER";
const QUEUE: &str = "thumbnails";
/// Where each job's effect is recorded: job id -> the worker that did it.
const DONE: &str = "thumbnails:done";
const JOBS: u32 = 300;
const WORKERS: usize = 3;

/// A job: values travel as JSON, so any serde type works.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    id: u32,
    image: String,
}

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    match std::env::var(WORKER_ENV) {
        Ok(spec) => worker(&spec),
        Err(_) => producer(),
    }
}

fn producer() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let server = match LocalServer::start() {
        Ok(server) => server,
        Err(e) => {
            println!(
                "redis_workers needs a redis-server (Debian: apt-get install redis-server): {e}"
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    let url = server.url();
    let jobs: RedisQueue<Job> = RedisQueue::bounded(&url, QUEUE, 50)?;

    let start = Instant::now();
    let exe = std::env::current_exe()?;
    let mut workers = (1..=WORKERS)
        .map(|n| {
            Command::new(&exe)
                .env(WORKER_ENV, format!("{url}:{n}"))
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;

    for id in 0..JOBS {
        // Waits while 50 jobs are undone: backpressure across processes.
        jobs.put(Job {
            id,
            image: format!("photos/{id:04}.jpg"),
        })?;
    }
    jobs.close()?; // workers drain what is there, then their gets say closed
    println!(
        "producer: put {JOBS} jobs in {:?} (capacity {:?}), then closed the queue",
        start.elapsed(),
        jobs.capacity()
    );

    let mut ok = true;
    for w in &mut workers {
        ok &= w.wait()?.success();
    }
    jobs.join_timeout(Duration::from_secs(10))?; // nothing undone is left

    let mut redis = redis::Client::open(url.as_str())?.get_connection()?;
    let done: u32 = redis::cmd("HLEN").arg(DONE).query(&mut redis)?;
    println!(
        "producer: {done} of {JOBS} jobs recorded done in {:?}, by {WORKERS} worker processes",
        start.elapsed()
    );
    Ok(if ok && done == JOBS {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn worker(spec: &str) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let (url, n) = spec.rsplit_once(':').ok_or("a bad worker spec")?;
    let jobs: RedisQueue<Job> = RedisQueue::bounded(url, QUEUE, 50)?;
    // One connection for the effects, shared by this worker's loops.
    let sink = Arc::new(Mutex::new(redis::Client::open(url)?.get_connection()?));
    let first = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::new(AtomicU64::new(0));

    let pool = Pool::io().name("worker").build()?;
    let (sink2, first2, recorded2) = (sink.clone(), first.clone(), recorded.clone());
    let me = n.to_owned();
    let loops = pool.consume(&jobs, 2, move |job: Job| {
        std::thread::sleep(Duration::from_millis(2)); // pretend to make a thumbnail
        let mut c = sink2.lock().unwrap();
        // The effect, once per job id however often the job is delivered.
        let new: bool = redis::cmd("HSETNX")
            .arg(DONE)
            .arg(job.id)
            .arg(&me)
            .query(&mut *c)
            .unwrap_or(false);
        recorded2.fetch_add(u64::from(new), Ordering::Relaxed);
        let mut f = first2.lock().unwrap();
        if f.len() < 3 {
            f.push(job.image);
        }
    });
    let mut handled = 0;
    for l in loops {
        let report = l.wait()?;
        handled += report.processed;
        if let Some(why) = report.stopped_by {
            eprintln!("worker {n}: a consumer loop stopped: {why}");
        }
    }
    pool.shutdown();
    let stats = jobs.stats();
    println!(
        "worker {n} (pid {}): handled {handled} jobs ({} recorded first here, {} redelivered), \
         e.g. {}; {} round trips to Redis, {:?} in them",
        std::process::id(),
        recorded.load(Ordering::Relaxed),
        stats.redelivered,
        first.lock().unwrap().join(", "),
        stats.round_trips,
        stats.redis_time,
    );
    Ok(ExitCode::SUCCESS)
}
