//! Every public type that crosses threads is `Send` and `Sync` where it should be.

use workwise::*;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Pool>();
    send_sync::<PoolBuilder>();
    send_sync::<PoolStats>();
    send_sync::<PoolBuildError>();
    send_sync::<TaskError>();
    send_sync::<Workload>();
    send_sync::<TaskHandle<u32>>();
    send_sync::<TaskHandle<String>>();
    send_sync::<AsCompleted<u32>>();
    send_sync::<Waited<u32>>();
    send_sync::<ReturnWhen>();
    // The data-parallel types: the options, and an iterator's items to be
    // collected (Send and Sync as the iterator is).
    send_sync::<Par<'static>>();
    send_sync::<Collected<std::vec::IntoIter<u32>>>();
    send_sync::<Collected<std::ops::Range<u64>>>();
    send::<Collected<std::vec::IntoIter<std::cell::Cell<u32>>>>();
    send::<TrySubmitError<fn()>>();
    send_sync::<Scope<'static, 'static>>();
    send_sync::<Queue<u32>>();
    send_sync::<Item<'static, u32>>();
    send_sync::<OwnedItem<u32>>();
    send_sync::<OwnedItem<String>>();
    // Send for a T that is Send only: it can go into a pool task.
    send::<OwnedItem<std::cell::Cell<u32>>>();
    send_sync::<ConsumerReport>();
    send_sync::<QueueStats>();
    send_sync::<GetError>();
    send_sync::<QueueBuildError>();
    send_sync::<JoinTimeoutError>();
    send::<PutError<u32>>();
    send::<TryPutError<u32>>();
    send::<PutTimeoutError<u32>>();
    send_sync::<PoolStats>();
    send_sync::<RealClock>();
    send_sync::<ManualClock>();
    send::<Sleep>();
    send_sync::<RateLimiter>();
    send_sync::<RateLimiter<ManualClock>>();
    send_sync::<CircuitBreaker>();
    send_sync::<BreakerError<std::io::Error>>();
    send_sync::<Retry<std::io::Error>>();
    send_sync::<RetryError<String>>();
    send_sync::<Policy<std::io::Error>>();
    send_sync::<PolicyError<String>>();
}
