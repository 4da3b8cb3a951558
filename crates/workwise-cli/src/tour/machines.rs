//! Past one machine (Linux): the guide's producer-consumer queue shared by
//! several processes through Redis (`workwise::redis::RedisQueue`), one of
//! them killed mid-run.
//!
//! 2,000 items (600 under `--quick`), ids `0..n`. Each item's work stands
//! for a call to a service: a 300 µs sleep, then a checksum of the id (a few
//! µs of integer work) that is the item's effect. Every effect goes through
//! an idempotent sink keyed by the item's id, so that an item done twice
//! counts once, and the rows count done items exactly: a done item is an id
//! whose recorded checksum is the right one; a lost item is an id put but
//! never recorded; a wrong checksum fails the row. Two rows:
//!
//! - `local Queue`, the baseline: one process, a local `workwise::Queue`
//!   consumed by 3 consumer loops on `Pool::io` (`Pool::consume`), the sink
//!   one `OnceLock` per id.
//! - `RedisQueue`: 3 worker processes (this binary run again with the
//!   hidden `machines-worker` subcommand) share one `RedisQueue` on a
//!   `redis-server` of the tour's own ([`LocalServer`], started for the
//!   scenario, stopped after it); the tour itself is the producer: it puts
//!   the ids, then closes the queue. The sink is `HSETNX` on one Redis
//!   hash. The first worker, once it has done a ninth of the items (or
//!   sooner, should it start late: once every item is put and fewer than a
//!   third of them are undone), takes [`HOLD`] more without working on them, says which in a
//!   Redis key and waits; the tour, polling that key, kills it with SIGKILL
//!   then. Its
//!   items are redelivered to the other two after the visibility timeout
//!   ([`VISIBILITY`]), and done: delivery is at least once.
//!
//! Figures: `done`, `redelivered` (items taken that had been delivered
//! before), `lost` (must be 0), `items_per_s`; the Redis row adds
//! `killed_holding` (items the killed worker held) and `redis_pct` (the
//! share of the surviving workers' time spent in the queue's Redis round
//! trips, from `RedisQueueStats`). A lost item, a wrong checksum, fewer
//! redeliveries than the killed worker held, or a worker killed holding
//! nothing is an error of the tour. Where no `redis-server` can be
//! started the scenario says why and records no rows.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use workwise::redis::{LocalServer, RedisGetError, RedisQueue};
use workwise::{Pool, Queue};
use workwise_workloads::heavy;

use super::{
    advice, timed_on_pool, Column, Figure, Key, Measurement, ScenarioInfo, Size, Tour, TourError,
};

/// Items put, ids `0..n`.
const ITEMS: Size = Size::count("items", 600, 2_000);
/// Consumers: threads in the local row, worker processes in the Redis row.
const WORKERS: usize = 3;
/// Items the killed worker takes and holds before it is killed.
const HOLD: usize = 2;
/// How long an item may stay unacknowledged before another consumer may
/// take it: short, so the killed worker's items come back within the run.
const VISIBILITY: Duration = Duration::from_millis(800);
/// The part of each item's work that stands for waiting on a service.
const IO_WAIT: Duration = Duration::from_micros(300);
/// Workers still running after this long are killed and the row fails.
const DEADLINE: Duration = Duration::from_secs(60);
/// The hidden subcommand that runs one worker process.
pub(crate) const WORKER_COMMAND: &str = "machines-worker";
/// The queue's name on the tour's own server.
const QUEUE: &str = "tour:machines";
/// The hash that records each item's effect: id -> checksum.
const RESULTS: &str = "workwise-tour:{tour:machines}:results";
/// The key the worker to kill sets to the ids it holds.
const HOLDING: &str = "workwise-tour:{tour:machines}:holding";

/// One item's work: a wait that stands for I/O, then its checksum.
fn work(id: u64) -> u64 {
    std::thread::sleep(IO_WAIT);
    checksum(id)
}

/// The effect of item `id`, as the sink records it.
fn checksum(id: u64) -> u64 {
    heavy(0x5EED_0015 + id)
}

