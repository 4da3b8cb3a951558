//! What the tour knows about each scenario before running it: a
//! [`ScenarioInfo`], one `const INFO` in each scenario's file, listed in
//! the registry ([`SCENARIOS`]); and the texts generated
//! from the registry: `--help`'s scenario paragraph and examples, the
//! `--quick` sizes, the `--json` keys, `--list`.
//!
//! A scenario's name, models and JSON keys are what outside scripts read:
//! change them only on purpose.

use std::fmt::Write as _;

use super::{Tour, TourError, SCENARIOS};

/// One row of the guide's quick-reference table, as the tour runs it: what
/// it is called, what it runs, its sizes, its models, its figures.
pub(crate) struct ScenarioInfo {
    /// The row name outside scripts read (`web scraping`).
    pub(crate) name: &'static str,
    /// The short name for `--scenario` (`scraping`).
    pub(crate) slug: &'static str,
    /// One line for `--help`'s list of `--scenario` values.
    pub(crate) about: &'static str,
    /// What runs, for `tour --help`'s paragraph of scenarios, read after
    /// the name: `web scraping (fetch pages ...)`.
    pub(crate) help: &'static str,
    /// What the scenario makes smaller in a `--quick` run.
    pub(crate) sizes: &'static [Size],
    /// The model name of every row, in the order the scenario records them.
    /// The first is the baseline: the speedups are over its wall time.
    pub(crate) models: &'static [&'static str],
    /// Models whose wall time is not the same work as the baseline's, so
    /// that their rows carry no speedup (crash isolation's `Pool::cpu`: its
    /// wall is the time until its crash).
    pub(crate) no_speedup: &'static [&'static str],
    /// The scenario's own figures that the table shows, beside wall time
    /// and speedup.
    pub(crate) columns: &'static [Column],
    /// Every key the scenario's JSON rows carry beyond the common ones, and
    /// what each means.
    pub(crate) keys: &'static [Key],
    /// What in this scenario is an error of the tour (exit status 1) and
    /// what is not, for `--help`; empty where a failure is simply a task
    /// that failed or a result that differs from the baseline's.
    pub(crate) errors: &'static str,
    /// Runs the scenario, its baseline row first, recording each row.
    pub(crate) run: fn(&mut Tour) -> Result<(), TourError>,
    /// The tasks the scenario's worker processes run, for
    /// `workwise::process::init`.
    #[cfg(target_os = "linux")]
    pub(crate) process_tasks: &'static [&'static dyn workwise::process::Registered],
}

impl ScenarioInfo {
    /// The model name of the row that speedups are measured against.
    pub(crate) fn baseline(&self) -> &'static str {
        self.models.first().copied().unwrap_or(super::SEQUENTIAL)
    }

    /// The width of the table's model column: the longest model name.
    pub(crate) fn model_width(&self) -> usize {
        self.models
            .iter()
            .map(|m| m.len())
            .max()
            .unwrap_or(0)
            .max(10)
    }

    /// Whether a row's wall time means the same work as the baseline's.
    pub(crate) fn compares_speed(&self, model: &str) -> bool {
        !self.no_speedup.contains(&model)
    }
}

/// A table column for one of a scenario's figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    /// The figure's key in [`Measurement::figures`](super::Measurement)
    /// and in JSON (`failed`: the row's failures).
    pub(crate) key: &'static str,
    /// The column's header in the table.
    pub(crate) header: &'static str,
}

/// A JSON key a scenario's rows carry, and what it means.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub(crate) key: &'static str,
    pub(crate) means: &'static str,
}

impl Key {
    pub(crate) const fn new(key: &'static str, means: &'static str) -> Key {
        Key { key, means }
    }
}

/// One size a scenario runs at: a full run's and a `--quick` run's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    /// What is counted (`pages`, `keep-alive connections`).
    pub(crate) what: &'static str,
    /// The unit after the number, with its space (`" s"`), or none.
    pub(crate) unit: &'static str,
    pub(crate) quick: u64,
    pub(crate) full: u64,
}

