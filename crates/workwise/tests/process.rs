//! Black-box tests of `workwise::process`: crash isolation, timeouts,
//! recycling, protocol breakage, and no worker left behind.
//!
//! A worker is this binary run again, so the test has its own `main`
//! (`harness = false`) that calls `init` first, then runs each test on a
//! thread with a deadline and prints `N passed, M failed`.
#![cfg_attr(not(all(feature = "process", target_os = "linux")), allow(unused))]

#[cfg(all(feature = "process", target_os = "linux"))]
mod linux {
    use std::collections::{HashMap, HashSet};
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::Duration;

    use nix::sys::signal::{kill, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    use nix::unistd::Pid;
    use workwise::advice::{Advice, Code};
    use workwise::process::{ProcessPool, SharedBytes, Task};
    use workwise::TaskError;

    // ---- the tasks ------------------------------------------------------

    fn triple((id, log): (u64, String)) -> (u64, u32) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log opens");
        // One write of one short line with O_APPEND: lines never interleave.
        f.write_all(format!("{id} {}\n", std::process::id()).as_bytes())
            .expect("log writes");
        std::thread::sleep(Duration::from_micros(300));
        (id * 3, std::process::id())
    }
    const TRIPLE: Task<(u64, String), (u64, u32)> = workwise::process_task!(triple);

    fn pid_of(_: ()) -> u32 {
        std::process::id()
    }
    const PID_OF: Task<(), u32> = workwise::process_task!(pid_of);

    fn sleep_ms(ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }
    const SLEEP_MS: Task<u64, u64> = workwise::process_task!(sleep_ms);

    /// Ends its worker in the way asked.
    fn crash(how: String) -> u32 {
        match how.as_str() {
            "segfault" => {
                let p: *mut u8 = std::ptr::null_mut();
                // SAFETY: not safe, on purpose: the write through a null
                // pointer makes this worker process die of SIGSEGV, which
                // is what the test is about.
                unsafe { std::ptr::write_volatile(p, 1) };
            }
            "abort" => std::process::abort(),
            "exit" => std::process::exit(7),
            "panic" => panic!("a panic that unwinds"),
            "garbage" => {
                workwise::process::__write_to_parent_pipe(&[3, 0, 0, 0, 0xEE, 1, 2])
                    .expect("a worker");
            }
            "oversized" => {
                workwise::process::__write_to_parent_pipe(&(1u32 << 30).to_le_bytes())
                    .expect("a worker");
            }
            "truncated" => {
                workwise::process::__write_to_parent_pipe(&[100, 0, 0, 0, 1, 2, 3])
                    .expect("a worker");
                std::process::exit(0);
            }
            "oom" => {
                let v = vec![1u8; 8 << 30];
                return v[v.len() - 1] as u32;
            }
            _ => {}
        }
        std::process::id()
    }
    const CRASH: Task<String, u32> = workwise::process_task!(crash);

    /// Crashes the first time (leaving a marker file), succeeds after.
    fn crash_once(marker: String) -> u32 {
        if std::fs::metadata(&marker).is_err() {
            std::fs::write(&marker, b"x").expect("marker");
            std::process::abort();
        }
        1
    }
    const CRASH_ONCE: Task<String, u32> = workwise::process_task!(crash_once);

    fn sum_shared((data, skip): (SharedBytes, usize)) -> u64 {
        data[skip..].iter().map(|&b| b as u64).sum()
    }
    const SUM_SHARED: Task<(SharedBytes, usize), u64> = workwise::process_task!(sum_shared);

    fn inc(x: u32) -> u32 {
        if x == 777_777 {
            panic!("item 777777");
        }
        x + 1
    }
    const INC: Task<u32, u32> = workwise::process_task!(inc);

    fn byte_len(data: Vec<u8>) -> usize {
        data.len()
    }
    const BYTE_LEN: Task<Vec<u8>, usize> = workwise::process_task!(byte_len);

