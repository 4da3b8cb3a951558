//! One client per queue or limiter, a few pooled connections, and the
//! reconnect policy: a lost connection is retried with the crate's own
//! [`Retry`] and reported, never dropped silently.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::{Retry, RetryError};

/// Connections kept idle for reuse; more are opened when more threads call
/// at once, and closed when they come back to a full pool.
const IDLE_MAX: usize = 16;

/// Why a call to Redis failed.
///
/// # Examples
///
/// ```
/// // Nothing listens on port 1: connecting fails with a message that says
/// // what to check.
/// let err = workwise::redis::RedisError::connect("redis://127.0.0.1:1/").unwrap_err();
/// assert!(err.to_string().contains("is redis-server running"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisError {
    /// The URL does not parse.
    Url {
        /// The URL given.
        url: String,
        /// The client's own message.
        source: redis::RedisError,
    },
    /// The server could not be reached, after the reconnect policy's tries.
    Unreachable {
        /// The URL connected to.
        url: String,
        /// How many tries were made.
        attempts: usize,
        /// The last try's error.
        source: redis::RedisError,
    },
    /// The server answered with an error (a wrong type at a key, a script
    /// error, out of memory).
    Server(redis::RedisError),
}

impl RedisError {
    /// Connects once to `url` and pings it: a way to check a URL before
    /// building a queue or limiter on it.
    pub fn connect(url: &str) -> Result<(), RedisError> {
        let conn = Conn::open(url, Duration::from_millis(50), 2)?;
        conn.call(|c| redis::cmd("PING").query::<String>(c).map(drop))
    }
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisError::Url { url, source } => write!(
                f,
                "{url:?} is not a Redis URL ({source}); write it as redis://HOST:PORT/DB"
            ),
            RedisError::Unreachable {
                url,
                attempts,
                source,
            } => write!(
                f,
                "could not reach Redis at {url} after {attempts} tries ({source}): \
                 is redis-server running there, and does the URL name the right port?"
            ),
            RedisError::Server(source) => write!(f, "Redis answered with an error: {source}"),
        }
    }
}

impl std::error::Error for RedisError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisError::Url { source, .. }
            | RedisError::Unreachable { source, .. }
            | RedisError::Server(source) => Some(source),
        }
    }
}

/// A client and its idle connections.
pub(crate) struct Conn {
    url: String,
    client: redis::Client,
    idle: Mutex<Vec<redis::Connection>>,
    retry: Retry<redis::RedisError>,
    lost: AtomicU64,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// A client for `url` whose calls reconnect up to `attempts` times,
    /// `base`, `2·base`, … apart, on connection errors only. The first
    /// connection is opened here, so a wrong URL fails now.
    pub(crate) fn open(url: &str, base: Duration, attempts: usize) -> Result<Conn, RedisError> {
        let client = redis::Client::open(url).map_err(|source| RedisError::Url {
            url: url.to_owned(),
            source,
        })?;
        let retry = Retry::exponential(base)
            .max_attempts(attempts.max(1))
            .max_delay(Duration::from_secs(2))
            .retry_if(is_connection_error)
            .build()
            .expect("a positive base delay and at least one attempt build a retry policy");
        let conn = Conn {
            url: url.to_owned(),
            client,
            idle: Mutex::new(Vec::new()),
            retry,
            lost: AtomicU64::new(0),
        };
        let first = conn.connect()?;
        conn.give_back(first);
        Ok(conn)
    }