impl Size {
    /// `quick` or `full` things: `60 pages, not 200`.
    pub(crate) const fn count(what: &'static str, quick: u64, full: u64) -> Size {
        Size {
            what,
            unit: "",
            quick,
            full,
        }
    }

    /// A measure with a unit: `a 1 s outage, not 2 s` is
    /// `Size::measure(1, 2, " s", "outage")`.
    pub(crate) const fn measure(
        quick: u64,
        full: u64,
        unit: &'static str,
        what: &'static str,
    ) -> Size {
        Size {
            what,
            unit,
            quick,
            full,
        }
    }

    /// The size for this run.
    pub(crate) fn pick(&self, quick: bool) -> u64 {
        if quick {
            self.quick
        } else {
            self.full
        }
    }

    /// [`pick`](Size::pick), as a count of items.
    pub(crate) fn items(&self, quick: bool) -> usize {
        usize::try_from(self.pick(quick)).unwrap_or(usize::MAX)
    }

    fn describe(&self) -> String {
        let (q, f, unit, what) = (
            thousands(self.quick),
            thousands(self.full),
            self.unit,
            self.what,
        );
        if self.quick == self.full {
            format!("{q}{unit} {what} either way")
        } else {
            format!("{q}{unit} {what}, not {f}{unit}")
        }
    }
}

/// `1,024`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `tour --help`'s paragraph of scenarios, in the registry's order.
pub(crate) fn scenarios_help() -> String {
    let list = SCENARIOS
        .iter()
        .map(|s| format!("{} ({})", s.name, s.help))
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "Scenarios, in the guide's table order: {list}. A whole tour ends with a memory \
         summary: an idle thread, a parked async task and an idle worker process, \
         measured, beside the guide's figures."
    )
}

/// The baselines that are not `sequential`: `naive for api calls;
/// ProcessPool for crash isolation`, joined by `sep`, with `quote` around
/// model names.
pub(crate) fn other_baselines(quote: &str, sep: &str) -> String {
    SCENARIOS
        .iter()
        .filter(|s| s.baseline() != super::SEQUENTIAL)
        .map(|s| format!("{quote}{}{quote} for {}", s.baseline(), s.name))
        .collect::<Vec<_>>()
        .join(sep)
}

/// `tour --help`: what the tour does, the scenarios, the exit status.
pub(crate) fn tour_help() -> String {
    let errors = SCENARIOS
        .iter()
        .filter(|s| !s.errors.is_empty())
        .map(|s| format!("{}: {}", s.name, s.errors))
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "Run the guide's quick-reference table live, timed on this machine.\n\n\
         Each scenario runs the same work as a plain loop and under the right model, and \
         most also under the wrong one. Every row shows the wall time, the speedup over the \
         scenario's first row (`sequential`; {}), the scenario's own figures, and an \
         advisor line: the findings of workwise's advisor (`Pool::advice`, `LoopWatch`; \
         codes W01 to W11, such as W01 for CPU-bound work on an I/O pool) in the scenario's \
         words, beside what was measured.\n\n\
         {}\n\n\
         Exit status: 0 when every row ran and every result was right, 1 when the tour \
         could not run, a request failed or a result differed from the baseline row's \
         ({errors}), 2 on a usage error.",
        other_baselines("`", "; "),
        scenarios_help()
    )
}

/// `--quick`'s help: every scenario's sizes.
pub(crate) fn quick_help() -> String {
    let sizes = SCENARIOS
        .iter()
        .map(|s| {
            let sizes = s.sizes.iter().map(Size::describe).collect::<Vec<_>>();
            format!("{}: {}", s.name, sizes.join(", and "))
        })
        .chain([format!(
            "the memory summary: {}",
            super::memory::THREADS.describe()
        )])
        .collect::<Vec<_>>()
        .join("; ");
    format!("A smaller run, a few seconds in all ({sizes}).")
}