/// The many machines scenario.
pub(crate) const INFO: ScenarioInfo = ScenarioInfo {
    name: "many machines",
    slug: "machines",
    about: "past one machine: 3 worker processes share a RedisQueue, one is killed with SIGKILL",
    help: "2,000 items of ~300 µs each on a local Queue with 3 consumers, then on a RedisQueue \
           shared by 3 worker processes, one of them killed with SIGKILL while it holds items; \
           needs redis-server, skipped with a note where none can be started",
    sizes: &[ITEMS],
    models: &["local Queue", "RedisQueue"],
    no_speedup: &[],
    columns: &[
        Column {
            key: "done",
            header: "done",
        },
        Column {
            key: "redelivered",
            header: "redelivered",
        },
        Column {
            key: "lost",
            header: "lost",
        },
        Column {
            key: "items_per_s",
            header: "items/s",
        },
        Column {
            key: "redis_pct",
            header: "redis %",
        },
    ],
    keys: &[
        Key::new(
            "done",
            "items whose effect is recorded with the right checksum in the idempotent sink",
        ),
        Key::new(
            "redelivered",
            "items taken that had been delivered before (the killed worker's, come back \
             after the visibility timeout)",
        ),
        Key::new(
            "lost",
            "items put whose effect was never recorded (must be 0)",
        ),
        Key::new("items_per_s", "done items a second of wall time"),
        Key::new(
            "killed_holding",
            "items the killed worker held, unacknowledged, when it was killed",
        ),
        Key::new(
            "redis_pct",
            "percent of the surviving workers' time spent in the queue's Redis round trips \
             (RedisQueueStats::redis_time over their run time; blocking reads that wait for \
             items and the sink's HSETNX not counted)",
        ),
    ],
    errors: "a lost item, a wrong checksum, fewer redeliveries than the killed worker held, \
             or a worker killed holding nothing",
    run,
    process_tasks: &[],
};

/// What a surviving worker process reports on stdout as it ends.
#[derive(Debug, Serialize, Deserialize)]
struct WorkerReport {
    /// Items it worked on and acknowledged.
    done: u64,
    /// Of those, items delivered before.
    redelivered: u64,
    round_trips: u64,
    redis_ns: u64,
    alive_ns: u64,
}

/// Counts items `0..n` in `recorded` (id -> checksum): (done, lost, the
/// first wrong checksum and how many were wrong).
fn tally(n: u64, recorded: &dyn Fn(u64) -> Option<u64>) -> (u64, u64, u64, Option<String>) {
    let (mut done, mut lost, mut wrong, mut first) = (0, 0, 0, None);
    for id in 0..n {
        match recorded(id) {
            Some(sum) if sum == checksum(id) => done += 1,
            Some(sum) => {
                wrong += 1;
                first.get_or_insert_with(|| {
                    format!("item {id}: checksum {sum:#x}, expected {:#x}", checksum(id))
                });
            }
            None => {
                lost += 1;
                first.get_or_insert_with(|| format!("item {id}: put, but never done"));
            }
        }
    }
    (done, lost, wrong, first)
}

fn rate(done: u64, wall: Duration) -> f64 {
    if wall.is_zero() {
        0.0
    } else {
        done as f64 / wall.as_secs_f64()
    }
}

fn run(tour: &mut Tour) -> Result<(), TourError> {
    let n = ITEMS.pick(tour.quick());
    let server = match LocalServer::start() {
        Ok(server) => server,
        Err(e) => {
            return tour.skip(&format!(
                "it needs a redis-server of its own (Debian's `redis-server` package), and \
                 none could be started: {e}"
            ))
        }
    };
    tour.intro(&format!(
        "{n} items of ~300 µs each (a wait standing for a service call, then a checksum \
         recorded once per item id), on a local Queue with {WORKERS} consumers, then on a \
         RedisQueue shared by {WORKERS} worker processes, one killed with SIGKILL while it \
         holds {HOLD} items (visibility timeout {} ms)",
        VISIBILITY.as_millis()
    ))?;
    let base = local_row(tour, n)?;
    let row = redis_row(tour, &server.url(), n, base);
    drop(server);
    tour.record(row?)
}

