//! An async web server: one task per connection, thousands of connections
//! on a few threads, because a connection that waits (for its database, for
//! the client) costs a small task, not a thread.
//!
//! A hand-rolled HTTP/1.1 responder on `tokio::net::TcpListener` (keep-alive,
//! `Content-Length` bodies) whose handlers await 20 ms of simulated database
//! latency. One handler, `/report`, has pitfall 2 of the guide in it: it
//! calls `std::thread::sleep`, which blocks its runtime thread and every
//! connection on it. The `BlockingDetector` names it; `/report-fixed` moves
//! the same work to `aio::run_blocking` on a bounded, named pool.
//!
//! The example's own client (keep-alive connections on 127.0.0.1) sends a
//! fixed number of requests, then the server is dropped and the example
//! exits by itself.
//!
//! Run: `cargo run -p workwise --example web_server --features tokio`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use workwise::aio::{self, BlockingDetector, TaskGroup};
use workwise::Pool;

const CONNECTIONS: usize = 50;
const REQUESTS_PER_CONNECTION: usize = 10;
const DB_LATENCY: Duration = Duration::from_millis(20);

/// What a handler answers: status line and body.
async fn handle(path: &str, pool: &Pool) -> (&'static str, String) {
    match path {
        "/user" => {
            tokio::time::sleep(DB_LATENCY).await; // awaits: other requests go on
            ("200 OK", "{\"user\": \"ada\"}".to_owned())
        }
        "/report" => {
            std::thread::sleep(DB_LATENCY); // blocks the runtime thread: the bug
            ("200 OK", "{\"report\": \"blocking\"}".to_owned())
        }
        "/report-fixed" => {
            let body = aio::run_blocking(pool, || {
                std::thread::sleep(DB_LATENCY); // the same work, on the pool
                "{\"report\": \"on the pool\"}".to_owned()
            })
            .await;
            match body {
                Ok(b) => ("200 OK", b),
                Err(e) => ("500 Internal Server Error", e.to_string()),
            }
        }
        _ => ("404 Not Found", String::new()),
    }
}

/// Serves one keep-alive connection until the client closes it.
async fn connection(stream: TcpStream, detector: BlockingDetector, pool: Arc<Pool>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        match read.read_line(&mut line).await {
            Ok(0) | Err(_) => return, // the client closed the connection
            Ok(_) => {}
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        // Skip the headers; this client sends no body.
        loop {
            let mut header = String::new();
            match read.read_line(&mut header).await {
                Ok(0) | Err(_) => return,
                Ok(_) if header == "\r\n" => break,
                Ok(_) => {}
            }
        }
        // Each request's handler is watched under its route's name, so a
        // report names the handler, not just the connection.
        let (status, body) = detector
            .watch(format!("GET {path}"), handle(&path, &pool))
            .await;
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{body}",
            body.len()
        );
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Accepts connections; each one is a task of the server's group, so
/// dropping the server ends every connection with it.
async fn serve(listener: TcpListener, detector: BlockingDetector, pool: Arc<Pool>) {
    let mut connections = TaskGroup::new().detector(&detector);
    let mut n = 0;
    while let Ok((stream, _)) = listener.accept().await {
        n += 1;
        let task = connection(stream, detector.clone(), pool.clone());
        connections.spawn_named(format!("connection {n}"), task);
    }
}

/// One keep-alive client connection sending `paths` one after another;
/// gives each request's latency.
async fn client(addr: SocketAddr, paths: Vec<&'static str>) -> std::io::Result<Vec<Duration>> {
    let stream = TcpStream::connect(addr).await?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut latencies = Vec::with_capacity(paths.len());
    for path in paths {
        let start = Instant::now();
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        write.write_all(req.as_bytes()).await?;
        let mut len = 0;
        let mut status = String::new();
        read.read_line(&mut status).await?;
        loop {
            let mut header = String::new();
            read.read_line(&mut header).await?;
            if header == "\r\n" {
                break;
            }
            if let Some(v) = header.strip_prefix("Content-Length: ") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        read.read_exact(&mut body).await?;
        assert!(status.starts_with("HTTP/1.1 200"), "{path}: {status}");
        latencies.push(start.elapsed());
    }
    Ok(latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let detector = BlockingDetector::new(); // reports polls over 10 ms
    let pool = Arc::new(Pool::io().name("report").build()?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut server = TaskGroup::new();
    server.spawn_named("server", serve(listener, detector.clone(), pool));

    // CONNECTIONS keep-alive clients at once; one of them asks for the
    // blocking report once, one for the fixed one.
    let start = Instant::now();
    let mut clients = TaskGroup::with_limit(CONNECTIONS)?;
    for c in 0..CONNECTIONS {
        let mut paths = vec!["/user"; REQUESTS_PER_CONNECTION];
        match c {
            0 => paths[5] = "/report",
            1 => paths[5] = "/report-fixed",
            _ => {}
        }
        clients.spawn(client(addr, paths));
    }
    let mut latencies = Vec::new();
    for r in clients.join_all().await {
        latencies.extend(r??);
    }
    let wall = start.elapsed();
    latencies.sort();
    println!(
        "{} requests over {CONNECTIONS} keep-alive connections in {wall:.2?}: {:.0} requests/s, \
         p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        latencies.len(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1],
    );
    assert_eq!(latencies.len(), CONNECTIONS * REQUESTS_PER_CONNECTION);

    // The server and all its connections end here: no task outlives main.
    drop(server);

    let reports = detector.reports();
    for r in &reports {
        println!("detector: {r}");
    }
    // The blocking handler is caught by name (its connection too, since a
    // handler's poll is inside its connection's poll). The awaiting
    // handlers and the one on the pool poll for microseconds and are not
    // reported, unless this machine preempted a thread mid-poll for 10 ms.
    assert!(reports.iter().any(|r| r.task == "GET /report"));
    Ok(())
}
