//! Producer-consumer with a bounded queue: producers slow down when the
//! consumers fall behind, `join` waits for every item to be finished, and a
//! consumer that panics mid-item cannot make `join` hang (the item guard
//! marks it done during the unwind).
//!
//! Run: `cargo run -p workwise --example producer_consumer`

use std::thread;
use std::time::{Duration, Instant};

use workwise::{Pool, Queue};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Bounded: at most 8 jobs wait, so memory stays flat however fast the
    // producer is.
    let jobs = Queue::bounded(8)?;
    let pool = Pool::io().name("consumer").build()?;

    // Three consumer loops on the pool; each item is marked done after the
    // closure returns or panics.
    let consumers = pool.consume(&jobs, 3, |job: u32| {
        thread::sleep(Duration::from_millis(2)); // pretend to work
        if job == 13 {
            panic!("job 13 is malformed");
        }
    });

    let start = Instant::now();
    for job in 0..60 {
        jobs.put(job)?; // waits while 8 are queued
    }
    println!(
        "produced 60 jobs in {:?}: the producer waited for room (capacity {:?})",
        start.elapsed(),
        jobs.capacity()
    );

    jobs.join(); // every job is done, the panicking one included
    println!("all jobs done after {:?}", start.elapsed());
    jobs.close(); // consumers drain, then stop
    for (i, c) in consumers.into_iter().enumerate() {
        let report = c.wait()?;
        println!(
            "consumer {i}: {} jobs, {} panicked{}",
            report.processed,
            report.panicked,
            report
                .first_panic
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        );
    }

    // The same pattern by hand, with an item requeued once.
    let q = Queue::bounded(4)?;
    q.put("flaky")?;
    let item = q.get()?;
    if item.requeue().is_ok() {
        println!("requeued; unfinished = {}", q.unfinished());
    }
    let retried = q.get()?;
    println!("retried {:?} and finished it", *retried);
    drop(retried);
    q.join();
    Ok(())
}
