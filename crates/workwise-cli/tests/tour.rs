//! Black-box tests of `workwise tour`: the built binary, run as outside
//! scripts run it. No timing is asserted: only names, counts, exit codes,
//! and the advisor's model codes on the rows whose model is right or wrong
//! for the work by construction.

use std::process::{Command, Output};

use serde_json::Value;

fn workwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workwise"))
        .args(args)
        .output()
        .expect("the workwise binary runs")
}

/// The scenarios a `--json` tour's stderr says it skipped (something
/// they need, such as redis-server, is missing here), each said on
/// stderr as `workwise tour: <scenario> skipped: <why>`. With
/// `WORKWISE_REQUIRE_REDIS` set (CI), a skip is a failure.
fn skipped(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("workwise tour: "))
        .filter_map(|l| l.split_once(" skipped: "))
        .map(|(name, why)| {
            assert!(
                std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none(),
                "WORKWISE_REQUIRE_REDIS is set but {name} was skipped: {why}"
            );
            eprintln!("{name}: SKIPPED: {why}");
            name.to_owned()
        })
        .collect()
}

/// Runs `workwise tour --quick --json` and gives its rows, and the
/// scenarios it skipped.
fn quick_json_rows() -> (Vec<Value>, Vec<String>) {
    let out = workwise(&["tour", "--quick", "--json"]);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    // Every stdout line is one JSON object: nothing else is printed there.
    let rows = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    (rows, skipped(&stderr))
}

