//! Black-box tests of `workwise tour`: the built binary, run as outside
//! scripts run it. No timing is asserted: only names, counts and exit codes.

use std::process::{Command, Output};

use serde_json::Value;

fn workwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workwise"))
        .args(args)
        .output()
        .expect("the workwise binary runs")
}

/// Runs `workwise tour --quick --json` and gives its rows.
fn quick_json_rows() -> Vec<Value> {
    let out = workwise(&["tour", "--quick", "--json"]);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    // Every stdout line is one JSON object: nothing else is printed there.
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect()
}

/// The rows of one scenario, checked to be `models` in that order, each with
/// no failure, positive times and rates, and an advisor line.
fn scenario_rows<'a>(
    rows: &'a [Value],
    scenario: &str,
    models: &[&str],
    rates: &[&str],
) -> Vec<&'a Value> {
    let chosen: Vec<&Value> = rows.iter().filter(|r| r["scenario"] == scenario).collect();
    let names: Vec<&str> = chosen
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(names, models, "{scenario}: {rows:?}");
    for row in &chosen {
        assert_eq!(row["failed"], 0, "{row}");
        assert!(row.get("first_failure").is_none(), "{row}");
        assert!(row["workers"].as_u64().is_some_and(|w| w > 0), "{row}");
        for key in ["wall_ms", "speedup"].iter().chain(rates) {
            assert!(row[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {row}");
        }
        assert!(
            row["advice"].as_str().is_some_and(|a| !a.is_empty()),
            "{row}"
        );
    }
    chosen
}

#[test]
fn quick_json_tour_runs_every_scenario_under_every_model() {
    let rows = quick_json_rows();
    let scenarios: Vec<&str> = rows
        .iter()
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(scenarios.len(), 9, "{scenarios:?}");

    let scraping = scenario_rows(
        &rows,
        "web scraping",
        &["sequential", "Pool::cpu", "Pool::io"],
        &["pages_per_s"],
    );
    for row in scraping {
        assert!(row["pages"].as_u64().is_some_and(|p| p > 0), "{row}");
    }

    // CPU-bound scenarios: the wrong model (threads sized for waiting)
    // first, then the right one.
    let cpu_models = ["sequential", "Pool::io", "Pool::cpu"];
    let analysis = scenario_rows(&rows, "data analysis", &cpu_models, &["mb", "mb_per_s"]);
    // Every model counted the same words (the tour also compares the counts
    // word by word, and fails the row if they differ).
    let words = analysis[0]["words"].as_u64().expect("words");
    assert!(words > 100_000, "{}", analysis[0]);
    for row in &analysis {
        assert_eq!(row["words"], words, "{row}");
        assert_eq!(row["mb"], analysis[0]["mb"], "{row}");
    }
    let blur = scenario_rows(&rows, "image processing", &cpu_models, &["images_per_s"]);
    for row in &blur {
        // `failed` counts the images whose checksum differs from the loop's.
        assert_eq!(row["images"], 32, "{row}");
    }
    for row in analysis.iter().chain(&blur) {
        let workers = row["workers"].as_u64().unwrap();
        match row["model"].as_str().unwrap() {
            "sequential" => assert_eq!(workers, 1, "{row}"),
            "Pool::io" => assert!(workers >= 5, "{row}"),
            _ => {}
        }
    }
}

#[test]
fn one_scenario_by_name_runs_alone() {
    let out = workwise(&["tour", "--quick", "--json", "--scenario", "images"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(
        rows.iter().all(|r| r["scenario"] == "image processing"),
        "{stdout}"
    );
}

#[test]
fn a_port_in_use_is_a_clear_error_not_a_panic() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = workwise(&["tour", "--quick", "--json", "--port", &port]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unknown_scenario_is_a_usage_error() {
    let out = workwise(&["tour", "--scenario", "juggling"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("scraping"));
}
