//! The comparison harness and its row builder.
//!
//! Ours and a peer run the same scenario on the same input, alternating round
//! by round in one process (ours first on even rounds, the peer first on odd
//! ones), after a warm-up of each. A round is timed whole and divided by its
//! number of items; a row reports the median of those ns-per-item figures
//! for each side and `ratio = ours / peer`. Every round's result, warm-up
//! included, is verified outside the timed region; a wrong answer stops the
//! run (exit status 1), since it makes its timing meaningless. Medians only,
//! and no timing is ever asserted: the machines are shared and noisy.
//!
//! A scenario writes a row as one chain:
//!
//! ```text
//! b.row("pool.map")                  // the name scripts read
//!     .items(count)                  // operations per round: figures are ns per item
//!     .want(sum)                     // or .verify(|got| ..), or .verify_each(|who, got| ..)
//!     .ours(|| ours_map(&pool))      // timed by the harness
//!     .peer_on("rayon", || rayon_pool(n), |p| rayon_map(p))
//!     .peer("sequential", || plain_map());
//! ```
//!
//! Each `peer*` call runs one comparison against the row's `ours` right
//! away, if `--filter` selects it, and prints its line. The variants:
//! `peer` times a closure; `peer_on` first makes a state for that peer
//! alone (its pool, dropped after its comparison); `ours_with` and
//! `peer_with` make a fresh input before every round, outside the timer;
//! `peer_python` runs a side that times itself in a `python3` subprocess,
//! skipped with a note when Python cannot import what it needs.

use std::fmt;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::python;

/// One comparison's outcome: one line of the table, or of `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The scenario, e.g. `pool.submit_wait` (read by outside scripts).
    pub name: String,
    /// Median ns per operation for workwise.
    pub ours_ns: f64,
    /// The peer's name, e.g. `rayon`.
    pub peer: String,
    /// Median ns per operation for the peer.
    pub peer_ns: f64,
    /// `ours_ns / peer_ns`: below 1 means workwise took less time.
    pub ratio: f64,
}

/// How many rounds to run.
#[derive(Debug, Clone, Copy)]
pub struct Rounds {
    /// Untimed runs of each side before the timed rounds.
    pub warmup: usize,
    /// Timed rounds of each side.
    pub timed: usize,
    /// Print every round's figure to stderr (`--verbose`).
    pub verbose: bool,
}

/// A pause between measured runs, outside the timed region, so that the
/// threads of the side that just ran have gone idle (stopped spinning) before
/// the other side starts.
const SETTLE: Duration = Duration::from_millis(2);

/// What one round of a side measured.
#[derive(Debug, Clone, Copy)]
pub enum Measure {
    /// The harness timed the whole round; divided by the row's items.
    Elapsed(Duration),
    /// The side timed itself (a Python subprocess): ns per item already.
    NsPerItem(f64),
}

/// One round of a side: what it measured and what it computed (verified
/// outside the timed region), or why the side cannot run.
pub type Sample<T> = Result<(Measure, T), String>;

/// Why a comparison gave no row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowError {
    /// A side cannot run here (the row is skipped with a note).
    Skip(String),
    /// A side computed a wrong answer: the run stops.
    Wrong {
        /// The row.
        name: String,
        /// `workwise` or the peer.
        who: String,
        /// What the verification said.
        why: String,
    },
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Skip(why) => f.write_str(why),
            Self::Wrong { name, who, why } => write!(
                f,
                "{name}: {who} {why}; a wrong answer makes its timing meaningless"
            ),
        }
    }
}

/// What a scenario gives: `Err` only when it cannot build one of our pools
/// (the run stops). A side that cannot run skips its row with a note; a
/// wrong answer stops the run through [`Bench::wrong`].
pub type Outcome = Result<(), Box<dyn std::error::Error>>;

/// A scenario: writes its rows into the run (each bench file lists its own
/// in `ROWS`, in the order they run).
pub type Scenario = fn(&mut Bench) -> Outcome;

/// The verification of a row: given who ran the round and its result.
type Verify<'a, T> = Box<dyn FnMut(&str, &T) -> Result<(), String> + 'a>;

