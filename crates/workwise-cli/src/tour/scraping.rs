//! The guide's `Web scraping | Threading | ThreadPoolExecutor` row.
//!
//! Fetches pages from the tour's embedded server (each answered after 20 to
//! 50 ms) through one shared `ureq::Agent`, so every worker draws on one
//! connection pool, three ways: a plain loop; `Pool::cpu`, the wrong model
//! (one thread per core, and every thread sits waiting on a socket); and
//! `Pool::io`, the right one (`min(32, cores + 4)` threads overlap the waits).
//! Every body is checked to be the page asked for. The advisor reads the
//! loop through a `LoopWatch` (W02: it waits) and each pool through
//! `Pool::advice` (W02 on `Pool::cpu`; on `Pool::io`, W06 where its size is
//! what limits the run).

use std::sync::Arc;
use std::time::{Duration, Instant};

use workwise::advice::{Advice, LoopWatch};
use workwise::{Pool, Workload};

use super::{advice, Column, Figure, Measurement, Scenario, Tour, TourError};
use crate::server;

/// Pages a `--quick` run fetches (a full run fetches all of the server's).
const QUICK_PAGES: usize = 60;

/// The web scraping scenario.
#[derive(Debug)]
pub(crate) struct WebScraping;

impl Scenario for WebScraping {
    fn name(&self) -> &'static str {
        "web scraping"
    }

    fn slug(&self) -> &'static str {
        "scraping"
    }

    fn about(&self) -> &'static str {
        "the guide's `Web scraping` row: fetch pages from a local server, 20-50 ms each"
    }

    fn columns(&self) -> &'static [Column] {
        &[Column {
            key: "pages_per_s",
            header: "pages/s",
        }]
    }

    fn run(&self, tour: &mut Tour) -> Result<(), TourError> {
        let pages = if tour.quick() {
            QUICK_PAGES
        } else {
            server::PAGES
        };
        let base: Arc<str> = tour.server()?.base_url().into();
        let mean = (0..pages).map(server::latency).sum::<Duration>() / pages as u32;
        tour.intro(&format!(
            "{pages} pages from the embedded server at {base}, each answered after 20-50 ms \
             (mean {}); the guide says threads (ThreadPoolExecutor), workwise says Pool::io()",
            advice::human(mean)
        ))?;

        // The most requests in flight at once, under any model here.
        let connections = Workload::Io
            .default_workers()
            .max(Workload::Cpu.default_workers());
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            // A connection per worker stays open (ureq keeps one per host by
            // default).
            .max_idle_connections(connections.max(100))
            .max_idle_connections_per_host(connections)
            .build();
        tour.server()?
            .open_connections(&agent, connections)
            .map_err(|e| TourError::Setup(format!("the embedded server did not answer: {e}")))?;

        let bar = tour.progress("sequential", pages);
        let mut tally = Tally::new(pages);
        let watch = LoopWatch::start();
        let start = Instant::now();
        for page in 0..pages {
            tally.add(page, fetch(&agent, &base, page));
            bar.inc(1);
        }
        let wall = start.elapsed();
        let figures = watch.figures();
        let findings = watch.finish("scrape", pages as u64);
        bar.finish_and_clear();
        let advice = advice::for_loop(&figures, &findings);
        tour.record(tally.into_measurement("sequential", 1, wall, advice, findings))?;

        for (model, builder) in [("Pool::cpu", Pool::cpu()), ("Pool::io", Pool::io())] {
            let bar = tour.progress(model, pages);
            let mut tally = Tally::new(pages);
            let start = Instant::now();
            let pool = builder.name("scrape").build().map_err(TourError::Pool)?;
            let (agent, base) = (agent.clone(), base.clone());
            let fetched = pool.map(0..pages, move |page| fetch(&agent, &base, page));
            for (page, result) in fetched.enumerate() {
                let result = result.map_err(|e| format!("the task failed: {e}"));
                tally.add(page, result.and_then(|fetched| fetched));
                bar.inc(1);
            }
            let (findings, asking) = super::ask_and_shut_down(&pool);
            let wall = start.elapsed().saturating_sub(asking);
            bar.finish_and_clear();
            let advice = advice::for_pool(pool.max_workers(), &pool.stats(), wall, &findings);
            let m = tally.into_measurement(model, pool.max_workers(), wall, advice, findings);
            tour.record(m)?;
        }
        Ok(())
    }
}

/// Fetches page `page` and checks that the body is that page.
fn fetch(agent: &ureq::Agent, base: &str, page: usize) -> Result<(), String> {
    let url = format!("{base}/page/{page}");
    let body = agent
        .get(&url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?
        .into_string()
        .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
    if body.contains(&server::marker(page)) {
        Ok(())
    } else {
        Err(format!("GET {url}: the body is not page {page}"))
    }
}

/// Counts the pages of one run and keeps the first failure.
struct Tally {
    pages: usize,
    failed: u64,
    first_failure: Option<String>,
}

impl Tally {
    fn new(pages: usize) -> Self {
        Tally {
            pages,
            failed: 0,
            first_failure: None,
        }
    }

    fn add(&mut self, page: usize, result: Result<(), String>) {
        if let Err(e) = result {
            self.failed += 1;
            self.first_failure
                .get_or_insert_with(|| format!("page {page}: {e}"));
        }
    }

    fn into_measurement(
        self,
        model: &'static str,
        workers: usize,
        wall: Duration,
        advice: String,
        findings: Vec<Advice>,
    ) -> Measurement {
        let fetched = self.pages as u64 - self.failed;
        let per_s = fetched as f64 / wall.as_secs_f64().max(f64::MIN_POSITIVE);
        Measurement {
            model,
            workers,
            wall,
            figures: vec![
                ("pages", Figure::Count(self.pages as u64)),
                ("pages_per_s", Figure::Rate(per_s)),
            ],
            failed: self.failed,
            first_failure: self.first_failure,
            errors: None,
            advice,
            findings,
        }
    }
}
