//! The guide's `API calls | Asyncio | aiohttp + gather` row, with its advice
//! on calling another service: "Rate Limiting", "Circuit Breaker" and "Set
//! Timeouts".
//!
//! Fans out requests for the items of a flaky JSON API on the tour's
//! embedded server, on `Pool::io` through one shared `ureq::Agent`. The
//! server answers each request after 2 to 5 ms, fails one in ten with a 503,
//! and has an outage in every run: from the run's request number
//! `requests / 10` on, it fails every request for [`OUTAGE`]'s 2 s (1 s in a
//! quick run), and stalls the outage's first [`STALLS`] requests for
//! [`STALL`] before failing them. It starts its counts and its outage afresh
//! for each row, so both rows meet the same outage at the same point of
//! their work, however fast they call.
//!
//! Three rows: `naive`, each request tried once with nothing around it (no
//! rate limit, no breaker, no timeout, no retry), and `policy`, each request
//! through one shared [`workwise::Policy`]: a rate limit, a circuit breaker,
//! an attempt timeout, and retries with exponential backoff and jitter that
//! wait out an open breaker. Both fan out the same way, a loop per worker
//! (see [`fan_out`] for why not a task per request). `naive` is the
//! baseline of the speedups: the policy's waits make it the slower row.
//!
//! The third, `aio`, is the guide's own answer for this row (aiohttp +
//! gather, reusing one session): the same requests through the same kind
//! of policy (`Policy::call_async`), from one async task on one thread
//! (a current-thread tokio runtime, like asyncio's one event loop), fanned
//! out with `aio::gather_limited` at most as many in flight as `Pool::io`
//! has workers, through one shared hand-rolled HTTP/1.1 client
//! ([`AioClient`](aio_row::AioClient)) whose keep-alive connections are opened before the clock
//! starts, one at a time (see the server's warning about bursts). An
//! attempt cut at its timeout drops its request, and with it its
//! connection, which is never reused half-read. Its figures add
//! `connections` (the client's connections opened, in all) and
//! `peak_connections` (the most in use at once).
//!
//! Requests the server failed are the lesson: each row counts them in
//! `failed` and the tour does not fail on them. Only a wrong answer (a body
//! that is not the item asked for) or an unexpected error (any status but
//! 200 and 503, a broken connection) is an error of the tour, counted in the
//! row's `errors`.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;
use workwise::advice::Advice;
use workwise::aio;
use workwise::{
    BreakerStats, CircuitBreaker, Policy, PolicyError, Pool, RateLimiter, Retry, RetryError,
    TaskError, Workload,
};

mod advice;
mod aio_row;

use super::{Column, Figure, Key, Measurement, ScenarioInfo, Size, Tour, TourError};
use crate::server::{self, ApiReport, Outage};
use crate::tour::advice::{human, said};

/// How many of the outage's first requests the server stalls.
const STALLS: u64 = 3;
/// How long it stalls each: twice the attempt timeout.
const STALL: Duration = Duration::from_millis(500);

/// Requests a run makes.
const REQUESTS: Size = Size::count("requests", 200, 400);
/// How long the server's outage lasts, from request `requests / 10` on (a
/// quick run's is half the full run's, to keep the quick tour within its
/// few seconds).
const OUTAGE: Size = Size::measure(1, 2, " s", "outage");

/// The policy's rate limit: permits a second, and its burst.
const RATE: u32 = 200;
const BURST: u32 = 20;
/// The breaker opens after this many failures in a row...
const FAILURES_TO_OPEN: u32 = 5;
/// ...and lets one probe through after this long open.
const OPEN_FOR: Duration = Duration::from_millis(500);
/// Each attempt's timeout: 50 times the slowest healthy answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(250);
/// The first retry's backoff, doubled for each one after it.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Attempts per request, the first one included.
const MAX_ATTEMPTS: usize = 6;