/// Runs `name` as ours against `peer`, alternating round by round, each
/// round giving ns per item over `items` items; every round's result goes
/// through `verify` (warm-up included) and is dropped after it.
///
/// # Errors
///
/// [`RowError::Skip`] with the first error either side gives;
/// [`RowError::Wrong`] when `verify` rejects a result.
pub fn compare<T>(
    name: &str,
    peer: &str,
    rounds: Rounds,
    items: u64,
    ours: &mut dyn FnMut() -> Sample<T>,
    theirs: &mut dyn FnMut() -> Sample<T>,
    verify: &mut dyn FnMut(&str, &T) -> Result<(), String>,
) -> Result<Row, RowError> {
    if items == 0 {
        return Err(RowError::Skip(
            "no items per round: give the row .items(n) with its operations per round".into(),
        ));
    }
    let mut round = |who: &str, side: &mut dyn FnMut() -> Sample<T>| -> Result<f64, RowError> {
        let (measure, got) = side().map_err(RowError::Skip)?;
        if let Err(why) = verify(who, &got) {
            return Err(RowError::Wrong {
                name: name.to_owned(),
                who: who.to_owned(),
                why,
            });
        }
        drop(got);
        Ok(match measure {
            Measure::Elapsed(d) => d.as_nanos() as f64 / items as f64,
            Measure::NsPerItem(ns) => ns,
        })
    };
    for _ in 0..rounds.warmup {
        round("workwise", ours)?;
        round(peer, theirs)?;
    }
    let mut ours_ns = Vec::with_capacity(rounds.timed);
    let mut peer_ns = Vec::with_capacity(rounds.timed);
    for r in 0..rounds.timed {
        std::thread::sleep(SETTLE);
        if r % 2 == 0 {
            ours_ns.push(round("workwise", ours)?);
            std::thread::sleep(SETTLE);
            peer_ns.push(round(peer, theirs)?);
        } else {
            peer_ns.push(round(peer, theirs)?);
            std::thread::sleep(SETTLE);
            ours_ns.push(round("workwise", ours)?);
        }
    }
    if rounds.verbose {
        eprintln!("  {name} workwise ns/op by round: {}", list(&ours_ns));
        eprintln!("  {name} {peer} ns/op by round: {}", list(&peer_ns));
    }
    let ours_ns = median(&mut ours_ns);
    let peer_ns = median(&mut peer_ns);
    Ok(Row {
        name: name.to_owned(),
        ours_ns: round_to(ours_ns, 2),
        peer: peer.to_owned(),
        peer_ns: round_to(peer_ns, 2),
        ratio: round_to(ours_ns / peer_ns, 4),
    })
}

/// Times one call of `f`; its result comes back for verification.
fn time<T>(f: impl FnOnce() -> T) -> (Measure, T) {
    let start = Instant::now();
    let got = black_box(f());
    (Measure::Elapsed(start.elapsed()), got)
}

/// A side the harness times: `run` once per round.
fn timed_side<'a, T>(mut run: impl FnMut() -> T + 'a) -> impl FnMut() -> Sample<T> + 'a {
    move || Ok(time(&mut run))
}

/// A side with a fresh input each round: `setup` (untimed) then `run`
/// (timed) on what it made.
fn setup_side<'a, S, T>(
    mut setup: impl FnMut() -> Result<S, String> + 'a,
    mut run: impl FnMut(S) -> T + 'a,
) -> impl FnMut() -> Sample<T> + 'a {
    move || {
        let input = setup()?;
        Ok(time(|| run(input)))
    }
}

/// The run's settings and the rows gathered so far; scenarios write their
/// rows through [`Bench::row`].
#[derive(Debug)]
pub struct Bench {
    /// `--quick`: fewer rounds, smaller counts where a row says so.
    pub quick: bool,
    /// Warm-up and timed rounds per side.
    pub rounds: Rounds,
    /// The size of every pool: `workwise::available_cores()`.
    pub workers: usize,
    json: bool,
    filter: Option<String>,
    rows: Vec<Row>,
    wrong: Option<RowError>,
}

impl Bench {
    /// A run with these settings and no rows yet.
    pub fn new(
        quick: bool,
        rounds: Rounds,
        workers: usize,
        json: bool,
        filter: Option<String>,
    ) -> Self {
        Self {
            quick,
            rounds,
            workers,
            json,
            filter,
            rows: Vec::new(),
            wrong: None,
        }
    }

