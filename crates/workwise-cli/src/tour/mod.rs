//! `workwise tour`: the guide's quick-reference table, run live.
//!
//! Each [`Scenario`] (one per file here) runs one kind of work as a plain
//! loop and under the right model (most also under the wrong one), and
//! [`Tour::record`]s a [`Measurement`] per run. The tour turns measurements
//! into rows: the speedup over the scenario's baseline row (`sequential`;
//! `naive` for api calls; `ProcessPool` for crash isolation), a table line
//! (or a JSON line), and the advisor's reading of the figures: the
//! library's findings (`workwise::advice`, codes `W01`..`W11`) in the
//! scenario's words. A whole tour ends with a summary of what a thread, an
//! async task and a worker process cost in memory ([`memory`]). Adding a
//! scenario is a new file and one line in [`SCENARIOS`].

mod advice;
mod analysis;
mod api;
#[cfg(target_os = "linux")]
pub(crate) mod crash;
mod files;
mod images;
mod memory;
#[cfg(target_os = "linux")]
mod processes;
mod scraping;
mod simple;
mod web;

#[cfg(target_os = "linux")]
pub(crate) use processes::TASKS as PROCESS_TASKS;

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::ser::{Serialize, SerializeMap, Serializer};
use workwise::advice::Advice;
use workwise::{Pool, PoolBuilder};

use crate::server::{PageServer, StartError};

/// Every scenario, in the order the tour runs them: the guide's quick
/// reference table's order.
const SCENARIOS: &[&dyn Scenario] = &[
    &scraping::WebScraping,
    &api::ApiCalls,
    &files::FileIo,
    &images::ImageProcessing,
    &analysis::DataAnalysis,
    &web::WebServer,
    &simple::SimpleScript,
    #[cfg(target_os = "linux")]
    &crash::CrashIsolation,
];

/// The model name of the row that speedups are measured against, unless a
/// scenario names another ([`Scenario::baseline`]).
const SEQUENTIAL: &str = "sequential";

/// Options of `workwise tour`.
#[derive(Debug, Args)]
pub(crate) struct TourArgs {
    /// A smaller run, a few seconds in all (web scraping: 60 pages, not 200;
    /// api calls: 200 requests, not 400, and a 1 s outage, not 2 s; file
    /// i/o: 500 files, not 2,000; image processing: 32 images, not 64; data
    /// analysis: 8 MB of text, not 40; web server: 200 keep-alive
    /// connections, not 1,000; simple script: 50 items either way; crash
    /// isolation: 400 tasks, not 2,000; the memory summary: 256 idle
    /// threads, not 1,024).
    #[arg(long)]
    quick: bool,

