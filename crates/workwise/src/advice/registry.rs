//! The list of live objects the advisor watches, and the once-per-object
//! emission of findings through `tracing`.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock, PoisonError, Weak};

use super::Advice;

/// Something the advisor can ask for findings: a pool, a queue.
pub(crate) trait Watched: Send + Sync {
    /// The findings now, from the object's current figures.
    fn advice(&self) -> Vec<Advice>;
}

static WATCHED: Mutex<Vec<Weak<dyn Watched>>> = Mutex::new(Vec::new());

/// Adds `object` to what [`report`] asks; entries whose object is gone are
/// pruned on the way.
pub(crate) fn watch(object: Weak<dyn Watched>) {
    let mut list = WATCHED.lock().unwrap_or_else(PoisonError::into_inner);
    list.retain(|w| w.strong_count() > 0);
    list.push(object);
}

/// The findings of every live pool and queue of the process, in the order
/// they were built.
///
/// # Examples
///
/// ```
/// use workwise::advice::{self, Code};
/// use workwise::Pool;
///
/// let pool = Pool::io().name("lost").build()?;
/// drop(pool.submit(|| panic!("nobody reads this")));
/// workwise::testing::wait_for(
///     || advice::report().iter().any(|a| a.code == Code::W08 && a.source.contains("'lost'")),
///     std::time::Duration::from_secs(30),
/// )
/// .expect("the dropped panic is reported");
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub fn report() -> Vec<Advice> {
    let live: Vec<_> = {
        let mut list = WATCHED.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|w| w.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    };
    // Asked outside the lock: an object's figures may take locks of its own.
    let out = live.iter().flat_map(|w| w.advice()).collect();
    drop(live);
    out
}

/// Where findings go as they are found, from `WORKWISE_ADVICE`, read once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Emission {
    /// `off` (or `0`, `false`): nowhere; the methods still answer.
    Off,
    /// Unset (or anything else): through `tracing` at WARN (feature
    /// `tracing`; without it, nowhere).
    Tracing,
    /// `stderr`: one line each on standard error, with or without the
    /// feature; what CI uses to check that the examples raise no advice.
    Stderr,
}

fn emission() -> Emission {
    static MODE: OnceLock<Emission> = OnceLock::new();
    *MODE.get_or_init(|| match std::env::var("WORKWISE_ADVICE").as_deref() {
        Ok("off" | "OFF" | "0" | "false") => Emission::Off,
        Ok("stderr") => Emission::Stderr,
        _ => Emission::Tracing,
    })
}

/// Whether findings go out at all: not when `WORKWISE_ADVICE` is `off`
/// (or `0`, `false`).
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn emission_on() -> bool {
    emission() != Emission::Off
}

/// Whether a finding found now would go anywhere: worth computing the
/// findings for (at a pool's shutdown, say).
pub(crate) fn emission_wanted() -> bool {
    match emission() {
        Emission::Off => false,
        Emission::Tracing => cfg!(feature = "tracing"),
        Emission::Stderr => true,
    }
}

/// Which codes an object has emitted already: one bit per code.
#[derive(Debug, Default)]
pub(crate) struct Emitted(AtomicU32);

/// Emits each finding in `advice` that `emitted` has not seen yet: at WARN
/// with target `workwise::advice` (feature `tracing`), or on standard error
/// with `WORKWISE_ADVICE=stderr`; with `WORKWISE_ADVICE=off`, or without
/// the feature, it only marks them seen.
pub(crate) fn emit(emitted: &Emitted, advice: &[Advice]) {
    for a in advice {
        let bit = 1u32 << (a.code as u32);
        if emitted.0.fetch_or(bit, Relaxed) & bit != 0 {
            continue;
        }
        match emission() {
            Emission::Off => {}
            Emission::Stderr => eprintln!("workwise::advice: {a}"),
            Emission::Tracing => {
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    target: "workwise::advice",
                    code = a.code.as_str(),
                    source = %a.source,
                    "{a}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advice::{Code, Figure};
    use std::sync::Arc;

    struct Fixed(Vec<Advice>);
    impl Watched for Fixed {
        fn advice(&self) -> Vec<Advice> {
            self.0.clone()
        }
    }

    fn finding(code: Code, source: &str) -> Advice {
        Advice::new(
            code,
            source,
            "seen",
            vec![Figure::new("n", 1.0, "")],
            "fix it",
        )
    }

    #[test]
    fn report_asks_live_objects_and_forgets_dropped_ones() {
        let a: Arc<dyn Watched> = Arc::new(Fixed(vec![finding(Code::W05, "registry-test-a")]));
        let b: Arc<dyn Watched> = Arc::new(Fixed(vec![finding(Code::W07, "registry-test-b")]));
        watch(Arc::downgrade(&a));
        watch(Arc::downgrade(&b));
        let mine = |r: Vec<Advice>| {
            r.into_iter()
                .filter(|x| x.source.starts_with("registry-test-"))
                .map(|x| x.code)
                .collect::<Vec<_>>()
        };
        assert_eq!(mine(report()), vec![Code::W05, Code::W07]);
        drop(a);
        assert_eq!(mine(report()), vec![Code::W07]);
    }

    #[test]
    fn each_code_is_emitted_once_per_object() {
        let seen = Emitted::default();
        emit(&seen, &[finding(Code::W01, "x"), finding(Code::W11, "x")]);
        let bits = seen.0.load(Relaxed);
        assert_eq!(bits, 1 << Code::W01 as u32 | 1 << Code::W11 as u32);
        emit(&seen, &[finding(Code::W01, "x")]);
        assert_eq!(seen.0.load(Relaxed), bits);
    }
}
