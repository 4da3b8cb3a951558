//! Logging from a pool, as the guide's debugging tips advise: every line
//! says which thread wrote it (`fetch-0`, `fetch-1`, ...) and which task it
//! came from (a span `task{pool=fetch id=.. name="GET /a"}` around each task
//! submitted with `submit_named`).
//!
//! Run: `cargo run -p workwise --features tracing --example logging`
//!
//! The pool here is used right, so the advisor has nothing to say. With
//! `-- --wrong`, a second pool is used wrong on purpose (a chain: each task
//! waited for before the next is submitted) to show the advisor's WARN line
//! (target `workwise::advice`, rule W09) when that pool shuts down.

use std::thread;
use std::time::Duration;

use tracing::info;
use workwise::Pool;

/// Pretends to fetch a page: waits, as a network call would.
fn fetch(path: &str) -> usize {
    thread::sleep(Duration::from_millis(20));
    path.len() * 100
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The guide's `%(asctime)s [%(threadName)s] %(message)s`, with spans.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_thread_names(true)
        .with_timer(tracing_subscriber::fmt::time::Uptime::default())
        .init();

    // Workers are named `fetch-0`, `fetch-1`, ...
    let pool = Pool::io().name("fetch").max_workers(4).build()?;
    let handles: Vec<_> = ["/a", "/b", "/c", "/d"]
        .into_iter()
        .map(|path| {
            pool.submit_named(format!("GET {path}"), move || {
                info!("fetching");
                let bytes = fetch(path);
                info!(bytes, "fetched");
                bytes
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.wait()?;
    }
    info!(total, "all fetched");
    // Shutting down emits the advisor's findings: none for this pool.
    drop(pool);

    if std::env::args().any(|a| a == "--wrong") {
        // Wrong on purpose: one task at a time, so the pool only adds its
        // cost (W09). A plain loop, or submitting all before waiting, is right.
        let chain = Pool::io().name("chain").max_workers(4).build()?;
        for i in 0..10u64 {
            chain.submit_named(format!("step {i}"), move || i).wait()?;
        }
        drop(chain); // the WARN line goes out here
    }
    Ok(())
}
