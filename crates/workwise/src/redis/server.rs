//! A throwaway `redis-server` for tests, examples and the tour.

use std::fmt;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a fresh server gets to answer its first `PING`.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// How many free ports are tried before giving up (another process can take
/// the port between our probe and the server's bind).
const PORT_TRIES: usize = 5;

/// A `redis-server` of its own: a free port on 127.0.0.1, a fresh temporary
/// directory, no persistence; stopped and its directory removed on drop.
///
/// This is for tests, examples and `workwise tour`, so that they need no
/// Redis set up beforehand, only the `redis-server` binary on `PATH`
/// (Debian: `apt-get install -y redis-server`). Production code connects to
/// the Redis its operators run, by URL.
///
/// # Examples
///
/// ```no_run
/// let server = workwise::redis::LocalServer::start()?;
/// println!("a redis-server at {}", server.url());
/// # Ok::<(), workwise::redis::LocalServerError>(())
/// ```
pub struct LocalServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl fmt::Debug for LocalServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalServer")
            .field("port", &self.port)
            .field("pid", &self.child.id())
            .field("dir", &self.dir)
            .finish()
    }
}

/// Why a [`LocalServer`] could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum LocalServerError {
    /// `redis-server` is not on `PATH`, or could not be run.
    NotInstalled(std::io::Error),
    /// The server started but did not answer `PING` in time, or exited.
    NotReady(String),
    /// The temporary directory could not be made.
    Dir(std::io::Error),
}

impl fmt::Display for LocalServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalServerError::NotInstalled(err) => write!(
                f,
                "could not run redis-server ({err}): install it (Debian/Ubuntu: \
                 `apt-get install -y redis-server`, macOS: `brew install redis`) \
                 or put it on PATH"
            ),
            LocalServerError::NotReady(why) => write!(
                f,
                "redis-server started but did not become ready: {why}; \
                 run `redis-server --port 0` by hand to see its own message"
            ),
            LocalServerError::Dir(err) => write!(
                f,
                "could not make a temporary directory for redis-server ({err}); \
                 check that TMPDIR is writable"
            ),
        }
    }
}

impl std::error::Error for LocalServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LocalServerError::NotInstalled(err) | LocalServerError::Dir(err) => Some(err),
            LocalServerError::NotReady(_) => None,
        }
    }
}

impl LocalServer {
    /// Starts a server and waits until it answers `PING` (at most 10 s).
    pub fn start() -> Result<LocalServer, LocalServerError> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("workwise-redis-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(LocalServerError::Dir)?;
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            let port = match free_port() {
                Ok(port) => port,
                Err(err) => {
                    last = format!("no free port on 127.0.0.1: {err}");
                    continue;
                }
            };
            let mut child = spawn(port, &dir).map_err(|err| {
                let _ = std::fs::remove_dir_all(&dir);
                LocalServerError::NotInstalled(err)
            })?;
            match wait_ready(&mut child, port) {
                Ok(()) => return Ok(LocalServer { child, port, dir }),
                Err(why) => {
                    last = why;
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(LocalServerError::NotReady(last))
    }

    /// [`start`](LocalServer::start) for a test that needs a server: where
    /// none can be started it prints `TEST: SKIPPED, no redis-server: why`
    /// to stderr and returns `Ok(None)`, so that the test returns early and
    /// says so; with the environment variable `WORKWISE_REQUIRE_REDIS` set
    /// (CI sets it) that is the error instead, so a machine that should
    /// run the test fails it rather than passing it silently.
    ///
    /// # Examples
    ///
    /// ```
    /// let Some(server) = workwise::redis::LocalServer::start_or_skip("my_test")? else {
    ///     return Ok(()); // skipped, and said so on stderr
    /// };
    /// assert!(server.url().starts_with("redis://127.0.0.1:"));
    /// # Ok::<(), workwise::redis::LocalServerError>(())
    /// ```
    pub fn start_or_skip(test: &str) -> Result<Option<LocalServer>, LocalServerError> {
        match LocalServer::start() {
            Ok(server) => Ok(Some(server)),
            Err(err) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_some() => Err(err),
            Err(err) => {
                eprintln!("{test}: SKIPPED, no redis-server: {err}");
                Ok(None)
            }
        }
    }

    /// The URL to connect to, `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's working directory (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("it exited with {status} (port {port} taken?)"));
        }
        match ping(port) {
            Ok(()) => return Ok(()),
            Err(err) if Instant::now() >= deadline => {
                return Err(format!("no answer to PING within {READY_WITHIN:?}: {err}"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(listener.local_addr()?.port())
}

fn spawn(port: u16, dir: &Path) -> std::io::Result<Child> {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args([
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// One `PING` over a plain socket: readiness needs no client library.
fn ping(port: u16) -> std::io::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "unexpected reply {:?}",
            String::from_utf8_lossy(&reply)
        )))
    }
}
