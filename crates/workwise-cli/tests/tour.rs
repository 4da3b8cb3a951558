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

#[test]
fn quick_json_tour_fetches_every_page_under_every_model() {
    let out = workwise(&["tour", "--quick", "--json"]);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );

    // Every stdout line is one JSON object: nothing else is printed there.
    let rows: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    let scraping: Vec<&Value> = rows
        .iter()
        .filter(|r| r["scenario"] == "web scraping")
        .collect();
    let models: Vec<&str> = scraping
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["sequential", "Pool::cpu", "Pool::io"], "{stdout}");

    for row in scraping {
        let pages = row["pages"].as_u64().expect("pages");
        assert!(pages > 0, "{row}");
        assert_eq!(row["failed"], 0, "{row}");
        for key in ["wall_ms", "speedup", "pages_per_s"] {
            assert!(row[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {row}");
        }
        assert!(
            row["advice"].as_str().is_some_and(|a| !a.is_empty()),
            "{row}"
        );
    }
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
