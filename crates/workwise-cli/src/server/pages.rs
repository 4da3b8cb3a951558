//! The pages of the tour's embedded server: [`PAGES`] pages at
//! `/page/{i}`, each answered after its own latency of 20 to 50 ms
//! ([`latency`]); an index at `/`, answered at once; and `/hold`, answered
//! when [`PageServer::release_held`](super::PageServer::release_held) is
//! called, for opening connections.

use std::time::Duration;

/// How many pages the server has: `/page/0` to `/page/{PAGES - 1}`.
pub(crate) const PAGES: usize = 200;

/// The latency of page `page`: 20 to 50 ms, the same on every run.
pub(crate) fn latency(page: usize) -> Duration {
    Duration::from_millis(20 + (page as u64 * 37) % 31)
}

/// The text that page `page`'s body contains and no other page's does.
pub(crate) fn marker(page: usize) -> String {
    format!("<h1>page {page}</h1>")
}

/// The status, body and latency for a request path; no latency: held until
/// released.
pub(super) fn route(path: &str) -> (u16, String, Option<Duration>) {
    let page = path
        .strip_prefix("/page/")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|&p| p < PAGES);
    match page {
        None if path == "/hold" => (200, "held\n".into(), None),
        None if path == "/" => (
            200,
            format!("workwise tour pages: /page/0 to /page/{}\n", PAGES - 1),
            Some(Duration::ZERO),
        ),
        Some(page) => {
            let delay = latency(page);
            let body = format!(
                "<!doctype html>\n<html><head><title>page {page}</title></head>\n\
                 <body>{}\n<p>Served after {} ms by the workwise tour's embedded server.</p>\
                 </body></html>\n",
                marker(page),
                delay.as_millis()
            );
            (200, body, Some(delay))
        }
        None => (
            404,
            format!(
                "no such page: {path} (pages are /page/0 to /page/{}, API items \
                 /api/items/{{n}})\n",
                PAGES - 1
            ),
            Some(Duration::ZERO),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_span_20_to_50_ms() {
        let ms: Vec<u128> = (0..PAGES).map(|p| latency(p).as_millis()).collect();
        assert_eq!(ms.iter().min(), Some(&20));
        assert_eq!(ms.iter().max(), Some(&50));
    }

    #[test]
    fn routes_pages_and_rejects_the_rest() {
        let (status, body, delay) = route("/page/7");
        assert_eq!((status, delay), (200, Some(latency(7))));
        assert!(body.contains(&marker(7)));
        assert!(!body.contains(&marker(70)));
        assert_eq!(route(&format!("/page/{PAGES}")).0, 404);
        assert_eq!(route("/page/x").0, 404);
        assert_eq!(route("/").2, Some(Duration::ZERO));
        assert_eq!(route("/index.html").0, 404);
        assert_eq!(route("/hold").2, None);
    }
}
