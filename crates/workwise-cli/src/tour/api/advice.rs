//! The advisor's lines for the api calls rows: what the server saw (its
//! counts, its outage), what the policy did (shed, timed out, retried),
//! and what became of the requests, beside the `naive` row's figures.

use std::time::Duration;

use super::super::advice::human;

/// One row of the api calls scenario as the advisor reads it: what the
/// server saw, and what became of the requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ApiRow {
    /// Requests the row made, one item each.
    pub(super) requests: u64,
    /// Of them, those that got their item.
    pub(super) succeeded: u64,
    /// Of them, those that finally failed.
    pub(super) failed: u64,
    /// Calls the server took, retries included.
    pub(super) calls: u64,
    /// Of them, those it took during its outage.
    pub(super) outage_calls: u64,
    /// Of those, the ones it stalled before failing them.
    pub(super) stalled: u64,
    /// The most calls the server took in any one second.
    pub(super) peak_per_s: u64,
    /// The row's wall time.
    pub(super) wall: Duration,
}

/// The api calls scenario's `policy` row: what it measured beyond an
/// [`ApiRow`], and the settings the advisor names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PolicyRun {
    /// The row's requests and the server's figures.
    pub(super) row: ApiRow,
    /// Attempts the breaker rejected without calling the server.
    pub(super) shed: u64,
    /// Times the breaker opened.
    pub(super) opened: u64,
    /// Attempts cut at the attempt timeout.
    pub(super) timed_out: u64,
    /// Requests that succeeded after at least one failed attempt.
    pub(super) rescued: u64,
    /// The limiter's permits a second (a setting).
    pub(super) rate: u32,
    /// The limiter's burst (a setting).
    pub(super) burst: u32,
    /// The attempt timeout (a setting).
    pub(super) timeout: Duration,
}

/// `1 call`, `2 calls`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The advisor's line for the api calls scenario's `naive` row: every
/// request tried once, with no limit, breaker, timeout or retry.
pub(super) fn for_naive(row: &ApiRow) -> String {
    let ApiRow {
        requests,
        failed,
        outage_calls,
        stalled,
        peak_per_s,
        ..
    } = *row;
    let mut line = if failed == 0 {
        format!("all {requests} requests succeeded")
    } else {
        format!("{failed} of {requests} requests failed")
    };
    if outage_calls == 0 {
        line.push_str("; none of them met the server's outage");
        return line;
    }
    line.push_str(&format!(
        "; the server saw {} during its outage and failed every one: with no breaker \
         the client kept calling a server that was down, and with no retry each failure \
         was final",
        plural(outage_calls, "call", "calls")
    ));
    if stalled > 0 {
        line.push_str(&format!(
            "; with no timeout, {} held {} until the server answered",
            plural(stalled, "stalled call", "stalled calls"),
            if stalled == 1 {
                "its worker"
            } else {
                "their workers"
            }
        ));
    }
    line.push_str(&format!(
        "; with no limit, the server took up to {peak_per_s} calls in one second"
    ));
    line
}

/// The advisor's line for the api calls scenario's `policy` row, beside
/// the `naive` row's figures where that row ran.
pub(super) fn for_policy(run: &PolicyRun, naive: Option<&ApiRow>) -> String {
    let r = &run.row;
    let against = |figure: fn(&ApiRow) -> u64| {
        naive
            .map(|n| format!(" (naive: {})", figure(n)))
            .unwrap_or_default()
    };
    let breaker = if run.opened == 0 {
        format!(
            "the breaker never opened ({} shed)",
            plural(run.shed, "attempt", "attempts")
        )
    } else {
        format!(
            "the breaker opened {} and shed {} without calling the server",
            plural(run.opened, "time", "times"),
            plural(run.shed, "attempt", "attempts")
        )
    };
    let mut parts = vec![format!(
        "{breaker}, which saw {} during its outage{}",
        plural(r.outage_calls, "call", "calls"),
        against(|n| n.outage_calls)
    )];
    if run.timed_out > 0 {
        parts.push(format!(
            "{} cut at the {} attempt timeout instead of waiting on the server",
            plural(run.timed_out, "attempt was", "attempts were"),
            human(run.timeout)
        ));
    }
    parts.push(format!(
        "retries turned {} into successes: {} of {} requests succeeded{}",
        plural(run.rescued, "failing request", "failing requests"),
        r.succeeded,
        r.requests,
        against(|n| n.succeeded)
    ));
    if r.failed > 0 {
        parts.push(format!("{} still failed after their retries", r.failed));
    }
    if let Some(n) = naive {
        parts.push(format!(
            "it took {} to the naive row's {}, waiting out the outage and the limit",
            human(r.wall),
            human(n.wall)
        ));
    }
    parts.push(format!(
        "the limiter held calls to {}/s (the most the server took in any one second; \
         limit {}/s, burst {})",
        r.peak_per_s, run.rate, run.burst
    ));
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_lines_give_the_measured_figures() {
        let naive = ApiRow {
            requests: 200,
            succeeded: 18,
            failed: 182,
            calls: 200,
            outage_calls: 181,
            stalled: 3,
            peak_per_s: 200,
            wall: Duration::from_millis(513),
        };
        let line = for_naive(&naive);
        assert!(line.starts_with("182 of 200 requests failed"), "{line}");
        assert!(
            line.contains("the server saw 181 calls during its outage"),
            "{line}"
        );
        assert!(
            line.contains("3 stalled calls held their workers"),
            "{line}"
        );
        assert!(line.contains("up to 200 calls in one second"), "{line}");

        let run = PolicyRun {
            row: ApiRow {
                requests: 200,
                succeeded: 196,
                failed: 4,
                calls: 240,
                outage_calls: 12,
                stalled: 3,
                peak_per_s: 171,
                wall: Duration::from_millis(2250),
            },
            shed: 57,
            opened: 3,
            timed_out: 3,
            rescued: 40,
            rate: 200,
            burst: 20,
            timeout: Duration::from_millis(250),
        };
        let line = for_policy(&run, Some(&naive));
        assert!(
            line.starts_with(
                "the breaker opened 3 times and shed 57 attempts without calling the server, \
                 which saw 12 calls during its outage (naive: 181)"
            ),
            "{line}"
        );
        assert!(
            line.contains("3 attempts were cut at the 250 ms attempt timeout"),
            "{line}"
        );
        assert!(
            line.contains(
                "retries turned 40 failing requests into successes: \
                 196 of 200 requests succeeded (naive: 18)"
            ),
            "{line}"
        );
        assert!(
            line.contains("4 still failed after their retries"),
            "{line}"
        );
        assert!(
            line.contains("it took 2.25 s to the naive row's 513 ms"),
            "{line}"
        );
        assert!(line.contains("held calls to 171/s"), "{line}");
        assert!(line.contains("limit 200/s, burst 20"), "{line}");

        let calm = PolicyRun {
            opened: 0,
            timed_out: 0,
            shed: 0,
            row: ApiRow {
                failed: 0,
                ..run.row
            },
            ..run
        };
        let line = for_policy(&calm, None);
        assert!(
            line.starts_with("the breaker never opened (0 attempts shed)"),
            "{line}"
        );
        assert!(!line.contains("naive"), "{line}");
        assert!(!line.contains("timeout"), "{line}");
        assert!(!line.contains("still failed"), "{line}");
    }
}