/// A run's size and its outage.
#[derive(Debug, Clone, Copy)]
struct Plan {
    requests: u64,
    outage: Outage,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        let requests = REQUESTS.pick(quick);
        Plan {
            requests,
            outage: Outage {
                from_call: requests / 10,
                lasts: Duration::from_secs(OUTAGE.pick(quick)),
                stalls: STALLS,
                stall: STALL,
            },
        }
    }
}

/// The model names of the rows.
const NAIVE: &str = "naive";
const POLICY: &str = "policy";
const AIO: &str = "aio";

/// The api calls scenario.
pub(crate) const INFO: ScenarioInfo = ScenarioInfo {
    name: "api calls",
    slug: "api",
    about: "the guide's `API calls` row: a flaky local JSON API with an outage, called naively \
            and through a Policy (rate limit, circuit breaker, timeout, retries), on Pool::io \
            and from async code with one shared client",
    help: "fan out requests to a flaky JSON API on the same server, 2-5 ms each, one in ten \
           failing with a 503, with an outage in every run: `naive`, each request tried once, \
           and `policy`, each through one `Policy` with a rate limit, a circuit breaker, an \
           attempt timeout and retries, both on `Pool::io`; and `aio`, the same policy from one \
           async task through one shared client",
    sizes: &[REQUESTS, OUTAGE],
    models: &[NAIVE, POLICY, AIO],
    no_speedup: &[],
    columns: &[
        Column {
            key: "calls",
            header: "calls",
        },
        Column {
            key: "shed",
            header: "shed",
        },
        Column {
            key: "succeeded",
            header: "succeeded",
        },
        Column {
            key: "failed",
            header: "failed",
        },
    ],
    keys: &[
        Key::new("calls", "the requests the server took"),
        Key::new("outage_calls", "of them, those it took during its outage"),
        Key::new("stalled", "of those, the ones it stalled"),
        Key::new(
            "shed",
            "attempts the circuit breaker rejected without calling",
        ),
        Key::new("succeeded", "requests that got their item"),
        Key::new("attempts", "policy and aio rows: attempts, run or shed"),
        Key::new(
            "rescued",
            "policy and aio rows: requests that succeeded after a failed attempt",
        ),
        Key::new(
            "timed_out",
            "policy and aio rows: attempts cut at the attempt timeout",
        ),
        Key::new("opened", "policy and aio rows: times the breaker opened"),
        Key::new(
            "peak_calls_per_s",
            "the most calls the server took in any one second",
        ),
        Key::new(
            "connections",
            "aio row: the shared client's keep-alive connections",
        ),
        Key::new("peak_connections", "aio row: the most in use at once"),
    ],
    errors: "an answer that was not the item asked for, or a request that failed in a way \
             the server did not mean; the requests it failed on purpose are the lesson, counted \
             in `failed` and not errors of the tour (JSON rows carry `errors`, how many of \
             `failed` are)",
    run,
    #[cfg(target_os = "linux")]
    process_tasks: &[],
};

