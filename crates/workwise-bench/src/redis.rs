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
//! round that grants more than its calls is a wrong answer. Where
//! `redis-server` cannot be started the row is skipped with a note that says
//! why.

use workwise::redis::{LocalServer, RedisLimiterError, RedisRateLimiter};
use workwise::{BuildError, RateLimiter};

use crate::harness::{timed_verify, Round};
use crate::Bench;

/// The row's name and peer (read by outside scripts).
const NAME: &str = "redis.limiter";
const PEER: &str = "local";
/// Calls per round (full, `--quick`).
const CALLS: (u64, u64) = (20_000, 2_000);
/// Both limiters' rate, per second: an interval of 1 ns.
const RATE: u32 = 1_000_000_000;
/// Both limiters' burst.
const BURST: u32 = 1_000;

/// One round: `calls` calls of `try_once`, which says whether it was
/// granted, or why it could not ask (the row is then skipped).
fn round(who: &str, calls: u64, try_once: impl Fn() -> Result<bool, String>) -> Round {
    let mut failed = None;
    let figure = timed_verify(
        NAME,
        who,
        calls,
        || {
            let mut granted = 0u64;
            for _ in 0..calls {
                match try_once() {
                    Ok(got) => granted += u64::from(got),
                    Err(why) => {
                        failed = Some(why);
                        break;
                    }
                }
            }
            granted
        },
        |&granted| {
            if granted > calls {
                return Err(format!("granted {granted} of {calls} calls"));
            }
            Ok(())
        },
    )?;
    match failed {
        Some(why) => Err(format!("{who}: {why}")),
        None => Ok(figure),
    }
}

/// The `redis.limiter` row, against the local limiter.
pub fn limiter_row(b: &mut Bench) -> Result<(), BuildError> {
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
    let calls = if b.quick {
        b.note(&format!(
            "{NAME}: --quick uses {} calls per round on both sides (not {})",
            CALLS.1, CALLS.0
        ));
        CALLS.1
    } else {
        CALLS.0
    };
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
    let peer = match RateLimiter::per_second(RATE).burst(BURST).build() {
        Ok(l) => l,
        Err(e) => {
            b.note(&format!(
                "{NAME} skipped: cannot build the local limiter: {e}"
            ));
            return Ok(());
        }
    };
    b.run(
        NAME,
        PEER,
        b.rounds.warmup,
        || {
            round("workwise", calls, || match ours.try_acquire() {
                Ok(()) => Ok(true),
                Err(RedisLimiterError::RetryAfter(_)) => Ok(false),
                Err(e) => Err(e.to_string()),
            })
        },
        || round(PEER, calls, || Ok(peer.try_acquire().is_ok())),
    );
    drop(server);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_name_and_peer_are_the_published_ones() {
        assert_eq!((NAME, PEER), ("redis.limiter", "local"));
    }

    #[test]
    fn a_round_that_cannot_ask_skips_the_row() {
        let err = round("workwise", 3, || Err("gone".to_owned())).unwrap_err();
        assert!(err.contains("gone"), "{err}");
        assert!(round(PEER, 3, || Ok(true)).is_ok());
    }
}
