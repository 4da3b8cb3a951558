//! Rule W07, a queue that does not keep up, from a queue's figures alone:
//!
//! - an unbounded queue that keeps growing: at least [`GROWING_MIN_LEN`]
//!   items wait, at least half of all the items put are still waiting (the
//!   producers put at least twice as fast as the consumers take), and the
//!   length is within a tenth of its peak (it is still at its high, not
//!   draining a past burst);
//! - a bounded queue whose producers mostly wait: at least
//!   [`BLOCKED_MIN_PUTS`] puts, at least half of them found the queue full,
//!   and the waiting puts spent more than half the queue's age waiting, each
//!   (their summed wait is above half the age times the most puts that ever
//!   waited at once, and at least half the age).

use super::stats::{Figures, QueueStats};
use crate::advice::{Advice, Code, Figure, Watched};

/// W07 on an unbounded queue: the fewest waiting items that count as a
/// backlog rather than a burst.
const GROWING_MIN_LEN: usize = 1_000;

/// W07 on a bounded queue: the fewest puts whose waits say anything (a
/// queue filling up at the start makes its first few puts wait).
const BLOCKED_MIN_PUTS: u64 = 32;

/// The findings of rule W07 for a queue with figures `s`, about `source`.
pub(super) fn w07(s: &QueueStats, source: &str) -> Vec<Advice> {
    let mut out = Vec::new();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    match s.capacity {
        None => {
            let growing = s.len >= GROWING_MIN_LEN
                && s.len as u64 * 2 >= s.puts
                && s.len as u128 * 10 >= s.peak_len as u128 * 9;
            if growing {
                out.push(Advice::new(
                    Code::W07,
                    source,
                    "an unbounded queue keeps growing: its producers put faster than its \
                     consumers take",
                    vec![
                        Figure::new("len", s.len as f64, ""),
                        Figure::new("peak_len", s.peak_len as f64, ""),
                        Figure::new("puts", s.puts as f64, ""),
                        Figure::new("gets", s.gets as f64, ""),
                        Figure::new("age", ms(s.since), "ms"),
                    ],
                    "bound it (Queue::bounded) so that producers wait for room, or add \
                     consumers",
                ));
            }
        }
        Some(capacity) => {
            let waiting_at_once = s.peak_blocked.max(1) as u128;
            let blocked = s.puts >= BLOCKED_MIN_PUTS
                && s.blocked_puts * 2 >= s.puts
                && s.put_blocked.as_nanos() * 2 > s.since.as_nanos() * waiting_at_once;
            if blocked {
                out.push(Advice::new(
                    Code::W07,
                    source,
                    "producers spend most of their time waiting on a full queue: its \
                     consumers are the bottleneck",
                    vec![
                        Figure::new("blocked_puts", s.blocked_puts as f64, ""),
                        Figure::new("puts", s.puts as f64, ""),
                        Figure::new("put_blocked", ms(s.put_blocked), "ms"),
                        Figure::new("peak_blocked", s.peak_blocked as f64, ""),
                        Figure::new("age", ms(s.since), "ms"),
                        Figure::new("capacity", capacity as f64, ""),
                    ],
                    "add consumers (Pool::consume with more loops) or make consuming an item \
                     cheaper; a larger capacity only delays the wait",
                ));
            }
        }
    }
    out
}

impl Watched for Figures {
    fn advice(&self) -> Vec<Advice> {
        w07(&self.stats(), &self.source())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    fn unbounded(puts: u64, gets: u64, peak_len: usize) -> QueueStats {
        let len = (puts - gets) as usize;
        QueueStats {
            puts,
            gets,
            len,
            peak_len: peak_len.max(len),
            since: Duration::from_secs(1),
            ..QueueStats::default()
        }
    }

    fn bounded(puts: u64, blocked_puts: u64, blocked_ms: u64, peak_blocked: u64) -> QueueStats {
        QueueStats {
            puts,
            gets: puts,
            blocked_puts,
            put_blocked: Duration::from_millis(blocked_ms),
            peak_blocked,
            capacity: Some(4),
            since: Duration::from_millis(1000),
            ..QueueStats::default()
        }
    }

    fn fires(s: QueueStats) -> bool {
        let found = w07(&s, "queue 'q'");
        found
            .iter()
            .all(|a| a.code == Code::W07 && a.source == "queue 'q'")
            && !found.is_empty()
    }

    #[test]
    fn a_growing_unbounded_queue_needs_a_backlog_outpacing_its_consumers_at_its_high() {
        assert!(fires(unbounded(2_000, 1_000, 0)));
        assert!(fires(unbounded(10_000, 0, 0)));
        assert!(!fires(unbounded(1_998, 999, 0)), "999 waiting: a burst");
        assert!(
            !fires(unbounded(2_001, 1_001, 0)),
            "consumers took over half"
        );
        assert!(
            fires(unbounded(2_000, 1_000, 1_111)),
            "within a tenth of its peak"
        );
        assert!(
            !fires(unbounded(2_000, 1_000, 1_112)),
            "draining a past burst"
        );
        let mut bounded = unbounded(2_000, 1_000, 0);
        bounded.capacity = Some(usize::MAX);
        assert!(!fires(bounded), "a bounded queue has its own trigger");
    }

    #[test]
    fn a_blocked_bounded_queue_needs_most_puts_and_most_time_waiting() {
        assert!(fires(bounded(100, 50, 501, 1)));
        assert!(!fires(bounded(100, 50, 500, 1)), "exactly half the age");
        assert!(!fires(bounded(100, 49, 900, 1)), "most puts found room");
        assert!(!fires(bounded(31, 31, 900, 1)), "too few puts to tell");
        assert!(
            fires(bounded(100, 90, 1_100, 2)),
            "two producers, each > half"
        );
        assert!(
            !fires(bounded(100, 90, 900, 2)),
            "two producers, each < half"
        );
        assert!(
            !fires(bounded(100, 90, 400, 0)),
            "no wait seen at once: as one"
        );
        let mut open = bounded(100, 90, 1_100, 2);
        open.capacity = None;
        assert!(!fires(open), "an unbounded queue never blocks a put");
    }

    #[test]
    fn the_finding_names_its_figures_and_the_fix() {
        let a = &w07(&bounded(100, 90, 1_500, 2), "queue")[0];
        assert_eq!(a.figure("blocked_puts"), Some(90.0));
        assert_eq!(a.figure("put_blocked"), Some(1500.0));
        assert_eq!(a.figure("age"), Some(1000.0));
        assert!(a.fix.contains("add consumers"), "{a}");
        let a = &w07(&unbounded(5_000, 1_000, 0), "queue 'jobs'")[0];
        assert_eq!(
            (a.figure("len"), a.figure("puts")),
            (Some(4000.0), Some(5000.0))
        );
        assert!(a.fix.contains("Queue::bounded"), "{a}");
    }
}