    /// Print one JSON object per row on stdout, and nothing else there.
    ///
    /// Keys: scenario, model, wall_ms, speedup, the scenario's own figures,
    /// failed, workers, advice (the advisor's codes, a list such as
    /// ["W01"], empty when it found nothing: W01 CPU-bound work on an I/O
    /// pool, W02 I/O-bound work on the CPU pool or in a loop, W03 a
    /// blocking call in an async task, W04 too many workers, W05 tiny
    /// tasks, W06 the size (of a pool, or a loop's one thread) is the
    /// limit, W08 lost errors, W09 concurrency that does not pay, W10 a
    /// task that may hang; see `workwise::advice`), advisor (the advisor's
    /// line, as the table prints it), and first_failure where a row failed.
    ///
    /// The figures: web scraping: pages, pages_per_s. api calls: calls (the
    /// requests the server took), outage_calls (of them, those it took during
    /// its outage), stalled (of those, the ones it stalled), shed (attempts
    /// the circuit breaker rejected without calling), succeeded (requests
    /// that got their item); on the `policy` row also attempts (run or shed),
    /// rescued (requests that succeeded after a failed attempt), timed_out
    /// (attempts cut at the attempt timeout) and opened (times the breaker
    /// opened); then peak_calls_per_s (the most calls the server took in any
    /// one second). file i/o: files, mb, files_per_s, and on the `queue
    /// pipeline` row peak_queue, the queue's longest length read after each
    /// put. image processing: images, images_per_s. data analysis: mb,
    /// mb_per_s, words. web server: connections, requests, rps (requests
    /// per second), p50_ms and p99_ms (request latency), kib_per_conn (the
    /// server's memory growth per open connection, in KiB). simple script:
    /// items, items_per_s. On the api
    /// calls `aio` row also connections and peak_connections (the shared
    /// client's keep-alive connections, and the most in use at once). On
    /// the `ProcessPool` rows (Linux) also worker_mb (a
    /// worker process's private memory, the mean over the workers, in MB),
    /// sent_mb and received_mb (the bytes copied through the workers' pipes,
    /// in MB). crash isolation (Linux): tasks, succeeded, crashed (tasks told
    /// that their worker process crashed), lost (tasks that gave neither a
    /// result nor an error: on `Pool::cpu`, every one after the crash that
    /// ended the process), respawns (worker processes started to replace
    /// crashed ones); its `Pool::cpu` row's speedup is null (its wall time is
    /// the time until the crash).
    ///
    /// On the api calls rows, failed counts the requests that finally failed,
    /// the lesson and not an error of the tour, and errors follows it: how
    /// many of them are errors of the tour (a wrong answer, an unexpected
    /// error), which make it exit 1.
    ///
    /// A whole tour (no --scenario) ends with one summary line, shaped as a
    /// row so that scripts reading scenario, model and advice on every line
    /// keep working: scenario "summary", model "memory", wall_ms (the time
    /// the measurements took), speedup null, then thread_kib (RSS growth
    /// per idle thread), thread_reserved_kib (address space it reserves,
    /// its stack), kernel_stack_kib (the kernel's stack for it, outside
    /// RSS), async_task_kib (RSS growth per tokio task parked on a
    /// channel), and on Linux process_private_mb and process_rss_mb (an
    /// idle worker process's private and whole resident memory); a figure
    /// that could not be read is null. Then guide_thread_kib (1) and
    /// guide_process_mb (10), the guide's figures, failed (0), workers (the
    /// threads measured), advice ([]) and advisor (the summary's text).
    #[arg(long)]
    json: bool,

    /// Run only this scenario, by short or row name (`scraping` or "web
    /// scraping", `api` or "api calls", `files` or "file i/o", `images`,
    /// `analysis`, `web` or "web server", `script` or "simple script",
    /// `crash` or "crash isolation"); repeat for several. All of them by
    /// default, and then the memory summary at the end.
    #[arg(
        long = "scenario",
        value_name = "NAME",
        value_parser = scenario_parser(),
        ignore_case = true
    )]
    scenarios: Vec<&'static str>,

    /// The port of the embedded HTTP server on 127.0.0.1; 0 takes any free one.
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    port: u16,
}

/// Accepts a scenario's short name or its row name, in any case, and gives
/// the short name.
fn scenario_parser() -> impl TypedValueParser<Value = &'static str> {
    let values = SCENARIOS
        .iter()
        .map(|s| PossibleValue::new(s.slug()).alias(s.name()).help(s.about()));
    PossibleValuesParser::new(values).map(|given: String| {
        SCENARIOS
            .iter()
            .find(|s| {
                s.slug().eq_ignore_ascii_case(&given) || s.name().eq_ignore_ascii_case(&given)
            })
            .map_or("", |s| s.slug())
    })
}

/// One row of the guide's quick-reference table, run as a loop and under
/// one or more models.
pub(crate) trait Scenario: Sync {
    /// The row name outside scripts read (`web scraping`).
    fn name(&self) -> &'static str;
    /// The short name for `--scenario` (`scraping`).
    fn slug(&self) -> &'static str;
    /// One line for `--help`: the guide's row and what runs.
    fn about(&self) -> &'static str;
    /// The scenario's own figures that the table shows, beside wall time and
    /// speedup (JSON lines carry all of them).
    fn columns(&self) -> &'static [Column];
    /// The width of the table's model column: the longest model name.
    fn model_width(&self) -> usize {
        10
    }
    /// The model name of the row that speedups are measured against, which
    /// the scenario records first.
    fn baseline(&self) -> &'static str {
        SEQUENTIAL
    }
    /// Whether a row's wall time means the same work as the baseline's, so
    /// that a speedup over it says something (crash isolation: the
    /// `Pool::cpu` row's wall is the time until its crash, so it has none).
    fn compares_speed(&self, _model: &str) -> bool {
        true
    }
    /// Runs the scenario, its [baseline](Scenario::baseline) first,
    /// recording each run.
    fn run(&self, tour: &mut Tour) -> Result<(), TourError>;
}

