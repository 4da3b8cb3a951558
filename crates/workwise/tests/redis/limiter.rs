//! `RedisRateLimiter` against a real `redis-server` (see `main.rs`).
//!
//! The script's arithmetic against the local limiter, to the nanosecond on
//! any sequence, is a unit test beside it (`src/redis/limiter/mod.rs`), where the
//! script can be given the time instead of reading the server's.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use workwise::redis::{
    LocalServer, RedisError, RedisLimiterBuildError, RedisLimiterError, RedisRateLimiter,
    RedisRateLimiterBuilder,
};
use workwise::RetryAfter;

use super::server;

/// One command over a plain socket (the tests need no client library), and
/// the reply's text: `OK`, an integer, a bulk string, or `nil`.
fn command(server: &LocalServer, args: &[&str]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let line = line.trim_end().to_owned();
    match line.split_at(1) {
        ("$", "-1") => "nil".to_owned(),
        ("$", _) => {
            let mut value = String::new();
            reader.read_line(&mut value).unwrap();
            value.trim_end().to_owned()
        }
        (_, rest) => rest.to_owned(),
    }
}

/// Runs `f` on a thread and waits for it at most `within`: a call that
/// should return at once must not hang the suite.
fn returns_within<T: Send + 'static>(
    within: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(within)
        .unwrap_or_else(|_| panic!("no return within {within:?}"))
}

fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

fn from_unix_nanos(n: u128) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(n).unwrap())
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RedisRateLimiter>();
    send_sync::<RedisRateLimiterBuilder>();
    send_sync::<RedisLimiterError>();
    send_sync::<RedisLimiterBuildError>();
}

/// The shared limit's rate and burst in the four-process test: a burst of
/// 100 ms of permits, so that a process woken a few ms late on a loaded
/// machine loses none (a permit is lost only when nobody asked for it
/// within 100 ms of its slot).
const SHARED_RATE: u32 = 200;
const SHARED_BURST: u32 = 20;
/// Set in a child of `four_processes_share_one_limit_within_2_percent`:
/// `url key start_unix_ns end_unix_ns mode`.
const CHILD_ENV: &str = "WORKWISE_REDIS_LIMITER_CHILD";

/// A child of the four-process test; returns at once when run as a plain
/// test. Between the start and end times it takes permits, with `acquire`
/// or with `try_acquire` and a sleep of the `RetryAfter`, and prints how
/// many it got before the end.
#[test]
fn child_takes_permits_from_the_shared_limit() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split(' ').collect();
    let [url, key, start, end, mode] = parts[..] else {
        panic!("{CHILD_ENV}={spec:?}")
    };
    let start = from_unix_nanos(start.parse().unwrap());
    let end = from_unix_nanos(end.parse().unwrap());
    let limiter = RedisRateLimiter::per_second(SHARED_RATE)
        .burst(SHARED_BURST)
        .build(url, key)
        .unwrap();
    if let Ok(wait) = start.duration_since(SystemTime::now()) {
        std::thread::sleep(wait);
    }
    let mut granted = 0u64;
    while let Ok(left) = end.duration_since(SystemTime::now()) {
        let got = match mode {
            "acquire" => {
                limiter.acquire().unwrap();
                true
            }
            "try" => match limiter.try_acquire() {
                Ok(()) => true,
                Err(RedisLimiterError::RetryAfter(RetryAfter(wait))) => {
                    std::thread::sleep(wait.min(left));
                    false
                }
                Err(other) => panic!("{other}"),
            },
            other => panic!("mode {other:?}"),
        };
        // Counted only when it came before the end: the window is exact.
        if got && SystemTime::now() <= end {
            granted += 1;
        }
    }
    println!("GRANTS {granted}");
}

