//! The `redis.queue_roundtrip` row: one item put, taken and acknowledged on
//! a `workwise::redis::RedisQueue`, against the same three steps written
//! directly with the redis crate (peer `redis-raw`): our contract's cost on
//! top of the engine. Both sides run on one `redis-server` of the row's own
//! ([`LocalServer`]), on their own stream, one item at a time on the bench's
//! thread: ours is `put(i)`, `get()`, the guard dropped (acknowledged): three
//! round trips, each a script (rule 1's capacity check and XADD; `TAKE`'s
//! XAUTOCLAIM sweep then XREADGROUP; XACK then XDEL). The peer is `XADD`,
//! `XREADGROUP … COUNT 1` and `XACK` + `XDEL` sent as one pipeline (the
//! XDEL matches our acknowledgement's work: ours deletes a done entry so
//! the stream's length counts undone items): three round trips, no
//! scripts. Values are JSON on both sides. Each side sums the values it
//! took back; a round whose sum is not that of `0..items`, or whose Redis
//! calls fail, is a wrong answer.
//!
//! The `redis.limiter` row: `workwise::redis::RedisRateLimiter` against the
//! local `workwise::RateLimiter` (peer `local`), the cost of keeping a limit
//! in Redis: one round trip and a short script per call. The row's name and
//! peer are read by outside scripts: keep them exactly.
//!
//! One round makes [`CALLS`] `try_acquire` calls on the bench's own thread
//! (fewer with `--quick`) and reports wall time / calls. Both sides get the
//! same quota, [`RATE`] per second (an interval of 1 ns) with a burst of
//! [`BURST`], so every call is granted and both sides do the same work each
//! call: ours runs the GCRA script on a `redis-server` of its own
//! ([`LocalServer`], on 127.0.0.1, started for the row and stopped after
//! it), the peer does it on one atomic word. Each side counts its grants; a
//! round that grants more than its calls, or whose Redis calls fail, is a
//! wrong answer. Where `redis-server` cannot be started the row is skipped
//! with a note that says why.

use workwise::redis::{LocalServer, RedisLimiterError, RedisQueue, RedisRateLimiter};
use workwise::RateLimiter;

use crate::harness::{Bench, Outcome, Scenario};

/// The row's name and peer (read by outside scripts).
const NAME: &str = "redis.limiter";
const PEER: &str = "local";
/// Calls per round (full, `--quick`).
const CALLS: (u64, u64) = (20_000, 2_000);
/// Both limiters' rate, per second: an interval of 1 ns.
const RATE: u32 = 1_000_000_000;
/// Both limiters' burst.
const BURST: u32 = 1_000;

/// The queue row's name and peer (read by outside scripts).
const QUEUE_NAME: &str = "redis.queue_roundtrip";
const QUEUE_PEER: &str = "redis-raw";
/// Items per round (full, `--quick`).
const ITEMS: (u64, u64) = (10_000, 2_000);
/// The peer's stream and group.
const RAW_STREAM: &str = "bench:raw:stream";
const RAW_GROUP: &str = "bench";

/// An `XREADGROUP` reply: per stream, its entries, each an id and its
/// field-value pairs.
type StreamEntries = Vec<(String, Vec<(String, Vec<(String, Vec<u8>)>)>)>;

/// A round's sum of the values taken back, or why a call failed.
type Summed = Result<u64, String>;

/// `items` put, taken and acknowledged on our queue, one at a time.
fn ours_round(q: &RedisQueue<u64>, items: u64) -> Summed {
    let mut sum = 0u64;
    for i in 0..items {
        q.put(i).map_err(|e| format!("workwise put: {e}"))?;
        let item = q.get().map_err(|e| format!("workwise get: {e}"))?;
        sum = sum.wrapping_add(*item);
        drop(item); // acknowledged
    }
    Ok(sum)
}

