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

use workwise::redis::{LocalServer, RedisLimiterError, RedisRateLimiter};
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
pub const ROWS: &[Scenario] = &[limiter_row];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_name_and_peer_are_the_published_ones() {
        assert_eq!((NAME, PEER), ("redis.limiter", "local"));
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