/// The keys every row carries, before and after the scenario's own.
const COMMON_KEYS: &str = "scenario, model, wall_ms, speedup (over the scenario's first row; \
    null where it means nothing), the scenario's own figures, failed, errors (only where the \
    row's failures are its lesson: how many of them are errors of the tour), workers, advice \
    (the advisor's codes, a list such as [\"W01\"], empty when it found nothing: W01 CPU-bound \
    work on an I/O pool, W02 I/O-bound work on the CPU pool or in a loop, W03 a blocking call \
    in an async task, W04 too many workers, W05 tiny tasks, W06 the size (of a pool, or a \
    loop's one thread) is the limit, W08 lost errors, W09 concurrency that does not pay, W10 a \
    task that may hang, W11 large arguments copied into worker processes; see \
    `workwise::advice`), advisor (the advisor's line, as the table prints it), and \
    first_failure where a row failed";

/// `--json`'s help: the common keys, then every scenario's figures.
pub(crate) fn json_help() -> String {
    let figures = SCENARIOS
        .iter()
        .map(|s| {
            let keys = s
                .keys
                .iter()
                .map(|k| format!("{} ({})", k.key, k.means))
                .collect::<Vec<_>>();
            format!("{}: {}.", s.name, keys.join(", "))
        })
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "Print one JSON object per row on stdout, and nothing else there.\n\n\
         Keys: {COMMON_KEYS}.\n\n\
         The figures: {figures}\n\n\
         {}",
        super::memory::JSON_HELP
    )
}

/// The `workwise` command's examples, one per scenario.
pub(crate) fn examples() -> String {
    let mut text = String::from(
        "Examples:\n  \
         workwise tour                    the whole tour, as a table (a minute or less)\n  \
         workwise tour --quick            a smaller run, a few seconds\n  \
         workwise tour --quick --json     one JSON object per row, for scripts\n  \
         workwise tour --list             the scenarios, by short and row name",
    );
    for s in SCENARIOS {
        let _ = write!(text, "\n  workwise tour --scenario {}", s.slug);
    }
    if let [a, b, ..] = SCENARIOS {
        let _ = write!(
            text,
            "\n  workwise tour --scenario {} --scenario {}",
            a.slug, b.slug
        );
    }
    text
}

/// `--list`: one line per scenario, or with `--json` one object per
/// scenario (scenario, slug, about, models, keys: each key and its meaning,
/// quick).
pub(crate) fn list(json: bool) -> Vec<String> {
    SCENARIOS
        .iter()
        .map(|s| {
            let sizes = s.sizes.iter().map(Size::describe).collect::<Vec<_>>();
            if json {
                let keys: serde_json::Map<String, serde_json::Value> = s
                    .keys
                    .iter()
                    .map(|k| (k.key.to_string(), k.means.into()))
                    .collect();
                serde_json::json!({
                    "scenario": s.name,
                    "slug": s.slug,
                    "about": s.about,
                    "models": s.models,
                    "keys": keys,
                    "quick": sizes,
                })
                .to_string()
            } else {
                format!(
                    "{:<9} {:<17} {}; models: {}",
                    s.slug,
                    s.name,
                    s.about,
                    s.models.join(", ")
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1024), "1,024");
        assert_eq!(thousands(40_000_000), "40,000,000");
        assert_eq!(
            Size::count("pages", 60, 200).describe(),
            "60 pages, not 200"
        );
        assert_eq!(
            Size::count("items", 50, 50).describe(),
            "50 items either way"
        );
        assert_eq!(
            Size::measure(1, 2, " s", "outage").describe(),
            "1 s outage, not 2 s"
        );
    }

    #[test]
    fn the_registry_is_consistent() {
        let mut slugs = Vec::new();
        for s in SCENARIOS {
            assert!(!slugs.contains(&s.slug), "{} twice", s.slug);
            slugs.push(s.slug);
            assert!(!s.models.is_empty(), "{}", s.name);
            for c in s.columns {
                assert!(
                    c.key == "failed" || s.keys.iter().any(|k| k.key == c.key),
                    "{}: column {} has no documented key",
                    s.name,
                    c.key
                );
            }
            for m in s.no_speedup {
                assert!(s.models.contains(m), "{}: {m}", s.name);
            }
        }
        let help = json_help();
        for s in SCENARIOS {
            assert!(help.contains(s.name), "{help}");
            assert!(quick_help().contains(s.name));
            assert!(tour_help().contains(s.help));
        }
    }
}