/// The tour's registry, as `workwise tour --list --json` gives it: one
/// object per scenario, in the order the tour runs them (scenario, slug,
/// about, models, keys: each key the scenario's rows carry and what it
/// means, quick).
fn registry() -> Vec<Value> {
    let out = workwise(&["tour", "--list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .expect("UTF-8 on stdout")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect()
}

/// A registry entry's models.
fn models(entry: &Value) -> Vec<&str> {
    entry["models"]
        .as_array()
        .unwrap_or_else(|| panic!("models is a list: {entry}"))
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect()
}

/// The keys every row carries, whatever its scenario.
const COMMON_KEYS: [&str; 10] = [
    "scenario",
    "model",
    "wall_ms",
    "speedup",
    "failed",
    "errors",
    "workers",
    "advice",
    "advisor",
    "first_failure",
];

/// The scenarios and models scripts read, in the tour's order: a registry
/// may add scenarios, but these names stay as they are.
fn scenarios_scripts_read() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    let cpu_bound = if cfg!(target_os = "linux") {
        vec!["sequential", "Pool::io", "Pool::cpu", "ProcessPool"]
    } else {
        vec!["sequential", "Pool::io", "Pool::cpu"]
    };
    let mut known = vec![
        (
            "web scraping",
            "scraping",
            vec!["sequential", "Pool::cpu", "Pool::io"],
        ),
        ("api calls", "api", vec!["naive", "policy", "aio"]),
        ("file i/o", "files", vec!["sequential", "queue pipeline"]),
        ("image processing", "images", cpu_bound.clone()),
        ("data analysis", "analysis", cpu_bound),
        (
            "web server",
            "web",
            vec!["thread per connection", "async", "async + blocking call"],
        ),
        ("simple script", "script", vec!["sequential", "Pool::io"]),
    ];
    if cfg!(target_os = "linux") {
        known.push(("crash isolation", "crash", vec!["ProcessPool", "Pool::cpu"]));
    }
    known
}

#[test]
fn the_registry_keeps_the_names_scripts_read_and_the_help_is_made_from_it() {
    let registry = registry();
    // The known scenarios, in their order, among the registry's.
    let mut entries = registry.iter();
    for (name, slug, want) in scenarios_scripts_read() {
        let entry = entries
            .find(|e| e["scenario"] == name)
            .unwrap_or_else(|| panic!("{name} missing or out of order: {registry:?}"));
        assert_eq!(entry["slug"], slug, "{entry}");
        assert_eq!(models(entry), want, "{entry}");
    }
    let help = workwise(&["tour", "--help"]);
    let help = String::from_utf8(help.stdout).unwrap();
    let examples = workwise(&["--help"]);
    let examples = String::from_utf8(examples.stdout).unwrap();
    for entry in &registry {
        let name = entry["scenario"].as_str().unwrap();
        let slug = entry["slug"].as_str().unwrap();
        assert!(help.contains(name), "{name} not in the help:\n{help}");
        assert!(
            examples.contains(&format!("--scenario {slug}")),
            "{slug} not in the examples:\n{examples}"
        );
        for (key, means) in entry["keys"].as_object().expect("keys") {
            assert!(!COMMON_KEYS.contains(&key.as_str()), "{key} in {entry}");
            let documented = format!("{key} ({})", means.as_str().unwrap());
            assert!(help.contains(&documented), "{documented} not in the help");
        }
        for size in entry["quick"].as_array().expect("quick") {
            assert!(help.contains(size.as_str().unwrap()), "{size}: {help}");
        }
        // By its short name and its row name alike.
        for given in [slug, name] {
            let out = workwise(&["tour", "--scenario", given, "--list"]);
            assert!(out.status.success(), "{given}: {out:?}");
        }
    }
}

/// Checks the quick tour's rows against the registry: every scenario ran,
/// in the registry's order, each under its models in order, and every key
/// a row carries is documented (a common key or one of its scenario's), and
/// every documented key was carried by some row of its scenario. Only the
/// scenarios in `skipped` (said so on stderr) may have no rows.
fn rows_follow_the_registry(rows: &[Value], skipped: &[String]) {
    let registry: Vec<Value> = registry()
        .into_iter()
        .filter(|e| !skipped.iter().any(|s| e["scenario"] == s.as_str()))
        .collect();
    let mut order: Vec<&str> = rows
        .iter()
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    order.dedup();
    let names: Vec<&str> = registry
        .iter()
        .map(|e| e["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(order, names, "{rows:?}");
    for entry in &registry {
        let name = entry["scenario"].as_str().unwrap();
        let chosen: Vec<&Value> = rows.iter().filter(|r| r["scenario"] == name).collect();
        let got: Vec<&str> = chosen
            .iter()
            .map(|r| r["model"].as_str().unwrap())
            .collect();
        assert_eq!(got, models(entry), "{name}");
        let keys = entry["keys"].as_object().expect("keys");
        for row in &chosen {
            for key in row.as_object().unwrap().keys() {
                assert!(
                    COMMON_KEYS.contains(&key.as_str()) || keys.contains_key(key),
                    "{key} is not documented for {name}: {row}"
                );
            }
        }
        for key in keys.keys() {
            assert!(
                chosen.iter().any(|r| r.get(key).is_some()),
                "{name} documents {key}, which no row carries"
            );
        }
    }
}

/// Checks that a row carries the advisor's codes (`advice`, a list of
/// `W01`..`W11`, maybe empty) and its line (`advisor`), and gives the codes.
fn advice_codes(row: &Value) -> Vec<&str> {
    let codes: Vec<&str> = row["advice"]
        .as_array()
        .unwrap_or_else(|| panic!("advice is a list: {row}"))
        .iter()
        .map(|c| c.as_str().unwrap_or_else(|| panic!("a code: {row}")))
        .collect();
    for code in &codes {
        let n: u8 = code
            .strip_prefix('W')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{code} in {row}"));
        assert!((1..=11).contains(&n), "{code} in {row}");
    }
    assert!(
        row["advisor"].as_str().is_some_and(|a| !a.is_empty()),
        "{row}"
    );
    codes
}

/// The codes that say a model is wrong for the work (`Code::is_model`).
const MODEL_CODES: [&str; 4] = ["W01", "W02", "W03", "W04"];

/// The model codes a row carries.
fn model_codes(row: &Value) -> Vec<&str> {
    advice_codes(row)
        .into_iter()
        .filter(|c| MODEL_CODES.contains(c))
        .collect()
}

/// The rows of one scenario, checked to be `models` in that order, each with
/// no failure, positive times and rates, and the advisor's codes and line.
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
        advice_codes(row);
    }
    chosen
}

/// The row of `scenario` under `model`.
fn row<'a>(rows: &'a [Value], scenario: &str, model: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["scenario"] == scenario && r["model"] == model)
        .unwrap_or_else(|| panic!("no {scenario} / {model} row: {rows:?}"))
}

