//! The old names of renamed types still build, deprecated, as aliases of
//! the new ones (issue 14: build errors named `<Thing>BuildError`).
#![allow(deprecated)]

#[test]
fn the_old_build_error_names_still_name_the_new_types() {
    let pool: Result<workwise::Pool, workwise::BuildError> =
        workwise::Pool::io().max_workers(0).build();
    assert_eq!(pool.unwrap_err(), workwise::PoolBuildError::ZeroWorkers);
    let queue: Result<workwise::Queue<u8>, workwise::QueueError> = workwise::Queue::bounded(0);
    assert_eq!(queue.unwrap_err(), workwise::QueueBuildError::ZeroCapacity);
}

#[cfg(feature = "tokio")]
#[test]
fn the_old_aio_limit_error_name_still_names_the_gather_build_error() {
    let futures = (0..3).map(|i| async move { i });
    let Err(err) = workwise::aio::gather_limited(futures, 0) else {
        panic!("a limit of 0 must be refused");
    };
    let err: workwise::aio::ZeroLimitError = err;
    assert_eq!(err, workwise::aio::GatherBuildError::ZeroLimit);
}

#[cfg(feature = "process")]
#[test]
fn the_old_process_build_error_name_still_names_the_new_type() {
    let err: workwise::process::BuildError = workwise::process::ProcessBuildError::ZeroWorkers;
    assert_eq!(err, workwise::process::ProcessBuildError::ZeroWorkers);
}