    fn unlisted(x: u32) -> u32 {
        x
    }

    pub(crate) fn init() {
        workwise::process::init(&[
            &TRIPLE,
            &PID_OF,
            &SLEEP_MS,
            &CRASH,
            &CRASH_ONCE,
            &SUM_SHARED,
            &INC,
            &BYTE_LEN,
        ]);
    }

    // ---- helpers --------------------------------------------------------

    const LONG: Duration = Duration::from_secs(60);

    fn pool(workers: usize) -> workwise::process::ProcessPoolBuilder {
        ProcessPool::builder().name("test").workers(workers)
    }

    fn wait_until(deadline: Duration, cond: impl FnMut() -> bool) -> bool {
        workwise::testing::wait_for(cond, deadline).is_ok()
    }

    /// Whether `pid` exists at all (a zombie still does).
    fn exists(pid: u32) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    /// The children of this process (zombies included), from /proc.
    fn children() -> Vec<(u32, char)> {
        let me = std::process::id();
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc") {
            let Ok(entry) = entry else { continue };
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                continue;
            };
            let mut fields = after.split_whitespace();
            let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
            let ppid: u32 = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            if ppid == me {
                out.push((pid, state));
            }
        }
        out
    }

    fn temp_path(name: &str) -> String {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("workwise-process-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path.to_string_lossy().into_owned()
    }

    // ---- the tests ------------------------------------------------------

    pub(crate) fn ten_thousand_tasks_while_20_workers_are_sigkilled() {
        let log = temp_path("kills.log");
        let pool = pool(6).build().expect("pool");
        let handles: Vec<_> = (0..10_000u64)
            .map(|id| pool.submit(TRIPLE, (id, log.clone())))
            .collect();
        let mut killed = HashSet::new();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        while killed.len() < 20 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let pids = pool.worker_pids();
            if pids.is_empty() || pool.stats().queued == 0 {
                assert!(
                    pool.stats().queued > 0 || killed.len() >= 20,
                    "ran out of tasks after {} kills",
                    killed.len()
                );
            }
            if let Some(&pid) = pids.get(seed as usize % pids.len().max(1)) {
                if killed.insert(pid) {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(2 + seed % 8));
        }
        let mut ok = HashMap::new();
        let mut crashed = Vec::new();
        for (id, mut h) in handles.into_iter().enumerate() {
            match h.wait_timeout(LONG) {
                Ok((v, pid)) => {
                    assert_eq!(v, id as u64 * 3, "task {id}'s result");
                    ok.insert(id as u64, pid);
                }
                Err(TaskError::WorkerCrashed { signal, .. }) => {
                    assert_eq!(signal, Some(9), "task {id} crashed by SIGKILL");
                    crashed.push(id as u64);
                }
                Err(e) => panic!("task {id}: {e}"),
            }
        }
        let stats = pool.stats();
        drop(pool);
        let text = std::fs::read_to_string(&log).expect("log");
        let mut ran: HashMap<u64, Vec<u32>> = HashMap::new();
        for line in text.lines() {
            let mut parts = line.split(' ');
            let id: u64 = parts.next().unwrap().parse().unwrap();
            let pid: u32 = parts.next().unwrap().parse().unwrap();
            ran.entry(id).or_default().push(pid);
        }
        for (id, pid) in &ok {
            assert_eq!(
                ran.get(id),
                Some(&vec![*pid]),
                "task {id} ran once, where it said"
            );
        }
        for id in &crashed {
            let where_ = ran.get(id).cloned().unwrap_or_default();
            assert!(
                where_.len() <= 1,
                "crashed task {id} ran {} times",
                where_.len()
            );
            assert!(
                where_.iter().all(|p| killed.contains(p)),
                "crashed task {id} ran on {where_:?}, not a killed worker"
            );
        }
        assert_eq!(ok.len() + crashed.len(), 10_000);
        assert!(
            crashed.len() <= 20,
            "{} crashed for 20 kills",
            crashed.len()
        );
        assert_eq!(stats.crashed, crashed.len() as u64);
        // A lazy pool replaces a worker when its slot next has a task: at
        // most one replacement per slot can still be due.
        assert!(stats.respawns + 6 >= crashed.len() as u64, "{stats:?}");
        println!(
            "    {} succeeded, {} crashed, {} respawns, 20 kills",
            ok.len(),
            crashed.len(),
            stats.respawns
        );
        let _ = std::fs::remove_file(&log);
    }

    pub(crate) fn a_timeout_kills_the_hung_worker_and_the_pool_goes_on() {
        let pool = pool(1)
            .timeout(Duration::from_millis(300))
            .build()
            .expect("pool");
        let first = pool.submit(PID_OF, ()).wait().expect("a worker");
        let hung = pool.submit(SLEEP_MS, 600_000);
        let after = pool.submit(PID_OF, ());
        assert_eq!(hung.wait(), Err(TaskError::TimedOut));
        let second = after.wait().expect("the pool goes on");
        assert_ne!(first, second, "the hung worker was replaced");
        assert!(!exists(first), "the killed worker {first} was reaped");
        let stats = pool.stats();
        assert_eq!(stats.timed_out, 1);
        assert_eq!(stats.respawns, 1);
        assert_eq!(pool.submit(SLEEP_MS, 1).wait(), Ok(1));
    }

    pub(crate) fn workers_are_recycled_after_max_tasks_per_worker() {
        let pool = pool(1).max_tasks_per_worker(3).build().expect("pool");
        let pids: Vec<u32> = (0..10)
            .map(|_| pool.submit(PID_OF, ()).wait().expect("runs"))
            .collect();
        for chunk in pids.chunks(3) {
            assert!(chunk.iter().all(|&p| p == chunk[0]), "{pids:?}");
        }
        let distinct: HashSet<_> = pids.iter().collect();
        assert_eq!(distinct.len(), 4, "{pids:?}");
        assert_eq!(pool.stats().recycled, 3);
        let live = pool.worker_pids();
        for pid in distinct {
            assert!(
                live.contains(pid) || !exists(*pid),
                "retired worker {pid} reaped"
            );
        }
    }

    pub(crate) fn crashes_of_every_kind_cost_one_task_each() {
        let pool = pool(2).build().expect("pool");
        let cases: [(&str, Option<i32>, Option<i32>); 3] = [
            ("segfault", Some(11), None),
            ("abort", Some(6), None),
            ("exit", None, Some(7)),
        ];
        for (how, signal, code) in cases {
            let before = pool.submit(PID_OF, ());
            let crashed = pool.submit(CRASH, how.to_owned());
            let after = pool.submit(PID_OF, ());
            match crashed.wait() {
                Err(TaskError::WorkerCrashed {
                    signal: s,
                    exit_code: c,
                    ..
                }) => assert_eq!((s, c), (signal, code), "{how}"),
                other => panic!("{how}: {other:?}"),
            }
            assert!(before.wait().is_ok() && after.wait().is_ok(), "{how}");
        }
        // A panic that unwinds is caught in the worker, which lives on.
        let pid = pool.submit(PID_OF, ()).wait().expect("runs");
        match pool.submit(CRASH, "panic".to_owned()).wait() {
            Err(TaskError::Panicked { message }) => assert!(message.contains("unwinds")),
            other => panic!("{other:?}"),
        }
        let s = pool.stats();
        assert_eq!((s.crashed, s.panicked), (3, 1));
        assert!(pool.worker_pids().contains(&pid) || pool.stats().live_workers == 2);
        let msg = TaskError::WorkerCrashed {
            signal: Some(11),
            exit_code: None,
            detail: "x".into(),
        }
        .to_string();
        assert!(
            msg.contains("signal 11") && msg.contains("retry_crashed"),
            "{msg}"
        );
    }

    pub(crate) fn over_the_memory_limit_a_worker_dies_and_is_replaced() {
        let pool = pool(1).memory_limit(1 << 30).build().expect("pool");
        match pool.submit(CRASH, "oom".to_owned()).wait() {
            Err(TaskError::WorkerCrashed { signal, .. }) => assert_eq!(signal, Some(6)),
            other => panic!("{other:?}"),
        }
        assert!(pool.submit(PID_OF, ()).wait().is_ok());
    }

    pub(crate) fn garbage_and_oversized_frames_replace_the_worker() {
        let pool = pool(1).build().expect("pool");
        for (how, says) in [
            ("garbage", "status 238"),
            ("oversized", "over the maximum"),
            ("truncated", "inside a frame"),
        ] {
            let pid = pool.submit(PID_OF, ()).wait().expect("runs");
            match pool.submit(CRASH, how.to_owned()).wait() {
                Err(TaskError::WorkerCrashed { detail, .. }) => {
                    assert!(detail.contains(says), "{how}: {detail}")
                }
                other => panic!("{how}: {other:?}"),
            }
            let next = pool.submit(PID_OF, ()).wait().expect("the pool recovers");
            assert_ne!(pid, next, "{how}: the worker was replaced");
            assert!(!exists(pid), "{how}: the old worker was reaped");
        }
    }

    pub(crate) fn retry_crashed_runs_a_crashed_task_again_only_when_asked() {
        let marker = temp_path("crash-once");
        let plain = pool(1).build().expect("pool");
        assert!(matches!(
            plain.submit(CRASH_ONCE, marker.clone()).wait(),
            Err(TaskError::WorkerCrashed { .. })
        ));
        let _ = std::fs::remove_file(&marker);
        let retrying = pool(1).retry_crashed(1).build().expect("pool");
        assert_eq!(retrying.submit(CRASH_ONCE, marker.clone()).wait(), Ok(1));
        assert_eq!(retrying.stats().retried, 1);
        let _ = std::fs::remove_file(&marker);
    }

    pub(crate) fn handles_wait_cancel_and_await_as_for_thread_pools() {
        let pool = pool(1).build().expect("pool");
        let mut slow = pool.submit(SLEEP_MS, 300);
        let queued = pool.submit(SLEEP_MS, 5);
        assert!(queued.cancel());
        assert_eq!(queued.wait(), Err(TaskError::Cancelled));
        assert_eq!(
            slow.wait_timeout(Duration::from_millis(1)),
            Err(TaskError::TimedOut)
        );
        assert_eq!(slow.wait_timeout(LONG), Ok(300));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        assert_eq!(rt.block_on(pool.submit(SLEEP_MS, 2)), Ok(2));
        match pool.submit(workwise::process_task!(unlisted), 1).wait() {
            Err(TaskError::Panicked { message }) => assert!(message.contains("init"), "{message}"),
            other => panic!("{other:?}"),
        }
        pool.shutdown();
        assert_eq!(pool.submit(SLEEP_MS, 1).wait(), Err(TaskError::Closed));
    }

    pub(crate) fn shutdown_now_cancels_queued_tasks() {
        let pool = pool(1).build().expect("pool");
        let running = pool.submit(SLEEP_MS, 200);
        assert!(wait_until(LONG, || pool.stats().running == 1));
        let queued: Vec<_> = (0..5).map(|_| pool.submit(SLEEP_MS, 1)).collect();
        pool.shutdown_now();
        assert_eq!(running.wait(), Ok(200));
        for h in queued {
            assert_eq!(h.wait(), Err(TaskError::Cancelled));
        }
    }

    pub(crate) fn map_chunks_tiny_items_and_keeps_order() {
        let pool = pool(2).build().expect("pool");
        let out = pool.map(INC, 0..1_000_000u32);
        assert_eq!(out.len(), 1_000_000);
        for (i, r) in out.iter().enumerate() {
            if i == 777_777 {
                assert!(matches!(r, Err(TaskError::Panicked { .. })), "{r:?}");
            } else {
                assert_eq!(r, &Ok(i as u32 + 1));
            }
        }
        // Far fewer frames than items.
        assert!(pool.stats().submitted < 1000, "{:?}", pool.stats());
        assert!(pool.map(INC, Vec::new()).is_empty());
    }

    pub(crate) fn shared_bytes_reach_workers_without_a_copy() {
        let pool = pool(2).build().expect("pool");
        let data = SharedBytes::new(&vec![1u8; 10 << 20]).expect("memfd");
        let handles: Vec<_> = (0..8)
            .map(|i| pool.submit(SUM_SHARED, (data.clone(), i)))
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.wait(), Ok((10 << 20) - i as u64));
        }
        assert!(pool.stats().bytes_sent < 8 * 1024, "{:?}", pool.stats());
        let memory = pool.worker_memory();
        assert!(
            !memory.is_empty() && memory.iter().all(|m| m.private_bytes > 0),
            "{memory:?}"
        );
    }

    /// The W11 findings about the process pool called `name`.
    fn w11(advice: &[Advice], name: &str) -> Vec<Advice> {
        let source = format!("process pool '{name}'");
        advice
            .iter()
            .filter(|a| a.code == Code::W11 && a.source == source)
            .cloned()
            .collect()
    }

    pub(crate) fn w11_large_arguments_copied_into_every_task_are_flagged() {
        let pool = pool(2).name("w11-copied").build().expect("pool");
        let data = vec![1u8; 1 << 20];
        let handles: Vec<_> = (0..8).map(|_| pool.submit_ref(BYTE_LEN, &data)).collect();
        for h in handles {
            assert_eq!(h.wait(), Ok(1 << 20));
        }
        let found = w11(&pool.advice(), "w11-copied");
        assert_eq!(found.len(), 1, "{:?}", pool.stats());
        let a = &found[0];
        assert_eq!(a.figure("arguments"), Some(8.0), "{a}");
        assert_eq!(a.figure("large_arguments"), Some(8.0), "{a}");
        assert!(
            a.figure("largest_argument")
                .is_some_and(|kib| kib >= 1024.0),
            "{a}"
        );
        assert!(
            a.figure("mean_argument").is_some_and(|kib| kib >= 1024.0),
            "{a}"
        );
        assert!(a.fix.contains("SharedBytes"), "{a}");
        assert!(a.summary.contains("w11-copied"), "{a}");
        let stats = pool.stats();
        assert_eq!(
            (stats.arguments, stats.large_arguments),
            (8, 8),
            "{stats:?}"
        );
        assert!(stats.largest_argument >= 1 << 20, "{stats:?}");
        assert!(stats.argument_bytes >= 8 << 20, "{stats:?}");
        // The process-wide report asks the pool while it lives.
        assert_eq!(w11(&workwise::advice::report(), "w11-copied").len(), 1);
        drop(pool);
        assert_eq!(w11(&workwise::advice::report(), "w11-copied"), vec![]);
    }

    pub(crate) fn w11_the_same_data_as_shared_bytes_is_not_flagged() {
        let pool = pool(2).name("w11-shared").build().expect("pool");
        let data = SharedBytes::new(&vec![1u8; 1 << 20]).expect("memfd");
        let handles: Vec<_> = (0..8)
            .map(|_| pool.submit(SUM_SHARED, (data.clone(), 0)))
            .collect();
        for h in handles {
            assert_eq!(h.wait(), Ok(1 << 20));
        }
        assert_eq!(w11(&pool.advice(), "w11-shared"), vec![]);
        assert_eq!(w11(&workwise::advice::report(), "w11-shared"), vec![]);
        let stats = pool.stats();
        assert_eq!(
            (stats.arguments, stats.large_arguments),
            (8, 0),
            "{stats:?}"
        );
        assert!(stats.largest_argument < 1024, "{stats:?}");
    }

    pub(crate) fn w11_small_arguments_are_not_flagged_even_in_large_map_chunks() {
        let pool = pool(2).name("w11-small").build().expect("pool");
        let handles: Vec<_> = (0..64).map(|i| pool.submit(SLEEP_MS, i % 2)).collect();
        for h in handles {
            assert!(h.wait().is_ok());
        }
        // 200,000 tiny items go in chunks of thousands: a chunk's frame is
        // large, each item's argument is not.
        let out = pool.map(INC, 0..200_000u32);
        assert!(out.iter().all(Result::is_ok));
        let stats = pool.stats();
        assert!(stats.submitted < 1000, "{stats:?}");
        assert_eq!(stats.arguments, 64 + 200_000, "{stats:?}");
        assert_eq!(stats.large_arguments, 0, "{stats:?}");
        assert_eq!(w11(&pool.advice(), "w11-small"), vec![]);
    }

    pub(crate) fn no_worker_or_zombie_is_left_after_shutdown() {
        let pool = pool(3).eager(true).build().expect("pool");
        let pids = pool.worker_pids();
        assert_eq!(pids.len(), 3);
        let _ = pool.submit(CRASH, "abort".to_owned()).wait();
        drop(pool);
        for pid in pids {
            assert!(!exists(pid), "worker {pid} is gone");
        }
        assert_eq!(children(), vec![], "no child, no zombie");
    }

    pub(crate) fn workers_die_when_their_parent_is_sigkilled() {
        // Orphans come to this process, so it can see them end.
        nix::sys::prctl::set_child_subreaper(true).expect("subreaper");
        let mut parent = Command::new(std::env::current_exe().expect("exe"))
            .env(ROLE, "parent")
            .stdout(Stdio::piped())
            .spawn()
            .expect("parent");
        let mut line = String::new();
        BufReader::new(parent.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("pids");
        let pids: Vec<i32> = line
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 3, "{line:?}");
        parent.kill().expect("SIGKILL");
        parent.wait().expect("reaped");
        let mut left: HashSet<i32> = pids.iter().copied().collect();
        let gone = wait_until(Duration::from_secs(20), || {
            left.retain(|&pid| {
                !matches!(
                    waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)),
                    Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..))
                ) && exists(pid as u32)
            });
            left.is_empty()
        });
        assert!(gone, "workers {left:?} outlived their parent");
        assert_eq!(children(), vec![], "no child, no zombie");
    }

    pub(crate) fn building_without_init_says_what_to_add() {
        let out = Command::new(std::env::current_exe().expect("exe"))
            .env(ROLE, "no-init")
            .output()
            .expect("runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("workwise::process::init(&[..]) was not called")
                && text.contains("first line of main"),
            "{text}"
        );
    }

    /// The role of a program that forgot `init`.
    pub(crate) fn forget_init() {
        match ProcessPool::builder().build() {
            Err(e) => println!("{e}"),
            Ok(_) => println!("built without init"),
        }
    }

    pub(crate) fn public_types_are_send_and_sync() {
        fn both<T: Send + Sync>() {}
        both::<ProcessPool>();
        both::<SharedBytes>();
        both::<Task<u8, u8>>();
        both::<workwise::process::ProcessStats>();
        both::<workwise::process::WorkerMemory>();
        both::<workwise::process::ProcessBuildError>();
        both::<workwise::process::ProcessPoolBuilder>();
    }

    pub(crate) const ROLE: &str = "WORKWISE_PROCESS_TEST_ROLE";

    /// The role of a parent that the test kills.
    pub(crate) fn be_a_parent() {
        let pool = ProcessPool::builder()
            .workers(3)
            .eager(true)
            .build()
            .expect("pool");
        let pids: Vec<String> = pool.worker_pids().iter().map(u32::to_string).collect();
        println!("{}", pids.join(" "));
        std::io::stdout().flush().expect("flush");
        std::thread::sleep(Duration::from_secs(600));
    }

    pub(crate) fn run(name: &str, test: fn(), deadline: Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(test);
            let _ = tx.send(result.is_ok());
        });
        match rx.recv_timeout(deadline) {
            Ok(true) => {
                println!("test {name} ... ok");
                true
            }
            Ok(false) => {
                println!("test {name} ... FAILED");
                false
            }
            Err(_) => {
                println!("test {name} ... FAILED (hung past {deadline:?})");
                false
            }
        }
    }
}