/// The advisor's verdict on the model, row by row: every wrong-model row
/// carries its model code, and no right-model row carries one.
fn model_advice(rows: &[Value]) {
    let wrong = [
        ("web scraping", "Pool::cpu", "W02"),
        ("image processing", "Pool::io", "W01"),
        ("data analysis", "Pool::io", "W01"),
        ("web server", "async + blocking call", "W03"),
    ];
    for (scenario, model, code) in wrong {
        let r = row(rows, scenario, model);
        assert!(model_codes(r).contains(&code), "{code} expected: {r}");
    }
    let mut right = vec![
        ("web scraping", "Pool::io"),
        ("api calls", "policy"),
        ("api calls", "aio"),
        ("file i/o", "queue pipeline"),
        ("image processing", "Pool::cpu"),
        ("data analysis", "Pool::cpu"),
        ("web server", "async"),
        ("simple script", "sequential"),
    ];
    if cfg!(target_os = "linux") {
        right.push(("image processing", "ProcessPool"));
        right.push(("data analysis", "ProcessPool"));
    }
    for (scenario, model) in right {
        let r = row(rows, scenario, model);
        assert!(model_codes(r).is_empty(), "no model code expected: {r}");
    }
}

/// Checks the memory summary that ends a whole tour: a line shaped as a
/// row (scenario, model, advice), with the measured figures beside the
/// guide's.
fn memory_summary(summary: &Value) {
    assert_eq!(summary["scenario"], "summary", "{summary}");
    assert_eq!(summary["model"], "memory", "{summary}");
    assert!(advice_codes(summary).is_empty(), "{summary}");
    assert!(summary["speedup"].is_null(), "{summary}");
    assert_eq!(summary["guide_thread_kib"], 1.0, "{summary}");
    assert_eq!(summary["guide_process_mb"], 10.0, "{summary}");
    assert_eq!(count(summary, "workers"), 256, "{summary}");
    if cfg!(target_os = "linux") {
        for key in [
            "thread_kib",
            "thread_reserved_kib",
            "async_task_kib",
            "process_private_mb",
            "process_rss_mb",
        ] {
            assert!(
                summary[key].as_f64().is_some_and(|v| v > 0.0),
                "{key} in {summary}"
            );
        }
        // A thread's stack reserves far more address space than it keeps
        // resident.
        assert!(
            summary["thread_reserved_kib"].as_f64() > summary["thread_kib"].as_f64(),
            "{summary}"
        );
        let text = summary["advisor"].as_str().unwrap();
        assert!(text.contains("the guide's ~1 KB"), "{text}");
        assert!(text.contains("the guide's ~10 MB"), "{text}");
    }
}

#[test]
fn quick_json_tour_runs_every_scenario_under_every_model() {
    let (mut rows, skipped) = quick_json_rows();
    // Only a scenario that needs something this machine may lack.
    for name in &skipped {
        assert_eq!(name, "many machines", "{name} skipped");
    }
    // The whole tour ends with its memory summary.
    let summary = rows.pop().expect("a summary line");
    memory_summary(&summary);
    rows_follow_the_registry(&rows, &skipped);
    model_advice(&rows);
    simple_rows(&rows);

    let scraping = scenario_rows(
        &rows,
        "web scraping",
        &["sequential", "Pool::cpu", "Pool::io"],
        &["pages_per_s"],
    );
    for row in scraping {
        assert!(row["pages"].as_u64().is_some_and(|p| p > 0), "{row}");
    }

    api_rows(&rows);
    web_rows(&rows);

    // CPU-bound scenarios: the wrong model (threads sized for waiting)
    // first, then the right one, then (Linux) worker processes.
    let mut cpu_models = vec!["sequential", "Pool::io", "Pool::cpu"];
    if cfg!(target_os = "linux") {
        cpu_models.push("ProcessPool");
    }
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
    // File I/O: a loop against a queue pipeline; `failed` counts the files
    // whose hash differs from that of the bytes written.
    let files = scenario_rows(
        &rows,
        "file i/o",
        &["sequential", "queue pipeline"],
        &["mb", "files_per_s"],
    );
    for row in &files {
        assert_eq!(row["files"], 500, "{row}");
        assert_eq!(row["mb"], files[0]["mb"], "{row}");
    }
    assert!(files[0].get("peak_queue").is_none(), "{}", files[0]);
    // Read after each put into a Queue::bounded(64).
    let peak = files[1]["peak_queue"].as_u64().expect("peak_queue");
    assert!(peak <= 64, "{}", files[1]);

    for row in analysis.iter().chain(&blur) {
        let workers = row["workers"].as_u64().unwrap();
        match row["model"].as_str().unwrap() {
            "sequential" => assert_eq!(workers, 1, "{row}"),
            "Pool::io" => assert!(workers >= 5, "{row}"),
            "ProcessPool" => process_figures(row),
            _ => {
                // The process figures are the ProcessPool rows' only.
                assert!(row.get("worker_mb").is_none(), "{row}");
                assert!(row.get("sent_mb").is_none(), "{row}");
            }
        }
    }
    if cfg!(target_os = "linux") {
        crash_rows(&rows, 400);
        if skipped.is_empty() {
            machines_rows(&rows, 600);
        }
    }
}

