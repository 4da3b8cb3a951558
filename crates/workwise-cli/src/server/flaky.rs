//! The flaky JSON API of the tour's embedded server, at `/api/items/{i}`:
//! each request answered after 2 to 5 ms, one in [`API_FLAKY`] with a 503,
//! and an outage in each run (see [`Outage`]), when every request fails.
//! [`ApiRun`] is one run's state; the server keeps one, reset by
//! [`PageServer::begin_api_run`](super::PageServer::begin_api_run)(super::PageServer::begin_api_run).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One in this many API requests fails with a 503 outside the outage,
/// chosen by the item and how many times the run has asked for it, so the
/// same requests fail in every run and a retry of one is a fresh draw.
pub(crate) const API_FLAKY: u64 = 10;

/// The path of item `item` in the flaky API.
pub(crate) fn api_path(item: u64) -> String {
    format!("/api/items/{item}")
}

/// The value the API gives for item `item`, for the client to check.
pub(crate) fn api_value(item: u64) -> u64 {
    mix(item ^ 0xA11_CA11) % 1_000_000
}

/// How the API answers the `try_no`-th request for `item` in a run (the
/// first is 0), outside the outage: its latency, 2 to 5 ms, and whether
/// it fails with a 503.
fn api_answer(item: u64, try_no: u64) -> (Duration, bool) {
    let h = mix(item.wrapping_mul(0x1_0000_0001) ^ try_no);
    let latency = Duration::from_millis(2 + h % 4);
    (latency, (h >> 32).is_multiple_of(API_FLAKY))
}

/// SplitMix64's finalizer: a well-mixed hash of `x`.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The flaky API's outage in one run, set by [`PageServer::begin_api_run`](super::PageServer::begin_api_run).
///
/// It begins with the run's `from_call`-th request, so that every client
/// meets it at the same point of its work however fast it calls, and lasts
/// `lasts`: every request taken meanwhile fails with a 503, after the usual
/// 2 to 5 ms except the outage's first `stalls` requests, which the server
/// stalls for `stall` before failing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outage {
    /// The request that begins the outage: 1 for the run's first.
    pub(crate) from_call: u64,
    /// How long it lasts.
    pub(crate) lasts: Duration,
    /// How many of its first requests stall.
    pub(crate) stalls: u64,
    /// How long each of them stalls.
    pub(crate) stall: Duration,
}

/// What the server saw of the flaky API in the run so far, from
/// [`PageServer::api_report`](super::PageServer::api_report).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ApiReport {
    /// API requests taken.
    pub(crate) calls: u64,
    /// Of them, taken during the outage (all failed).
    pub(crate) outage_calls: u64,
    /// Of those, stalled before their 503.
    pub(crate) stalled: u64,
    /// Requests failed outside the outage, the one in [`API_FLAKY`].
    pub(crate) flaky: u64,
    /// The most requests taken in any one second of the run.
    pub(crate) peak_per_s: u64,
}

/// The flaky API's state in one run.
#[derive(Debug)]
pub(super) struct ApiRun {
    outage: Option<Outage>,
    started: Instant,
    /// When the outage began, once it has.
    down_at: Option<Instant>,
    /// How many times each item was asked for.
    tries: HashMap<u64, u64>,
    /// When each request was taken, from `started`, in order.
    arrivals: Vec<Duration>,
    report: ApiReport,
}

impl ApiRun {
    pub(super) fn new(outage: Option<Outage>, now: Instant) -> Self {
        ApiRun {
            outage,
            started: now,
            down_at: None,
            tries: HashMap::new(),
            arrivals: Vec::new(),
            report: ApiReport::default(),
        }
    }

    /// Takes a request for `item` at `now`: its status, JSON body and delay.
    pub(super) fn take(&mut self, item: u64, now: Instant) -> (u16, String, Duration) {
        self.report.calls += 1;
        self.arrivals
            .push(now.saturating_duration_since(self.started));
        let try_no = {
            let tries = self.tries.entry(item).or_insert(0);
            *tries += 1;
            *tries - 1
        };
        let (latency, flaky) = api_answer(item, try_no);
        let unavailable = || {
            (
                503,
                format!("{{\"item\":{item},\"error\":\"service unavailable\"}}\n"),
            )
        };
        if let Some(outage) = self.outage {
            if self.down_at.is_none() && self.report.calls == outage.from_call {
                self.down_at = Some(now);
            }
            if self.down_at.is_some_and(|at| now < at + outage.lasts) {
                self.report.outage_calls += 1;
                let (status, body) = unavailable();
                if self.report.outage_calls <= outage.stalls {
                    self.report.stalled += 1;
                    return (status, body, outage.stall);
                }
                return (status, body, latency);
            }
        }
        if flaky {
            self.report.flaky += 1;
            let (status, body) = unavailable();
            return (status, body, latency);
        }
        let body = format!("{{\"item\":{item},\"value\":{}}}\n", api_value(item));
        (200, body, latency)
    }

