//! A circuit breaker in front of a flaky service.
//!
//! The service answers for 10 s, is down from t = 10 s to t = 80 s, then
//! recovers. A client calls it every 5 s through a breaker that opens after
//! 3 failures in a row and probes again 20 s later. While it is open, calls
//! are shed at once (no timeout to wait out, no load on a struggling
//! service); the probes at 40 s and 60 s fail and open it again; the probe at
//! 80 s succeeds and closes it.
//!
//! Time comes from a `ManualClock`, so the 100 simulated seconds take no
//! real time: `cargo run -p workwise --example circuit_breaker`.

use std::cell::Cell;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use workwise::{CircuitBreaker, Clock, ManualClock};

struct FlakyService {
    clock: ManualClock,
    down: Range<Duration>,
    calls: Cell<u32>,
}

impl FlakyService {
    fn get(&self) -> Result<&'static str, &'static str> {
        self.calls.set(self.calls.get() + 1);
        if self.down.contains(&self.clock.now()) {
            Err("503 Service Unavailable")
        } else {
            Ok("200 OK")
        }
    }
}

fn main() -> Result<(), workwise::BreakerBuildError> {
    let clock = ManualClock::new();
    let changes = Arc::new(Mutex::new(Vec::new()));
    let log = changes.clone();
    let breaker = CircuitBreaker::builder()
        .failure_threshold(3)
        .reset_after(Duration::from_secs(20))
        .clock(clock.clone())
        .on_state_change(move |from, to| log.lock().unwrap().push(format!("{from} -> {to}")))
        .build()?;
    let service = FlakyService {
        clock: clock.clone(),
        down: Duration::from_secs(10)..Duration::from_secs(80),
        calls: Cell::new(0),
    };

    let step = Duration::from_secs(5);
    let mut calls_during_outage = (0, 0); // (made by the client, reached the service)
    while clock.now() <= Duration::from_secs(100) {
        let t = clock.now();
        let before = service.calls.get();
        let outcome = match breaker.call(|| service.get()) {
            Ok(body) => body.to_string(),
            Err(e) => match e.retry_after() {
                Some(wait) => format!("shed without calling (probe in {}s)", wait.as_secs()),
                None => format!("failed: {e}"),
            },
        };
        let changes = std::mem::take(&mut *changes.lock().unwrap());
        if changes.is_empty() {
            println!("t = {:>3}s  {outcome}", t.as_secs());
        } else {
            println!(
                "t = {:>3}s  {outcome:<36} breaker: {}",
                t.as_secs(),
                changes.join(", ")
            );
        }
        if service.down.contains(&t) {
            calls_during_outage.0 += 1;
            calls_during_outage.1 += service.calls.get() - before;
        }
        clock.advance(step);
    }

    let stats = breaker.stats();
    println!();
    println!(
        "during the outage the client made {} calls; {} reached the service \
         (3 to open the breaker, then one probe every 20 s)",
        calls_during_outage.0, calls_during_outage.1
    );
    println!(
        "in all: {} succeeded, {} failed, {} shed; opened {} times; now {}",
        stats.successes,
        stats.failures,
        stats.rejected,
        stats.times_opened,
        breaker.state()
    );
    Ok(())
}
