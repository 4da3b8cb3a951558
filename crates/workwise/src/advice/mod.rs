//! The advisor: what workwise sees its pools, queues and policies doing
//! wrong, as data.
//!
//! The guide's pitfalls (CPU work on an I/O pool, a blocked event loop,
//! tiny tasks, an unbounded backlog, errors nobody reads) run without an
//! error: the program is only slow, or hangs, or loses results. Each of
//! workwise's pools keeps the figures that show these mistakes
//! ([`PoolStats`](crate::PoolStats)), and the rules here turn them into
//! [`Advice`] values with a stable [`Code`], the figures that triggered
//! them, and the fix.
//!
//! - [`Pool::advice`](crate::Pool::advice), [`Queue::advice`](crate::Queue::advice),
//!   [`Policy::advice`](crate::Policy::advice), and with their features
//!   `aio::BlockingDetector::advice` (W03) and `process::ProcessPool::advice`
//!   (W11) ask one object;
//! - [`report`] asks every live pool and queue of the process;
//! - [`LoopWatch`] asks of a plain loop that uses no pool yet whether it
//!   waits (W02: give it `Pool::io()`) or computes (W06: `Pool::cpu()`);
//! - with the feature `tracing`, each finding is also emitted once per pool
//!   at WARN with target `workwise::advice` when it is first found, and when
//!   a pool shuts down; `WORKWISE_ADVICE=off` turns the emission off (the
//!   methods still answer), and `WORKWISE_ADVICE=stderr` writes each finding
//!   as one line on standard error instead, with or without the feature.
//!
//! The [`rules`] page is the reference: each code, the figures it reads and
//! its thresholds, and a wrong and a right use of each.
//!
//! # Examples
//!
//! ```
//! use workwise::advice::Code;
//! use workwise::Pool;
//!
//! // CPU-bound work on the I/O pool: W01 once enough tasks have run.
//! let pool = Pool::io().max_workers(8).build()?;
//! let handles: Vec<_> = (0..64)
//!     .map(|i| pool.submit(move || workwise_spin(3, i)))
//!     .collect();
//! for h in handles {
//!     h.wait().unwrap();
//! }
//! pool.shutdown();
//! let advice = pool.advice();
//! assert!(advice.iter().any(|a| a.code == Code::W01), "{advice:?}");
//! println!("{}", advice[0]); // one line: code, pool, summary, figures, fix
//!
//! // Computes for about `ms` milliseconds.
//! fn workwise_spin(ms: u64, seed: u64) -> u64 {
//!     let end = std::time::Instant::now() + std::time::Duration::from_millis(ms);
//!     let mut x = seed;
//!     while std::time::Instant::now() < end {
//!         x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
//!     }
//!     x
//! }
//! # Ok::<(), workwise::PoolBuildError>(())
//! ```

mod loops;
pub(crate) mod pool_rules;
mod registry;
pub mod rules;

use std::fmt;

pub use loops::{LoopFigures, LoopWatch};
#[cfg(feature = "tracing")]
pub(crate) use registry::emission_on;
pub use registry::report;
pub(crate) use registry::{emission_wanted, emit, watch, Emitted, Watched};

/// A rule's stable code; scripts may match on its text (`"W01"`).
///
/// # Examples
///
/// ```
/// use workwise::advice::Code;
/// assert_eq!(Code::W05.to_string(), "W05");
/// assert_eq!(Code::W05.title(), "tiny tasks");
/// assert_eq!(Code::ALL.len(), 11);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Code {
    /// CPU-bound work on an I/O pool.
    W01,
    /// I/O-bound work on the CPU pool.
    W02,
    /// A blocking call inside an async task.
    W03,
    /// Too many workers for the work or the cores.
    W04,
    /// Tasks too small for the pool's per-task cost.
    W05,
    /// The pool's size is what limits the run.
    W06,
    /// A queue that keeps growing, or producers blocked on a full one.
    W07,
    /// Panics whose handles were dropped unread.
    W08,
    /// Concurrency that does not pay.
    W09,
    /// A task running far longer than its peers (a hang suspected).
    W10,
    /// Large arguments copied into a process pool.
    W11,
}

impl Code {
    /// Every code, in order.
    pub const ALL: [Code; 11] = [
        Code::W01,
        Code::W02,
        Code::W03,
        Code::W04,
        Code::W05,
        Code::W06,
        Code::W07,
        Code::W08,
        Code::W09,
        Code::W10,
        Code::W11,
    ];

