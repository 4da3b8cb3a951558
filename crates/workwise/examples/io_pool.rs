//! Threads for I/O: an elastic, named, bounded pool; timeouts on every wait;
//! a failing task as an error value; results as they complete.
//!
//! The "I/O" here is a sleep standing in for a network call, so the example
//! runs anywhere; `workwise tour` does the same against a real HTTP server.
//!
//! Run: `cargo run -p workwise --example io_pool`

use std::thread;
use std::time::{Duration, Instant};

use workwise::{as_completed, Pool, TaskError};

/// Pretends to fetch a page: waits, and fails for one URL.
fn fetch(url: &str) -> Result<usize, String> {
    thread::sleep(Duration::from_millis(40));
    if url.ends_with("/7") {
        return Err(format!("{url}: 503 Service Unavailable"));
    }
    Ok(url.len() * 100)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // min(32, cores + 4) threads by default, started on demand, named fetch-N.
    let pool = Pool::io().name("fetch").build()?;
    let urls: Vec<String> = (0..24)
        .map(|i| format!("https://example.test/{i}"))
        .collect();

    // 1. map: input order, lazy, bounded in flight.
    let start = Instant::now();
    let mut ok = 0;
    for (url, result) in urls.iter().zip(pool.map(urls.clone(), |u| fetch(&u))) {
        match result {
            Ok(Ok(bytes)) => ok += bytes.min(1),
            Ok(Err(e)) => println!("failed (an error value, not a crash): {e}"),
            Err(TaskError::Panicked { message }) => println!("{url} panicked: {message}"),
            Err(e) => println!("{url}: {e}"),
        }
    }
    println!(
        "map: {ok}/{} pages in {:?} on {} threads (sequential would take ~{:?})",
        urls.len(),
        start.elapsed(),
        pool.stats().peak_workers,
        Duration::from_millis(40) * urls.len() as u32
    );

    // 2. submit + wait with a timeout: the slow task goes on, we move on.
    let mut slow = pool.submit(|| {
        thread::sleep(Duration::from_millis(300));
        "late"
    });
    match slow.wait_timeout(Duration::from_millis(50)) {
        Err(TaskError::TimedOut) => println!("timed out after 50 ms; the task still runs"),
        other => println!("unexpected: {other:?}"),
    }

    // 3. as_completed: handle results in the order they finish.
    let handles: Vec<_> = [120u64, 10, 60]
        .into_iter()
        .map(|ms| {
            pool.submit(move || {
                thread::sleep(Duration::from_millis(ms));
                format!("{ms} ms on {}", thread::current().name().unwrap_or("?"))
            })
        })
        .collect();
    for (index, result) in as_completed(handles) {
        println!("task {index} finished: {}", result?);
    }

    let stats = pool.stats();
    println!(
        "stats: {} submitted, {} completed, busy {:?}, cpu {:?}, queue wait {:?}",
        stats.submitted, stats.completed, stats.busy, stats.cpu, stats.queue_wait
    );
    Ok(()) // dropping the pool finishes queued work and joins its threads
}
