//! The guide's last async row, `Web servers | Asyncio | FastAPI/aiohttp`,
//! and its pitfall 2, "never block the event loop".
//!
//! An embedded HTTP/1.1 server on 127.0.0.1 whose handler for `GET /user`
//! waits 20 ms of simulated database latency, loaded by an embedded load
//! generator: [`CONNECTIONS`]: 1,000 keep-alive connections (200 in a quick run),
//! all sending at once, each a fixed number of requests one after another.
//! Three rows, three servers, one load generator:
//!
//! - `thread per connection`: a blocking server on `std::net` that gives
//!   every connection a std thread of its own (default stack), whose
//!   handler waits with `std::thread::sleep(20 ms)`: the right blocking
//!   equivalent. The baseline of the speedups.
//! - `async`: a tokio server (a multi-thread runtime of one worker per
//!   core), one task per connection in a [`TaskGroup`](workwise::aio::TaskGroup), whose handler
//!   awaits `tokio::time::sleep(20 ms)`.
//! - `async + blocking call`: the same async server whose handler calls
//!   `std::thread::sleep(20 ms)` instead of awaiting (pitfall 2): each
//!   request holds a runtime thread, and every connection on it waits.
//!
//! Both async servers run every handler through one [`BlockingDetector`]
//! (threshold 10 ms) under the handler's name, `GET /user`; the advisor
//! reads its reports: a handler caught holding its runtime thread in at
//! least one request in ten is W03, a blocking call in an async task. Both servers are hand-rolled on the same lines (a
//! 1 KiB read buffer per connection, a request head parsed for its path, a
//! fixed `Content-Length` reply), so the rows differ in the model only.
//!
//! # Method
//!
//! 1. The load generator runs on its own tokio runtime (one worker per
//!    core, threads `web-load`), the same for every row, so it takes the
//!    same share of the machine whichever server it loads. Its buffers are
//!    allocated before memory is read.
//! 2. The server starts; freed heap memory is returned to the OS (glibc's
//!    `malloc_trim`), so that what an earlier row freed cannot absorb this
//!    row's growth; `VmRSS` is read from `/proc/self/status`.
//! 3. Every connection opens (at most 32 connecting at once, within any
//!    listen backlog) and sends one `GET /ping`, answered at once, so that
//!    each connection's thread or task has run; `VmRSS` is read again.
//!    `kib_per_conn` is the growth over the connections: the server's side
//!    of a connection (a thread's stack and bookkeeping, or a task) plus the
//!    generator's socket registration, which is the same in every row.
//!    Kernel socket buffers are not in RSS.
//! 4. The clock starts; every connection sends its requests to `GET /user`
//!    one after another, each timed from its write to the end of its reply;
//!    the clock stops when all are answered. `rps` is requests over that
//!    wall time, `p50_ms` and `p99_ms` the latencies' percentiles.
//! 5. The connections close; the server stops by itself (a thread ends on
//!    its connection's end or a 30 s read timeout; the async runtime is
//!    shut down), having accepted no more than the plan's connections.
//!
//! `async + blocking call` sends one request per connection, not the
//! plan's count: its runtime serves one request per worker thread every
//! 20 ms whatever the load (100 requests/s on 2 cores), so the plan's count
//! would take minutes; its rate and latencies are those of a full queue in
//! either case, since every connection sends at once.

use std::io;
use std::time::Duration;

use workwise::advice::Advice;
use workwise::aio::{BlockingDetector, BlockingReport};

mod load;
mod server;

pub(super) use server::{content_length, head_end};

use load::LoadGenerator;
use server::{AsyncServer, Server, ThreadServer};

use super::advice::{human, said};
use super::memory::{release_free_memory, rss_kib};
use super::{Column, Figure, Key, Measurement, ScenarioInfo, Size, Tour, TourError};

/// The handler's simulated database latency.
const DB_LATENCY: Duration = Duration::from_millis(20);
/// Each connection's read buffer, on both sides, in every server.
const BUF: usize = 1024;
/// At most this many connections are connecting at once.
const CONNECT_AT_ONCE: usize = 32;
/// Every read of a server's or the generator's waits at most this long.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// The name the detector knows the `/user` handler by.
const HANDLER: &str = "GET /user";

/// A run's size.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Keep-alive connections, all open at once.
    connections: usize,
    /// Requests each connection sends, one after another.
    requests: usize,
}

