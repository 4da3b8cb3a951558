//! Async fan-out, fan-in: many requests, a bound on how many are in flight,
//! a timeout on each, results in input order, and the failures as values.
//!
//! The guide's `fan_out_fan_in` with `asyncio.gather`, a `Semaphore` and
//! `asyncio.wait_for`. The "API" is a tiny TCP server on 127.0.0.1 started
//! by the example itself: it answers each request after a simulated latency,
//! and takes far too long for every 25th, so those time out.
//!
//! Run: `cargo run -p workwise --example fan_out_fan_in --features tokio`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use workwise::aio::{self, TaskGroup};
use workwise::TaskError;

const REQUESTS: u64 = 300;
const LIMIT: usize = 50;
const TIMEOUT: Duration = Duration::from_millis(300);

/// The "API": one line in (an id), one line out (id * 2) after a latency.
async fn serve(listener: TcpListener) {
    // The server's connections live in a group: when the server is dropped
    // (the example's end), every connection task is aborted with it.
    let mut connections = TaskGroup::new();
    while let Ok((stream, _)) = listener.accept().await {
        connections.spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let _ = BufReader::new(read).read_line(&mut line).await;
            let id: u64 = line.trim().parse().unwrap_or(0);
            let latency = if id % 25 == 24 { 5_000 } else { 5 + id % 20 };
            tokio::time::sleep(Duration::from_millis(latency)).await;
            let _ = write.write_all(format!("{}\n", id * 2).as_bytes()).await;
        });
    }
}

/// Counts the requests in flight, and the most at once.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(now: &'a AtomicUsize, peak: &AtomicUsize) -> Self {
        peak.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
        InFlight(now)
    }
}

impl Drop for InFlight<'_> {
    // Runs on completion and when a timeout drops the request.
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One request: connect, send the id, read the answer.
async fn fetch(addr: std::net::SocketAddr, id: u64) -> Result<u64, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (read, mut write) = stream.into_split();
    write
        .write_all(format!("{id}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(read)
        .read_line(&mut line)
        .await
        .map_err(|e| e.to_string())?;
    line.trim()
        .parse()
        .map_err(|e| format!("bad answer {line:?}: {e}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut server = TaskGroup::new();
    server.spawn_named("api-server", serve(listener));
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));

    // Fan out: REQUESTS requests, at most LIMIT in flight, each with a
    // timeout. The iterator is lazy: request i+LIMIT is not even created
    // until one in flight is done. Fan in: results in input order.
    let start = Instant::now();
    let results = aio::map(0..REQUESTS, LIMIT, |id| {
        let (now, peak) = (now.clone(), peak.clone());
        aio::timeout(TIMEOUT, async move {
            let _in_flight = InFlight::enter(&now, &peak);
            fetch(addr, id).await
        })
    })?
    .collect()
    .await;
    let wall = start.elapsed();

    let mut ok = 0;
    let mut timed_out = Vec::new();
    for (id, r) in (0..REQUESTS).zip(&results) {
        match r {
            Ok(Ok(answer)) => {
                assert_eq!(*answer, id * 2, "answers come back in input order");
                ok += 1;
            }
            Ok(Err(e)) => println!("request {id} failed: {e}"),
            Err(TaskError::TimedOut) => timed_out.push(id),
            Err(e) => println!("request {id}: {e}"),
        }
    }
    println!(
        "{REQUESTS} requests, at most {LIMIT} in flight: {ok} answered, {} timed out after {TIMEOUT:?} \
         (ids {:?}), in {wall:.2?}",
        timed_out.len(),
        timed_out
    );
    println!(
        "at most {} requests were in flight at once (the limit is {LIMIT})",
        peak.load(Ordering::SeqCst)
    );
    assert!(peak.load(Ordering::SeqCst) <= LIMIT);
    // Every slow request timed out (a busy machine may add a few more).
    assert!((0..REQUESTS)
        .filter(|id| id % 25 == 24)
        .all(|id| timed_out.contains(&id)));

    // Dropping the group aborts the server task, and with it its listener
    // and its connection group: nothing outlives main.
    drop(server);
    Ok(())
}
