//! `workwise tour`: the guide's quick-reference table, run live.
//!
//! Each scenario (one per file here, described by its `const INFO:`
//! [`ScenarioInfo`]) runs one kind of work as a plain loop and under the
//! right model (most also under the wrong one), and [`Tour::record`]s a
//! [`Measurement`] per run. The tour turns measurements into rows: the
//! speedup over the scenario's baseline row (its first model), a table
//! line (or a JSON line), and the advisor's reading of the figures: the
//! library's findings (`workwise::advice`, codes `W01`..`W11`) in the
//! scenario's words. A whole tour ends with a summary of what a thread, an
//! async task and a worker process cost in memory ([`memory`]).
//!
//! Adding a scenario is a new file with its `INFO`, its `mod` line and one
//! line in [`SCENARIOS`]: `--help`, the `--quick` and `--json` docs, `--list`, the
//! worker processes' tasks and the black-box tests read the registry. The
//! helpers here write the common rows: [`Tour::run_loop`] (the sequential
//! row), [`timed_on_pool`], [`Tour::compare_pools`] (`Pool::io` against
//! `Pool::cpu`, each advised against the other) and [`Items`] (a count of
//! items checked one by one).

mod advice;
mod analysis;
mod api;
#[cfg(target_os = "linux")]
pub(crate) mod crash;
mod files;
mod images;
mod info;
mod items;
#[cfg(target_os = "linux")]
pub(crate) mod machines;
mod memory;
#[cfg(target_os = "linux")]
mod processes;
mod scraping;
mod simple;
mod web;

pub(crate) use info::{examples, json_help, quick_help, tour_help};
use info::{Column, Key, ScenarioInfo, Size};
use items::{Items, Unit};

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::ser::{Serialize, SerializeMap, Serializer};
use workwise::advice::{Advice, LoopWatch};
use workwise::{Pool, PoolBuilder};

use crate::server::{PageServer, StartError};

/// The registry: every scenario, in the order the tour runs them (the
/// guide's quick reference table's order).
const SCENARIOS: &[&ScenarioInfo] = &[
    &scraping::INFO,
    &api::INFO,
    &files::INFO,
    &images::INFO,
    &analysis::INFO,
    &web::INFO,
    &simple::INFO,
    #[cfg(target_os = "linux")]
    &crash::INFO,
    #[cfg(target_os = "linux")]
    &machines::INFO,
];

/// Every task a worker process of the tour runs: the scenarios', and the
/// memory summary's, for `workwise::process::init`.
#[cfg(target_os = "linux")]
pub(crate) fn process_tasks() -> Vec<&'static dyn workwise::process::Registered> {
    SCENARIOS
        .iter()
        .flat_map(|s| s.process_tasks.iter().copied())
        .chain([&processes::PING as &dyn workwise::process::Registered])
        .collect()
}

/// The model name of a loop's row, the baseline of most scenarios.
const SEQUENTIAL: &str = "sequential";

/// Options of `workwise tour`.
#[derive(Debug, Args)]
pub(crate) struct TourArgs {
    /// A smaller run, a few seconds in all.
    #[arg(long, long_help = quick_help())]
    quick: bool,

    /// Print one JSON object per row on stdout, and nothing else there.
    #[arg(long, long_help = json_help())]
    json: bool,

    /// Run only this scenario, by short or row name (see --list); repeat
    /// for several. All of them by default, and then the memory summary at
    /// the end.
    #[arg(
        long = "scenario",
        value_name = "NAME",
        value_parser = scenario_parser(),
        ignore_case = true
    )]
    scenarios: Vec<&'static str>,

    /// List the scenarios (short name, row name, what runs, models) and
    /// run none; with --json one object per scenario, with its keys and
    /// what each means.
    #[arg(long)]
    list: bool,

    /// The port of the embedded HTTP server on 127.0.0.1; 0 takes any free one.
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    port: u16,
}