/// A table column for one of a scenario's figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    /// The figure's key in [`Measurement::figures`] and in JSON.
    pub(crate) key: &'static str,
    /// The column's header in the table.
    pub(crate) header: &'static str,
}

/// A figure a scenario measured.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Figure {
    Count(u64),
    Rate(f64),
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Figure::Count(n) => write!(f, "{n}"),
            Figure::Rate(r) => write!(f, "{r:.1}"),
        }
    }
}

impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Figure::Count(n) => s.serialize_u64(n),
            Figure::Rate(r) => s.serialize_f64(round(r, 2)),
        }
    }
}

/// One run of a scenario under one model.
#[derive(Debug)]
pub(crate) struct Measurement {
    /// `sequential`, `Pool::cpu`, `Pool::io`, ...
    pub(crate) model: &'static str,
    /// Threads the work could use (1 for a loop).
    pub(crate) workers: usize,
    /// The whole run: for a pool, from building it to its shutdown.
    pub(crate) wall: Duration,
    /// The scenario's own figures, in output order.
    pub(crate) figures: Vec<(&'static str, Figure)>,
    /// Tasks that failed (an error or a wrong answer; api calls: requests
    /// that finally failed).
    pub(crate) failed: u64,
    /// How many of `failed` are errors of the tour, which make it exit 1.
    /// `None`: all of them, as in every row that should fail nothing.
    /// `Some(n)`: the row's failures are a figure it measures (api calls:
    /// requests that a flaky server failed on purpose) and only `n` of them
    /// (a wrong answer, an unexpected error) are the tour's; JSON lines then
    /// carry `errors`.
    pub(crate) errors: Option<u64>,
    /// The first failure's message, if any failed (the first error's, where
    /// there is one).
    pub(crate) first_failure: Option<String>,
    /// The advisor's line: its findings in the scenario's words, beside
    /// the run's figures.
    pub(crate) advice: String,
    /// The advisor's findings (`Pool::advice`, `LoopWatch`, ...), whose
    /// codes JSON rows carry.
    pub(crate) findings: Vec<Advice>,
}

impl Measurement {
    /// How many of the row's failures are errors of the tour.
    fn tour_errors(&self) -> u64 {
        self.errors.unwrap_or(self.failed)
    }
}

/// Why the tour stopped or failed.
#[derive(Debug)]
pub(crate) enum TourError {
    /// The embedded HTTP server could not start.
    Server(StartError),
    /// A pool could not be built.
    Pool(workwise::PoolBuildError),
    /// Something a scenario needs did not work before any timing began.
    Setup(String),
    /// Writing the table or JSON lines failed.
    Output(io::Error),
    /// Every row ran, but this many tasks failed.
    Failed(u64),
}

impl fmt::Display for TourError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TourError::Server(e) => write!(f, "{e}"),
            TourError::Pool(e) => write!(f, "cannot build a pool: {e}"),
            TourError::Setup(e) => f.write_str(e),
            TourError::Output(e) => write!(f, "cannot write the results: {e}"),
            TourError::Failed(n) => write!(
                f,
                "{n} task(s) failed; each row's `failed` figure and the lines under it say which"
            ),
        }
    }
}

impl std::error::Error for TourError {}

impl From<io::Error> for TourError {
    fn from(e: io::Error) -> Self {
        TourError::Output(e)
    }
}

/// Runs the tour as `args` ask.
pub(crate) fn run(args: &TourArgs) -> Result<(), TourError> {
    let chosen: Vec<&'static dyn Scenario> = SCENARIOS
        .iter()
        .copied()
        .filter(|s| args.scenarios.is_empty() || args.scenarios.contains(&s.slug()))
        .collect();
    let mut tour = Tour::new(args);
    let result = tour.banner().map_err(TourError::from).and_then(|()| {
        chosen.into_iter().try_for_each(|s| {
            tour.begin(s);
            s.run(&mut tour)
        })?;
        if args.scenarios.is_empty() {
            memory::summary(&mut tour)?;
        }
        Ok(())
    });
    if let Some(server) = tour.server.take() {
        server.shutdown();
    }
    result?;
    match tour.failed {
        0 => Ok(()),
        n => Err(TourError::Failed(n)),
    }
}

