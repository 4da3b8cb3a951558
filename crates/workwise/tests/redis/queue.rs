//! `RedisQueue` against a real `redis-server` (see `main.rs`).

use super::server;

use std::time::{Duration, Instant};

use workwise::redis::{
    RedisGetTimeoutError, RedisPutError, RedisPutTimeoutError, RedisQueue, RedisTryGetError,
    RedisTryPutError,
};

const LONG: Duration = Duration::from_secs(30);

/// A plain connection to the test's server, for what the queue's API does
/// not do (garbage entries, the idempotent sink).
fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

/// Waits until `cond` holds, or panics after `within`.
fn wait_until(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A queue whose items are redelivered only after `LONG`: for tests where
/// a redelivery would be a slow machine's, not the test's.
fn queue<T>(url: &str, name: &str, capacity: Option<usize>) -> RedisQueue<T> {
    queue_with(url, name, capacity, LONG)
}

/// A queue that redelivers after 500 ms: for the tests of redelivery.
fn quick_queue<T>(url: &str, name: &str, capacity: Option<usize>) -> RedisQueue<T> {
    queue_with(url, name, capacity, Duration::from_millis(500))
}

fn queue_with<T>(
    url: &str,
    name: &str,
    capacity: Option<usize>,
    visibility: Duration,
) -> RedisQueue<T> {
    let b = RedisQueue::builder(url, name)
        .visibility_timeout(visibility)
        .poll(Duration::from_millis(50));
    match capacity {
        Some(c) => b.capacity(c),
        None => b,
    }
    .build()
    .unwrap()
}

#[test]
fn put_get_ack_round_trip() {
    let Some(server) = server("put_get_ack_round_trip") else {
        return;
    };
    let q = queue::<String>(&server.url(), "rt", Some(4));
    q.put("a".to_owned()).unwrap();
    q.put("b".to_owned()).unwrap();
    assert_eq!((q.len().unwrap(), q.unfinished().unwrap()), (2, 2));
    let a = q.get_timeout(LONG).unwrap();
    assert_eq!(*a, "a");
    assert_eq!(a.deliveries(), 1);
    assert_eq!((q.len().unwrap(), q.unfinished().unwrap()), (1, 2));
    drop(a);
    assert_eq!(q.unfinished().unwrap(), 1);
    let b = q.try_get().unwrap();
    assert_eq!(b.into_inner(), "b");
    assert!(matches!(q.try_get(), Err(RedisTryGetError::Empty)));
    q.join_timeout(LONG).unwrap();
    let stats = q.stats();
    assert_eq!((stats.put, stats.got, stats.acked), (2, 2, 2));
    assert!(stats.round_trips > 0 && stats.redis_time > Duration::ZERO);
}

#[test]
fn a_full_queue_makes_put_wait_until_a_get_acknowledges() {
    let Some(server) = server("a_full_queue_makes_put_wait_until_a_get_acknowledges") else {
        return;
    };
    let q = queue::<u32>(&server.url(), "bp", Some(2));
    q.put(1).unwrap();
    q.put(2).unwrap();
    assert!(matches!(q.try_put(3), Err(RedisTryPutError::Full(3))));
    let err = q.put_timeout(3, Duration::from_millis(20)).unwrap_err();
    assert!(matches!(err, RedisPutTimeoutError::Timeout(3)), "{err:?}");
    assert!(err.to_string().contains("add consumers"), "{err}");
    // A delivered, unacknowledged item still counts against the capacity.
    let held = q.get_timeout(LONG).unwrap();
    assert!(matches!(q.try_put(3), Err(RedisTryPutError::Full(3))));
    let (tx, rx) = std::sync::mpsc::channel();
    let producer = q.clone();
    let putter = std::thread::spawn(move || {
        tx.send(producer.put(3)).unwrap();
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "put returned while the queue was full"
    );
    drop(held); // acknowledged: room for one
    rx.recv_timeout(LONG)
        .expect("put still waiting after an ack made room")
        .unwrap();
    putter.join().unwrap();
    assert_eq!(q.unfinished().unwrap(), 2);
}

#[test]
fn close_refuses_puts_and_gets_drain_then_say_closed() {
    let Some(server) = server("close_refuses_puts_and_gets_drain_then_say_closed") else {
        return;
    };
    let a = queue::<u32>(&server.url(), "close", None);
    let b = a.clone();
    for n in 0..3 {
        a.put(n).unwrap();
    }
    let held_by_b = b.get_timeout(LONG).unwrap();
    assert!(a.close().unwrap());
    assert!(
        !a.close().unwrap(),
        "closing twice says it was closed already"
    );
    assert!(b.is_closed().unwrap());
    let err = a.put(9).unwrap_err();
    assert!(matches!(err, RedisPutError::Closed(9)), "{err:?}");
    assert_eq!(err.into_inner(), 9);
    let mut drained = vec![*held_by_b];
    drained.push(a.get_timeout(LONG).unwrap().into_inner());
    drained.push(a.get_timeout(LONG).unwrap().into_inner());
    drained.sort_unstable();
    assert_eq!(drained, [0, 1, 2]);
    // b still holds an item that may come back: a is not told "closed" yet.
    let err = a.get_timeout(Duration::from_millis(100)).unwrap_err();
    assert!(matches!(err, RedisGetTimeoutError::Timeout), "{err:?}");
    drop(held_by_b);
    assert!(matches!(
        a.get_timeout(LONG),
        Err(RedisGetTimeoutError::Closed)
    ));
    assert!(matches!(a.try_get(), Err(RedisTryGetError::Closed)));
    a.join_timeout(LONG).unwrap();
}

#[test]
fn an_unacknowledged_item_comes_back_after_the_visibility_timeout() {
    let Some(server) = server("an_unacknowledged_item_comes_back_after_the_visibility_timeout")
    else {
        return;
    };
    let a = quick_queue::<String>(&server.url(), "vis", None);
    let b = a.clone();
    a.put("x".to_owned()).unwrap();
    let first = a.get_timeout(LONG).unwrap();
    let id = first.id().to_owned();
    std::mem::forget(first); // as if `a` died holding it
    let again = b.get_timeout(LONG).unwrap();
    assert_eq!((again.id(), again.deliveries()), (id.as_str(), 2));
    assert_eq!(*again, "x");
    drop(again);
    assert_eq!(b.stats().redelivered, 1);
    b.join_timeout(LONG).unwrap();
}

/// Between sweeps a get reads new items with a plain XREADGROUP; the sweep
/// for abandoned items still runs once per `poll`, so a dead consumer's
/// item comes back even while new items never run out.
#[test]
fn an_abandoned_item_comes_back_while_new_items_keep_coming() {
    let Some(server) = server("an_abandoned_item_comes_back_while_new_items_keep_coming") else {
        return;
    };
    let a = quick_queue::<u32>(&server.url(), "busy", None);
    let b = a.clone();
    a.put(0).unwrap();
    let first = a.get_timeout(LONG).unwrap();
    let id = first.id().to_owned();
    std::mem::forget(first); // as if `a` died holding it
    let deadline = Instant::now() + LONG;
    let mut next = 1;
    loop {
        // Keep new items waiting, so that a plain read always finds one.
        while b.len().unwrap() < 4 {
            b.put(next).unwrap();
            next += 1;
        }
        let item = b.get_timeout(LONG).unwrap();
        if item.id() == id {
            assert_eq!((*item, item.deliveries()), (0, 2));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned item never came back"
        );
    }
}

#[test]
fn an_item_delivered_more_than_max_deliveries_goes_to_the_dead_letters() {
    let Some(server) =
        server("an_item_delivered_more_than_max_deliveries_goes_to_the_dead_letters")
    else {
        return;
    };
    let q = RedisQueue::<u32>::builder(&server.url(), "poison")
        .max_deliveries(2)
        .poll(Duration::from_millis(20))
        .build()
        .unwrap();
    q.put(7).unwrap();
    let first = q.get_timeout(LONG).unwrap();
    assert_eq!(first.deliveries(), 1);
    first.requeue().unwrap();
    let second = q.get_timeout(LONG).unwrap();
    assert_eq!(second.deliveries(), 2);
    second.requeue().unwrap();
    // A third delivery would be one too many: the getter buries it.
    let err = q.get_timeout(Duration::from_millis(200)).unwrap_err();
    assert!(matches!(err, RedisGetTimeoutError::Timeout), "{err:?}");
    assert_eq!(q.dead_letters().unwrap(), 1);
    assert_eq!(q.stats().dead_lettered, 1);
    assert_eq!(q.unfinished().unwrap(), 0);
    q.join_timeout(LONG).unwrap();
    let dead: redis::Value = redis::cmd("XRANGE")
        .arg(q.dead_letter_key())
        .arg("-")
        .arg("+")
        .query(&mut raw(&server.url()))
        .unwrap();
    let dead = format!("{dead:?}");
    assert!(dead.contains("max_deliveries"), "{dead}");
}

#[test]
fn a_value_that_does_not_decode_is_a_clear_error_and_a_dead_letter() {
    let Some(server) = server("a_value_that_does_not_decode_is_a_clear_error_and_a_dead_letter")
    else {
        return;
    };
    let q = queue::<u32>(&server.url(), "garbage", Some(8));
    let stream = "workwise:{garbage}:stream";
    let mut c = raw(&server.url());
    let bad: String = redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg("v")
        .arg("{not json")
        .query(&mut c)
        .unwrap();
    let no_v: String = redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg("other")
        .arg("1")
        .query(&mut c)
        .unwrap();
    q.put(5).unwrap();
    let err = q.get_timeout(LONG).unwrap_err();
    let RedisGetTimeoutError::Decode(decode) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(decode.id, bad);
    let serde_says = serde_json::from_str::<u32>("{not json")
        .unwrap_err()
        .to_string();
    let msg = err.to_string();
    assert!(
        msg.contains(&bad) && msg.contains(&serde_says) && msg.contains("workwise:{garbage}:dead"),
        "{msg}"
    );
    let err = q.get_timeout(LONG).unwrap_err();
    assert!(err.to_string().contains("no field `v`"), "{err}");
    assert!(err.to_string().contains(&no_v), "{err}");
    assert_eq!(q.get_timeout(LONG).unwrap().into_inner(), 5);
    assert_eq!(q.dead_letters().unwrap(), 2);
    q.join_timeout(LONG).unwrap();
    let dead: redis::Value = redis::cmd("XRANGE")
        .arg(q.dead_letter_key())
        .arg("-")
        .arg("+")
        .query(&mut c)
        .unwrap();
    let dead = format!("{dead:?}");
    assert!(
        dead.contains("not json") && dead.contains("other"),
        "kept whole: {dead}"
    );
}

#[test]
fn an_oversized_value_is_refused_and_handed_back() {
    let Some(server) = server("an_oversized_value_is_refused_and_handed_back") else {
        return;
    };
    let q = RedisQueue::<String>::builder(&server.url(), "big")
        .max_value_bytes(64)
        .build()
        .unwrap();
    let big = "x".repeat(100);
    let err = q.put(big.clone()).unwrap_err();
    assert!(
        matches!(
            &err,
            RedisPutError::TooLarge {
                size: 102,
                max: 64,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("max_value_bytes"), "{err}");
    assert_eq!(err.into_inner(), big);
    assert_eq!(q.unfinished().unwrap(), 0);
    q.put("x".repeat(62)).unwrap(); // 64 bytes of JSON: at the cap, taken
}

#[test]
fn settings_out_of_range_are_refused_with_what_to_do() {
    use workwise::redis::RedisQueueBuildError as E;
    let url = "redis://127.0.0.1:1/";
    let e = |b: workwise::redis::RedisQueueBuilder<u8>| b.build().unwrap_err();
    assert!(matches!(
        e(RedisQueue::builder(url, "q").capacity(0)),
        E::ZeroCapacity
    ));
    assert!(matches!(
        e(RedisQueue::builder(url, "q").max_deliveries(0)),
        E::ZeroMaxDeliveries
    ));
    assert!(matches!(
        e(RedisQueue::builder(url, "q").visibility_timeout(Duration::ZERO)),
        E::ZeroVisibilityTimeout
    ));
    assert!(matches!(
        e(RedisQueue::builder(url, "q").max_value_bytes(0)),
        E::ZeroMaxValueBytes
    ));
    let err = e(RedisQueue::builder(url, "a{b}"));
    assert!(err.to_string().contains("without `{`"), "{err}");
    assert!(matches!(e(RedisQueue::builder(url, "")), E::BadName(_)));
    let err = e(RedisQueue::builder(url, "q"));
    assert!(err.to_string().contains("is redis-server running"), "{err}");
}

#[test]
fn pool_consume_works_on_a_redis_queue() {
    let Some(server) = server("pool_consume_works_on_a_redis_queue") else {
        return;
    };
    let q = queue::<u64>(&server.url(), "pool", Some(16));
    let pool = workwise::Pool::io().max_workers(4).build().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let loops = pool.consume(&q, 3, move |n: u64| {
        assert!(n != 13, "unlucky");
        sink.lock().unwrap().push(n);
    });
    for n in 0..100 {
        q.put(n).unwrap();
    }
    q.join_timeout(LONG).unwrap();
    q.close().unwrap();
    let reports: Vec<_> = loops.into_iter().map(|h| h.wait().unwrap()).collect();
    assert_eq!(reports.iter().map(|r| r.processed).sum::<u64>(), 100);
    assert_eq!(reports.iter().map(|r| r.panicked).sum::<u64>(), 1);
    assert!(reports.iter().all(|r| r.stopped_by.is_none()));
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, (0..100).filter(|&n| n != 13).collect::<Vec<_>>());
    assert_eq!(
        q.unfinished().unwrap(),
        0,
        "the panicking item was acknowledged"
    );
}

// ------------------------------------------------------- several processes
//
// The test binary re-runs itself as a child: `--exact child_process` with
// `WORKWISE_REDIS_CHILD` naming the role. Without that variable (a normal
// run) `child_process` returns at once.

const CHILD: &str = "WORKWISE_REDIS_CHILD";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("child: {name} not set"))
}

fn spawn_child(url: &str, queue: &str, role: &str, vars: &[(&str, String)]) -> std::process::Child {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "queue::child_process",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, role)
    .env("WORKWISE_REDIS_URL", url)
    .env("WORKWISE_REDIS_QUEUE", queue);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Waits for a child to exit, killing it and failing after `within`.
fn wait_child(child: &mut std::process::Child, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} did not exit within {within:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The idempotent sink: the item's effect, recorded once per item id
/// however often it is delivered; every attempt is counted apart.
fn record(c: &mut redis::Connection, n: u64) {
    let _: () = redis::cmd("HSETNX")
        .arg("results")
        .arg(n)
        .arg(n * 3)
        .query(c)
        .unwrap();
    let _: () = redis::cmd("INCR").arg("attempts").query(c).unwrap();
}

#[test]
fn child_process() {
    let Ok(role) = std::env::var(CHILD) else {
        return;
    };
    let url = env("WORKWISE_REDIS_URL");
    let q = quick_queue::<u64>(&url, &env("WORKWISE_REDIS_QUEUE"), None);
    let mut c = raw(&url);
    match role.as_str() {
        "producer" => {
            let from: u64 = env("FROM").parse().unwrap();
            for n in from..from + env("COUNT").parse::<u64>().unwrap() {
                q.put(n).unwrap();
            }
        }
        "consumer" => {
            // HOLD=k: take k items, record their effects, then exit without
            // acknowledging them (exit skips destructors): they are
            // delivered again to another consumer.
            let hold: usize = std::env::var("HOLD").map_or(0, |h| h.parse().unwrap());
            let mut held = Vec::new();
            let _: () = redis::cmd("INCR").arg("consumers").query(&mut c).unwrap();
            loop {
                match q.get() {
                    Ok(item) => {
                        record(&mut c, *item);
                        if hold > 0 {
                            held.push(item);
                            if held.len() == hold {
                                let _: () =
                                    redis::cmd("INCR").arg("holders").query(&mut c).unwrap();
                                std::process::exit(3);
                            }
                        }
                    }
                    Err(workwise::redis::RedisGetError::Closed) => break,
                    Err(err) => panic!("consumer: {err}"),
                }
            }
            let _: () = redis::cmd("INCRBY")
                .arg("redelivered")
                .arg(q.stats().redelivered)
                .query(&mut c)
                .unwrap();
        }
        "holder" => {
            // Takes `HOLD` items, says so, and waits to be killed.
            let mut held = Vec::new();
            for _ in 0..env("HOLD").parse::<usize>().unwrap() {
                let item = q.get_timeout(LONG).unwrap();
                record(&mut c, *item);
                let _: () = redis::cmd("RPUSH")
                    .arg("held")
                    .arg(*item)
                    .query(&mut c)
                    .unwrap();
                held.push(item);
            }
            let _: () = redis::cmd("SET").arg("ready").arg(1).query(&mut c).unwrap();
            std::thread::sleep(Duration::from_secs(600));
            unreachable!("the parent kills this process");
        }
        other => panic!("unknown child role {other}"),
    }
}

#[test]
fn four_producers_and_four_consumer_processes_do_each_item_once() {
    let test = "four_producers_and_four_consumer_processes_do_each_item_once";
    let Some(server) = server(test) else {
        return;
    };
    let url = server.url();
    // Bounded, so that backpressure works across processes too.
    let q = quick_queue::<u64>(&url, "eo", Some(64));
    let mut consumers: Vec<_> = (0..4)
        .map(|i| {
            let hold = if i == 0 {
                vec![("HOLD", "3".to_owned())]
            } else {
                vec![]
            };
            spawn_child(&url, "eo", "consumer", &hold)
        })
        .collect();
    // Every consumer is up before the first item, so that the holder gets
    // its items however slowly the processes start.
    let mut c = raw(&url);
    wait_until(LONG, "the consumers to start", || {
        redis::cmd("GET")
            .arg("consumers")
            .query::<Option<u32>>(&mut c)
            .unwrap()
            == Some(4)
    });
    let mut producers: Vec<_> = (0..4u64)
        .map(|p| {
            let vars = [
                ("FROM", (p * 1000).to_string()),
                ("COUNT", "250".to_owned()),
            ];
            spawn_child(&url, "eo", "producer", &vars)
        })
        .collect();
    for p in &mut producers {
        assert_eq!(
            wait_child(p, Duration::from_secs(120)),
            0,
            "a producer failed"
        );
    }
    // Across processes: every item put by the producers is acknowledged by
    // the consumers, including the dead consumer's, redelivered.
    q.join_timeout(Duration::from_secs(60)).unwrap();
    q.close().unwrap();
    let codes: Vec<i32> = consumers
        .iter_mut()
        .map(|c| wait_child(c, Duration::from_secs(60)))
        .collect();
    assert_eq!(
        codes,
        [3, 0, 0, 0],
        "the holder exits with 3, the rest drain and exit 0"
    );
    let results: std::collections::HashMap<u64, u64> =
        redis::cmd("HGETALL").arg("results").query(&mut c).unwrap();
    let expected: std::collections::HashMap<u64, u64> = (0..4u64)
        .flat_map(|p| (p * 1000..p * 1000 + 250).map(|n| (n, n * 3)))
        .collect();
    assert_eq!(results.len(), 1000);
    assert_eq!(
        results, expected,
        "each item's effect recorded exactly once"
    );
    let attempts: u64 = redis::cmd("GET").arg("attempts").query(&mut c).unwrap();
    let redelivered: u64 = redis::cmd("GET").arg("redelivered").query(&mut c).unwrap();
    assert!(
        attempts >= 1003 && redelivered >= 3,
        "the held items were delivered twice: {attempts} attempts, {redelivered} redelivered"
    );
    assert_eq!((q.unfinished().unwrap(), q.dead_letters().unwrap()), (0, 0));
}

#[cfg(unix)]
#[test]
fn a_consumer_killed_holding_items_has_them_redelivered_and_done() {
    let test = "a_consumer_killed_holding_items_has_them_redelivered_and_done";
    let Some(server) = server(test) else {
        return;
    };
    let url = server.url();
    let q = quick_queue::<u64>(&url, "kill", None);
    for n in 0..5 {
        q.put(n).unwrap();
    }
    let mut holder = spawn_child(&url, "kill", "holder", &[("HOLD", "2".to_owned())]);
    let mut c = raw(&url);
    wait_until(LONG, "the holder to take its items", || {
        redis::cmd("EXISTS")
            .arg("ready")
            .query::<bool>(&mut c)
            .unwrap()
    });
    holder.kill().unwrap(); // SIGKILL: no destructor runs, nothing is acknowledged
    holder.wait().unwrap();
    let held: Vec<u64> = redis::cmd("LRANGE")
        .arg("held")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(held.len(), 2);
    let mut done = Vec::new();
    while done.len() < 5 {
        let item = q
            .get_timeout(LONG)
            .expect("every item, the held ones again too");
        assert_eq!(
            item.deliveries() > 1,
            held.contains(&*item),
            "only the killed consumer's items are redeliveries"
        );
        record(&mut c, *item);
        done.push(item.into_inner());
    }
    done.sort_unstable();
    assert_eq!(done, [0, 1, 2, 3, 4]);
    assert_eq!(q.stats().redelivered, 2);
    q.join_timeout(LONG).unwrap();
    let results: u64 = redis::cmd("HLEN").arg("results").query(&mut c).unwrap();
    assert_eq!(results, 5);
}

#[test]
fn queue_types_cross_threads() {
    fn send_sync<X: Send + Sync>() {}
    fn send<X: Send>() {}
    // No `T: Send` needed for the handle: it holds no T.
    send_sync::<RedisQueue<std::rc::Rc<u8>>>();
    send_sync::<workwise::redis::RedisItem<String>>();
    send::<RedisPutError<String>>();
    send_sync::<workwise::redis::RedisGetError>();
}

#[cfg(feature = "tokio")]
#[test]
fn a_cancelled_get_async_loses_no_item() {
    let Some(server) = server("a_cancelled_get_async_loses_no_item") else {
        return;
    };
    let q = queue::<u32>(&server.url(), "async", None);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        q.put_async(1).await.unwrap();
        assert_eq!(q.get_async().await.unwrap().into_inner(), 1);
        // Cancel a get that waits on an empty queue, then put: the blocking
        // getter may take the item after the cancel; it must hand it back.
        let waiting = tokio::time::timeout(Duration::from_millis(20), q.get_async()).await;
        assert!(waiting.is_err(), "nothing to get yet");
        q.put_async(2).await.unwrap();
    });
    let item = q.get_timeout(LONG).expect("the item is not lost");
    assert_eq!(*item, 2);
    drop(item);
    q.join_timeout(LONG).unwrap();
}