/// The same with XADD, XREADGROUP and XACK + XDEL (one pipeline).
fn raw_round(c: &mut redis::Connection, items: u64) -> Summed {
    let mut sum = 0u64;
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("raw {what}: {e}");
    for i in 0..items {
        let payload = serde_json::to_vec(&i).map_err(|e| fail("encode", &e))?;
        let _: String = redis::cmd("XADD")
            .arg(RAW_STREAM)
            .arg("*")
            .arg("v")
            .arg(payload)
            .query(c)
            .map_err(|e| fail("XADD", &e))?;
        // [[stream, [[id, [field, value]]]]]
        let reply: StreamEntries = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(RAW_GROUP)
            .arg("raw")
            .arg("COUNT")
            .arg(1)
            .arg("STREAMS")
            .arg(RAW_STREAM)
            .arg(">")
            .query(c)
            .map_err(|e| fail("XREADGROUP", &e))?;
        let (id, fields) = reply
            .into_iter()
            .next()
            .and_then(|(_, entries)| entries.into_iter().next())
            .ok_or_else(|| "raw XREADGROUP: no entry".to_owned())?;
        let value = fields
            .iter()
            .find(|(k, _)| k == "v")
            .ok_or_else(|| "raw XREADGROUP: no field v".to_owned())?;
        let got: u64 = serde_json::from_slice(&value.1).map_err(|e| fail("decode", &e))?;
        sum = sum.wrapping_add(got);
        let _: (i64, i64) = redis::pipe()
            .cmd("XACK")
            .arg(RAW_STREAM)
            .arg(RAW_GROUP)
            .arg(&id)
            .cmd("XDEL")
            .arg(RAW_STREAM)
            .arg(&id)
            .query(c)
            .map_err(|e| fail("XACK + XDEL", &e))?;
    }
    Ok(sum)
}

/// The `redis.queue_roundtrip` row, against the plain stream loop.
fn queue_row(b: &mut Bench) -> Outcome {
    if !b.wants(QUEUE_NAME, QUEUE_PEER) {
        return Ok(());
    }
    let server = match LocalServer::start() {
        Ok(server) => server,
        Err(e) => {
            b.note(&format!(
                "{QUEUE_NAME} skipped: it needs a redis-server of its own: {e}"
            ));
            return Ok(());
        }
    };
    let items = b.size(QUEUE_NAME, ITEMS, "items");
    let url = server.url();
    let ours = match RedisQueue::<u64>::unbounded(&url, "bench") {
        Ok(q) => q,
        Err(e) => {
            b.note(&format!(
                "{QUEUE_NAME} skipped: cannot build our queue: {e}"
            ));
            return Ok(());
        }
    };
    let raw = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .and_then(|mut c| {
            redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(RAW_STREAM)
                .arg(RAW_GROUP)
                .arg("$")
                .arg("MKSTREAM")
                .query::<()>(&mut c)
                .map(|()| c)
        });
    let mut raw = match raw {
        Ok(c) => c,
        Err(e) => {
            b.note(&format!(
                "{QUEUE_NAME} skipped: cannot set up the peer: {e}"
            ));
            return Ok(());
        }
    };
    let want = (0..items).fold(0u64, u64::wrapping_add);
    let _ = b
        .row(QUEUE_NAME)
        .items(items)
        .verify(move |got: &Summed| match got {
            Ok(sum) if *sum == want => Ok(()),
            Ok(sum) => Err(format!("summed {sum}, expected {want}")),
            Err(why) => Err(why.clone()),
        })
        .ours(|| ours_round(&ours, items))
        .peer(QUEUE_PEER, || raw_round(&mut raw, items));
    // Where the time goes: our round trips per item, and the server's own
    // time per command (Redis's `INFO commandstats`).
    let stats = ours.stats();
    if stats.acked > 0 {
        b.note(&format!(
            "{QUEUE_NAME}: ours made {:.2} round trips per item, {:.1} µs each on average",
            stats.round_trips as f64 / stats.acked as f64,
            stats.redis_time.as_secs_f64() * 1e6 / stats.round_trips.max(1) as f64
        ));
    }
    if let Ok(info) = redis::cmd("INFO")
        .arg("commandstats")
        .query::<String>(&mut raw)
    {
        let server_side: Vec<String> = info
            .lines()
            .filter_map(|l| l.strip_prefix("cmdstat_"))
            .filter_map(|l| {
                let (cmd, rest) = l.split_once(':')?;
                let calls = rest.split(',').find_map(|f| f.strip_prefix("calls="))?;
                let per = rest
                    .split(',')
                    .find_map(|f| f.strip_prefix("usec_per_call="))?;
                Some(format!("{cmd} {calls} calls {per} µs"))
            })
            .collect();
        b.note(&format!(
            "{QUEUE_NAME}: server time per call: {}",
            server_side.join("; ")
        ));
    }
    // Both clients go before the server does.
    drop(ours);
    drop(raw);
    drop(server);
    Ok(())
}