#[cfg(all(feature = "process", target_os = "linux"))]
fn main() {
    use std::time::Duration;
    if std::env::var(linux::ROLE).as_deref() == Ok("no-init") {
        linux::forget_init();
        return;
    }
    linux::init();
    if std::env::var(linux::ROLE).as_deref() == Ok("parent") {
        linux::be_a_parent();
        return;
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let tests: [(&str, fn()); 18] = [
        (
            "building_without_init_says_what_to_add",
            linux::building_without_init_says_what_to_add,
        ),
        (
            "public_types_are_send_and_sync",
            linux::public_types_are_send_and_sync,
        ),
        (
            "ten_thousand_tasks_while_20_workers_are_sigkilled",
            linux::ten_thousand_tasks_while_20_workers_are_sigkilled,
        ),
        (
            "a_timeout_kills_the_hung_worker_and_the_pool_goes_on",
            linux::a_timeout_kills_the_hung_worker_and_the_pool_goes_on,
        ),
        (
            "workers_are_recycled_after_max_tasks_per_worker",
            linux::workers_are_recycled_after_max_tasks_per_worker,
        ),
        (
            "crashes_of_every_kind_cost_one_task_each",
            linux::crashes_of_every_kind_cost_one_task_each,
        ),
        (
            "over_the_memory_limit_a_worker_dies_and_is_replaced",
            linux::over_the_memory_limit_a_worker_dies_and_is_replaced,
        ),
        (
            "garbage_and_oversized_frames_replace_the_worker",
            linux::garbage_and_oversized_frames_replace_the_worker,
        ),
        (
            "retry_crashed_runs_a_crashed_task_again_only_when_asked",
            linux::retry_crashed_runs_a_crashed_task_again_only_when_asked,
        ),
        (
            "handles_wait_cancel_and_await_as_for_thread_pools",
            linux::handles_wait_cancel_and_await_as_for_thread_pools,
        ),
        (
            "shutdown_now_cancels_queued_tasks",
            linux::shutdown_now_cancels_queued_tasks,
        ),
        (
            "map_chunks_tiny_items_and_keeps_order",
            linux::map_chunks_tiny_items_and_keeps_order,
        ),
        (
            "shared_bytes_reach_workers_without_a_copy",
            linux::shared_bytes_reach_workers_without_a_copy,
        ),
        (
            "w11_large_arguments_copied_into_every_task_are_flagged",
            linux::w11_large_arguments_copied_into_every_task_are_flagged,
        ),
        (
            "w11_the_same_data_as_shared_bytes_is_not_flagged",
            linux::w11_the_same_data_as_shared_bytes_is_not_flagged,
        ),
        (
            "w11_small_arguments_are_not_flagged_even_in_large_map_chunks",
            linux::w11_small_arguments_are_not_flagged_even_in_large_map_chunks,
        ),
        (
            "no_worker_or_zombie_is_left_after_shutdown",
            linux::no_worker_or_zombie_is_left_after_shutdown,
        ),
        (
            "workers_die_when_their_parent_is_sigkilled",
            linux::workers_die_when_their_parent_is_sigkilled,
        ),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        if linux::run(name, test, Duration::from_secs(120)) {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

#[cfg(not(all(feature = "process", target_os = "linux")))]
fn main() {
    println!("0 passed, 0 failed");
}
