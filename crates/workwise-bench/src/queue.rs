//! The `queue.*` rows: `workwise::Queue` (with its done-tracking) against
//! bounded channels and Python's `queue.Queue`. Row names are read by outside
//! scripts: keep them exactly.
//!
//! One round moves `count` messages (the `u64`s `0..count`, split into one
//! contiguous share per producer) from P producer threads to C consumer
//! threads through a channel of capacity `cap`. Each consumer receives until
//! the channel is closed or disconnected and sums what it got; the consumers'
//! sums must add up to the sum of `0..count`. The channel is made before the
//! round's timer starts; every side spawns and joins its threads inside the
//! timed region in the same way (`std::thread::scope`), which costs tens of
//! µs against rounds of tens of ms.
//!
//! - Ours: `Queue::bounded(cap)`; producers `put`, consumers
//!   `while let Ok(item) = q.get() { sum += *item }`, so each `Item` guard
//!   drops (marks its item done) every iteration. Once every producer has
//!   finished, the main thread calls `q.join()` and then `q.close()`.
//! - The channels: `crossbeam_channel::bounded(cap)`, `flume::bounded(cap)`,
//!   `kanal::bounded(cap)` and `std::sync::mpsc::sync_channel(cap)`; every
//!   producer owns a sender, and the channel closes when the last one drops.
//!   They track nothing. std's has one receiver, so it runs only the `1c`
//!   rows.

use std::ops::Range;
use std::sync::mpsc;
use std::thread;

use workwise::{PoolBuildError, Queue};

use crate::harness::{timed, Round};
use crate::python;
use crate::Bench;

/// Messages per round (full, `--quick`).
const MESSAGES: (u64, u64) = (1_000_000, 200_000);
/// Messages per round in the rows against Python (full, `--quick`), on both
/// sides of those rows.
const PYTHON_MESSAGES: (u64, u64) = (100_000, 20_000);
/// The rows: (producers, consumers, capacity).
const SHAPES: [(usize, usize, usize); 6] = [
    (1, 1, 100),
    (1, 1, 1024),
    (2, 2, 100),
    (2, 2, 1024),
    (4, 4, 100),
    (4, 4, 1024),
];
/// The peers of every row (`std` only where there is one consumer).
const PEERS: [&str; 5] = ["crossbeam-channel", "flume", "kanal", "std", "python"];

/// The row's name, e.g. `queue.2p2c.cap1024` (read by outside scripts).
fn row_name(producers: usize, consumers: usize, cap: usize) -> String {
    format!("queue.{producers}p{consumers}c.cap{cap}")
}

/// The sum of `0..count`, as the consumers must reach it.
fn want_sum(count: u64) -> u64 {
    (0..count).fold(0, u64::wrapping_add)
}

/// Producer `p`'s share of `0..count` among `n` producers.
fn share(count: u64, p: usize, n: usize) -> Range<u64> {
    let (p, n) = (p as u64, n as u64);
    count * p / n..count * (p + 1) / n
}

/// One round of any side: a consumer thread per receiver runs `drain` and
/// gives its sum, then a producer thread per sender calls `send` for each of
/// its share; once the producers are joined (and their senders dropped),
/// `finish` runs on this thread, and the consumers' sums are added up.
fn exchange<Tx: Send, Rx: Send>(
    count: u64,
    senders: Vec<Tx>,
    receivers: Vec<Rx>,
    send: impl Fn(&Tx, u64) + Sync,
    drain: impl Fn(Rx) -> u64 + Sync,
    finish: impl FnOnce(),
) -> u64 {
    let producers = senders.len();
    let (send, drain) = (&send, &drain);
    thread::scope(|s| {
        let consumers: Vec<_> = receivers
            .into_iter()
            .map(|rx| s.spawn(move || drain(rx)))
            .collect();
        let producing: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(p, tx)| {
                s.spawn(move || {
                    for i in share(count, p, producers) {
                        send(&tx, i);
                    }
                })
            })
            .collect();
        for h in producing {
            h.join().expect("a producer does not panic");
        }
        finish();
        consumers
            .into_iter()
            .map(|h| h.join().expect("a consumer does not panic"))
            .fold(0, u64::wrapping_add)
    })
}

