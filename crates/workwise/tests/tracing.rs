//! What the pools say through `tracing` (feature `tracing`): the span each
//! named task runs in, and the advisor's WARN events.
//!
//! A subscriber set with `with_default` is seen by its own thread only, and
//! tasks run on the pools' workers; so this file installs one recording
//! subscriber as the global default of its process, and each test picks
//! out its own records by its pool's name.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use workwise::advice::Code;
use workwise::Pool;

/// A span as recorded: its name and fields.
#[derive(Debug, Clone)]
struct SpanRecord {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

/// An event as recorded, with the span that was current on its thread.
#[derive(Debug, Clone)]
struct EventRecord {
    target: String,
    level: Level,
    fields: BTreeMap<String, String>,
    span: Option<u64>,
    thread: Option<String>,
}

/// Writes fields as text: strings as they are, anything else by `Debug`
/// (which, for `%value` fields, is their `Display`).
struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

/// Records every span and event of the process.
#[derive(Default)]
struct Recorder {
    next_id: AtomicU64,
    spans: Mutex<HashMap<u64, SpanRecord>>,
    events: Mutex<Vec<EventRecord>>,
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let span = SpanRecord {
            name: attrs.metadata().name(),
            fields,
        };
        lock(&self.spans).insert(id, span);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(s) = lock(&self.spans).get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut s.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let record = EventRecord {
            target: event.metadata().target().to_string(),
            level: *event.metadata().level(),
            fields,
            span: ENTERED.with(|e| e.borrow().last().copied()),
            thread: std::thread::current().name().map(str::to_string),
        };
        lock(&self.events).push(record);
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|e| {
            let mut e = e.borrow_mut();
            if let Some(at) = e.iter().rposition(|&s| s == span.into_u64()) {
                e.remove(at);
            }
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The process's recorder, installed as the global default on first use.
fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<&'static Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let r: &'static Recorder = Box::leak(Box::default());
        tracing::subscriber::set_global_default(Forward(r))
            .expect("no other global subscriber in this test binary");
        r
    })
}

/// The global default takes ownership: this hands it the shared recorder.
struct Forward(&'static Recorder);

impl Subscriber for Forward {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        self.0.enabled(m)
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        self.0.new_span(attrs)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        self.0.record(span, values)
    }
    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.0.record_follows_from(span, follows)
    }
    fn event(&self, event: &Event<'_>) {
        self.0.event(event)
    }
    fn enter(&self, span: &Id) {
        self.0.enter(span)
    }
    fn exit(&self, span: &Id) {
        self.0.exit(span)
    }
}

/// The advisor's events about `source` so far.
fn advice_events(source: &str) -> Vec<EventRecord> {
    lock(&recorder().events)
        .iter()
        .filter(|e| e.target == "workwise::advice")
        .filter(|e| e.fields.get("source").map(String::as_str) == Some(source))
        .cloned()
        .collect()
}

/// A pool named `name` with one panic whose handle was dropped unread
/// (W08), once the pool has counted it.
fn pool_with_a_lost_panic(name: &str) -> Pool {
    let pool = Pool::io().name(name).build().unwrap();
    drop(pool.submit(|| -> u8 { panic!("nobody reads this") }));
    workwise::testing::wait_for(|| pool.stats().lost_panics == 1, Duration::from_secs(30))
        .expect("the dropped panic is counted");
    pool
}

#[test]
fn a_named_task_runs_in_a_task_span_with_pool_id_and_name() {
    let rec = recorder();
    let pool = Pool::io().name("span-test").build().unwrap();
    let h = pool.submit_named("job-7", || {
        tracing::info!(marker = "inside job-7", "working");
    });
    h.wait().unwrap();

    let event = lock(&rec.events)
        .iter()
        .find(|e| e.fields.get("marker").map(String::as_str) == Some("inside job-7"))
        .cloned()
        .expect("the task's event was recorded");
    let thread = event.thread.as_deref().unwrap_or("");
    assert!(thread.starts_with("span-test-"), "ran on {thread:?}");
    let span_id = event.span.expect("the event was logged inside a span");
    let span = lock(&rec.spans)[&span_id].clone();
    assert_eq!(span.name, "task", "{span:?}");
    assert_eq!(
        span.fields.get("pool").map(String::as_str),
        Some("span-test")
    );
    assert_eq!(span.fields.get("name").map(String::as_str), Some("job-7"));
    let id = span.fields.get("id").expect("an id field");
    assert!(id.parse::<u64>().is_ok(), "id = {id:?}");
}

#[test]
fn each_finding_is_emitted_once_per_pool_at_warn() {
    recorder();
    let pool = pool_with_a_lost_panic("emit-once");
    let first = pool.advice();
    assert!(first.iter().any(|a| a.code == Code::W08), "{first:?}");
    pool.advice();
    drop(pool); // shutdown emits what was not emitted yet

    let events = advice_events("pool 'emit-once'");
    let w08: Vec<_> = events
        .iter()
        .filter(|e| e.fields.get("code").map(String::as_str) == Some("W08"))
        .collect();
    assert_eq!(w08.len(), 1, "{events:#?}");
    assert_eq!(w08[0].level, Level::WARN);
    assert!(w08[0].fields["message"].starts_with("W08 warning [pool 'emit-once']"));
    let mut codes: Vec<_> = events.iter().map(|e| e.fields["code"].clone()).collect();
    let all = codes.len();
    codes.dedup();
    assert_eq!(codes.len(), all, "a code emitted twice: {events:#?}");
}

#[test]
fn a_finding_first_seen_at_shutdown_is_emitted_then() {
    recorder();
    let pool = pool_with_a_lost_panic("emit-at-shutdown");
    assert!(advice_events("pool 'emit-at-shutdown'").is_empty());
    drop(pool);
    let events = advice_events("pool 'emit-at-shutdown'");
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].fields["code"], "W08");
}

/// Set in the child process that `workwise_advice_off_emits_nothing` runs.
const CHILD: &str = "WORKWISE_TRACING_TEST_CHILD";

/// The body of `workwise_advice_off_emits_nothing`, run in a process of its
/// own (`WORKWISE_ADVICE` is read once per process); a no-op otherwise.
#[test]
fn advice_off_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    recorder();
    let pool = pool_with_a_lost_panic("emit-off");
    let found = pool.advice();
    assert!(found.iter().any(|a| a.code == Code::W08), "{found:?}");
    drop(pool);
    let events = advice_events("pool 'emit-off'");
    assert!(events.is_empty(), "{events:#?}");
    println!("advice_off_child: checked");
}

#[test]
fn workwise_advice_off_emits_nothing() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "advice_off_child", "--nocapture"])
        .env(CHILD, "1")
        .env("WORKWISE_ADVICE", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child test did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("advice_off_child: checked"),
        "the child ran no test: {stdout}"
    );
}