/// The tour's state: options, output, the shared server, and the scenario
/// now running.
pub(crate) struct Tour {
    quick: bool,
    json: bool,
    show_progress: bool,
    port: u16,
    out: io::StdoutLock<'static>,
    server: Option<PageServer>,
    failed: u64,
    scenario: &'static dyn Scenario,
    baseline: Option<Duration>,
    header_printed: bool,
}

impl Tour {
    fn new(args: &TourArgs) -> Self {
        Tour {
            quick: args.quick,
            json: args.json,
            show_progress: !args.json && io::stdout().is_terminal() && io::stderr().is_terminal(),
            port: args.port,
            out: io::stdout().lock(),
            server: None,
            failed: 0,
            scenario: SCENARIOS[0],
            baseline: None,
            header_printed: false,
        }
    }

    /// Whether this is a `--quick` run.
    pub(crate) fn quick(&self) -> bool {
        self.quick
    }

    /// The embedded page server, started on first use and shared by every
    /// scenario; the tour shuts it down at its end.
    pub(crate) fn server(&mut self) -> Result<&PageServer, TourError> {
        let server = match self.server.take() {
            Some(running) => running,
            None => PageServer::start(self.port).map_err(TourError::Server)?,
        };
        Ok(self.server.insert(server))
    }

    /// Says what the scenario runs, above its table (not in JSON).
    pub(crate) fn intro(&mut self, text: &str) -> Result<(), TourError> {
        if !self.json {
            writeln!(self.out, "\n{}: {text}", self.scenario.name())?;
        }
        Ok(())
    }

    /// A progress bar for one run of `len` tasks: drawn on a terminal only,
    /// hidden when the output is piped or with `--json`.
    pub(crate) fn progress(&self, model: &str, len: usize) -> ProgressBar {
        if !self.show_progress {
            return ProgressBar::hidden();
        }
        let style = ProgressStyle::with_template("{prefix:>26} [{bar:32}] {pos}/{len} {elapsed}")
            .map_or_else(
                |_| ProgressStyle::default_bar(),
                |s| s.progress_chars("=> "),
            );
        ProgressBar::new(len as u64)
            .with_style(style)
            .with_prefix(format!("{} · {model}", self.scenario.name()))
    }

    /// Prints one run's row: a table line and the advisor's line, or a JSON
    /// line. The scenario's [baseline](Scenario::baseline) row must come
    /// first: the speedups are over its wall time.
    pub(crate) fn record(&mut self, m: Measurement) -> Result<(), TourError> {
        if m.model == self.scenario.baseline() {
            self.baseline = Some(m.wall);
        }
        let speedup = match self.baseline {
            Some(base) if self.scenario.compares_speed(m.model) => speedup(base, m.wall),
            _ => f64::NAN,
        };
        self.failed += m.tour_errors();
        if self.json {
            let row = JsonRow {
                scenario: self.scenario.name(),
                m: &m,
                speedup,
            };
            let line = serde_json::to_string(&row).map_err(io::Error::from)?;
            writeln!(self.out, "{line}")?;
        } else {
            self.table_row(&m, speedup)?;
        }
        self.out.flush()?;
        Ok(())
    }

    fn begin(&mut self, scenario: &'static dyn Scenario) {
        self.scenario = scenario;
        self.baseline = None;
        self.header_printed = false;
    }