fn ours(q: &Queue<u64>, count: u64, producers: usize, consumers: usize) -> u64 {
    exchange(
        count,
        vec![q; producers],
        vec![q; consumers],
        |q, i| q.put(i).expect("the queue stays open while producers put"),
        |q| {
            let mut sum = 0u64;
            while let Ok(item) = q.get() {
                sum = sum.wrapping_add(*item);
            }
            sum
        },
        || {
            q.join();
            q.close();
        },
    )
}

fn crossbeam(cap: usize, count: u64, producers: usize, consumers: usize) -> Round {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(cap);
    let senders: Vec<_> = (0..producers).map(|_| tx.clone()).collect();
    let receivers: Vec<_> = (0..consumers).map(|_| rx.clone()).collect();
    drop((tx, rx));
    timed(
        &row_name(producers, consumers, cap),
        "crossbeam-channel",
        count,
        want_sum(count),
        || {
            exchange(
                count,
                senders,
                receivers,
                |tx, i| tx.send(i).expect("a consumer is receiving"),
                |rx| rx.iter().fold(0, u64::wrapping_add),
                || {},
            )
        },
    )
}

fn flume(cap: usize, count: u64, producers: usize, consumers: usize) -> Round {
    let (tx, rx) = flume::bounded::<u64>(cap);
    let senders: Vec<_> = (0..producers).map(|_| tx.clone()).collect();
    let receivers: Vec<_> = (0..consumers).map(|_| rx.clone()).collect();
    drop((tx, rx));
    timed(
        &row_name(producers, consumers, cap),
        "flume",
        count,
        want_sum(count),
        || {
            exchange(
                count,
                senders,
                receivers,
                |tx, i| tx.send(i).expect("a consumer is receiving"),
                |rx| rx.iter().fold(0, u64::wrapping_add),
                || {},
            )
        },
    )
}

fn kanal(cap: usize, count: u64, producers: usize, consumers: usize) -> Round {
    let (tx, rx) = kanal::bounded::<u64>(cap);
    let senders: Vec<_> = (0..producers).map(|_| tx.clone()).collect();
    let receivers: Vec<_> = (0..consumers).map(|_| rx.clone()).collect();
    drop((tx, rx));
    timed(
        &row_name(producers, consumers, cap),
        "kanal",
        count,
        want_sum(count),
        || {
            exchange(
                count,
                senders,
                receivers,
                |tx, i| tx.send(i).expect("a consumer is receiving"),
                |rx| rx.fold(0, u64::wrapping_add),
                || {},
            )
        },
    )
}

/// std's `Receiver` is not `Clone`: one consumer only.
fn std_mpsc(cap: usize, count: u64, producers: usize) -> Round {
    let (tx, rx) = mpsc::sync_channel::<u64>(cap);
    let senders: Vec<_> = (0..producers).map(|_| tx.clone()).collect();
    drop(tx);
    timed(
        &row_name(producers, 1, cap),
        "std",
        count,
        want_sum(count),
        || {
            exchange(
                count,
                senders,
                vec![rx],
                |tx, i| tx.send(i).expect("the consumer is receiving"),
                |rx| rx.iter().fold(0, u64::wrapping_add),
                || {},
            )
        },
    )
}