    /// The code's text, `"W01"` to `"W11"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(workwise::advice::Code::W11.as_str(), "W11");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Code::W01 => "W01",
            Code::W02 => "W02",
            Code::W03 => "W03",
            Code::W04 => "W04",
            Code::W05 => "W05",
            Code::W06 => "W06",
            Code::W07 => "W07",
            Code::W08 => "W08",
            Code::W09 => "W09",
            Code::W10 => "W10",
            Code::W11 => "W11",
        }
    }

    /// The rule's name in a few words.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(workwise::advice::Code::W01.title(), "CPU-bound work on an I/O pool");
    /// ```
    pub fn title(self) -> &'static str {
        match self {
            Code::W01 => "CPU-bound work on an I/O pool",
            Code::W02 => "I/O-bound work on the CPU pool",
            Code::W03 => "a blocking call in an async task",
            Code::W04 => "too many workers",
            Code::W05 => "tiny tasks",
            Code::W06 => "the pool's size is the limit",
            Code::W07 => "a queue that does not keep up",
            Code::W08 => "lost errors",
            Code::W09 => "concurrency that does not pay",
            Code::W10 => "a task that may hang",
            Code::W11 => "large arguments copied into worker processes",
        }
    }

    /// Whether the rule says the execution model is wrong for the work
    /// (W01, W02, W03, W04), rather than how it is sized or used.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::advice::Code;
    /// assert!(Code::W01.is_model());
    /// assert!(!Code::W06.is_model());
    /// ```
    pub fn is_model(self) -> bool {
        matches!(self, Code::W01 | Code::W02 | Code::W03 | Code::W04)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a finding matters.
///
/// # Examples
///
/// ```
/// use workwise::advice::Severity;
/// assert!(Severity::Warning > Severity::Info);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing: the run could be faster with a change of size.
    Info,
    /// A mistake: wrong model, lost errors, a likely hang.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
        })
    }
}

/// One measured figure behind a finding: a name, a value, and its unit.
///
/// # Examples
///
/// ```
/// use workwise::advice::Figure;
/// let f = Figure::new("cpu_share", 0.93, "");
/// assert_eq!(f.to_string(), "cpu_share=0.93");
/// assert_eq!(Figure::new("median_task", 2.5, "µs").to_string(), "median_task=2.5µs");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Figure {
    /// What was measured, in snake case.
    pub name: String,
    /// The value, in `unit`.
    pub value: f64,
    /// The unit (`"ms"`, `"µs"`, `"%"`, `""` for a count or a ratio).
    pub unit: String,
}

impl Figure {
    /// A figure `name` of `value` `unit`.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = workwise::advice::Figure::new("tasks", 64.0, "");
    /// assert_eq!(f.value, 64.0);
    /// ```
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
        Figure {
            name: name.into(),
            value,
            unit: unit.into(),
        }
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Up to three significant decimals, without trailing zeros.
        let v = format!("{:.3}", self.value);
        let v = v.trim_end_matches('0').trim_end_matches('.');
        write!(f, "{}={}{}", self.name, v, self.unit)
    }
}

/// One finding of the advisor: which rule, about what, what it measured,
/// and what to do.
///
/// `Display` writes it as one line:
/// `W01 warning [pool 'fetch'] summary (figure=value, ...); fix: ...`.
///
/// # Examples
///
/// ```
/// use workwise::advice::{Advice, Code, Figure, Severity};
///
/// let a = Advice::new(
///     Code::W09,
///     "pool 'script'",
///     "each task was submitted after the previous one finished",
///     vec![Figure::new("tasks", 50.0, ""), Figure::new("peak_running", 1.0, "")],
///     "run the loop without a pool",
/// );
/// assert_eq!(a.severity, Severity::Warning);
/// assert_eq!(
///     a.to_string(),
///     "W09 warning [pool 'script'] each task was submitted after the previous one finished \
///      (tasks=50, peak_running=1); fix: run the loop without a pool"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Advice {
    /// The rule.
    pub code: Code,
    /// How much it matters (W06 is `Info`, the rest `Warning`).
    pub severity: Severity,
    /// What it is about: `pool 'fetch'`, `queue 'jobs'`, `task 'GET /user'`.
    pub source: String,
    /// What was seen, in a sentence.
    pub summary: String,
    /// The figures that triggered it.
    pub figures: Vec<Figure>,
    /// What to do about it.
    pub fix: String,
}

impl Advice {
    /// A finding of rule `code` about `source`, with the rule's default
    /// severity (W06: `Info`; every other rule: `Warning`).
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::advice::{Advice, Code, Severity};
    /// let a = Advice::new(Code::W06, "pool 'p'", "size-bound", vec![], "raise max_workers");
    /// assert_eq!(a.severity, Severity::Info);
    /// ```
    pub fn new(
        code: Code,
        source: impl Into<String>,
        summary: impl Into<String>,
        figures: Vec<Figure>,
        fix: impl Into<String>,
    ) -> Self {
        Advice {
            code,
            severity: if code == Code::W06 {
                Severity::Info
            } else {
                Severity::Warning
            },
            source: source.into(),
            summary: summary.into(),
            figures,
            fix: fix.into(),
        }
    }

    /// The figure named `name`, if the finding has one.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::advice::{Advice, Code, Figure};
    /// let a = Advice::new(Code::W05, "pool 'p'", "tiny", vec![Figure::new("tasks", 9.0, "")], "batch");
    /// assert_eq!(a.figure("tasks"), Some(9.0));
    /// assert_eq!(a.figure("nothing"), None);
    /// ```
    pub fn figure(&self, name: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value)
    }
}

impl fmt::Display for Advice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} [{}] {}",
            self.code, self.severity, self.source, self.summary
        )?;
        if !self.figures.is_empty() {
            f.write_str(" (")?;
            for (i, fig) in self.figures.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{fig}")?;
            }
            f.write_str(")")?;
        }
        write!(f, "; fix: {}", self.fix)
    }
}