    /// Whether `--filter` selects the row `name` against `peer` (and no
    /// side has given a wrong answer yet: that stops the run).
    pub fn wants(&self, name: &str, peer: &str) -> bool {
        if self.wrong.is_some() {
            return false;
        }
        match self.filter.as_deref() {
            None => true,
            Some(f) => name.contains(f) || peer.contains(f),
        }
    }

    /// Whether `--filter` selects `name` against any of `peers`: a scenario
    /// asks this before it builds its input.
    pub fn wants_any(&self, name: &str, peers: &[&str]) -> bool {
        peers.iter().any(|p| self.wants(name, p))
    }

    /// A note for the reader, on stderr.
    pub fn note(&self, msg: &str) {
        eprintln!("note: {msg}");
    }

    /// `full` for a full run, or the smaller `quick` under `--quick` (said in
    /// a note: `what` names the unit, e.g. "items").
    pub fn size<N: Copy + fmt::Display>(&self, name: &str, (full, quick): (N, N), what: &str) -> N {
        if self.quick {
            self.note(&format!(
                "{name}: --quick uses {quick} {what} per round on every side (not {full})"
            ));
            quick
        } else {
            full
        }
    }

    /// The rows printed so far.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The wrong answer that stopped the run, if one did.
    pub fn wrong(&self) -> Option<&RowError> {
        self.wrong.as_ref()
    }

    /// Starts the row `name`: then `.items(n)`, a verification, `.ours(..)`
    /// and one `.peer*(..)` per peer.
    pub fn row(&mut self, name: &str) -> RowSpec<'_> {
        let rounds = self.rounds;
        RowSpec {
            bench: self,
            name: name.to_owned(),
            items: 0,
            rounds,
        }
    }

    fn print(&mut self, row: Row) {
        if self.json {
            let line = serde_json::to_string(&row).expect("a row serializes");
            println!("{line}");
        } else {
            print_row(&row);
        }
        let _ = std::io::stdout().flush();
        self.rows.push(row);
    }
}

/// A row before its verification: its name, items and rounds.
#[derive(Debug)]
#[must_use = "a row runs only through .ours(..) and its peers"]
pub struct RowSpec<'b> {
    bench: &'b mut Bench,
    name: String,
    items: u64,
    rounds: Rounds,
}

impl<'b> RowSpec<'b> {
    /// Operations per round (items, messages, bytes, calls): figures are ns
    /// per one of them.
    pub fn items(mut self, n: u64) -> Self {
        self.items = n;
        self
    }

    /// Untimed rounds of each side before the timed ones (default: the
    /// run's).
    pub fn warmup(mut self, n: usize) -> Self {
        self.rounds.warmup = n;
        self
    }

    /// Timed rounds of each side (default: the run's).
    pub fn timed_rounds(mut self, n: usize) -> Self {
        self.rounds.timed = n;
        self
    }

    /// Every round's result must equal `want`.
    pub fn want(self, want: u64) -> Verified<'b, 'static, u64> {
        self.verify(move |&got: &u64| {
            if got == want {
                Ok(())
            } else {
                Err(format!("computed {got}, expected {want}"))
            }
        })
    }

    /// Every round's result must pass `verify` (`Err` says what is wrong).
    pub fn verify<'a, T>(
        self,
        verify: impl Fn(&T) -> Result<(), String> + 'a,
    ) -> Verified<'b, 'a, T> {
        self.verify_each(move |_: &str, got: &T| verify(got))
    }

    /// As [`RowSpec::verify`], also told who ran the round (`workwise` or
    /// the peer's name).
    pub fn verify_each<'a, T>(
        self,
        verify: impl FnMut(&str, &T) -> Result<(), String> + 'a,
    ) -> Verified<'b, 'a, T> {
        Verified {
            spec: self,
            verify: Box::new(verify),
        }
    }
}

/// A row with its verification, waiting for its `ours` side.
#[must_use = "a row runs only through .ours(..) and its peers"]
pub struct Verified<'b, 'a, T> {
    spec: RowSpec<'b>,
    verify: Verify<'a, T>,
}