/// The `local Queue` row: one process, 3 consumer loops on `Pool::io`.
fn local_row(tour: &mut Tour, n: u64) -> Result<Duration, TourError> {
    let sink: Arc<Vec<OnceLock<u64>>> = Arc::new((0..n).map(|_| OnceLock::new()).collect());
    let queue: Queue<u64> = Queue::bounded(256)
        .map_err(|e| TourError::Setup(format!("cannot build the local queue: {e}")))?;
    let bar = tour.progress("local Queue", n as usize);
    let builder = Pool::io().name("machines").max_workers(WORKERS);
    let (consumed, run) = timed_on_pool(builder, Duration::ZERO, |pool| {
        let to = sink.clone();
        let bar2 = bar.clone();
        let consumers = pool.consume(&queue, WORKERS, move |id: u64| {
            let _ = to[id as usize].set(work(id));
            bar2.inc(1);
        });
        let mut refused = 0;
        for id in 0..n {
            refused += u64::from(queue.put(id).is_err());
        }
        queue.close();
        let panicked: u64 = consumers
            .into_iter()
            .map(|h| h.wait().map_or(1, |r| r.panicked))
            .sum();
        refused + panicked
    })?;
    bar.finish_and_clear();
    let (done, lost, wrong, first_failure) = tally(n, &|id| sink[id as usize].get().copied());
    let line = format!(
        "{n} items through one local Queue to {WORKERS} consumer loops, each done once: \
         done {done}, lost {lost}; nothing is redelivered in one process (an item is handed \
         over in memory and cannot outlive its consumer without taking the process down); \
         {}",
        advice::for_pool(run.max_workers, &run.stats, run.wall, &run.findings)
    );
    let wall = run.wall;
    tour.record(Measurement {
        model: "local Queue",
        workers: WORKERS,
        wall,
        figures: vec![
            ("done", Figure::Count(done)),
            ("redelivered", Figure::Count(0)),
            ("lost", Figure::Count(lost)),
            ("items_per_s", Figure::Rate(rate(done, wall))),
        ],
        failed: lost + wrong + consumed,
        errors: None,
        first_failure,
        advice: line,
        findings: run.findings,
    })?;
    Ok(wall)
}

/// A worker process, its stdout and stderr read once it has ended.
struct Worker {
    child: Child,
}