fn run(tour: &mut Tour) -> Result<(), TourError> {
    let plan = Plan::new(tour.quick());
    let base = tour.server()?.base_url();
    let outage = plan.outage;
    tour.intro(&format!(
        "{} requests for the items of a flaky JSON API on the embedded server at \
             {base}/api/items/{{i}}, each answered after 2-5 ms, 1 in {} with a 503, and an \
             outage from request {} of each row on: 503s for {}, the first {} of them after \
             a {} stall; the guide says asyncio (aiohttp + gather) with a rate limiter, a \
             circuit breaker and timeouts, workwise says Pool::io() and one Policy around \
             every call: {RATE}/s (burst {BURST}), a breaker open for {} after \
             {FAILURES_TO_OPEN} failures in a row, {} per attempt, up to {MAX_ATTEMPTS} \
             attempts backing off from {} with jitter; the aio row: the same policy \
             around every call from one async task through one shared client",
        plan.requests,
        server::API_FLAKY,
        outage.from_call,
        human(outage.lasts),
        outage.stalls,
        human(outage.stall),
        human(OPEN_FOR),
        human(ATTEMPT_TIMEOUT),
        human(FIRST_BACKOFF),
    ))?;

    // The most requests in flight at once: a worker's each, and the
    // stalled attempts the policy's timeout left running.
    let connections = Workload::Io.default_workers() * 2;
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .max_idle_connections(connections.max(100))
        .max_idle_connections_per_host(connections)
        .build();
    tour.server()?
        .open_connections(&agent, connections)
        .map_err(|e| TourError::Setup(format!("the embedded server did not answer: {e}")))?;
    let base: Arc<str> = base.into();

    let mut naive = {
        let (agent, base) = (agent.clone(), base.clone());
        fan_out(tour, NAIVE, plan, move |item| {
            let url = format!("{base}{}", server::api_path(item));
            match get(&agent, &url, item) {
                Ok(()) => Outcome::Succeeded { rescued: false },
                Err(e @ ApiError::Unavailable) => Outcome::Failed(format!("item {item}: {e}")),
                Err(e @ ApiError::Wrong(_)) => Outcome::Error(format!("item {item}: {e}")),
            }
        })?
    };
    naive.report = tour.server()?.api_report();
    let naive_row = naive.row(plan);
    let figures = vec![
        ("calls", Figure::Count(naive.report.calls)),
        ("outage_calls", Figure::Count(naive.report.outage_calls)),
        ("stalled", Figure::Count(naive.report.stalled)),
        ("shed", Figure::Count(0)),
        ("succeeded", Figure::Count(naive.tally.succeeded)),
        ("peak_calls_per_s", Figure::Count(naive.report.peak_per_s)),
    ];
    let advice = advice::for_naive(&naive_row);
    tour.record(naive.into_measurement(NAIVE, figures, advice))?;

    let timed_out = Arc::new(AtomicU64::new(0));
    let policy = Arc::new(
        build_policy(timed_out.clone())
            .map_err(|e| TourError::Setup(format!("cannot build the policy: {e}")))?,
    );
    let mut run = {
        let policy = policy.clone();
        fan_out(tour, POLICY, plan, move |item| {
            let (agent, url) = (agent.clone(), format!("{base}{}", server::api_path(item)));
            FAILED_ATTEMPTS.with(|n| n.set(0));
            let result = policy.call_timed(move || get(&agent, &url, item));
            match result {
                Ok(()) => Outcome::Succeeded {
                    rescued: FAILED_ATTEMPTS.with(Cell::get) > 0,
                },
                Err(e) => gave_up(item, &e),
            }
        })?
    };
    let breaker = policy.breaker().map(|b| b.stats()).unwrap_or_default();
    // An attempt cut at its timeout goes on in the background on the
    // policy's pool; dropping the policy (this is its last handle) shuts
    // that pool down and waits for them, so the server has taken every
    // call before it reports.
    drop(policy);
    run.report = tour.server()?.api_report();
    let policy_run = run.policy_run(plan, &breaker, timed_out.load(Relaxed));
    let advice = advice::for_policy(&policy_run, Some(&naive_row));
    let figures = policy_figures(&policy_run, &breaker);
    tour.record(run.into_measurement(POLICY, figures, advice))?;
    aio_row::run(tour, plan, &naive_row)
}

tokio::task_local! {
    /// The failed attempts of the request this future is making through the
    /// policy on the `aio` row, where a request is a future, not a thread.
    static AIO_FAILED_ATTEMPTS: Cell<u32>;
}

thread_local! {
    /// The failed attempts of the request this thread is making through the
    /// policy: its retry calls `retry_if` on the calling thread after every
    /// failed attempt, shed and timed-out ones included.
    static FAILED_ATTEMPTS: Cell<u32> = const { Cell::new(0) };
}