    /// The URL this client connects to.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// How many connections were lost (and replaced) so far.
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Runs `op` on a pooled connection. A connection error drops that
    /// connection and retries on a fresh one, per the reconnect policy; a
    /// server error is returned at once.
    pub(crate) fn call<T>(
        &self,
        mut op: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, RedisError> {
        self.retry
            .call(|| {
                let mut conn = self.take()?;
                match op(&mut conn) {
                    Ok(v) => {
                        self.give_back(conn);
                        Ok(v)
                    }
                    Err(err) => {
                        if !is_connection_error(&err) {
                            self.give_back(conn);
                        } else {
                            self.lost.fetch_add(1, Ordering::Relaxed);
                            report_lost(&self.url, &err);
                        }
                        Err(err)
                    }
                }
            })
            .map_err(|err| self.classify(err))
    }

    fn classify(&self, err: RetryError<redis::RedisError>) -> RedisError {
        if is_connection_error(&err.last) {
            RedisError::Unreachable {
                url: self.url.clone(),
                attempts: err.attempts,
                source: err.last,
            }
        } else {
            RedisError::Server(err.last)
        }
    }

    fn take(&self) -> redis::RedisResult<redis::Connection> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => self.client.get_connection(),
        }
    }

    fn connect(&self) -> Result<redis::Connection, RedisError> {
        self.retry
            .call(|| self.client.get_connection())
            .map_err(|err| self.classify(err))
    }

    fn give_back(&self, conn: redis::Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_MAX {
            idle.push(conn);
        }
    }
}

/// A connection error, as opposed to an error the server answered with.
pub(crate) fn is_connection_error(err: &redis::RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_timeout()
}

/// A lost connection is reported, never dropped silently: a WARN on target
/// `workwise::redis` with feature `tracing`, else a line on stderr.
fn report_lost(url: &str, err: &redis::RedisError) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "workwise::redis", url, error = %err, "lost the connection to Redis; reconnecting");
    #[cfg(not(feature = "tracing"))]
    eprintln!("workwise::redis: lost the connection to Redis at {url} ({err}); reconnecting");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::LocalServer;

    fn server() -> Option<LocalServer> {
        LocalServer::start_or_skip(module_path!()).expect("WORKWISE_REQUIRE_REDIS is set")
    }

    #[test]
    fn a_connection_killed_by_the_server_is_replaced_and_counted() {
        let Some(server) = server() else { return };
        let conn = Conn::open(&server.url(), Duration::from_millis(10), 3).unwrap();
        assert_eq!(conn.url(), server.url());
        conn.call(|c| redis::cmd("SET").arg("k").arg("v").query::<()>(c))
            .unwrap();
        // Kill every client connection but the killer's own: the pooled one dies.
        let mut killer = redis::Client::open(server.url())
            .unwrap()
            .get_connection()
            .unwrap();
        let killed: u64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .arg("SKIPME")
            .arg("yes")
            .query(&mut killer)
            .unwrap();
        assert_eq!(killed, 1);
        let v: String = conn.call(|c| redis::cmd("GET").arg("k").query(c)).unwrap();
        assert_eq!(v, "v");
        assert_eq!(
            conn.lost(),
            1,
            "the dead connection was seen, counted and replaced"
        );
    }

    #[test]
    fn a_server_error_is_not_retried() {
        let Some(server) = server() else { return };
        let conn = Conn::open(&server.url(), Duration::from_millis(10), 3).unwrap();
        let mut calls = 0;
        let err = conn
            .call(|c| {
                calls += 1;
                redis::cmd("NOSUCHCOMMAND").query::<()>(c)
            })
            .unwrap_err();
        assert!(matches!(err, RedisError::Server(_)), "{err:?}");
        assert_eq!(calls, 1);
        assert_eq!(conn.lost(), 0);
    }

    #[test]
    fn nothing_listening_is_unreachable_after_the_policy_tries() {
        let err = Conn::open("redis://127.0.0.1:1/", Duration::from_millis(1), 3).unwrap_err();
        match &err {
            RedisError::Unreachable { attempts, .. } => assert_eq!(*attempts, 3),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("is redis-server running"), "{err}");
        let err = Conn::open("http://nope", Duration::from_millis(1), 1).unwrap_err();
        assert!(matches!(err, RedisError::Url { .. }), "{err:?}");
    }
}