impl Worker {
    fn spawn(url: &str, hold_after: Option<u64>) -> Result<Worker, TourError> {
        let exe = std::env::current_exe().map_err(|e| {
            TourError::Setup(format!("cannot find the workwise binary to rerun: {e}"))
        })?;
        let mut cmd = Command::new(exe);
        cmd.args([WORKER_COMMAND, url]);
        if let Some(after) = hold_after {
            cmd.args(["--hold-after", &after.to_string()]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| TourError::Setup(format!("cannot start a worker process: {e}")))?;
        Ok(Worker { child })
    }

    /// Its report, or why there is none; after it has ended.
    fn report(&mut self) -> Result<WorkerReport, String> {
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        if let Some(mut s) = self.child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        let status = self.child.wait().map_err(|e| e.to_string())?;
        serde_json::from_str(out.trim()).map_err(|_| {
            format!(
                "a worker process ended ({status}) without its report: {}",
                err.trim()
            )
        })
    }
}

/// The `RedisQueue` row.
fn redis_row(tour: &mut Tour, url: &str, n: u64, base: Duration) -> Result<Measurement, TourError> {
    let setup = |e: &dyn std::fmt::Display| TourError::Setup(format!("many machines: {e}"));
    let queue: RedisQueue<u64> = RedisQueue::builder(url, QUEUE)
        .visibility_timeout(VISIBILITY)
        .build()
        .map_err(|e| setup(&e))?;
    let mut conn = redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .map_err(|e| setup(&e))?;
    let bar = tour.progress("RedisQueue", n as usize);
    let mut failures: Vec<String> = Vec::new();

    let start = Instant::now();
    // The first worker is the one to kill: it holds items once it has done
    // a ninth of them (a third of its share).
    let hold_after = (n / 9).max(1);
    let mut victim = Worker::spawn(url, Some(hold_after))?;
    let mut others = (1..WORKERS)
        .map(|_| Worker::spawn(url, None))
        .collect::<Result<Vec<_>, _>>()?;
    for id in 0..n {
        if let Err(e) = queue.put(id) {
            failures.push(format!("put {id}: {e}"));
        }
    }
    let _ = queue.close();

    let mut killed_holding = 0u64;
    let mut victim_done = 0u64;
    let mut killed = false;
    loop {
        if !killed {
            let held = redis::cmd("GET")
                .arg(HOLDING)
                .query::<Option<String>>(&mut conn)
                .ok()
                .flatten();
            if let Some(ids) = held {
                let _ = victim.child.kill(); // SIGKILL
                let _ = victim.child.wait();
                killed = true;
                // `<items it did> <ids it holds, comma-separated>`
                let (did, ids) = ids.split_once(' ').unwrap_or(("0", ""));
                victim_done = did.parse().unwrap_or(0);
                killed_holding = ids.split(',').filter(|s| !s.is_empty()).count() as u64;
            } else if let Ok(Some(status)) = victim.child.try_wait() {
                killed = true;
                failures.push(format!(
                    "the worker to kill ended ({status}) before it held an item: {}",
                    victim.report().err().unwrap_or_default()
                ));
            }
        }
        let mut running = 0;
        for w in &mut others {
            running += usize::from(matches!(w.child.try_wait(), Ok(None)));
        }
        if let Ok(recorded) = redis::cmd("HLEN").arg(RESULTS).query::<u64>(&mut conn) {
            bar.set_position(recorded);
        }
        if killed && running == 0 {
            break;
        }
        if start.elapsed() > DEADLINE {
            failures.push(format!("workers still running after {DEADLINE:?}: killed"));
            for w in others.iter_mut().chain([&mut victim]) {
                let _ = w.child.kill();
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let wall = start.elapsed();
    bar.finish_and_clear();

    let reports: Vec<WorkerReport> = others
        .iter_mut()
        .filter_map(|w| w.report().map_err(|e| failures.push(e)).ok())
        .collect();
    if let Err(e) = queue.join_timeout(Duration::from_secs(5)) {
        failures.push(format!(
            "the queue is not done after its workers ended: {e}"
        ));
    }
    let recorded: HashMap<u64, u64> = redis::cmd("HGETALL")
        .arg(RESULTS)
        .query(&mut conn)
        .map_err(|e| setup(&e))?;
    let (done, lost, wrong, first_wrong) = tally(n, &|id| recorded.get(&id).copied());
    let redelivered: u64 = reports.iter().map(|r| r.redelivered).sum();
    if killed_holding == 0 && failures.is_empty() {
        failures.push("the killed worker held no item".into());
    }
    if redelivered < killed_holding {
        failures.push(format!(
            "the killed worker held {killed_holding} items, only {redelivered} came back"
        ));
    }
    let redis_ns: u64 = reports.iter().map(|r| r.redis_ns).sum();
    let alive_ns: u64 = reports.iter().map(|r| r.alive_ns).sum();
    let redis_pct = if alive_ns == 0 {
        0.0
    } else {
        100.0 * redis_ns as f64 / alive_ns as f64
    };
    let round_trips: u64 = reports.iter().map(|r| r.round_trips).sum();
    let survivors_done: u64 = reports.iter().map(|r| r.done).sum();
    let failed = lost + wrong + failures.len() as u64;
    let first_failure = first_wrong.or_else(|| failures.first().cloned());
    let advice = format!(
        "{WORKERS} worker processes shared one RedisQueue; the first was killed (SIGKILL) \
         holding {killed_holding} unacknowledged items after doing {victim_done}, and they came \
         back to the others after the {} ms visibility timeout: redelivered {redelivered}, \
         done {done}, lost {lost}. Delivery is at least once: an item may be done twice, so \
         its effect is keyed by its id (HSETNX) and counted once. The survivors did \
         {survivors_done} items in {round_trips} round trips ({:.1} per item), {redis_pct:.0}% \
         of their time; {:.1}x the local Queue's wall, the price of a queue that outlives \
         its consumers and spans machines (the wall includes the killed worker's items waiting \
         out the visibility timeout)",
        VISIBILITY.as_millis(),
        round_trips as f64 / survivors_done.max(1) as f64,
        wall.as_secs_f64() / base.as_secs_f64().max(1e-9),
    );
    Ok(Measurement {
        model: "RedisQueue",
        workers: WORKERS,
        wall,
        figures: vec![
            ("done", Figure::Count(done)),
            ("redelivered", Figure::Count(redelivered)),
            ("lost", Figure::Count(lost)),
            ("items_per_s", Figure::Rate(rate(done, wall))),
            ("killed_holding", Figure::Count(killed_holding)),
            ("redis_pct", Figure::Rate(redis_pct)),
        ],
        failed,
        errors: None,
        first_failure,
        advice,
        findings: Vec::new(),
    })
}

/// The `machines-worker` subcommand: one consumer of the scenario's
/// RedisQueue at `url`, recording each item's checksum with `HSETNX` and
/// acknowledging it, until the queue is closed and drained; then prints
/// its [`WorkerReport`]. With `hold_after`, once it has done that many
/// items, or every item is put and fewer than a third are undone (it
/// started late),
/// it takes [`HOLD`] more, sets the holding key to its count and their ids
/// and waits to be killed.
pub(crate) fn worker(url: &str, hold_after: Option<u64>) -> ExitCode {
    let started = Instant::now();
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("workwise {WORKER_COMMAND}: {what}: {e}");
        ExitCode::FAILURE
    };
    let queue: RedisQueue<u64> = match RedisQueue::builder(url, QUEUE)
        .visibility_timeout(VISIBILITY)
        .build()
    {
        Ok(q) => q,
        Err(e) => return fail("cannot open the queue", &e),
    };
    let mut conn = match redis::Client::open(url).and_then(|c| c.get_connection()) {
        Ok(c) => c,
        Err(e) => return fail("cannot connect", &e),
    };
    let mut done = 0u64;
    loop {
        if let Some(after) = hold_after {
            // Late: the producer is through (the queue is closed) and
            // fewer than a third of the items are undone.
            let late = || {
                let undone = queue.len().unwrap_or(usize::MAX) as u64;
                undone.saturating_mul(3) < after.saturating_mul(9)
                    && queue.is_closed().unwrap_or(false)
            };
            if done >= after || late() {
                return hold(&queue, &mut conn, done);
            }
        }
        match queue.get() {
            Ok(item) => {
                let id = *item;
                let sum = work(id);
                let set: Result<i64, _> = redis::cmd("HSETNX")
                    .arg(RESULTS)
                    .arg(id)
                    .arg(sum)
                    .query(&mut conn);
                if let Err(e) = set {
                    // Not acknowledged: the item comes back to another.
                    std::mem::forget(item);
                    return fail("cannot record an effect", &e);
                }
                drop(item); // acknowledged: done
                done += 1;
            }
            Err(RedisGetError::Closed) => break,
            Err(e) => return fail("get", &e),
        }
    }
    let stats = queue.stats();
    let report = WorkerReport {
        done,
        redelivered: stats.redelivered,
        round_trips: stats.round_trips,
        redis_ns: u64::try_from(stats.redis_time.as_nanos()).unwrap_or(u64::MAX),
        alive_ns: u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
    };
    match serde_json::to_string(&report) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => fail("cannot write the report", &e),
    }
}

/// Takes [`HOLD`] items, says which in the holding key, and waits to be
/// killed (ending by itself, a failure, only after [`DEADLINE`]).
fn hold(queue: &RedisQueue<u64>, conn: &mut redis::Connection, done: u64) -> ExitCode {
    let mut held = Vec::new();
    while held.len() < HOLD {
        match queue.get() {
            Ok(item) => held.push(item),
            Err(RedisGetError::Closed) => break,
            Err(e) => {
                eprintln!("workwise {WORKER_COMMAND}: get: {e}");
                break;
            }
        }
    }
    let ids: Vec<String> = held.iter().map(|i| i.to_string()).collect();
    if ids.is_empty() {
        eprintln!(
            "workwise {WORKER_COMMAND}: the queue was drained before this worker held an item"
        );
        return ExitCode::FAILURE;
    }
    let set: Result<(), _> = redis::cmd("SET")
        .arg(HOLDING)
        .arg(format!("{done} {}", ids.join(",")))
        .query(conn);
    if let Err(e) = set {
        eprintln!("workwise {WORKER_COMMAND}: cannot say what it holds: {e}");
        std::process::exit(1);
    }
    std::thread::sleep(DEADLINE);
    eprintln!("workwise {WORKER_COMMAND}: held {ids:?} for {DEADLINE:?} and was not killed");
    // Ends without acknowledging: the items come back to the others.
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_counts_done_lost_and_wrong_items_by_id() {
        let all = |id: u64| Some(checksum(id));
        assert_eq!(tally(5, &all), (5, 0, 0, None));
        let missing = |id: u64| (id != 3).then(|| checksum(id));
        let (done, lost, wrong, first) = tally(5, &missing);
        assert_eq!((done, lost, wrong), (4, 1, 0));
        assert_eq!(first.unwrap(), "item 3: put, but never done");
        let bad = |id: u64| Some(checksum(id) ^ u64::from(id == 1));
        let (done, lost, wrong, first) = tally(5, &bad);
        assert_eq!((done, lost, wrong), (4, 0, 1));
        assert!(first.unwrap().starts_with("item 1: checksum "));
    }
}