    pub(super) fn report(&self) -> ApiReport {
        ApiReport {
            peak_per_s: peak_in(&self.arrivals, Duration::from_secs(1)),
            ..self.report
        }
    }
}

/// The most of `times` (in order) that fall in any window of length `window`.
fn peak_in(times: &[Duration], window: Duration) -> u64 {
    let mut first = 0;
    let mut peak = 0;
    for (last, &t) in times.iter().enumerate() {
        while t.saturating_sub(times[first]) >= window {
            first += 1;
        }
        peak = peak.max(last + 1 - first);
    }
    peak as u64
}

/// The item of an API path, `/api/items/{item}`.
pub(super) fn api_item(path: &str) -> Option<u64> {
    path.strip_prefix("/api/items/")?.parse().ok()
}
#[cfg(test)]
mod tests {
    use super::super::PageServer;
    use super::*;

    #[test]
    fn the_api_fails_one_in_ten_and_a_retry_draws_afresh() {
        let flaky = |try_no| (0..1000).filter(|&i| api_answer(i, try_no).1).count();
        for try_no in 0..3 {
            assert!((70..=130).contains(&flaky(try_no)), "{}", flaky(try_no));
        }
        let twice = (0..1000)
            .filter(|&i| api_answer(i, 0).1 && api_answer(i, 1).1)
            .count();
        assert!(twice < 30, "{twice}");
        let ms: Vec<u128> = (0..1000).map(|i| api_answer(i, 0).0.as_millis()).collect();
        assert_eq!((ms.iter().min(), ms.iter().max()), (Some(&2), Some(&5)));
        assert_eq!(api_item(&api_path(42)), Some(42));
        assert_eq!(api_item("/api/items/x"), None);
        assert_eq!(api_item("/page/1"), None);
    }

    #[test]
    fn the_outage_begins_at_its_call_stalls_its_first_and_ends() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let outage = Outage {
            from_call: 3,
            lasts: Duration::from_secs(1),
            stalls: 1,
            stall: Duration::from_millis(700),
        };
        let mut run = ApiRun::new(Some(outage), t0);
        // An item that no flaky draw fails on its first three tries.
        let item = (0..)
            .find(|&i| (0..3).all(|t| !api_answer(i, t).1))
            .unwrap();
        let latency = |try_no| api_answer(item, try_no).0;
        let ok = format!("{{\"item\":{item},\"value\":{}}}\n", api_value(item));
        let down = format!("{{\"item\":{item},\"error\":\"service unavailable\"}}\n");
        assert_eq!(run.take(item, ms(0)), (200, ok.clone(), latency(0)));
        assert_eq!(run.take(item, ms(1)), (200, ok.clone(), latency(1)));
        // The third call begins the outage, and the first one in it stalls.
        assert_eq!(run.take(item, ms(2)), (503, down.clone(), outage.stall));
        assert_eq!(run.take(item, ms(900)), (503, down, latency(3)));
        // A second after the outage began, the server is up again.
        assert_eq!(run.take(item + 1, ms(1002)).0, {
            if api_answer(item + 1, 0).1 {
                503
            } else {
                200
            }
        });
        let report = run.report();
        assert_eq!(
            (report.calls, report.outage_calls, report.stalled),
            (5, 2, 1)
        );
        assert_eq!(report.peak_per_s, 4);
    }

    #[test]
    fn peaks_count_the_busiest_second() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(peak_in(&[], Duration::from_secs(1)), 0);
        assert_eq!(
            peak_in(&ms(&[0, 10, 999, 1000, 1500]), Duration::from_secs(1)),
            3
        );
        assert_eq!(
            peak_in(&ms(&[0, 2000, 2100, 2200]), Duration::from_secs(1)),
            3
        );
    }

    #[test]
    fn serves_the_api_as_json() {
        let server = PageServer::start(0).expect("a free port");
        server.begin_api_run(None);
        let agent = ureq::Agent::new();
        let item = (0..).find(|&i| !api_answer(i, 0).1).unwrap();
        let response = agent
            .get(&format!("{}{}", server.base_url(), api_path(item)))
            .call()
            .unwrap();
        assert_eq!(response.content_type(), "application/json");
        let body: serde_json::Value =
            serde_json::from_str(&response.into_string().unwrap()).unwrap();
        assert_eq!(body["item"], item);
        assert_eq!(body["value"], api_value(item));
        assert_eq!(server.api_report().calls, 1);
        server.begin_api_run(None);
        assert_eq!(server.api_report(), ApiReport::default());
        server.shutdown();
    }
}