/// Checks the many machines rows of a run of `items` items: every item
/// put is done exactly as its id says, none lost; the Redis row's killed
/// worker held at least one item, and every item it held came back.
fn machines_rows(rows: &[Value], items: u64) {
    let chosen = scenario_rows(
        rows,
        "many machines",
        &["local Queue", "RedisQueue"],
        &["items_per_s"],
    );
    for row in &chosen {
        assert_eq!(row["done"], items, "{row}");
        assert_eq!(row["lost"], 0, "{row}");
        assert_eq!(row["failed"], 0, "{row}");
        assert_eq!(row["workers"], 3, "{row}");
        assert!(advice_codes(row).is_empty(), "{row}");
    }
    let (local, redis) = (chosen[0], chosen[1]);
    assert_eq!(local["redelivered"], 0, "{local}");
    assert!(local.get("killed_holding").is_none(), "{local}");
    let held = redis["killed_holding"].as_u64().expect("killed_holding");
    let redelivered = redis["redelivered"].as_u64().expect("redelivered");
    assert!(held >= 1, "the killed worker held nothing: {redis}");
    assert!(redelivered >= held, "{redis}");
    let pct = redis["redis_pct"].as_f64().expect("redis_pct");
    assert!(pct > 0.0 && pct <= 100.0, "{redis}");
    let text = redis["advisor"].as_str().unwrap();
    assert!(text.contains("killed (SIGKILL)"), "{text}");
    assert!(text.contains("lost 0"), "{text}");
}