/// Keep-alive connections, all open at once.
const CONNECTIONS: Size = Size::count("keep-alive connections", 200, 1_000);
/// Requests each connection sends: a full run 20 each; a quick one 50
/// each (a second or so at 200 connections / 20 ms = 10,000 requests/s).
const REQUESTS: Size = Size::count("requests each", 50, 20);

/// The model names of the rows.
const THREADS: &str = "thread per connection";
const ASYNC: &str = "async";
const BLOCKING: &str = "async + blocking call";

/// The web server scenario.
pub(crate) const INFO: ScenarioInfo = ScenarioInfo {
    name: "web server",
    slug: "web",
    about: "the guide's `Web servers` row: a local HTTP server whose handler waits 20 ms on a \
            database, under 1,000 keep-alive connections (200 quick), as thread per connection, \
            async, and async with a blocking call",
    help: "a local HTTP server under many keep-alive connections, as thread per connection, \
           async, and async with a blocking call",
    sizes: &[CONNECTIONS, REQUESTS],
    models: &[THREADS, ASYNC, BLOCKING],
    no_speedup: &[],
    columns: &[
        Column {
            key: "rps",
            header: "req/s",
        },
        Column {
            key: "p50_ms",
            header: "p50 ms",
        },
        Column {
            key: "p99_ms",
            header: "p99 ms",
        },
        Column {
            key: "kib_per_conn",
            header: "KiB/conn",
        },
        Column {
            key: "failed",
            header: "failed",
        },
    ],
    keys: &[
        Key::new("connections", "keep-alive connections open at once"),
        Key::new("requests", "requests answered"),
        Key::new("rps", "requests per second"),
        Key::new("p50_ms", "the median request latency, in ms"),
        Key::new("p99_ms", "the 99th percentile request latency, in ms"),
        Key::new(
            "kib_per_conn",
            "the server's memory growth per open connection, in KiB",
        ),
    ],
    errors: "",
    run,
    #[cfg(target_os = "linux")]
    process_tasks: &[],
};

fn run(tour: &mut Tour) -> Result<(), TourError> {
    let quick = tour.quick();
    let plan = Plan {
        connections: CONNECTIONS.items(quick),
        requests: REQUESTS.items(quick),
    };
    tour.intro(&format!(
        "{} keep-alive connections on 127.0.0.1, each sending {} requests to a handler \
             that waits {} on a database (the blocking-call row: 1 each); memory is RSS growth \
             over the connections",
        plan.connections,
        plan.requests,
        human(DB_LATENCY)
    ))?;
    let load = LoadGenerator::new().map_err(|e| setup("the load generator's runtime", &e))?;

    let threads = run_row(tour, &load, plan, Model::Threads)?;
    let advice = advice_threads(&threads);
    tour.record(threads.measurement(THREADS, advice, Vec::new()))?;

    let detector = BlockingDetector::new();
    let asynchronous = run_row(tour, &load, plan, Model::Async(detector.clone()))?;
    let caught = detector.take_reports();
    let findings = blocking_findings(&detector, asynchronous.requests);
    let advice = advice_async(&asynchronous, &threads, &caught, &findings);
    tour.record(asynchronous.measurement(ASYNC, advice, findings))?;

    let blocking_plan = Plan {
        requests: 1,
        ..plan
    };
    // A detector of its own, so that its findings are this row's only.
    let detector = BlockingDetector::new();
    let blocking = run_row(
        tour,
        &load,
        blocking_plan,
        Model::Blocking(detector.clone()),
    )?;
    let findings = blocking_findings(&detector, blocking.requests);
    let advice = advice_blocking(&blocking, &asynchronous, &findings);
    tour.record(blocking.measurement(BLOCKING, advice, findings))
}

fn setup(what: &str, e: &io::Error) -> TourError {
    TourError::Setup(format!("web server: cannot start {what}: {e}"))
}

/// Which server a row runs.
#[derive(Debug, Clone)]
enum Model {
    Threads,
    Async(BlockingDetector),
    Blocking(BlockingDetector),
}

impl Model {
    fn name(&self) -> &'static str {
        match self {
            Model::Threads => THREADS,
            Model::Async(_) => ASYNC,
            Model::Blocking(_) => BLOCKING,
        }
    }
}