/// The shared policy: rate limit, breaker, attempt timeout, retries. Counts
/// the attempts that time out into `timed_out`.
fn build_policy(timed_out: Arc<AtomicU64>) -> Result<Policy<ApiError>, Box<dyn std::error::Error>> {
    let retry = Retry::exponential(FIRST_BACKOFF)
        .max_attempts(MAX_ATTEMPTS)
        .jitter()
        // Retry what says "try again later", not what says "you are wrong".
        .retry_if(move |e: &PolicyError<ApiError>| {
            let count = |n: &Cell<u32>| n.set(n.get() + 1);
            if AIO_FAILED_ATTEMPTS.try_with(count).is_err() {
                FAILED_ATTEMPTS.with(count);
            }
            if matches!(e, PolicyError::TimedOut { .. }) {
                timed_out.fetch_add(1, Relaxed);
            }
            !matches!(
                e,
                PolicyError::Inner(ApiError::Wrong(_)) | PolicyError::Panicked { .. }
            )
        })
        // While the breaker is open, wait until it lets a probe through.
        .retry_after(PolicyError::retry_after)
        .build()?;
    let policy = Policy::builder()
        .rate_limit(RateLimiter::per_second(RATE).burst(BURST).build()?)
        .breaker(
            CircuitBreaker::builder()
                .failure_threshold(FAILURES_TO_OPEN)
                .reset_after(OPEN_FOR)
                .half_open_max_calls(1)
                .build()?,
        )
        .attempt_timeout(ATTEMPT_TIMEOUT)
        .retry(retry)
        .build()?;
    Ok(policy)
}

/// What a request that the policy gave up on counts as.
fn gave_up(item: u64, e: &RetryError<PolicyError<ApiError>>) -> Outcome {
    let message = format!("item {item}: {e}: {}", e.last);
    match &e.last {
        PolicyError::Inner(ApiError::Wrong(_)) | PolicyError::Panicked { .. } => {
            Outcome::Error(message)
        }
        _ => Outcome::Failed(message),
    }
}

/// Why one attempt at an item failed.
#[derive(Debug, Clone)]
enum ApiError {
    /// A 503: the server is failing on purpose; try again later.
    Unavailable,
    /// A wrong answer or an unexpected error: an error of the tour.
    Wrong(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unavailable => f.write_str("HTTP 503 Service Unavailable"),
            ApiError::Wrong(e) => f.write_str(e),
        }
    }
}

/// The API's answer for an item.
#[derive(Debug, Deserialize)]
struct Item {
    item: u64,
    value: u64,
}

/// Asks `url` for item `item` once, and checks that the answer is that item.
fn get(agent: &ureq::Agent, url: &str, item: u64) -> Result<(), ApiError> {
    let body = match agent.get(url).call() {
        Ok(response) => response
            .into_string()
            .map_err(|e| ApiError::Wrong(format!("GET {url}: reading the body: {e}")))?,
        Err(ureq::Error::Status(503, response)) => {
            // Reading the body to its end puts the connection back in the pool.
            let _ = response.into_string();
            return Err(ApiError::Unavailable);
        }
        Err(e) => return Err(ApiError::Wrong(format!("GET {url}: {e}"))),
    };
    check_item(url, item, &body)
}

/// Checks that `body`, the answer to `url`, is item `item`.
fn check_item(url: &str, item: u64, body: &str) -> Result<(), ApiError> {
    let got: Item = serde_json::from_str(body)
        .map_err(|e| ApiError::Wrong(format!("GET {url}: not an item ({e}): {body:?}")))?;
    if got.item == item && got.value == server::api_value(item) {
        Ok(())
    } else {
        Err(ApiError::Wrong(format!(
            "GET {url}: the answer is not item {item}: {body:?}"
        )))
    }
}

/// What became of one request.
#[derive(Debug)]
enum Outcome {
    /// It got its item; `rescued`: after at least one failed attempt.
    Succeeded { rescued: bool },
    /// The server failed it, as it meant to: the row's figure.
    Failed(String),
    /// A wrong answer or an unexpected error: an error of the tour.
    Error(String),
}