/// A round's grants, or why a call could not ask.
type Granted = Result<u64, String>;

/// `calls` calls of `try_once`, which says whether it was granted.
fn round(calls: u64, mut try_once: impl FnMut() -> Result<bool, String>) -> Granted {
    let mut granted = 0;
    for _ in 0..calls {
        granted += u64::from(try_once()?);
    }
    Ok(granted)
}

/// A round is right when it granted no more than it asked and every call
/// could ask.
fn check(calls: u64, got: &Granted) -> Result<(), String> {
    match got {
        Ok(granted) if *granted <= calls => Ok(()),
        Ok(granted) => Err(format!("granted {granted} of {calls} calls")),
        Err(why) => Err(why.clone()),
    }
}

/// The `redis.limiter` row, against the local limiter.
fn limiter_row(b: &mut Bench) -> Outcome {
    if !b.wants(NAME, PEER) {
        return Ok(());
    }
    let server = match LocalServer::start() {
        Ok(server) => server,
        Err(e) => {
            b.note(&format!(
                "{NAME} skipped: it needs a redis-server of its own: {e}"
            ));
            return Ok(());
        }
    };
    let calls = b.size(NAME, CALLS, "calls");
    let ours = match RedisRateLimiter::per_second(RATE)
        .burst(BURST)
        .build(&server.url(), "bench:limiter")
    {
        Ok(l) => l,
        Err(e) => {
            b.note(&format!("{NAME} skipped: cannot build our limiter: {e}"));
            return Ok(());
        }
    };
    let peer = RateLimiter::per_second(RATE).burst(BURST).build()?;
    let _ = b
        .row(NAME)
        .items(calls)
        .verify(move |got: &Granted| check(calls, got))
        .ours(|| {
            round(calls, || match ours.try_acquire() {
                Ok(()) => Ok(true),
                Err(RedisLimiterError::RetryAfter(_)) => Ok(false),
                Err(e) => Err(format!("workwise: {e}")),
            })
        })
        .peer(PEER, || round(calls, || Ok(peer.try_acquire().is_ok())));
    drop(server);
    Ok(())
}

/// The rows of this file.
pub const ROWS: &[Scenario] = &[queue_row, limiter_row];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_name_and_peer_are_the_published_ones() {
        assert_eq!((NAME, PEER), ("redis.limiter", "local"));
        assert_eq!(
            (QUEUE_NAME, QUEUE_PEER),
            ("redis.queue_roundtrip", "redis-raw")
        );
    }

    #[test]
    fn a_round_that_cannot_ask_or_grants_too_much_is_wrong() {
        let failed = round(3, || Err("gone".to_owned()));
        assert_eq!(check(3, &failed).unwrap_err(), "gone");
        assert_eq!(check(3, &Ok(4)).unwrap_err(), "granted 4 of 3 calls");
        let all = round(3, || Ok(true));
        assert_eq!(all, Ok(3));
        assert!(check(3, &all).is_ok());
    }
}
