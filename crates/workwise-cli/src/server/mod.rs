//! The tour's embedded HTTP server: `PAGES` pages at `/page/{i}`, each
//! answered after its own latency of 20 to 50 ms; an index at `/`, answered
//! at once; `/hold`, answered when [`PageServer::release_held`] is called,
//! for opening connections; and a flaky JSON API at `/api/items/{i}` (see
//! [`Outage`]): each request answered after 2 to 5 ms, one in
//! [`API_FLAKY`] with a 503, and an outage in each run, when every request
//! fails.
//!
//! The server must never be the bottleneck, so waiting costs it no thread:
//! one thread takes requests from tiny_http and stamps each with the time it
//! is due, and one thread keeps the stamped requests in a min-heap and answers
//! each when its time comes. Any number of requests can wait at once.
//!
//! # Warning
//!
//! tiny_http 0.12 gives every connection a thread of its own, from a pool that
//! can count a thread it has just woken as still idle: when new connections
//! arrive in a burst larger than its idle threads, the extra ones wait in its
//! queue until some connection closes (a keep-alive client may never close
//! one), and their requests hang. Open connections one at a time, each once
//! the previous one's request is [taken](PageServer::requests_taken), and
//! hold them open with `/hold`: [`PageServer::open_connections`] does so,
//! and the tour calls it before any clock starts.
//!
//! This module is the plumbing: the listener, the taking and answering
//! threads, connections and `/hold`; [`pages`] has the pages and [`flaky`]
//! the API.

mod flaky;
mod pages;

pub(crate) use flaky::{api_path, api_value, ApiReport, Outage, API_FLAKY};
pub(crate) use pages::{latency, marker, PAGES};

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{self, AtomicBool, AtomicU64};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tiny_http::{Header, Request, Response};

use flaky::{api_item, ApiRun};
use pages::route;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why the server could not start.
#[derive(Debug)]
pub(crate) struct StartError {
    addr: String,
    reason: String,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot start the embedded HTTP server on {}: {}; pass another --port, \
             or leave --port out to take any free port",
            self.addr, self.reason
        )
    }
}

impl std::error::Error for StartError {}