/// The outcomes of one row's requests.
#[derive(Debug, Default)]
struct Tally {
    succeeded: u64,
    rescued: u64,
    failed: u64,
    errors: u64,
    first_failed: Option<String>,
    first_error: Option<String>,
}

impl Tally {
    fn add(&mut self, outcome: Result<Outcome, TaskError>) {
        match outcome {
            Ok(Outcome::Succeeded { rescued }) => {
                self.succeeded += 1;
                self.rescued += u64::from(rescued);
            }
            Ok(Outcome::Failed(e)) => {
                self.failed += 1;
                self.first_failed.get_or_insert(e);
            }
            Ok(Outcome::Error(e)) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
            Err(e) => {
                self.errors += 1;
                self.first_error
                    .get_or_insert_with(|| format!("a request's task failed: {e}"));
            }
        }
    }
}

/// One row's run: its requests' outcomes and what the server saw.
#[derive(Debug)]
struct Run {
    tally: Tally,
    report: ApiReport,
    workers: usize,
    wall: Duration,
    /// The fan-out pool's findings (`Pool::advice`); none for the `aio`
    /// row, which runs on no pool.
    findings: Vec<Advice>,
}

impl Run {
    /// The row as the advisor reads it.
    fn row(&self, plan: Plan) -> advice::ApiRow {
        advice::ApiRow {
            requests: plan.requests,
            succeeded: self.tally.succeeded,
            failed: self.tally.failed + self.tally.errors,
            calls: self.report.calls,
            outage_calls: self.report.outage_calls,
            stalled: self.report.stalled,
            peak_per_s: self.report.peak_per_s,
            wall: self.wall,
        }
    }

    /// A row through the policy, as the advisor reads it: the run, what
    /// its breaker did, and the policy's settings.
    fn policy_run(&self, plan: Plan, breaker: &BreakerStats, timed_out: u64) -> advice::PolicyRun {
        advice::PolicyRun {
            row: self.row(plan),
            shed: breaker.rejected,
            opened: breaker.times_opened,
            timed_out,
            rescued: self.tally.rescued,
            rate: RATE,
            burst: BURST,
            timeout: ATTEMPT_TIMEOUT,
        }
    }