impl<'b, 'a, T> Verified<'b, 'a, T> {
    /// Ours: `run` once per round, timed whole.
    #[must_use = "a row runs only through its .peer*(..) calls"]
    pub fn ours(self, run: impl FnMut() -> T + 'a) -> Race<'b, 'a, T> {
        self.ours_sample(timed_side(run))
    }

    /// Ours with a fresh input each round: `setup` (untimed; an `Err` skips
    /// the row) then `run` on what it made (timed).
    #[must_use = "a row runs only through its .peer*(..) calls"]
    pub fn ours_with<S>(
        self,
        setup: impl FnMut() -> Result<S, String> + 'a,
        run: impl FnMut(S) -> T + 'a,
    ) -> Race<'b, 'a, T> {
        self.ours_sample(setup_side(setup, run))
    }

    fn ours_sample(self, ours: impl FnMut() -> Sample<T> + 'a) -> Race<'b, 'a, T> {
        Race {
            spec: self.spec,
            verify: self.verify,
            ours: Box::new(ours),
        }
    }
}

/// A row ready to run: each `peer*` call runs ours against that peer.
pub struct Race<'b, 'a, T> {
    spec: RowSpec<'b>,
    verify: Verify<'a, T>,
    ours: Box<dyn FnMut() -> Sample<T> + 'a>,
}

impl<'b, 'a, T> Race<'b, 'a, T> {
    /// Runs ours against `peer`: `run` once per round, timed whole.
    pub fn peer(self, peer: &str, run: impl FnMut() -> T) -> Self {
        if !self.wants(peer) {
            return self;
        }
        let rounds = self.spec.rounds;
        self.against(peer, rounds, &mut timed_side(run))
    }

    /// As [`Race::peer`], on a state `make` builds for this peer alone
    /// (when `--filter` selects it), dropped after its comparison.
    pub fn peer_on<S>(
        self,
        peer: &str,
        make: impl FnOnce() -> S,
        mut run: impl FnMut(&S) -> T,
    ) -> Self {
        if !self.wants(peer) {
            return self;
        }
        let state = make();
        self.peer(peer, || run(&state))
    }

    /// As [`Race::peer`], with a fresh input each round: `setup` (untimed;
    /// an `Err` skips the row) then `run` on what it made (timed).
    pub fn peer_with<S>(
        self,
        peer: &str,
        setup: impl FnMut() -> Result<S, String>,
        run: impl FnMut(S) -> T,
    ) -> Self {
        if !self.wants(peer) {
            return self;
        }
        let rounds = self.spec.rounds;
        self.against(peer, rounds, &mut setup_side(setup, run))
    }

    /// Runs ours against `python`: `round` runs one `python3` process that
    /// times itself and gives (ns per item, result). Skipped with a note
    /// when `python3` cannot import `modules`. Each round is its own
    /// process, so one warm-up is enough (fewer if the row has fewer).
    pub fn peer_python(
        self,
        modules: &str,
        mut round: impl FnMut() -> Result<(f64, T), String>,
    ) -> Self {
        if !self.wants("python") {
            return self;
        }
        if let Err(why) = python::available(modules) {
            self.note(&format!("{} vs python skipped: {why}", self.spec.name));
            return self;
        }
        let rounds = Rounds {
            warmup: self.spec.rounds.warmup.min(1),
            ..self.spec.rounds
        };
        self.against("python", rounds, &mut || {
            round().map(|(ns, got)| (Measure::NsPerItem(ns), got))
        })
    }

    /// Skips `peer` with a note saying `why`, when `--filter` selects it.
    pub fn skip(self, peer: &str, why: &str) -> Self {
        if self.wants(peer) {
            self.note(&format!("{} vs {peer} skipped: {why}", self.spec.name));
        }
        self
    }

    /// A note for the reader, on stderr.
    pub fn note(&self, msg: &str) {
        self.spec.bench.note(msg);
    }

    fn wants(&self, peer: &str) -> bool {
        self.spec.bench.wants(&self.spec.name, peer)
    }

