//! Every public type that crosses threads is `Send` and `Sync` where it should be.

use workwise::*;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Pool>();
    send_sync::<PoolBuilder>();
    send_sync::<PoolStats>();
    send_sync::<BuildError>();
    send_sync::<TaskError>();
    send_sync::<Workload>();
    send_sync::<TaskHandle<u32>>();
    send_sync::<TaskHandle<String>>();
    send_sync::<AsCompleted<u32>>();
    send::<TrySubmitError<fn()>>();
    send_sync::<Scope<'static, 'static>>();
}