    fn into_measurement(
        self,
        model: &'static str,
        figures: Vec<(&'static str, Figure)>,
        advice: String,
    ) -> Measurement {
        let t = self.tally;
        // The row's lesson is the policy's; the pool's advisor speaks only
        // when it found something.
        let advice = if self.findings.is_empty() {
            advice
        } else {
            format!(
                "{advice}; the fan-out pool's advisor: {}",
                said(&self.findings)
            )
        };
        Measurement {
            model,
            workers: self.workers,
            wall: self.wall,
            figures,
            failed: t.failed + t.errors,
            errors: Some(t.errors),
            first_failure: t.first_error.or(t.first_failed),
            advice,
            findings: self.findings,
        }
    }
}

/// The figures of a row through the policy (`policy`, `aio`), in output
/// order.
fn policy_figures(p: &advice::PolicyRun, breaker: &BreakerStats) -> Vec<(&'static str, Figure)> {
    vec![
        ("calls", Figure::Count(p.row.calls)),
        ("outage_calls", Figure::Count(p.row.outage_calls)),
        ("stalled", Figure::Count(p.row.stalled)),
        ("shed", Figure::Count(p.shed)),
        ("succeeded", Figure::Count(p.row.succeeded)),
        ("attempts", Figure::Count(breaker.ran() + breaker.rejected)),
        ("rescued", Figure::Count(p.rescued)),
        ("timed_out", Figure::Count(p.timed_out)),
        ("opened", Figure::Count(p.opened)),
        ("peak_calls_per_s", Figure::Count(p.row.peak_per_s)),
    ]
}

/// Runs one row: starts a fresh run of the API on the server, then makes
/// every request with `request` on a fresh `Pool::io`, timed from building
/// the pool to its shutdown. The caller reads the server's report once
/// nothing of the row can still call it.
///
/// The fan-out is one loop per worker, each taking the next item until none
/// is left, rather than a task per item (`Pool::map`): a pool worker that
/// waits on a task handle, as the policy's attempt timeout does, runs its
/// own pool's queued tasks meanwhile, so a queued request would run inside
/// another's attempt, past its timeout. Each loop starts only once all have
/// (see [`all_running`]), so that no loop is left in the queue either.
fn fan_out<F>(tour: &mut Tour, model: &str, plan: Plan, request: F) -> Result<Run, TourError>
where
    F: Fn(u64) -> Outcome + Send + Sync + 'static,
{
    tour.server()?.begin_api_run(Some(plan.outage));
    let bar = tour.progress(model, plan.requests as usize);
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicUsize::new(0));
    let (tx, outcomes) = mpsc::channel();
    let mut tally = Tally::default();
    let start = Instant::now();
    let pool = Pool::io().name("api").build().map_err(TourError::Pool)?;
    let loops = pool.max_workers();
    let handles: Vec<_> = (0..loops)
        .map(|_| {
            let (request, next, running, tx) =
                (request.clone(), next.clone(), running.clone(), tx.clone());
            pool.submit(move || {
                all_running(&running, loops);
                loop {
                    let item = next.fetch_add(1, Relaxed);
                    if item >= plan.requests || tx.send(request(item)).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    for outcome in outcomes {
        tally.add(Ok(outcome));
        bar.inc(1);
    }
    // A loop that panicked lost the request it was making.
    for handle in handles {
        if let Err(e) = handle.wait() {
            tally.add(Err(e));
        }
    }
    let (findings, asking) = super::ask_and_shut_down(&pool);
    let wall = start.elapsed().saturating_sub(asking);
    bar.finish_and_clear();
    Ok(Run {
        tally,
        report: ApiReport::default(),
        workers: loops,
        wall,
        findings,
    })
}

/// Counts this loop as running and waits until all `loops` are, or 5 s
/// have passed (a pool that could not start all its threads).
fn all_running(running: &AtomicUsize, loops: usize) {
    running.fetch_add(1, SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while running.load(SeqCst) < loops && Instant::now() < deadline {
        thread::sleep(Duration::from_micros(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_retries_what_says_try_again_only() {
        let timed_out = Arc::new(AtomicU64::new(0));
        let policy = build_policy(timed_out.clone()).unwrap();
        let wrong = policy
            .call_timed(|| Err::<(), _>(ApiError::Wrong("HTTP 404".into())))
            .unwrap_err();
        assert_eq!(wrong.attempts, 1);
        assert!(matches!(gave_up(7, &wrong), Outcome::Error(m) if m.contains("item 7")));
        assert_eq!(timed_out.load(Relaxed), 0);
    }

    #[test]
    fn tallies_separate_failures_from_errors() {
        let mut t = Tally::default();
        t.add(Ok(Outcome::Succeeded { rescued: false }));
        t.add(Ok(Outcome::Succeeded { rescued: true }));
        t.add(Ok(Outcome::Failed("item 3: 503".into())));
        t.add(Ok(Outcome::Failed("item 4: 503".into())));
        t.add(Ok(Outcome::Error("item 5: HTTP 404".into())));
        assert_eq!((t.succeeded, t.rescued, t.failed, t.errors), (2, 1, 2, 1));
        let run = Run {
            tally: t,
            report: ApiReport::default(),
            workers: 4,
            wall: Duration::from_millis(10),
            findings: Vec::new(),
        };
        let m = run.into_measurement("naive", Vec::new(), String::new());
        assert_eq!((m.failed, m.errors), (3, Some(1)));
        assert_eq!(m.first_failure.as_deref(), Some("item 5: HTTP 404"));
    }
}