fn consumers_in_group(c: &mut redis::Connection, queue: &str) -> usize {
    let consumers: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(format!("workwise:{{{queue}}}:stream"))
        .arg("workwise")
        .query(c)
        .unwrap();
    consumers.len()
}

#[test]
fn a_dropped_consumer_leaves_the_group_unless_it_holds_items() {
    let Some(server) = server("a_dropped_consumer_leaves_the_group_unless_it_holds_items") else {
        return;
    };
    let mut c = raw(&server.url());
    let a = queue::<u32>(&server.url(), "leave", None);
    let b = a.clone();
    a.put(1).unwrap();
    a.put(2).unwrap();
    let _taken = a.get_timeout(LONG).unwrap().into_inner();
    let held = b.get_timeout(LONG).unwrap();
    assert_eq!(consumers_in_group(&mut c, "leave"), 2);
    let b_item = *held;
    // Handed back, but still pending under b (and no guard of b lives on).
    held.requeue().unwrap();
    drop(b);
    assert_eq!(
        consumers_in_group(&mut c, "leave"),
        2,
        "a consumer holding an item stays, or the item would be lost"
    );
    drop(a);
    assert_eq!(
        consumers_in_group(&mut c, "leave"),
        1,
        "a held nothing: gone"
    );
    let q = queue::<u32>(&server.url(), "leave", None);
    assert_eq!(q.get_timeout(LONG).unwrap().into_inner(), b_item);
    q.join_timeout(LONG).unwrap();
}