    fn against(
        mut self,
        peer: &str,
        rounds: Rounds,
        theirs: &mut dyn FnMut() -> Sample<T>,
    ) -> Self {
        let name = self.spec.name.clone();
        eprintln!("running {name} vs {peer} ...");
        let result = compare(
            &name,
            peer,
            rounds,
            self.spec.items,
            &mut *self.ours,
            theirs,
            &mut *self.verify,
        );
        let bench = &mut *self.spec.bench;
        match result {
            Ok(row) => bench.print(row),
            Err(RowError::Skip(why)) => bench.note(&format!("{name} vs {peer} skipped: {why}")),
            Err(wrong) => {
                eprintln!("workwise-bench: {wrong}");
                bench.wrong = Some(wrong);
            }
        }
        self
    }
}

/// The table's header line.
pub fn print_header() {
    println!(
        "{:<24} {:<20} {:>14} {:>14} {:>8}",
        "name", "peer", "ours ns/op", "peer ns/op", "ratio"
    );
}

fn print_row(row: &Row) {
    println!(
        "{:<24} {:<20} {:>14.1} {:>14.1} {:>8}",
        row.name,
        row.peer,
        row.ours_ns,
        row.peer_ns,
        ratio(row.ratio)
    );
}

/// A ratio with two decimals, or four when it is below 0.1.
pub fn ratio(r: f64) -> String {
    if r < 0.1 {
        format!("{r:.4}")
    } else {
        format!("{r:.2}")
    }
}

