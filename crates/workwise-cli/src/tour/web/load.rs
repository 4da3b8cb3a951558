//! The web server scenario's load generator: its own tokio runtime, its
//! keep-alive connections opened a few at a time, each sending its
//! requests one after another.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use workwise::aio::{self, TaskGroup};

use super::server::{content_length, head_end, PING, USER};
use super::*;

// ---------------------------------------------------------------------
// The load generator.
// ---------------------------------------------------------------------

/// The embedded load generator: its own tokio runtime.
pub(super) struct LoadGenerator {
    runtime: Runtime,
}

/// One client connection, with its buffer.
pub(super) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
}

/// What one connection's requests came to.
pub(super) struct Outcome {
    pub(super) latencies: Vec<Duration>,
    /// The requests it could not make, after an error.
    pub(super) lost: u64,
    pub(super) error: Option<String>,
}

impl LoadGenerator {
    pub(super) fn new() -> io::Result<LoadGenerator> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workwise::available_cores())
            .thread_name("web-load")
            .enable_all()
            .build()?;
        Ok(LoadGenerator { runtime })
    }

    /// Opens a connection per buffer, at most [`CONNECT_AT_ONCE`] at once,
    /// each sending one `GET /ping`; gives them, or why one failed.
    pub(super) fn open(
        &self,
        addr: SocketAddr,
        buffers: Vec<Vec<u8>>,
    ) -> Vec<Result<Conn, String>> {
        self.runtime.block_on(async {
            match aio::map(buffers, CONNECT_AT_ONCE, |buf| open(addr, buf)) {
                Ok(opening) => opening.collect().await,
                Err(e) => vec![Err(e.to_string())],
            }
        })
    }

    /// Sends `requests` `GET /user` on every connection, each its own task,
    /// all at once; gives the wall time until all are answered, and each
    /// connection's outcome. The connections close at their end.
    pub(super) fn send(
        &self,
        conns: Vec<Conn>,
        requests: usize,
        bar: &ProgressBar,
    ) -> (Duration, Vec<Outcome>) {
        self.runtime.block_on(async {
            let start = Instant::now();
            let mut clients = TaskGroup::new();
            for conn in conns {
                clients.spawn(send(conn, requests, bar.clone()));
            }
            let results = clients.join_all().await;
            let wall = start.elapsed();
            let outcomes = results
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|e| Outcome {
                        latencies: Vec::new(),
                        lost: requests as u64,
                        error: Some(format!("a connection's task failed: {e}")),
                    })
                })
                .collect();
            (wall, outcomes)
        })
    }
}

async fn open(addr: SocketAddr, buf: Vec<u8>) -> Result<Conn, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| {
        format!("connecting to {addr}: {e} (too many open files? raise `ulimit -n`)")
    })?;
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        buf,
        filled: 0,
    };
    conn.get(PING)
        .await
        .map_err(|e| format!("GET /ping on {addr}: {e}"))?;
    Ok(conn)
}

async fn send(mut conn: Conn, requests: usize, bar: ProgressBar) -> Outcome {
    let mut latencies = Vec::with_capacity(requests);
    for done in 0..requests {
        let start = Instant::now();
        if let Err(e) = conn.get(USER).await {
            return Outcome {
                latencies,
                lost: (requests - done) as u64,
                error: Some(format!("GET /user: {e}")),
            };
        }
        latencies.push(start.elapsed());
        bar.inc(1);
    }
    Outcome {
        latencies,
        lost: 0,
        error: None,
    }
}

impl Conn {
    /// Sends `request` and reads its reply to the end; a reply other than
    /// 200 is an error.
    async fn get(&mut self, request: &[u8]) -> io::Result<()> {
        self.stream.write_all(request).await?;
        let end = loop {
            if let Some(end) = head_end(&self.buf[..self.filled]) {
                break end;
            }
            self.fill().await?;
        };
        let head = &self.buf[..end];
        if !head.starts_with(b"HTTP/1.1 200 ") {
            let status =
                String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or(head))
                    .into_owned();
            return Err(io::Error::other(format!("the server answered {status:?}")));
        }
        let whole = end + content_length(head);
        while self.filled < whole {
            self.fill().await?;
        }
        self.buf.copy_within(whole..self.filled, 0);
        self.filled -= whole;
        Ok(())
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.filled == self.buf.len() {
            return Err(io::Error::other("a reply larger than the client's buffer"));
        }
        let read = tokio::time::timeout(IO_TIMEOUT, self.stream.read(&mut self.buf[self.filled..]))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply in 30 s"))??;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.filled += read;
        Ok(())
    }
}