    fn banner(&mut self) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        let cores = match workwise::available_cores() {
            1 => "1 core".to_string(),
            n => format!("{n} cores"),
        };
        let size = if self.quick { ", quick run" } else { "" };
        writeln!(
            self.out,
            "workwise tour: the guide's quick reference, run live ({cores}{size})\n\
             wall: the whole run, a pool's start to its shutdown; \
             speedup: the first row's wall (sequential; api calls: naive; crash isolation: \
             ProcessPool) / this wall"
        )
    }

    fn widths(&self) -> (usize, usize) {
        (
            self.scenario.name().len().max(8),
            self.scenario.model_width(),
        )
    }

    fn table_row(&mut self, m: &Measurement, speedup: f64) -> io::Result<()> {
        let (name_w, model_w) = self.widths();
        let columns = self.scenario.columns();
        if !self.header_printed {
            self.header_printed = true;
            write!(
                self.out,
                "\n{:<name_w$}  {:<model_w$}  {:>9}  {:>8}",
                "scenario", "model", "wall", "speedup"
            )?;
            for c in columns {
                write!(self.out, "  {:>w$}", c.header, w = c.header.len().max(8))?;
            }
            writeln!(self.out)?;
        }
        let speedup = if speedup.is_nan() {
            "-".to_string()
        } else {
            format!("{speedup:.2}x")
        };
        write!(
            self.out,
            "{:<name_w$}  {:<model_w$}  {:>9}  {:>8}",
            self.scenario.name(),
            m.model,
            advice::human(m.wall),
            speedup
        )?;
        for c in columns {
            // `failed` is the measurement's own field, not one of its figures.
            let value = if c.key == "failed" {
                m.failed.to_string()
            } else {
                m.figures
                    .iter()
                    .find(|(k, _)| *k == c.key)
                    .map_or_else(|| "-".to_string(), |(_, v)| v.to_string())
            };
            write!(self.out, "  {value:>w$}", w = c.header.len().max(8))?;
        }
        writeln!(self.out)?;
        writeln!(self.out, "  advisor: {}", m.advice)?;
        if m.tour_errors() > 0 {
            writeln!(
                self.out,
                "  FAILED: {} task(s); the first: {}",
                m.tour_errors(),
                m.first_failure.as_deref().unwrap_or("(no message)")
            )?;
        }
        Ok(())
    }
}

/// Runs `work` on a fresh pool from `builder`, timed as every pool row is:
/// from building the pool to its shutdown, less the time the advisor took
/// ([`ask_and_shut_down`]). Gives the work's output and the run as the
/// advisor reads it: the pool's final statistics and findings, the wall
/// time, the speedup over `base` (the sequential row's wall time), and the
/// CPU time other processes took meanwhile.
pub(crate) fn timed_on_pool<T>(
    builder: PoolBuilder,
    base: Duration,
    work: impl FnOnce(&Pool) -> T,
) -> Result<(T, advice::ParRun), TourError> {
    let clocks = advice::CpuClocks::now();
    let start = Instant::now();
    let pool = builder.build().map_err(TourError::Pool)?;
    let out = work(&pool);
    let (findings, asking) = ask_and_shut_down(&pool);
    let wall = start.elapsed().saturating_sub(asking);
    let others = clocks
        .zip(advice::CpuClocks::now())
        .map(|(before, after)| after.others_since(before));
    let run = advice::ParRun {
        workload: pool.workload(),
        max_workers: pool.max_workers(),
        stats: pool.stats(),
        wall,
        speedup: speedup(base, wall),
        others,
        findings,
    };
    Ok((out, run))
}

/// Asks the pool's advisor, once its work is done, then shuts it down.
/// Gives the findings and the time the asking took, which the row's wall
/// time leaves out: the advisor may run a few no-op tasks to measure the
/// pool's cost per task, which it can only do on an open, idle pool, so
/// before the shutdown.
pub(crate) fn ask_and_shut_down(pool: &Pool) -> (Vec<Advice>, Duration) {
    let asked = Instant::now();
    let findings = pool.advice();
    let asking = asked.elapsed();
    pool.shutdown();
    (findings, asking)
}

/// A row's speedup: the baseline's wall time over the row's (NaN for a zero
/// wall time).
pub(crate) fn speedup(base: Duration, wall: Duration) -> f64 {
    if wall.is_zero() {
        f64::NAN
    } else {
        base.as_secs_f64() / wall.as_secs_f64()
    }
}

/// A row as one JSON object, keys in a fixed order.
struct JsonRow<'a> {
    scenario: &'static str,
    m: &'a Measurement,
    speedup: f64,
}

impl Serialize for JsonRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.m;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("scenario", self.scenario)?;
        map.serialize_entry("model", m.model)?;
        map.serialize_entry("wall_ms", &round(m.wall.as_secs_f64() * 1e3, 3))?;
        // NaN (no baseline) becomes null.
        map.serialize_entry("speedup", &round(self.speedup, 3))?;
        for (key, value) in &m.figures {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("failed", &m.failed)?;
        if let Some(errors) = m.errors {
            map.serialize_entry("errors", &errors)?;
        }
        map.serialize_entry("workers", &m.workers)?;
        map.serialize_entry("advice", &advice::codes(&m.findings))?;
        map.serialize_entry("advisor", &m.advice)?;
        if let Some(first) = &m.first_failure {
            map.serialize_entry("first_failure", first)?;
        }
        map.end()
    }
}

fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}
