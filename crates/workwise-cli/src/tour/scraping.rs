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
use std::time::Duration;

use workwise::{Pool, Workload};

use super::{advice, timed_on_pool, Column, Items, Key, Outcome, Ran, ScenarioInfo, Size, Tour};
use super::{TourError, Unit};
use crate::server;

/// Pages a run fetches: a full run fetches all of the server's.
const PAGES: Size = Size::count("pages", 60, server::PAGES as u64);

/// What the rows count.
const PAGE: Unit = Unit {
    one: "page",
    count: "pages",
    rate: "pages_per_s",
};

/// The web scraping scenario.
pub(crate) const INFO: ScenarioInfo = ScenarioInfo {
    name: "web scraping",
    slug: "scraping",
    about: "the guide's `Web scraping` row: fetch pages from a local server, 20-50 ms each",
    help: "fetch pages from an embedded local HTTP server, 20-50 ms each, on `Pool::cpu` and \
           `Pool::io`",
    sizes: &[PAGES],
    models: &["sequential", "Pool::cpu", "Pool::io"],
    no_speedup: &[],
    columns: &[Column {
        key: "pages_per_s",
        header: "pages/s",
    }],
    keys: &[
        Key::new("pages", "pages fetched"),
        Key::new("pages_per_s", "pages fetched right a second"),
    ],
    errors: "",
    run,
    #[cfg(target_os = "linux")]
    process_tasks: &[],
};

fn run(tour: &mut Tour) -> Result<(), TourError> {
    let pages = PAGES.items(tour.quick());
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

    let (fetched, ran) = tour.run_loop("scrape", pages, |bar| {
        let mut fetched = Items::new(PAGE, pages);
        for page in 0..pages {
            fetched.add(page, fetch(&agent, &base, page));
            bar.inc(1);
        }
        fetched
    });
    let base_wall = ran.wall;
    tour.record(fetched.measurement(ran))?;

    for (model, builder) in [("Pool::cpu", Pool::cpu()), ("Pool::io", Pool::io())] {
        let bar = tour.progress(model, pages);
        let (agent, url) = (agent.clone(), base.clone());
        let (fetched, run) = timed_on_pool(builder.name("scrape"), base_wall, |pool| {
            let mut fetched = Items::new(PAGE, pages);
            let results = pool.map(0..pages, move |page| fetch(&agent, &url, page));
            for (page, result) in results.enumerate() {
                let result = result.map_err(|e| format!("the task failed: {e}"));
                fetched.add(page, result.and_then(|fetched| fetched));
                bar.inc(1);
            }
            fetched
        })?;
        bar.finish_and_clear();
        let line = advice::for_pool(run.max_workers, &run.stats, run.wall, &run.findings);
        tour.record(fetched.measurement(Ran::on_pool(model, &run, line)))?;
    }
    Ok(())
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