#[test]
fn a_lost_connection_is_counted_and_the_queue_goes_on() {
    let Some(server) = server("a_lost_connection_is_counted_and_the_queue_goes_on") else {
        return;
    };
    let q = queue::<u32>(&server.url(), "lost", Some(8));
    q.put(1).unwrap();
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut raw(&server.url()))
        .unwrap();
    assert!(killed >= 1);
    assert_eq!(q.get_timeout(LONG).unwrap().into_inner(), 1);
    assert_eq!(q.stats().reconnects, 1);
    q.join_timeout(LONG).unwrap();
}

#[test]
fn pool_consume_on_a_redis_that_goes_away_ends_with_the_reason() {
    let Some(server) = server("pool_consume_on_a_redis_that_goes_away_ends_with_the_reason") else {
        return;
    };
    let q = queue::<u64>(&server.url(), "gone", None);
    let pool = workwise::Pool::io().max_workers(2).build().unwrap();
    let loops = pool.consume(&q, 2, |_: u64| {});
    q.put(1).unwrap();
    q.join_timeout(LONG).unwrap();
    drop(server); // the Redis is gone for good
    for handle in loops {
        let report = handle.wait().unwrap();
        let why = report.stopped_by.expect("a loop that stopped says why");
        assert!(why.contains("could not reach Redis"), "{why}");
    }
    std::mem::forget(q); // its drop would only try the dead server again
}
