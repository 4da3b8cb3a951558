//! Rate limiting: 10 calls a second with a burst of 5, shared by 4 threads,
//! and the wall-clock pitfall that a monotonic clock avoids.
//!
//! Run: `cargo run -p workwise --example rate_limit`

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use workwise::RateLimiter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 10 a second, and up to 5 at once after a quiet spell.
    let limiter = RateLimiter::per_second(10).burst(5).build()?;
    let start = Instant::now();
    let grants = Mutex::new(Vec::new());

    // Each thread makes 4 calls; `acquire` blocks until the caller's turn.
    // Waiting callers are served first come, first served, without spinning.
    thread::scope(|s| {
        for t in 0..4 {
            let (limiter, grants) = (&limiter, &grants);
            s.spawn(move || {
                for call in 0..4 {
                    limiter.acquire();
                    let at = start.elapsed();
                    grants.lock().unwrap().push((at, t, call));
                }
            });
        }
    });
    let mut grants = grants.into_inner().unwrap();
    grants.sort();
    println!("16 calls from 4 threads at 10/s, burst 5:");
    for (at, t, call) in &grants {
        println!(
            "  {:>6.1} ms  thread {t} call {call}",
            at.as_secs_f64() * 1e3
        );
    }
    let last = grants.last().map_or(Duration::ZERO, |g| g.0);
    println!(
        "  5 at once, then one every 100 ms: the last at {:.2} s (11 intervals after the burst)",
        last.as_secs_f64()
    );

    // A caller that must not wait asks first; the refusal carries the wait.
    match limiter.try_acquire() {
        Ok(()) => println!("\ntry_acquire: granted"),
        Err(wait) => println!("\ntry_acquire: refused, retry after {:?}", wait.0),
    }

    wall_clock_pitfall()?;
    Ok(())
}

/// The guide's pitfall: a limiter that measures time with the wall clock
/// (`SystemTime`, Python's `time.time()`) breaks when NTP or an administrator
/// moves that clock. The jump is simulated here; `RateLimiter` reads the
/// monotonic clock (`Instant`), which never goes back.
fn wall_clock_pitfall() -> Result<(), Box<dyn std::error::Error>> {
    const INTERVAL: Duration = Duration::from_millis(100);

    /// One call per interval, spaced with the wall clock.
    struct WallClockLimiter {
        last: Option<SystemTime>,
    }

    impl WallClockLimiter {
        fn try_call(&mut self, wall_now: SystemTime) -> Result<(), Duration> {
            let wait = match self.last.map(|last| wall_now.duration_since(last)) {
                None => Duration::ZERO,
                Some(Ok(elapsed)) => INTERVAL.saturating_sub(elapsed),
                // The clock went back: "now" is before the last call.
                Some(Err(back)) => INTERVAL + back.duration(),
            };
            if wait.is_zero() {
                self.last = Some(wall_now);
                Ok(())
            } else {
                Err(wait)
            }
        }
    }

    println!("\nwall-clock pitfall (the clock jump is simulated):");
    let mut naive = WallClockLimiter { last: None };
    let limiter = RateLimiter::new(1, INTERVAL).build()?;
    let jump = Duration::from_secs(3600);

    let _ = naive.try_call(SystemTime::now());
    limiter.acquire();
    println!("  t = 0:      both limiters grant a call");

    thread::sleep(INTERVAL);
    // NTP corrects the wall clock by an hour, backwards.
    let wall_now = SystemTime::now()
        .checked_sub(jump)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    match naive.try_call(wall_now) {
        Ok(()) => println!("  t = 100 ms: wall-clock limiter grants"),
        Err(wait) => println!(
            "  t = 100 ms: the wall clock was set back 1 h; the wall-clock limiter now refuses every call for {:.0} s",
            wait.as_secs_f64()
        ),
    }
    match limiter.try_acquire() {
        Ok(()) => println!(
            "  t = 100 ms: RateLimiter (monotonic clock) grants, one interval after the last"
        ),
        Err(wait) => println!("  t = 100 ms: RateLimiter refuses for {:?}", wait.0),
    }
    println!("  (set forward instead, a wall-clock token bucket sees an hour of quiet and refills its whole burst)");
    Ok(())
}