fn list(xs: &[f64]) -> String {
    let parts: Vec<String> = xs.iter().map(|x| format!("{x:.1}")).collect();
    parts.join(" ")
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn round_to(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    fn rounds(warmup: usize, timed: usize) -> Rounds {
        Rounds {
            warmup,
            timed,
            verbose: false,
        }
    }

    fn bench(filter: Option<&str>) -> Bench {
        Bench::new(false, rounds(1, 3), 2, true, filter.map(str::to_owned))
    }

    /// A side that reports the next of `ns` (ns per item over 10 items) and
    /// gives `value`, pushing `tag` onto `order` each round.
    fn side<'a>(
        order: &'a RefCell<Vec<char>>,
        tag: char,
        ns: &'a [f64],
        value: u64,
    ) -> impl FnMut() -> Sample<u64> + 'a {
        let at = Cell::new(0);
        move || {
            order.borrow_mut().push(tag);
            let i = at.get();
            at.set(i + 1);
            let total = Duration::from_nanos((ns[i % ns.len()] * 10.0) as u64);
            Ok((Measure::Elapsed(total), value))
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn compare_alternates_and_ratios_the_medians() {
        let order = RefCell::new(Vec::new());
        // Warm-up figures first (ignored), then three timed rounds whose
        // medians are 10 and 4: the means (40 and 5) would give another ratio.
        let mut ours = side(&order, 'o', &[999.0, 10.0, 100.0, 9.0], 7);
        let mut theirs = side(&order, 'p', &[1.0, 4.0, 3.0, 12.0], 7);
        let row = compare(
            "t",
            "p",
            rounds(1, 3),
            10,
            &mut ours,
            &mut theirs,
            &mut |_, _| Ok(()),
        )
        .unwrap();
        assert_eq!(order.take(), ['o', 'p', 'o', 'p', 'p', 'o', 'o', 'p']);
        assert_eq!((row.ours_ns, row.peer_ns, row.ratio), (10.0, 4.0, 2.5));
    }

    #[test]
    fn a_self_timed_side_is_taken_as_ns_per_item() {
        let mut ours = || Ok((Measure::Elapsed(Duration::from_nanos(600)), 1u64));
        let mut theirs = || Ok((Measure::NsPerItem(3.0), 1u64));
        let row = compare(
            "t",
            "p",
            rounds(0, 1),
            100,
            &mut ours,
            &mut theirs,
            &mut |_, _| Ok(()),
        )
        .unwrap();
        assert_eq!((row.ours_ns, row.peer_ns, row.ratio), (6.0, 3.0, 2.0));
    }

    #[test]
    fn a_wrong_answer_is_an_error_naming_the_side() {
        let order = RefCell::new(Vec::new());
        let mut ours = side(&order, 'o', &[1.0], 7);
        let mut theirs = side(&order, 'p', &[1.0], 8);
        let err = compare(
            "t",
            "rayon",
            rounds(1, 3),
            10,
            &mut ours,
            &mut theirs,
            &mut |_, &got| {
                if got == 7 {
                    Ok(())
                } else {
                    Err(format!("computed {got}, expected 7"))
                }
            },
        )
        .unwrap_err();
        assert_eq!(
            err,
            RowError::Wrong {
                name: "t".into(),
                who: "rayon".into(),
                why: "computed 8, expected 7".into()
            }
        );
        // Caught in the warm-up, before any timed round.
        assert_eq!(order.take(), ['o', 'p']);
    }

    #[test]
    fn a_side_that_cannot_run_skips_and_no_items_is_an_error() {
        let mut ok = || Ok((Measure::NsPerItem(1.0), 0u64));
        let mut broken = || Err::<(Measure, u64), _>("no python".to_owned());
        let err = compare(
            "t",
            "p",
            rounds(1, 1),
            1,
            &mut ok,
            &mut broken,
            &mut |_, _| Ok(()),
        );
        assert_eq!(err.unwrap_err(), RowError::Skip("no python".into()));
        let err = compare(
            "t",
            "p",
            rounds(1, 1),
            0,
            &mut ok,
            &mut || Ok((Measure::NsPerItem(1.0), 0)),
            &mut |_, _| Ok(()),
        );
        assert!(matches!(err, Err(RowError::Skip(why)) if why.contains(".items(n)")));
    }

    #[test]
    fn the_builder_runs_each_wanted_peer_against_ours_and_stops_on_a_wrong_answer() {
        let mut b = bench(None);
        let made = Cell::new(0);
        let ours_rounds = Cell::new(0);
        b.row("x.sum")
            .items(4)
            .want(6)
            .ours(|| {
                ours_rounds.set(ours_rounds.get() + 1);
                1 + 2 + 3
            })
            .peer("seq", || (1..=3).sum())
            .peer_on(
                "pooled",
                || {
                    made.set(made.get() + 1);
                    vec![1u64, 2, 3]
                },
                |v| v.iter().sum(),
            )
            .peer_with("fresh", || Ok(vec![3u64, 2, 1]), |v| v.into_iter().sum());
        let got: Vec<_> = b
            .rows()
            .iter()
            .map(|r| (r.name.as_str(), r.peer.as_str()))
            .collect();
        assert_eq!(
            got,
            [("x.sum", "seq"), ("x.sum", "pooled"), ("x.sum", "fresh")]
        );
        assert_eq!(made.get(), 1);
        // One warm-up and three timed rounds of ours against each peer.
        assert_eq!(ours_rounds.get(), 3 * 4);
        assert!(b
            .rows()
            .iter()
            .all(|r| r.ratio.is_finite() && r.ratio > 0.0));
        assert!(b.wrong().is_none());

        b.row("y.sum")
            .items(1)
            .want(6)
            .ours(|| 6)
            .peer("off_by_one", || 7);
        assert!(
            matches!(b.wrong(), Some(RowError::Wrong { name, who, .. }) if name == "y.sum" && who == "off_by_one")
        );
        assert_eq!(b.rows().len(), 3);
        // Nothing more runs once a side was wrong.
        assert!(!b.wants("z", "seq"));
    }

    #[test]
    fn the_filter_skips_a_peer_without_making_its_state() {
        let mut b = bench(Some("rayon"));
        let made = Cell::new(false);
        b.row("pool.map")
            .items(1)
            .want(1)
            .ours(|| 1)
            .peer_on("sequential", || made.set(true), |_| 1)
            .peer("rayon", || 1);
        assert!(!made.get());
        let peers: Vec<_> = b.rows().iter().map(|r| r.peer.as_str()).collect();
        assert_eq!(peers, ["rayon"]);
    }

    #[test]
    fn verify_each_is_told_who_ran() {
        let mut b = bench(None);
        let seen = RefCell::new(Vec::new());
        b.row("t")
            .items(1)
            .verify_each(|who, _: &u64| {
                seen.borrow_mut().push(who.to_owned());
                Ok(())
            })
            .ours(|| 0)
            .peer("p", || 0);
        let seen = seen.into_inner();
        assert_eq!(seen.len(), 8);
        assert_eq!(seen.iter().filter(|w| *w == "workwise").count(), 4);
        assert_eq!(seen.iter().filter(|w| *w == "p").count(), 4);
    }
}