/// One row's figures.
#[derive(Debug)]
struct Row {
    plan: Plan,
    wall: Duration,
    requests: u64,
    p50: Duration,
    p99: Duration,
    /// RSS growth over the connections, per connection; `None` where this
    /// OS has no `/proc/self/status`.
    kib_per_conn: Option<f64>,
    workers: usize,
    failed: u64,
    first_failure: Option<String>,
}

impl Row {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    fn measurement(
        &self,
        model: &'static str,
        advice: String,
        findings: Vec<Advice>,
    ) -> Measurement {
        let ms = |d: Duration| Figure::Rate(d.as_secs_f64() * 1e3);
        Measurement {
            model,
            workers: self.workers,
            wall: self.wall,
            figures: vec![
                ("connections", Figure::Count(self.plan.connections as u64)),
                ("requests", Figure::Count(self.requests)),
                ("rps", Figure::Rate(self.rps())),
                ("p50_ms", ms(self.p50)),
                ("p99_ms", ms(self.p99)),
                (
                    "kib_per_conn",
                    Figure::Rate(self.kib_per_conn.unwrap_or(f64::NAN)),
                ),
            ],
            failed: self.failed,
            errors: None,
            first_failure: self.first_failure.clone(),
            advice,
            findings,
        }
    }
}

/// Runs one row as the module docs' method says.
fn run_row(tour: &Tour, load: &LoadGenerator, plan: Plan, model: Model) -> Result<Row, TourError> {
    let buffers: Vec<Vec<u8>> = (0..plan.connections).map(|_| vec![0; BUF]).collect();
    let (server, workers) = match &model {
        Model::Threads => (
            Server::Threads(
                ThreadServer::start(plan.connections).map_err(|e| setup("its server", &e))?,
            ),
            plan.connections,
        ),
        Model::Async(detector) | Model::Blocking(detector) => {
            let blocking = matches!(model, Model::Blocking(_));
            let server = AsyncServer::start(plan.connections, blocking, detector)
                .map_err(|e| setup("its server", &e))?;
            let workers = server.workers;
            (Server::Async(server), workers)
        }
    };
    let addr = server.addr();

    release_free_memory();
    let before = rss_kib();
    let opened = load.open(addr, buffers);
    let after = rss_kib();
    let kib_per_conn = before
        .zip(after)
        .map(|(b, a)| (a as f64 - b as f64) / plan.connections.max(1) as f64);

    let mut failed = 0;
    let mut first_failure = None;
    let mut conns = Vec::with_capacity(opened.len());
    for c in opened {
        match c {
            Ok(c) => conns.push(c),
            Err(e) => {
                failed += plan.requests as u64;
                first_failure.get_or_insert(format!("opening a connection: {e}"));
            }
        }
    }
    let bar = tour.progress(model.name(), conns.len() * plan.requests);
    let (wall, outcomes) = load.send(conns, plan.requests, &bar);
    bar.finish_and_clear();
    let mut latencies = Vec::with_capacity(plan.connections * plan.requests);
    for o in outcomes {
        latencies.extend(o.latencies);
        if let Some(e) = o.error {
            failed += o.lost;
            first_failure.get_or_insert(e);
        }
    }
    server.shutdown();
    latencies.sort_unstable();
    Ok(Row {
        plan,
        wall,
        requests: latencies.len() as u64,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        kib_per_conn,
        workers,
        failed,
        first_failure,
    })
}

/// The `p` quantile of `sorted` (nearest rank), zero for none.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------
// The advisor.
// ---------------------------------------------------------------------