/// Checks the figures of a ProcessPool row of a CPU-bound scenario: the
/// memory of its workers, the bytes copied, and an advisor line that
/// compares it with the threads.
fn process_figures(row: &Value) {
    for key in ["worker_mb", "sent_mb", "received_mb"] {
        assert!(row[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {row}");
    }
    let advice = row["advisor"].as_str().unwrap();
    assert!(advice.contains("Pool::cpu"), "{row}");
    assert!(advice.contains("isolation"), "{row}");
}

/// Checks the crash isolation rows of a run of `tasks`: the ProcessPool
/// loses nothing and reports every crash; Pool::cpu, in its child process,
/// loses every result after the first crash.
fn crash_rows(rows: &[Value], tasks: u64) {
    let crash: Vec<&Value> = rows
        .iter()
        .filter(|r| r["scenario"] == "crash isolation")
        .collect();
    let models: Vec<&str> = crash.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["ProcessPool", "Pool::cpu"], "{rows:?}");
    for &row in &crash {
        // Crashes and lost results are the lesson, not failures.
        assert_eq!(row["failed"], 0, "{row}");
        assert!(row.get("first_failure").is_none(), "{row}");
        assert_eq!(count(row, "tasks"), tasks, "{row}");
        assert_eq!(
            count(row, "succeeded") + count(row, "crashed") + count(row, "lost"),
            tasks,
            "{row}"
        );
        assert!(row["wall_ms"].as_f64().is_some_and(|v| v > 0.0), "{row}");
        assert!(row["workers"].as_u64().is_some_and(|w| w > 0), "{row}");
        advice_codes(row);
    }
    let (pool, threads) = (crash[0], crash[1]);
    // 1% of the tasks crash their worker: each is reported, the rest succeed.
    assert_eq!(count(pool, "crashed"), tasks / 100, "{pool}");
    assert_eq!(count(pool, "lost"), 0, "{pool}");
    assert!(count(pool, "respawns") > 0, "{pool}");
    assert_eq!(pool["speedup"], 1.0, "{pool}");
    // The first crash ended the child process: results were lost, and no
    // task was told why.
    assert!(count(threads, "lost") > 0, "{threads}");
    assert_eq!(count(threads, "crashed"), 0, "{threads}");
    assert!(
        count(threads, "succeeded") < count(pool, "succeeded"),
        "{pool}\n{threads}"
    );
    // Its wall time is the time until the crash: no speedup.
    assert!(threads["speedup"].is_null(), "{threads}");
    let advice = threads["advisor"].as_str().unwrap();
    assert!(advice.contains("died of signal"), "{threads}");
}

#[cfg(target_os = "linux")]
#[test]
fn the_crash_scenario_runs_alone_and_a_process_pool_loses_only_the_crashed_tasks() {
    let out = workwise(&["tour", "--quick", "--json", "--scenario", "crash"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    crash_rows(&rows, 400);
}

#[cfg(target_os = "linux")]
#[test]
fn many_machines_loses_no_item_when_a_worker_is_killed_holding_items() {
    let out = workwise(&["tour", "--quick", "--json", "--scenario", "machines"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    if skipped(&stderr) == ["many machines"] {
        // No redis-server here: said so above, and no rows.
        assert!(stdout.is_empty(), "{stdout}");
        return;
    }
    let rows: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    machines_rows(&rows, 600);
}

#[cfg(target_os = "linux")]
#[test]
fn the_hidden_crash_child_dies_at_its_first_crash() {
    // The Pool::cpu row's child process, run directly: it prints one
    // `<task> <checksum>` line per result, then a poisoned input ends it.
    use std::os::unix::process::ExitStatusExt;
    // Through a shell that turns core dumps off, as the tour does.
    let out = Command::new("sh")
        .args(["-c", "ulimit -c 0; exec \"$0\" crash-child 400"])
        .arg(env!("CARGO_BIN_EXE_workwise"))
        .output()
        .expect("sh runs");
    let signal = out.status.signal();
    assert!(matches!(signal, Some(6 | 11)), "{:?}", out.status);
    let lines = String::from_utf8(out.stdout).unwrap();
    let results = lines.lines().count();
    assert!(results < 400, "{results}");
    for line in lines.lines() {
        let parts: Vec<u64> = line
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(parts.len(), 2, "{line:?}");
    }
    // Hidden from the help.
    let help = workwise(&["--help"]);
    assert!(!String::from_utf8_lossy(&help.stdout).contains("crash-child"));
}

/// A figure of a row, as a count.
fn count(row: &Value, key: &str) -> u64 {
    row[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {row}"))
}

/// Checks the quick api calls rows, `naive`, `policy`, `aio`: their names,
/// keys, and the facts that hold on any machine (no timing).
fn api_rows(rows: &[Value]) {
    let api: Vec<&Value> = rows
        .iter()
        .filter(|r| r["scenario"] == "api calls")
        .collect();
    let models: Vec<&str> = api.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["naive", "policy", "aio"], "{rows:?}");
    for &row in &api {
        // Requests the server failed are the lesson, not errors of the tour.
        assert_eq!(row["errors"], 0, "{row}");
        assert!(row["workers"].as_u64().is_some_and(|w| w > 0), "{row}");
        for key in ["wall_ms", "speedup"] {
            assert!(row[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {row}");
        }
        advice_codes(row);
        assert_eq!(count(row, "succeeded") + count(row, "failed"), 200, "{row}");
        assert!(count(row, "outage_calls") <= count(row, "calls"), "{row}");
        assert!(count(row, "stalled") <= count(row, "outage_calls"), "{row}");
        assert!(
            count(row, "peak_calls_per_s") <= count(row, "calls"),
            "{row}"
        );
    }
    let (naive, policy) = (api[0], api[1]);
    aio_row(naive, api[2]);
    // The baseline of the speedups.
    assert_eq!(naive["speedup"], 1.0, "{naive}");
    // Each naive request reached the server once, and nothing shed it.
    assert_eq!(count(naive, "calls"), 200, "{naive}");
    assert_eq!(count(naive, "shed"), 0, "{naive}");
    for key in ["attempts", "rescued", "timed_out", "opened"] {
        assert!(naive.get(key).is_none(), "{key} in {naive}");
    }
    // Every policy attempt either reached the server or was shed: the
    // breaker's count on the client matches the server's.
    assert_eq!(
        count(policy, "attempts"),
        count(policy, "calls") + count(policy, "shed"),
        "{policy}"
    );
    assert!(
        count(policy, "calls") >= count(policy, "succeeded"),
        "{policy}"
    );
    assert!(
        count(policy, "rescued") <= count(policy, "succeeded"),
        "{policy}"
    );
    // The outage fails every call for a second: far more than five in a row.
    assert!(count(policy, "opened") >= 1, "{policy}");
    // The lesson: the policy sends fewer calls into the outage, and more of
    // its requests succeed (naive loses every request after the outage
    // begins, at the 20th; the policy's wait the outage out).
    assert!(
        count(policy, "outage_calls") < count(naive, "outage_calls"),
        "{naive}\n{policy}"
    );
    assert!(
        count(policy, "succeeded") > count(naive, "succeeded"),
        "{naive}\n{policy}"
    );
}

#[test]
fn the_api_scenario_runs_alone_by_its_row_name() {
    let out = workwise(&["tour", "--quick", "--json", "--scenario", "API calls"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Failed requests do not fail the tour.
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(
        rows.iter().all(|r| r["scenario"] == "api calls"),
        "{stdout}"
    );
    assert!(count(&rows[0], "failed") > 0, "{stdout}");
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
    // sequential, Pool::io, Pool::cpu, and ProcessPool on Linux.
    let want = if cfg!(target_os = "linux") { 4 } else { 3 };
    assert_eq!(rows.len(), want, "{stdout}");
    assert!(
        rows.iter().all(|r| r["scenario"] == "image processing"),
        "{stdout}"
    );
}

/// The temporary folders of the file I/O scenario that exist now.
fn file_folders() -> Vec<std::path::PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("workwise-tour-files-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_file_scenario_runs_alone_and_leaves_no_folder_behind() {
    let before = file_folders();
    let child = Command::new(env!("CARGO_BIN_EXE_workwise"))
        .args(["tour", "--quick", "--json", "--scenario", "files"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the workwise binary runs");
    let prefix = format!("workwise-tour-files-{}-", child.id());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let models: Vec<&str> = rows.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["sequential", "queue pipeline"], "{stdout}");
    for row in &rows {
        assert_eq!(row["scenario"], "file i/o", "{row}");
        assert_eq!(row["failed"], 0, "{row}");
        assert_eq!(row["files"], 500, "{row}");
    }
    let left: Vec<_> = file_folders()
        .into_iter()
        .filter(|p| !before.contains(p))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
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

/// Checks the web server rows: the three models in order, each with its
/// figures as positive numbers, and the blocking row's advice naming the
/// handler the detector caught. No timing is asserted.
fn web_rows(rows: &[Value]) {
    let web = scenario_rows(
        rows,
        "web server",
        &["thread per connection", "async", "async + blocking call"],
        &["rps", "p50_ms", "p99_ms"],
    );
    for row in &web {
        assert_eq!(count(row, "connections"), 200, "{row}");
        assert!(row["kib_per_conn"].as_f64().is_some(), "{row}");
        assert!(
            row["p99_ms"].as_f64().unwrap() >= row["p50_ms"].as_f64().unwrap(),
            "{row}"
        );
    }
    // Every connection's requests were answered: 50 each, 1 each on the
    // blocking row.
    assert_eq!(count(web[0], "requests"), 200 * 50, "{}", web[0]);
    assert_eq!(count(web[1], "requests"), 200 * 50, "{}", web[1]);
    assert_eq!(count(web[2], "requests"), 200, "{}", web[2]);
    // A thread per connection; the async servers run on a few threads.
    assert_eq!(count(web[0], "workers"), 200, "{}", web[0]);
    // Each of the blocking row's 200 requests blocked its runtime thread
    // for 20 ms, twice the detector's threshold: it must name the handler,
    // and carry W03.
    let advice = web[2]["advisor"].as_str().unwrap();
    assert!(advice.contains("task 'GET /user'"), "{advice}");
    assert!(advice_codes(web[2]).contains(&"W03"), "{}", web[2]);
    // The async server blocks nowhere.
    assert!(!advice_codes(web[1]).contains(&"W03"), "{}", web[1]);
}

/// Checks the simple script rows: a loop and a pool over the same 50
/// items, every result equal to the loop's, and no model code on either
/// (the pool's mistake is W09, concurrency that does not pay, which this
/// does not assert: whether the pool paid is a question of timing).
fn simple_rows(rows: &[Value]) {
    let script = scenario_rows(
        rows,
        "simple script",
        &["sequential", "Pool::io"],
        &["items_per_s"],
    );
    for row in &script {
        assert_eq!(count(row, "items"), 50, "{row}");
        assert!(model_codes(row).is_empty(), "{row}");
    }
    assert_eq!(count(script[0], "workers"), 1, "{}", script[0]);
    assert!(count(script[1], "workers") >= 5, "{}", script[1]);
    let advice = script[1]["advisor"].as_str().unwrap();
    assert!(
        advice.starts_with("50 tasks on Pool::io, all submitted before any was waited for"),
        "{advice}"
    );
}

#[test]
fn the_simple_script_scenario_runs_alone_by_its_row_name_with_its_two_models() {
    let out = workwise(&["tour", "--quick", "--json", "--scenario", "simple script"]);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 on stdout");
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    // Its two rows and no memory summary: that ends a whole tour only.
    assert_eq!(rows.len(), 2, "{stdout}");
    simple_rows(&rows);
    // By its short name too.
    let out = workwise(&["tour", "--quick", "--json", "--scenario", "script"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
}

#[test]
fn the_web_server_scenario_runs_alone_with_its_three_models() {
    let out = workwise(&["tour", "--quick", "--json", "--scenario", "web"]);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 on stdout");
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    web_rows(&rows);
}

/// Checks the api calls scenario's `aio` row beside its `naive` row: the
/// same accounting as the `policy` row, and the shared client's figures.
fn aio_row(naive: &Value, aio: &Value) {
    assert_eq!(count(aio, "workers"), 1, "{aio}");
    assert_eq!(
        count(aio, "attempts"),
        count(aio, "calls") + count(aio, "shed"),
        "{aio}"
    );
    assert!(count(aio, "calls") >= count(aio, "succeeded"), "{aio}");
    assert!(count(aio, "rescued") <= count(aio, "succeeded"), "{aio}");
    assert!(count(aio, "opened") >= 1, "{aio}");
    assert!(
        count(aio, "outage_calls") < count(naive, "outage_calls"),
        "{naive}\n{aio}"
    );
    // One shared client: its connections were opened before the clock, and
    // no more were ever in use at once than it opened.
    let (opened, peak) = (count(aio, "connections"), count(aio, "peak_connections"));
    assert!(peak >= 1 && peak <= opened, "{aio}");
    for key in ["wall_ms", "speedup"] {
        assert!(aio[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {aio}");
    }
}

#[test]
fn the_api_scenario_has_an_aio_row_with_its_figures() {
    let out = workwise(&["tour", "--quick", "--json", "--scenario", "api"]);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 on stdout");
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    // api_rows checks every row's accounting, the aio row's with it.
    api_rows(&rows);
    let aio = rows
        .iter()
        .find(|r| r["model"] == "aio")
        .expect("an aio row");
    assert_eq!(count(aio, "succeeded") + count(aio, "failed"), 200, "{aio}");
}
