//! The api calls scenario's `aio` row: the same requests through the same
//! kind of policy (`Policy::call_async`) from one async task on one thread,
//! and its HTTP/1.1 client, hand-rolled on `tokio::net`: one client shared
//! by every request, its keep-alive connections opened before the clock
//! starts, one at a time.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::super::web::{content_length, head_end};
use super::*;

/// Runs the `aio` row (see the module docs) and records it.
pub(super) fn run(
    tour: &mut Tour,
    plan: Plan,
    naive_row: &advice::ApiRow,
) -> Result<(), TourError> {
    let limit = Workload::Io.default_workers();
    let connections = limit * 2;
    let base = tour.server()?.base_url();
    let addr: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| TourError::Setup(format!("the embedded server's address {base}: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TourError::Setup(format!("cannot start a tokio runtime: {e}")))?;
    let client = runtime
        .block_on(async {
            let opening = AioClient::open(addr, connections);
            tokio::time::timeout(Duration::from_secs(10), opening)
                .await
                .unwrap_or_else(|_| Err(io::Error::other("no answer to GET / in 10 s")))
        })
        .map_err(|e| TourError::Setup(format!("the embedded server did not answer: {e}")))?;
    let timed_out = Arc::new(AtomicU64::new(0));
    let policy = build_policy(timed_out.clone())
        .map_err(|e| TourError::Setup(format!("cannot build the policy: {e}")))?;

    tour.server()?.begin_api_run(Some(plan.outage));
    let bar = tour.progress(AIO, plan.requests as usize);
    let start = Instant::now();
    let tally = runtime.block_on(async {
        let mut tally = Tally::default();
        let requests = (0..plan.requests).map(|item| {
            AIO_FAILED_ATTEMPTS.scope(Cell::new(0), aio_request(&client, &policy, item))
        });
        match aio::gather_limited(requests, limit) {
            Ok(mut outcomes) => {
                while let Some(outcome) = outcomes.next().await {
                    tally.add(Ok(outcome));
                    bar.inc(1);
                }
            }
            Err(e) => tally.add(Err(TaskError::NoWorker {
                message: e.to_string(),
            })),
        }
        tally
    });
    let wall = start.elapsed();
    bar.finish_and_clear();
    // Every attempt has ended (a timed-out one with its dropped future), so
    // the server has taken every call it will get.
    let breaker = policy.breaker().map(|b| b.stats()).unwrap_or_default();
    drop(policy);
    let run = Run {
        tally,
        report: tour.server()?.api_report(),
        workers: 1,
        wall,
        findings: Vec::new(),
    };
    let (opened, peak) = (client.opened.load(SeqCst), client.peak.load(SeqCst));
    let policy_run = run.policy_run(plan, &breaker, timed_out.load(Relaxed));
    let mut figures = policy_figures(&policy_run, &breaker);
    figures.push(("connections", Figure::Count(opened)));
    figures.push(("peak_connections", Figure::Count(peak)));
    let policy_advice = advice::for_policy(&policy_run, Some(naive_row));
    let advice = format!(
        "one async task on one thread made every request through one shared client \
         (at most {limit} in flight, where Pool::io needs a thread each): {} opened, at most \
         {peak} in use at once; {policy_advice}",
        if opened == 1 {
            "1 keep-alive connection".to_string()
        } else {
            format!("{opened} keep-alive connections")
        }
    );
    drop(runtime);
    tour.record(run.into_measurement(AIO, figures, advice))
}

/// One request of the `aio` row, through the policy.
async fn aio_request(client: &AioClient, policy: &Policy<ApiError>, item: u64) -> Outcome {
    let path = server::api_path(item);
    match policy.call_async(|| client.get_item(&path, item)).await {
        Ok(()) => Outcome::Succeeded {
            rescued: AIO_FAILED_ATTEMPTS.with(Cell::get) > 0,
        },
        Err(e) => gave_up(item, &e),
    }
}

/// The `aio` row's one shared HTTP/1.1 client: keep-alive connections to
/// one server, each used by one request at a time and put back when its
/// reply has been read to the end.
///
/// # Cancel safety
///
/// A request dropped mid-way (cut at the policy's attempt timeout) drops
/// its connection with it, closing it: a connection with half a reply in
/// it is never reused. The next request that finds no idle connection
/// opens one.
pub(super) struct AioClient {
    addr: SocketAddr,
    /// Never held across an await.
    idle: Mutex<Vec<AioConn>>,
    /// Connections opened, in all.
    pub(super) opened: AtomicU64,
    /// Connections in use now, and the most at once.
    in_use: AtomicU64,
    pub(super) peak: AtomicU64,
}

/// One keep-alive connection and its read buffer.
struct AioConn {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
}

/// A connection in use: counted while it lives.
struct InUse<'a>(&'a AioClient);

impl<'a> InUse<'a> {
    fn new(client: &'a AioClient) -> Self {
        let now = client.in_use.fetch_add(1, SeqCst) + 1;
        client.peak.fetch_max(now, SeqCst);
        InUse(client)
    }
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.0.in_use.fetch_sub(1, SeqCst);
    }
}