/// Accepts a scenario's short name or its row name, in any case, and gives
/// the short name.
fn scenario_parser() -> impl TypedValueParser<Value = &'static str> {
    let values = SCENARIOS
        .iter()
        .map(|s| PossibleValue::new(s.slug).alias(s.name).help(s.about));
    PossibleValuesParser::new(values).map(|given: String| {
        SCENARIOS
            .iter()
            .find(|s| s.slug.eq_ignore_ascii_case(&given) || s.name.eq_ignore_ascii_case(&given))
            .map_or("", |s| s.slug)
    })
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
    if args.list {
        let mut out = io::stdout().lock();
        for line in info::list(args.json) {
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    let chosen: Vec<&'static ScenarioInfo> = SCENARIOS
        .iter()
        .copied()
        .filter(|s| args.scenarios.is_empty() || args.scenarios.contains(&s.slug))
        .collect();
    let mut tour = Tour::new(args);
    let result = tour.banner().map_err(TourError::from).and_then(|()| {
        chosen.into_iter().try_for_each(|s| {
            tour.begin(s);
            (s.run)(&mut tour)
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
    scenario: &'static ScenarioInfo,
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
            writeln!(self.out, "\n{}: {text}", self.scenario.name)?;
        }
        Ok(())
    }

    /// Says why the scenario now running records no rows (something it
    /// needs is missing on this machine): a line in the table, or with
    /// `--json` a line on stderr (stdout carries rows only). Not an error
    /// of the tour.
    pub(crate) fn skip(&mut self, why: &str) -> Result<(), TourError> {
        let name = self.scenario.name;
        if self.json {
            eprintln!("workwise tour: {name} skipped: {why}");
        } else {
            writeln!(self.out, "\n{name}: skipped: {why}")?;
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
            .with_prefix(format!("{} · {model}", self.scenario.name))
    }

    /// Prints one run's row: a table line and the advisor's line, or a JSON
    /// line. The scenario's [baseline](ScenarioInfo::baseline) row must come
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
                scenario: self.scenario.name,
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

    fn begin(&mut self, scenario: &'static ScenarioInfo) {
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
             speedup: the first row's wall (sequential; {}) / this wall",
            SCENARIOS
                .iter()
                .filter(|s| s.baseline() != SEQUENTIAL)
                .map(|s| format!("{}: {}", s.name, s.baseline()))
                .collect::<Vec<_>>()
                .join("; ")
        )
    }

    fn widths(&self) -> (usize, usize) {
        (self.scenario.name.len().max(8), self.scenario.model_width())
    }

    fn table_row(&mut self, m: &Measurement, speedup: f64) -> io::Result<()> {
        let (name_w, model_w) = self.widths();
        let columns = self.scenario.columns;
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
            self.scenario.name,
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

/// What a row ran: its model, its threads, its wall time and the
/// advisor's reading, to which the row's [`Outcome`] adds its figures.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) model: &'static str,
    /// Threads the work could use (1 for a loop).
    pub(crate) workers: usize,
    pub(crate) wall: Duration,
    /// The advisor's line.
    pub(crate) advice: String,
    /// The advisor's findings.
    pub(crate) findings: Vec<Advice>,
}

impl Ran {
    /// A pool row's run, with the advisor's line `advice`.
    pub(crate) fn on_pool(model: &'static str, run: &advice::ParRun, advice: String) -> Ran {
        Ran {
            model,
            workers: run.max_workers,
            wall: run.wall,
            advice,
            findings: run.findings.clone(),
        }
    }

    /// A row's measurement: the run's, with no figures and no failure yet.
    pub(crate) fn measurement(self) -> Measurement {
        Measurement {
            model: self.model,
            workers: self.workers,
            wall: self.wall,
            figures: Vec::new(),
            failed: 0,
            errors: None,
            first_failure: None,
            advice: self.advice,
            findings: self.findings,
        }
    }
}

/// What a row's work gave, checked against what it should have: with the
/// [`Ran`], a row.
pub(crate) trait Outcome {
    /// The row: the run's figures with this outcome's.
    fn measurement(self, ran: Ran) -> Measurement;
}

impl Tour {
    /// Runs the scenario's sequential row: `work` on this thread, a plain
    /// loop over `items` items (given a progress bar to step), watched by a
    /// [`LoopWatch`] that names its findings after `task`. Gives the work's
    /// output and the run, whose advisor line is the loop's
    /// ([`advice::for_loop`]).
    pub(crate) fn run_loop<T>(
        &self,
        task: &str,
        items: usize,
        work: impl FnOnce(&ProgressBar) -> T,
    ) -> (T, Ran) {
        let bar = self.progress(SEQUENTIAL, items);
        let watch = LoopWatch::start();
        let start = Instant::now();
        let out = work(&bar);
        let wall = start.elapsed();
        let figures = watch.figures();
        let findings = watch.finish(task, items as u64);
        bar.finish_and_clear();
        let ran = Ran {
            model: SEQUENTIAL,
            workers: 1,
            wall,
            advice: advice::for_loop(&figures, &findings),
            findings,
        };
        (out, ran)
    }

    /// Runs the same CPU-bound work on a fresh `Pool::io` (the wrong
    /// model) and a fresh `Pool::cpu` (the right one), each pool named
    /// `name` and timed by [`timed_on_pool`] against `base` (the loop's
    /// wall time), then records both rows, each advised against the other
    /// ([`advice::for_par_pool`]): both run before either row is printed.
    /// `work` gets the pool and a progress bar of `items` to step; `check`
    /// turns its output into the row's outcome, outside the timing. Gives
    /// the `Pool::cpu` run, for a process row to compare with.
    pub(crate) fn compare_pools<T, O: Outcome>(
        &mut self,
        name: &str,
        base: Duration,
        items: usize,
        mut work: impl FnMut(&Pool, &ProgressBar) -> T,
        check: impl Fn(T) -> O,
    ) -> Result<advice::ParRun, TourError> {
        let mut runs = Vec::new();
        for (model, builder) in [("Pool::io", Pool::io()), ("Pool::cpu", Pool::cpu())] {
            let bar = self.progress(model, items);
            let (out, run) = timed_on_pool(builder.name(name), base, |pool| work(pool, &bar))?;
            bar.finish_and_clear();
            runs.push((model, run, check(out)));
        }
        let lines: Vec<String> = (0..runs.len())
            .map(|i| advice::for_par_pool(&runs[i].1, runs.get(1 - i).map(|r| &r.1)))
            .collect();
        let cpu = runs[1].1.clone();
        for ((model, run, out), line) in runs.into_iter().zip(lines) {
            self.record(out.measurement(Ran::on_pool(model, &run, line)))?;
        }
        Ok(cpu)
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