/// A running page server; [`shutdown`](PageServer::shutdown) (or dropping
/// it) stops its threads and closes its port.
pub(crate) struct PageServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    taken: Arc<AtomicU64>,
    api: Arc<Mutex<ApiRun>>,
    /// To the answering thread; dropped (with the taking thread's) to stop it.
    control: Option<Sender<Event>>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for PageServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl PageServer {
    /// Binds `127.0.0.1:port` (`0`: any free port) and starts serving.
    pub(crate) fn start(port: u16) -> Result<Self, StartError> {
        let wanted = format!("127.0.0.1:{port}");
        let fail = |reason: String| StartError {
            addr: wanted.clone(),
            reason,
        };
        let server = tiny_http::Server::http(wanted.as_str()).map_err(|e| fail(e.to_string()))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| fail("it is not listening on an IP address".into()))?;
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let taken = Arc::new(AtomicU64::new(0));
        let api = Arc::new(Mutex::new(ApiRun::new(None, Instant::now())));
        let (tx, rx) = mpsc::channel();
        let control = Some(tx.clone());

        let mut threads = Vec::new();
        let spawned = thread::Builder::new()
            .name("tour-http-answer".into())
            .spawn(move || answer(rx))
            .map(|h| threads.push(h))
            .and_then(|()| {
                let (server, stopping, taken) = (server.clone(), stopping.clone(), taken.clone());
                let api = api.clone();
                thread::Builder::new()
                    .name("tour-http-take".into())
                    .spawn(move || take(&server, &stopping, &taken, &api, tx))
            })
            .map(|h| threads.push(h));
        let mut started = PageServer {
            server,
            addr,
            stopping,
            taken,
            api,
            control,
            threads,
        };
        match spawned {
            Ok(()) => Ok(started),
            Err(e) => {
                started.stop();
                Err(fail(format!("cannot start its threads: {e}")))
            }
        }
    }

    /// The URL of the server's root, without a trailing slash.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests the server has taken from its connections so far.
    pub(crate) fn requests_taken(&self) -> u64 {
        self.taken.load(atomic::Ordering::SeqCst)
    }

    /// Answers every `/hold` request taken so far.
    pub(crate) fn release_held(&self) {
        if let Some(control) = &self.control {
            let _ = control.send(Event::Release);
        }
    }

    /// Starts a fresh run of the flaky API: no request counted, no item
    /// asked for yet, and `outage` (if any) still to come.
    pub(crate) fn begin_api_run(&self, outage: Option<Outage>) {
        *lock(&self.api) = ApiRun::new(outage, Instant::now());
    }

    /// What the server saw of the flaky API since the run began.
    pub(crate) fn api_report(&self) -> ApiReport {
        lock(&self.api).report()
    }

    /// Opens `n` connections to the server and leaves them idle in `agent`'s
    /// pool (build it to keep that many per host), before any clock starts.
    ///
    /// No run then pays for connecting, and none opens connections in a
    /// burst, which tiny_http can leave hanging (see the module docs). Each
    /// connection carries a `/hold` request that the server answers only when
    /// all are open, so each request has to open a new connection; and each
    /// opens only once the server has taken the previous request, so that
    /// each new connection finds a server thread.
    pub(crate) fn open_connections(&self, agent: &ureq::Agent, n: usize) -> Result<(), String> {
        let url = format!("{}/hold", self.base_url());
        let mut holders = Vec::with_capacity(n);
        let mut outcome = Ok(());
        for _ in 0..n {
            let before = self.requests_taken();
            let (agent, hold) = (agent.clone(), url.clone());
            let holder = thread::Builder::new()
                .name("tour-connect".into())
                .spawn(move || -> Result<(), String> {
                    let response = agent
                        .get(&hold)
                        .call()
                        .map_err(|e| format!("GET {hold}: {e}"))?;
                    // Reading the body to its end puts the connection back in the pool.
                    response
                        .into_string()
                        .map(drop)
                        .map_err(|e| format!("GET {hold}: {e}"))
                })
                .map_err(|e| format!("cannot start a thread to connect: {e}"));
            match holder {
                Ok(h) => holders.push(h),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.requests_taken() == before {
                if Instant::now() >= deadline {
                    outcome = Err(format!(
                        "a request to {url} did not reach the server in 5 s"
                    ));
                    break;
                }
                thread::sleep(Duration::from_micros(100));
            }
            if outcome.is_err() {
                break;
            }
        }
        self.release_held();
        for h in holders {
            let held = h
                .join()
                .unwrap_or_else(|_| Err("a connecting thread panicked".into()));
            outcome = outcome.and(held);
        }
        outcome
    }

    /// Stops serving: requests already taken are answered, then the threads
    /// exit and the port is closed.
    pub(crate) fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.stopping.store(true, atomic::Ordering::SeqCst);
        // Wakes the taking thread out of `recv`; it then drops its sender,
        // and with ours gone too, the answering thread answers what it holds
        // and finishes.
        self.server.unblock();
        self.control = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the answering thread hears.
enum Event {
    /// A request taken, to answer when it is due.
    Taken(Due),
    /// A `/hold` request taken, to answer on `Release`.
    Held(Due),
    /// Answer the held requests now.
    Release,
}

/// A request taken, with its answer and when to send it.
struct Due {
    at: Instant,
    seq: u64,
    request: Request,
    status: u16,
    body: String,
    json: bool,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Takes requests from tiny_http and hands each, stamped, to `answer`.
fn take(
    server: &tiny_http::Server,
    stopping: &AtomicBool,
    taken: &AtomicU64,
    api: &Mutex<ApiRun>,
    to_answer: Sender<Event>,
) {
    let mut seq = 0u64;
    loop {
        match server.recv() {
            Ok(request) => {
                let now = Instant::now();
                let (status, body, delay, json) = match api_item(request.url()) {
                    Some(item) => {
                        let (status, body, delay) = lock(api).take(item, now);
                        (status, body, Some(delay), true)
                    }
                    None => {
                        let (status, body, delay) = route(request.url());
                        (status, body, delay, false)
                    }
                };
                seq += 1;
                let due = Due {
                    at: now + delay.unwrap_or_default(),
                    seq,
                    request,
                    status,
                    body,
                    json,
                };
                let event = match delay {
                    Some(_) => Event::Taken(due),
                    None => Event::Held(due),
                };
                if to_answer.send(event).is_err() {
                    return;
                }
                // Counted only once the answering thread can see it: a
                // `Release` sent by whoever saw this count then reaches it
                // after this `Held`, on the same channel, and answers it.
                taken.fetch_add(1, atomic::Ordering::SeqCst);
            }
            // `unblock` from `stop`: finish. Any other error is one failed
            // connection, not a reason to stop serving the others.
            Err(_) if stopping.load(atomic::Ordering::SeqCst) => return,
            Err(_) => {}
        }
    }
}

/// Answers each request when it is due, earliest first, and the held ones
/// on `Release`; when every sender is gone, answers what is left and returns.
fn answer(events: Receiver<Event>) {
    let mut waiting = BinaryHeap::<Due>::new();
    let mut held = Vec::<Due>::new();
    let mut open = true;
    let html = "Content-Type: text/html; charset=utf-8"
        .parse::<Header>()
        .ok();
    let json = "Content-Type: application/json".parse::<Header>().ok();
    let send = |due: Due| {
        let mut response = Response::from_string(due.body).with_status_code(due.status);
        if let Some(h) = if due.json { &json } else { &html } {
            response.add_header(h.clone());
        }
        // A client that hung up is its own problem, not the server's.
        let _ = due.request.respond(response);
    };
    loop {
        let now = Instant::now();
        while waiting.peek().is_some_and(|d| d.at <= now) {
            if let Some(due) = waiting.pop() {
                send(due);
            }
        }
        let next = waiting.peek().map(|d| d.at.saturating_duration_since(now));
        let event = match (open, next) {
            (true, Some(wait)) => match events.recv_timeout(wait) {
                Ok(event) => Some(event),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    None
                }
            },
            (true, None) => match events.recv() {
                Ok(event) => Some(event),
                Err(_) => {
                    open = false;
                    None
                }
            },
            (false, Some(wait)) => {
                thread::sleep(wait);
                None
            }
            (false, None) => return,
        };
        match event {
            Some(Event::Taken(due)) => waiting.push(due),
            Some(Event::Held(due)) => held.push(due),
            Some(Event::Release) => held.drain(..).for_each(&send),
            // Closed: nobody is left to send `Release`.
            None if !open => held.drain(..).for_each(&send),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_pages_concurrently_then_shuts_down() {
        let server = PageServer::start(0).expect("a free port");
        let base = server.base_url();
        let agent = ureq::Agent::new();
        // Three new connections at once: fewer than tiny_http's four idle
        // threads at start, so the burst cannot stall (see the module docs).
        let fetches: Vec<_> = [3usize, 4, 5]
            .into_iter()
            .map(|page| {
                let (agent, url) = (agent.clone(), format!("{base}/page/{page}"));
                thread::spawn(move || {
                    let response = agent.get(&url).call().map_err(|e| e.to_string())?;
                    response.into_string().map_err(|e| e.to_string())
                })
            })
            .collect();
        for (page, fetch) in [3usize, 4, 5].into_iter().zip(fetches) {
            let body = fetch.join().unwrap().unwrap();
            assert!(body.contains(&marker(page)), "{body}");
        }
        match agent.get(&format!("{base}/page/{PAGES}")).call() {
            Err(ureq::Error::Status(404, _)) => {}
            other => panic!("expected a 404, got {other:?}"),
        }
        server.shutdown();
    }

    #[test]
    fn a_hold_released_as_soon_as_it_is_counted_is_answered() {
        // The CI failure of 2026-11-30: the count rose before the held
        // request reached the answering thread, a release sent at once
        // overtook it, and the request hung until the client timed out.
        let server = PageServer::start(0).expect("a free port");
        let url = format!("{}/hold", server.base_url());
        for round in 0..300u64 {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build();
            let hold = url.clone();
            let holder =
                thread::spawn(move || agent.get(&hold).call().map(drop).map_err(|e| e.to_string()));
            let deadline = Instant::now() + Duration::from_secs(10);
            while server.requests_taken() == round {
                assert!(Instant::now() < deadline, "round {round}: never taken");
                std::hint::spin_loop();
            }
            server.release_held();
            let answered = holder.join().expect("the holder does not panic");
            assert!(answered.is_ok(), "round {round}: {answered:?}");
        }
        server.shutdown();
    }

    #[test]
    fn a_taken_port_is_a_clear_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = PageServer::start(port).unwrap_err().to_string();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.contains("--port"), "{err}");
    }
}
