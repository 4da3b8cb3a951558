//! The web server scenario's servers, and the little of HTTP/1.1 both
//! sides need: a blocking server with a thread per connection, and an
//! async one with a task per connection whose handler a `BlockingDetector`
//! watches.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use workwise::aio::{BlockingDetector, TaskGroup};

use super::*;

// ---------------------------------------------------------------------
// HTTP/1.1, the little of it both sides need.
// ---------------------------------------------------------------------

/// The routes and their replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `GET /ping`: answered at once; opens a connection in step 3.
    Ping,
    /// `GET /user`: answered after the database's 20 ms.
    User,
    NotFound,
}

impl Route {
    fn of(head: &[u8]) -> Route {
        let mut words = head.split(|&b| b == b' ');
        match (words.next(), words.next()) {
            (Some(b"GET"), Some(b"/ping")) => Route::Ping,
            (Some(b"GET"), Some(b"/user")) => Route::User,
            _ => Route::NotFound,
        }
    }

    fn reply(self) -> &'static [u8] {
        match self {
            Route::Ping => b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong",
            Route::User => {
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"user\": \"ada\"}"
            }
            Route::NotFound => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        }
    }
}

pub(super) const PING: &[u8] = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
pub(super) const USER: &[u8] = b"GET /user HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Where the head that `buf` begins with ends (after its blank line).
pub(in crate::tour) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// A reply's `Content-Length`, 0 if it has none.
pub(in crate::tour) fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------
// The servers.
// ---------------------------------------------------------------------

pub(super) enum Server {
    Threads(ThreadServer),
    Async(AsyncServer),
}

impl Server {
    pub(super) fn addr(&self) -> SocketAddr {
        match self {
            Server::Threads(s) => s.addr,
            Server::Async(s) => s.addr,
        }
    }

    pub(super) fn shutdown(self) {
        match self {
            Server::Threads(s) => s.shutdown(),
            Server::Async(s) => s.shutdown(),
        }
    }
}

/// A blocking server: one std thread per connection, at most `max`.
pub(super) struct ThreadServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    accept: JoinHandle<Vec<JoinHandle<()>>>,
}

impl ThreadServer {
    pub(super) fn start(max: usize) -> io::Result<ThreadServer> {
        let listener = StdListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let accept = thread::Builder::new()
            .name("web-accept".into())
            .spawn(move || {
                let mut threads = Vec::with_capacity(max);
                while threads.len() < max && !stop.load(SeqCst) {
                    let Ok((stream, _)) = listener.accept() else {
                        break;
                    };
                    let spawned = thread::Builder::new()
                        .name("web-conn".into())
                        .spawn(move || serve_blocking(stream));
                    // A thread that cannot start drops its connection: the
                    // generator counts its requests as failed.
                    if let Ok(t) = spawned {
                        threads.push(t);
                    }
                }
                threads
            })?;
        Ok(ThreadServer {
            addr,
            stopping,
            accept,
        })
    }

    /// Stops accepting and waits for every connection's thread, each of
    /// which ends when its client closes (or after a read timeout).
    pub(super) fn shutdown(self) {
        self.stopping.store(true, SeqCst);
        if !self.accept.is_finished() {
            // Wakes the accept loop, which then sees `stopping`.
            let _ = StdStream::connect_timeout(&self.addr, Duration::from_secs(1));
        }
        if let Ok(threads) = self.accept.join() {
            for t in threads {
                let _ = t.join();
            }
        }
    }
}

/// Serves one connection on its own thread until the client closes it.
fn serve_blocking(mut stream: StdStream) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; BUF];
    let mut filled = 0;
    loop {
        let end = loop {
            if let Some(end) = head_end(&buf[..filled]) {
                break end;
            }
            if filled == buf.len() {
                return; // a head larger than the buffer: not ours
            }
            match stream.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
        };
        let route = Route::of(&buf[..end]);
        if route == Route::User {
            thread::sleep(DB_LATENCY); // the database: this thread waits
        }
        if stream.write_all(route.reply()).is_err() {
            return;
        }
        buf.copy_within(end..filled, 0);
        filled -= end;
    }
}

/// The async server: a tokio runtime, one task per connection, at most
/// `max`, each request's handler watched by the detector.
pub(super) struct AsyncServer {
    addr: SocketAddr,
    runtime: Runtime,
    pub(super) workers: usize,
}

impl AsyncServer {
    pub(super) fn start(
        max: usize,
        blocking: bool,
        detector: &BlockingDetector,
    ) -> io::Result<AsyncServer> {
        let workers = workwise::available_cores();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("web-async")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let detector = detector.clone();
        runtime.spawn(async move {
            let mut connections = TaskGroup::new().detector(&detector);
            for _ in 0..max {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                connections.spawn(serve_async(stream, blocking, detector.clone()));
            }
            drop(listener);
            // Keeps the group, and so its connections, until they end.
            connections.join_all().await;
        });
        Ok(AsyncServer {
            addr,
            runtime,
            workers,
        })
    }

    /// Ends every connection still open and stops the runtime's threads.
    pub(super) fn shutdown(self) {
        self.runtime.shutdown_timeout(Duration::from_secs(5));
    }
}

/// The `/user` handler: awaits the database, or (pitfall 2) blocks on it.
async fn user(blocking: bool) {
    if blocking {
        thread::sleep(DB_LATENCY); // blocks the runtime thread: the bug
    } else {
        tokio::time::sleep(DB_LATENCY).await; // waits: other requests go on
    }
}

/// Serves one connection as a task until the client closes it.
async fn serve_async(mut stream: TcpStream, blocking: bool, detector: BlockingDetector) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; BUF];
    let mut filled = 0;
    loop {
        let end = loop {
            if let Some(end) = head_end(&buf[..filled]) {
                break end;
            }
            if filled == buf.len() {
                return;
            }
            match tokio::time::timeout(IO_TIMEOUT, stream.read(&mut buf[filled..])).await {
                Ok(Ok(0) | Err(_)) | Err(_) => return,
                Ok(Ok(n)) => filled += n,
            }
        };
        let route = Route::of(&buf[..end]);
        if route == Route::User {
            detector.watch(HANDLER, user(blocking)).await;
        }
        if stream.write_all(route.reply()).await.is_err() {
            return;
        }
        buf.copy_within(end..filled, 0);
        filled -= end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads_routes_and_lengths() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(Route::of(USER), Route::User);
        assert_eq!(Route::of(PING), Route::Ping);
        assert_eq!(Route::of(b"POST /user HTTP/1.1\r\n\r\n"), Route::NotFound);
        let reply = Route::User.reply();
        let end = head_end(reply).unwrap();
        assert_eq!(content_length(&reply[..end]), reply.len() - end);
        assert_eq!(content_length(b"HTTP/1.1 200 OK\r\n\r\n"), 0);
    }
}