fn kib(k: Option<f64>) -> String {
    k.map_or_else(|| "? KiB (no /proc here)".into(), |k| format!("{k:.1} KiB"))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn advice_threads(r: &Row) -> String {
    format!(
        "{} connections held {} threads, {} of RSS each while open; {:.0} requests/s, \
         p50 {}, p99 {}: every waiting connection holds a whole thread",
        r.plan.connections,
        r.plan.connections,
        kib(r.kib_per_conn),
        r.rps(),
        ms(r.p50),
        ms(r.p99)
    )
}

fn advice_async(r: &Row, threads: &Row, caught: &[BlockingReport], findings: &[Advice]) -> String {
    let mut parts = Vec::new();
    parts.push(match (r.kib_per_conn, threads.kib_per_conn) {
        (Some(a), Some(t)) if a * 10.0 <= t => format!(
            "{} connections on {} runtime threads, {a:.1} KiB each against a thread's \
             {t:.1} KiB ({:.0}x less): the guide's reason to go async for many connections",
            r.plan.connections,
            r.workers,
            t / a.max(0.01)
        ),
        (Some(a), Some(t)) => format!(
            "{a:.1} KiB per connection against a thread's {t:.1} KiB: this machine shows \
             less than the guide's tenfold saving ({:.1}x)",
            t / a.max(0.01)
        ),
        _ => "memory per connection could not be read here".into(),
    });
    let (a, t) = (r.rps(), threads.rps());
    parts.push(if a >= t * 1.1 {
        format!("{a:.0} requests/s, {:.2}x the threads' {t:.0}", a / t)
    } else if a >= t * 0.9 {
        format!(
            "{a:.0} requests/s against the threads' {t:.0}: at {} connections threads keep up \
             on this machine (the guide expects async to pull ahead as connections grow); \
             async's edge here is memory",
            r.plan.connections
        )
    } else {
        format!(
            "{a:.0} requests/s, fewer than the threads' {t:.0} ({:.2}x): on this machine \
             threads served faster at {} connections, against the guide",
            a / t,
            r.plan.connections
        )
    });
    parts.push(format!("p50 {}, p99 {}", ms(r.p50), ms(r.p99)));
    parts.push(if !findings.is_empty() {
        said(findings)
    } else if caught.is_empty() {
        "the blocking detector caught no handler holding its thread; the advisor found \
         nothing to fix"
            .into()
    } else {
        format!(
            "the blocking detector caught {} poll(s) over its threshold in {} requests, \
             first `{}`, too few to be a blocking call (no handler here blocks: on a busy \
             machine a runtime thread preempted mid-poll reads as a long poll); the advisor \
             found nothing to fix",
            caught.len(),
            r.requests,
            caught[0].task
        )
    });
    parts.join("; ")
}

fn advice_blocking(r: &Row, asynchronous: &Row, findings: &[Advice]) -> String {
    let cost = format!(
        "the other requests waited for it: p50 {}, p99 {} against async's {} and {} \
         ({:.0}x the p99), {:.0} requests/s against {:.0}",
        ms(r.p50),
        ms(r.p99),
        ms(asynchronous.p50),
        ms(asynchronous.p99),
        r.p99.as_secs_f64() / asynchronous.p99.as_secs_f64().max(1e-9),
        r.rps(),
        asynchronous.rps()
    );
    if findings.is_empty() {
        format!("the blocking detector caught no handler (against what it should have): {cost}")
    } else {
        format!(
            "{} (std::thread::sleep in async code, the guide's pitfall 2); {cost}",
            said(findings)
        )
    }
}

/// One request in this many caught blocking keeps a handler's W03: on a
/// busy machine a runtime thread preempted in the middle of a poll reads as
/// a long poll now and then, and a row of 10,000 requests can see a few.
const BLOCKED_ONE_IN: u64 = 10;

/// The library's W03 findings for an async row of `requests` requests
/// (`BlockingDetector::advice`), kept for the handlers caught in at least
/// one request in ten.
fn blocking_findings(detector: &BlockingDetector, requests: u64) -> Vec<Advice> {
    detector
        .advice()
        .into_iter()
        .filter(|a| {
            let caught = a.figure("blocked_polls").unwrap_or(0.0) as u64;
            caught * BLOCKED_ONE_IN >= requests.max(1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use workwise::advice::Code;

    #[test]
    fn a_handler_caught_blocking_in_one_request_in_ten_is_w03() {
        let detector = BlockingDetector::with_threshold(Duration::from_millis(1));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            for _ in 0..3 {
                detector
                    .watch(HANDLER, async {
                        std::thread::sleep(Duration::from_millis(3));
                    })
                    .await;
            }
            detector.watch("GET /ping", async {}).await;
        });
        let found = blocking_findings(&detector, 30);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].code, Code::W03);
        assert_eq!(found[0].source, "task 'GET /user'");
        assert!(found[0].summary.contains("GET /user"), "{}", found[0]);
        assert_eq!(found[0].figure("blocked_polls"), Some(3.0));
        assert!(found[0].fix.contains("aio::run_blocking"), "{}", found[0]);
        // Three long polls in 31 requests: a busy machine, not a blocking call.
        assert!(blocking_findings(&detector, 31).is_empty());
        assert!(blocking_findings(&BlockingDetector::new(), 0).is_empty());
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let ms = |v: u64| Duration::from_millis(v);
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 0.5), ms(51));
        assert_eq!(percentile(&sorted, 0.99), ms(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