/// Four processes, two waiting in `acquire` and two polling `try_acquire`,
/// share one key for 2 s: together they get the limit's burst plus its rate
/// times 2 s, within 2%: no more (the limit holds across processes) and no
/// less (waiters wake in time to use the permits). How they split it is not
/// asserted: a waiter in `acquire` reserves its slot up to 10 ms ahead, so
/// the pollers mostly find none free, as `try_acquire` never takes a turn
/// from a waiter in the local limiter either.
#[test]
fn four_processes_share_one_limit_within_2_percent() {
    let Some(server) = server("four_processes_share_one_limit_within_2_percent") else {
        return;
    };
    const SPAN: Duration = Duration::from_secs(2);
    // Time for the children to start, before the window opens.
    let start = SystemTime::now() + Duration::from_secs(1);
    let end = start + SPAN;
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["acquire", "try", "acquire", "try"]
        .iter()
        .map(|mode| {
            let spec = format!(
                "{} shared {} {} {mode}",
                server.url(),
                unix_nanos(start),
                unix_nanos(end)
            );
            Command::new(&exe)
                .args([
                    "--exact",
                    "limiter::child_takes_permits_from_the_shared_limit",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, spec)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut counts = Vec::new();
    for child in children {
        let out = returns_within(Duration::from_secs(60), move || {
            child.wait_with_output().unwrap()
        });
        assert!(out.status.success(), "a child failed: {:?}", out.status);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // libtest prints the test's name on the same line, before it.
        let count: u64 = stdout
            .split_once("GRANTS ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no GRANTS figure in {stdout:?}"));
        counts.push(count);
    }
    let total: u64 = counts.iter().sum();
    let expected = f64::from(SHARED_RATE) * SPAN.as_secs_f64() + f64::from(SHARED_BURST);
    let off = (total as f64 - expected).abs() / expected;
    eprintln!("grants by process {counts:?}: {total}, expected {expected}, off by {off:.4}");
    assert!(
        off <= 0.02,
        "{total} grants ({counts:?}) against {expected} expected: off by {:.2}%",
        off * 100.0
    );
}

/// The burst is there at once; the next call is refused with the wait until
/// the interval has passed since the burst began, and `acquire` then waits
/// at least that long.
#[test]
fn a_burst_then_a_refusal_with_the_interval() {
    let Some(server) = server("a_burst_then_a_refusal_with_the_interval") else {
        return;
    };
    let limiter = RedisRateLimiter::per_second(10)
        .burst(5)
        .build(&server.url(), "burst")
        .unwrap();
    let began = Instant::now();
    for i in 0..5 {
        limiter
            .try_acquire()
            .unwrap_or_else(|e| panic!("permit {i} of the burst: {e}"));
    }
    let asked = Instant::now();
    let err = limiter.try_acquire().unwrap_err();
    let elapsed = began.elapsed();
    let Some(wait) = err.retry_after() else {
        panic!("{err}")
    };
    let interval = Duration::from_millis(100);
    // The server's clock counts whole µs: its burst began at most 1 µs
    // before ours.
    assert!(wait <= interval, "{wait:?}");
    assert!(
        wait + elapsed + Duration::from_micros(1) >= interval,
        "{wait:?} after {elapsed:?}"
    );
    assert!(err.to_string().contains("acquire()"), "{err}");
    limiter.acquire().unwrap();
    // The permit's slot is `wait` after the server saw the refused call,
    // which was after `asked`; 1 ms for the two clocks' rounding.
    assert!(
        asked.elapsed() + Duration::from_millis(1) >= wait,
        "acquire returned {:?} after a refusal that said {wait:?}",
        asked.elapsed()
    );
}

#[test]
fn handles_on_one_key_share_the_limit_and_other_keys_do_not() {
    let Some(server) = server("handles_on_one_key_share_the_limit_and_other_keys_do_not") else {
        return;
    };
    let build = |key| {
        RedisRateLimiter::per_minute(1)
            .burst(2)
            .build(&server.url(), key)
            .unwrap()
    };
    let (a, b, other) = (build("shared"), build("shared"), build("other"));
    a.try_acquire().unwrap();
    b.try_acquire().unwrap();
    assert!(a.try_acquire().unwrap_err().retry_after().is_some());
    assert!(b.try_acquire().unwrap_err().retry_after().is_some());
    other.try_acquire().unwrap();
    other.try_acquire().unwrap();
    assert!(other.try_acquire().is_err());
    assert_eq!(a.key(), "shared");
}

/// A key holding anything but a limiter's state is a clear error, from
/// `try_acquire` and `acquire` alike, and the key is left as it is.
#[test]
fn a_corrupted_key_is_a_clear_error() {
    let Some(server) = server("a_corrupted_key_is_a_clear_error") else {
        return;
    };
    let limiter = RedisRateLimiter::per_second(10)
        .build(&server.url(), "k")
        .unwrap();
    let far_future = "9999999999999999999"; // the year 2286
    for (value, found) in [
        ("garbage", "garbage"),
        ("", ""),
        ("12x", "12x"),
        ("12345678901234567890", "12345678901234567890"),
        (far_future, far_future),
    ] {
        assert_eq!(command(&server, &["SET", "k", value]), "OK");
        let err = limiter.try_acquire().unwrap_err();
        match &err {
            RedisLimiterError::Corrupt { key, found: f } => {
                assert_eq!((key.as_str(), f.as_str()), ("k", found), "{value:?}")
            }
            other => panic!("{value:?}: {other}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("\"k\"") && msg.contains("DEL k"), "{msg}");
        assert_eq!(command(&server, &["GET", "k"]), value, "left as it was");
    }
    command(&server, &["DEL", "k"]);
    command(&server, &["LPUSH", "k", "x"]);
    let shared = std::sync::Arc::new(limiter);
    let waiter = shared.clone();
    let err = returns_within(Duration::from_secs(30), move || waiter.acquire()).unwrap_err();
    assert!(
        matches!(&err, RedisLimiterError::Corrupt { found, .. } if found == "a value of type list"),
        "{err}"
    );
    command(&server, &["DEL", "k"]);
    shared.try_acquire().unwrap();
}

#[test]
fn build_errors_say_what_to_fix() {
    // Checked before connecting: no server is needed, and none listens here.
    let url = "redis://127.0.0.1:1/";
    let err = |b: RedisRateLimiterBuilder, key| b.build(url, key).unwrap_err();
    let cases = [
        (err(RedisRateLimiter::per_second(0), "k"), "per_second(10)"),
        (
            err(RedisRateLimiter::new(1, Duration::ZERO), "k"),
            "Duration::from_secs(1)",
        ),
        (
            err(RedisRateLimiter::per_second(1).burst(0), "k"),
            ".burst(1)",
        ),
        (
            err(RedisRateLimiter::per_minute(1).burst(50_000), "k"),
            "smaller burst",
        ),
        (
            err(RedisRateLimiter::new(3, Duration::from_nanos(10)), "k"),
            "at most 10,000,000",
        ),
        (err(RedisRateLimiter::per_second(1), ""), "\"limits:api\""),
        (
            RedisRateLimiter::per_second(1)
                .build("http://nope", "k")
                .unwrap_err(),
            "redis://HOST:PORT",
        ),
        (
            RedisRateLimiter::per_second(1).build(url, "k").unwrap_err(),
            "is redis-server running",
        ),
    ];
    for (err, fix) in &cases {
        assert!(
            err.to_string().contains(fix),
            "{err:?} should say {fix:?}: {err}"
        );
    }
    use RedisLimiterBuildError as E;
    assert!(matches!(cases[0].0, E::ZeroRate));
    assert!(matches!(cases[1].0, E::ZeroPeriod));
    assert!(matches!(cases[2].0, E::ZeroBurst));
    assert!(matches!(cases[3].0, E::WindowTooLong { burst: 50_000, .. }));
    assert!(matches!(cases[4].0, E::RateTooFine { rate: 3, .. }));
    assert!(matches!(cases[5].0, E::EmptyKey));
    assert!(matches!(cases[6].0, E::Redis(RedisError::Url { .. })));
    assert!(matches!(
        cases[7].0,
        E::Redis(RedisError::Unreachable { .. })
    ));
    // The edges that are allowed.
    assert_eq!(
        RedisRateLimiter::per_minute(1).burst(43_200).interval(),
        Duration::from_secs(60)
    );
}

#[test]
fn more_than_the_burst_is_refused_at_once_and_zero_is_free() {
    let Some(server) = server("more_than_the_burst_is_refused_at_once_and_zero_is_free") else {
        return;
    };
    let limiter = RedisRateLimiter::per_minute(1)
        .burst(5)
        .build(&server.url(), "n")
        .unwrap();
    for err in [
        limiter.try_acquire_n(6).unwrap_err(),
        limiter.acquire_n(6).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                RedisLimiterError::ExceedsBurst {
                    requested: 6,
                    burst: 5
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(".burst(6)"), "{err}");
    }
    limiter.try_acquire_n(0).unwrap();
    limiter.acquire_n(0).unwrap();
    limiter.acquire_n(5).unwrap();
    assert!(limiter
        .try_acquire_n(1)
        .unwrap_err()
        .retry_after()
        .is_some());
    assert_eq!(command(&server, &["EXISTS", "n"]), "1");
}

#[test]
fn acquire_timeout_waits_only_within_its_timeout() {
    let Some(server) = server("acquire_timeout_waits_only_within_its_timeout") else {
        return;
    };
    let slow = RedisRateLimiter::per_minute(1)
        .build(&server.url(), "slow")
        .unwrap();
    slow.acquire_timeout(Duration::ZERO).unwrap();
    let wait = slow
        .acquire_timeout(Duration::from_millis(500))
        .unwrap_err()
        .retry_after()
        .unwrap();
    assert!(wait > Duration::from_secs(59), "{wait:?}");
    // Nothing was reserved by the refusal: the wait has not grown.
    let again = slow.try_acquire().unwrap_err().retry_after().unwrap();
    assert!(again <= wait, "{again:?} after {wait:?}");

    let fast = RedisRateLimiter::per_second(20)
        .build(&server.url(), "fast")
        .unwrap();
    fast.try_acquire().unwrap();
    let asked = Instant::now();
    let wait = fast.try_acquire().unwrap_err().retry_after().unwrap();
    fast.acquire_timeout(Duration::from_secs(10)).unwrap();
    assert!(asked.elapsed() + Duration::from_millis(1) >= wait);
}

/// Every write sets the key to expire when its state has passed: an idle
/// limit leaves nothing behind, and decides the same once it is gone.
#[test]
fn an_idle_limit_vanishes() {
    let Some(server) = server("an_idle_limit_vanishes") else {
        return;
    };
    let limiter = RedisRateLimiter::per_second(10)
        .build(&server.url(), "idle")
        .unwrap();
    limiter.try_acquire().unwrap();
    let ttl: i64 = command(&server, &["PTTL", "idle"]).parse().unwrap();
    assert!((1..=101).contains(&ttl), "PTTL {ttl}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while command(&server, &["EXISTS", "idle"]) != "0" {
        assert!(
            Instant::now() < deadline,
            "the key is still there after 10 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    limiter.try_acquire().unwrap();
}

#[test]
fn a_lost_connection_is_replaced_and_counted() {
    let Some(server) = server("a_lost_connection_is_replaced_and_counted") else {
        return;
    };
    let limiter = RedisRateLimiter::per_minute(1)
        .build(&server.url(), "lost")
        .unwrap();
    limiter.try_acquire().unwrap();
    // Kills the limiter's pooled connection (and not this one).
    let killed = command(
        &server,
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
    );
    assert_eq!(killed, "1");
    let err = limiter.try_acquire().unwrap_err();
    assert!(err.retry_after().is_some(), "{err}");
    assert_eq!(limiter.lost_connections(), 1);
    assert!(format!("{limiter:?}").contains("lost_connections: 1"));
}

#[test]
fn a_server_gone_is_an_error_not_a_hang() {
    let Some(server) = server("a_server_gone_is_an_error_not_a_hang") else {
        return;
    };
    let limiter = RedisRateLimiter::per_second(10)
        .build(&server.url(), "gone")
        .unwrap();
    drop(server);
    let limiter = std::sync::Arc::new(limiter);
    for acquire in [false, true] {
        let l = limiter.clone();
        let err = returns_within(Duration::from_secs(30), move || {
            if acquire {
                l.acquire()
            } else {
                l.try_acquire()
            }
        })
        .unwrap_err();
        assert!(
            matches!(
                err,
                RedisLimiterError::Redis(RedisError::Unreachable { .. })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("is redis-server running"), "{err}");
    }
}