/// The `queue.*` rows, each against every peer in [`PEERS`].
pub fn queue_rows(b: &mut Bench) -> Result<(), PoolBuildError> {
    let wanted = |b: &Bench, name: &str| PEERS.iter().any(|p| b.wants(name, p));
    if !SHAPES
        .iter()
        .any(|&(p, c, cap)| wanted(b, &row_name(p, c, cap)))
    {
        return Ok(());
    }
    let count = if b.quick { MESSAGES.1 } else { MESSAGES.0 };
    if b.quick {
        b.note(&format!(
            "queue.*: --quick uses {count} messages per round (not {})",
            MESSAGES.0
        ));
    }
    // Asked once, and only when a python row is wanted.
    let mut python_ok: Option<Result<(), String>> = None;
    let python_count = if b.quick {
        PYTHON_MESSAGES.1
    } else {
        PYTHON_MESSAGES.0
    };
    for (p, c, cap) in SHAPES {
        let name = row_name(p, c, cap);
        if !wanted(b, &name) {
            continue;
        }
        let run_ours = |count: u64| {
            let name = &name;
            let want = want_sum(count);
            move || {
                let q = Queue::bounded(cap).map_err(|e| e.to_string())?;
                timed(name, "workwise", count, want, || ours(&q, count, p, c))
            }
        };
        if b.wants(&name, "crossbeam-channel") {
            b.run(
                &name,
                "crossbeam-channel",
                b.rounds.warmup,
                run_ours(count),
                || crossbeam(cap, count, p, c),
            );
        }
        if b.wants(&name, "flume") {
            b.run(&name, "flume", b.rounds.warmup, run_ours(count), || {
                flume(cap, count, p, c)
            });
        }
        if b.wants(&name, "kanal") {
            b.run(&name, "kanal", b.rounds.warmup, run_ours(count), || {
                kanal(cap, count, p, c)
            });
        }
        if b.wants(&name, "std") {
            if c == 1 {
                b.run(&name, "std", b.rounds.warmup, run_ours(count), || {
                    std_mpsc(cap, count, p)
                });
            } else {
                b.note(&format!(
                    "{name} vs std skipped: std::sync::mpsc's Receiver is not Clone, so it \
                     has no {c}-consumer form; sharing it behind a Mutex would time a lock \
                     that lets one consumer receive at a time, not std's channel"
                ));
            }
        }
        if b.wants(&name, "python") {
            match python_ok.get_or_insert_with(|| python::available("queue, threading")) {
                Err(why) => b.note(&format!("{name} vs python skipped: {why}")),
                Ok(()) => {
                    b.note(&format!(
                        "{name} vs python: {python_count} messages per round on both sides \
                         (ns per message stays comparable)"
                    ));
                    let want = want_sum(python_count);
                    // Each Python round is its own process: one warm-up.
                    b.run(&name, "python", 1, run_ours(python_count), || {
                        python::queue_round(&name, python_count, p, c, cap, want)
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_the_range_once() {
        for n in 1..=3 {
            let mut all: Vec<u64> = (0..n).flat_map(|p| share(10, p, n)).collect();
            all.sort_unstable();
            assert_eq!(all, (0..10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn every_side_sums_every_message() {
        let count = 10_000;
        let want = want_sum(count);
        for (p, c, cap) in SHAPES {
            let q = Queue::bounded(cap).unwrap();
            assert_eq!(ours(&q, count, p, c), want);
            assert_eq!(q.unfinished(), 0);
            assert!(crossbeam(cap, count, p, c).is_ok());
            assert!(flume(cap, count, p, c).is_ok());
            assert!(kanal(cap, count, p, c).is_ok());
            if c == 1 {
                assert!(std_mpsc(cap, count, p).is_ok());
            }
        }
    }

    #[test]
    fn row_names_are_the_published_ones() {
        let names: Vec<_> = SHAPES
            .iter()
            .map(|&(p, c, cap)| row_name(p, c, cap))
            .collect();
        assert_eq!(
            names,
            [
                "queue.1p1c.cap100",
                "queue.1p1c.cap1024",
                "queue.2p2c.cap100",
                "queue.2p2c.cap1024",
                "queue.4p4c.cap100",
                "queue.4p4c.cap1024"
            ]
        );
    }
}
