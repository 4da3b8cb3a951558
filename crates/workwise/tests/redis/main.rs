//! `workwise::redis` against a real `redis-server` of the test's own.
//!
//! Each test starts its own server on a free port. Where `redis-server`
//! cannot be started the test prints why and returns; with
//! `WORKWISE_REQUIRE_REDIS=1` (set by `.ci/run`) that is a failure instead,
//! so CI never passes these tests silently.
//!
//! `queue.rs`: `RedisQueue`; `limiter.rs`: `RedisRateLimiter`; here, the
//! server itself.

mod limiter;
mod queue;

use workwise::redis::LocalServer;

/// A server for one test, or `None` (the reason printed) where none can be
/// started and `WORKWISE_REQUIRE_REDIS` is not set.
fn server(test: &str) -> Option<LocalServer> {
    LocalServer::start_or_skip(test).expect("WORKWISE_REQUIRE_REDIS is set")
}

#[test]
fn a_local_server_answers_and_is_gone_after_drop() {
    let Some(server) = server("a_local_server_answers_and_is_gone_after_drop") else {
        return;
    };
    let port = server.port();
    let dir = server.dir().to_path_buf();
    assert!(dir.is_dir());
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    use std::io::{Read, Write};
    stream.write_all(b"PING\r\n").unwrap();
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+PONG\r\n");
    drop(stream);
    drop(server);
    assert!(!dir.exists(), "the server's directory is removed on drop");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server is stopped on drop"
    );
}

#[test]
fn two_servers_get_two_ports() {
    let (Some(a), Some(b)) = (
        server("two_servers_get_two_ports"),
        server("two_servers_get_two_ports"),
    ) else {
        return;
    };
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
}