impl AioClient {
    /// A client with `n` connections to `addr` open and idle, opened one at
    /// a time, each once the one before has had its answer to `GET /`.
    pub(super) async fn open(addr: SocketAddr, n: usize) -> io::Result<AioClient> {
        let client = AioClient {
            addr,
            idle: Mutex::new(Vec::with_capacity(n)),
            opened: AtomicU64::new(0),
            in_use: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        };
        for _ in 0..n {
            let mut conn = client.connect().await?;
            match conn.get("/").await? {
                (200, _) => client.put_back(conn),
                (status, body) => {
                    return Err(io::Error::other(format!(
                        "GET / answered {status}: {body:?}"
                    )))
                }
            }
        }
        client.peak.store(0, SeqCst);
        Ok(client)
    }

    async fn connect(&self) -> io::Result<AioConn> {
        let stream = TcpStream::connect(self.addr).await?;
        let _ = stream.set_nodelay(true);
        self.opened.fetch_add(1, SeqCst);
        Ok(AioConn {
            stream,
            buf: vec![0; 4096],
            filled: 0,
        })
    }

    fn put_back(&self, conn: AioConn) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }

    /// `GET path` on an idle connection (a new one if none is idle): the
    /// reply's status and body.
    async fn get(&self, path: &str) -> io::Result<(u16, String)> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        let _in_use = InUse::new(self);
        let reply = conn.get(path).await?;
        self.put_back(conn);
        Ok(reply)
    }

    /// Asks for item `item` at `path` once, and checks the answer.
    pub(super) async fn get_item(&self, path: &str, item: u64) -> Result<(), ApiError> {
        let url = format!("http://{}{path}", self.addr);
        match self.get(path).await {
            Ok((200, body)) => check_item(&url, item, &body),
            Ok((503, _)) => Err(ApiError::Unavailable),
            Ok((status, body)) => Err(ApiError::Wrong(format!(
                "GET {url}: HTTP {status}: {body:?}"
            ))),
            Err(e) => Err(ApiError::Wrong(format!("GET {url}: {e}"))),
        }
    }
}

impl AioConn {
    /// Sends `GET path` and reads the reply to its end.
    async fn get(&mut self, path: &str) -> io::Result<(u16, String)> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream.write_all(request.as_bytes()).await?;
        let end = loop {
            if let Some(end) = head_end(&self.buf[..self.filled]) {
                break end;
            }
            self.fill().await?;
        };
        let head = &self.buf[..end];
        let status = head
            .split(|&b| b == b' ')
            .nth(1)
            .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
            .ok_or_else(|| {
                io::Error::other(format!(
                    "not an HTTP reply: {:?}",
                    String::from_utf8_lossy(head)
                ))
            })?;
        let whole = end + content_length(head);
        while self.filled < whole {
            self.fill().await?;
        }
        let body = String::from_utf8_lossy(&self.buf[end..whole]).into_owned();
        self.buf.copy_within(whole..self.filled, 0);
        self.filled -= whole;
        Ok((status, body))
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let read = self.stream.read(&mut self.buf[self.filled..]).await?;
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
