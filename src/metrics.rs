//! Prometheus metrics of one node, kept in memory and rendered in the text exposition format.
//! Counters only ever grow; labels come from small fixed sets (routes, codes, script names).

pub(crate) mod traces;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the script latency histogram, in seconds.
const BUCKETS: [f64; 11] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

type Labels = Vec<(&'static str, String)>;

/// One labelled series of a counter.
struct Series {
    name: &'static str,
    labels: Labels,
    value: u64,
}

impl Series {
    fn is(&self, name: &str, labels: &[(&'static str, &str)]) -> bool {
        self.name == name
            && self.labels.len() == labels.len()
            && self.labels.iter().zip(labels).all(|((k, v), (l, w))| k == l && v == w)
    }
}

/// Where a series is kept: a hash of its name and labels (FNV-1a, cheap on short text; series
/// that collide share a slot), so that a request finds its series without building an owned
/// key (an allocation per label) to look it up.
fn series_key(name: &str, labels: &[(&'static str, &str)]) -> u64 {
    fn add(hash: u64, text: &str) -> u64 {
        let mut hash = hash;
        for byte in text.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        // A byte no text has ends each part, so ("ab", "c") and ("a", "bc") differ.
        (hash ^ 0xff).wrapping_mul(0x0100_0000_01b3)
    }
    let mut hash = add(0xcbf2_9ce4_8422_2325, name);
    for (k, v) in labels {
        hash = add(add(hash, k), v);
    }
    hash
}

/// Counters every request touches, kept as plain atomics so the hot path takes no lock.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fixed {
    RedisCalls,
    StaleAnswers,
    CacheHit(CacheKind),
    CacheMiss(CacheKind),
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum CacheKind {
    Plan,
    Settings,
    Key,
    Subscription,
}

const CACHES: [(CacheKind, &str); 4] = [
    (CacheKind::Plan, "plan"),
    (CacheKind::Settings, "settings"),
    (CacheKind::Key, "key"),
    (CacheKind::Subscription, "subscription"),
];

impl Fixed {
    fn slot(self) -> usize {
        match self {
            Fixed::RedisCalls => 0,
            Fixed::StaleAnswers => 1,
            Fixed::CacheHit(c) => 2 + 2 * c as usize,
            Fixed::CacheMiss(c) => 3 + 2 * c as usize,
        }
    }
}

#[derive(Default)]
pub(crate) struct Metrics {
    fixed: [AtomicU64; 10],
    /// The series of each key (almost always one).
    counters: Mutex<BTreeMap<u64, Vec<Series>>>,
    histograms: Mutex<BTreeMap<String, Histogram>>,
    /// Proxied calls whose commit waits for Redis to answer again (a gauge).
    commits_waiting: AtomicI64,
}

/// Name and help of every counter, in the order they are rendered.
const COUNTERS: &[(&str, &str)] = &[
    ("qg_requests_total", "HTTP requests by route and status."),
    ("qg_decisions_total", "Reserve and check decisions by result and reason."),
    ("qg_reservations_total", "Reservations ended, by outcome: committed, released, expired (released after expiry), late (committed after expiry)."),
    ("qg_redis_calls_total", "Redis round trips the node made (a script call, a read)."),
    ("qg_redis_errors_total", "Redis calls that failed, by kind: unavailable, timeout, protocol."),
    ("qg_cache_total", "Node cache lookups by cache and result (hit, miss)."),
    ("qg_stale_answers_total", "Scripts that answered stale: the node re-read state and called again."),
    ("qg_proxy_calls_total", "Proxied calls by upstream, operation and outcome: committed (the provider's usage), estimated (the hold, no usage reported), late (committed after its hold expired, while Redis did not answer), released, denied, lost (the hold had ended otherwise, or a release was left to the hold's expiry)."),
    ("qg_proxy_fallbacks_total", "Attempts of a fallback route that gave way to its next target, by route (upstream/model, as the upstreams file names it) and reason: denied, unreachable, broken, timeout, status_429, status_500, status_502, status_503, status_504, status_529, context_length."),
    ("qg_proxy_drains_total", "Streams whose caller left, by upstream and result: started, completed, refused (no drain free), timed_out."),
    ("qg_proxy_upstream_errors_total", "Upstream failures by upstream and kind: connect, timeout, status_4xx, status_5xx, stream_broken, idle."),
    ("qg_trace_spans_dropped_total", "Finished spans dropped because the queue to the trace collector was full (the collector slow or gone): the calls never wait for it."),
    ("qg_proxy_jobs_settled_total", "Async jobs (batches, videos) settled, by upstream, kind (batch, message_batch, video), outcome (committed: the provider's numbers; estimated: its hold, the job never ended; released: it failed) and by (read: a caller's read saw it end; sweep: the sweeper's poll)."),
    ("qg_proxy_job_polls_total", "The job sweeper's polls, by outcome: open (still running, or a pending job not found yet), ended (settled), expired (charged its hold at its end), skipped (another node polls it, or it had ended), adopted (a job its node never recorded, found at the provider), failed (the provider or Redis did not answer, or not within the poll's time-out)."),
    ("qg_proxy_jobs_adopted_total", "Async jobs whose node never recorded the provider's answer (it stopped while it waited), found at the provider by the sweeper and recorded, by upstream."),
];

impl Metrics {
    /// Adds one to a counter of the hot path.
    pub(crate) fn bump(&self, counter: Fixed) {
        self.fixed[counter.slot()].fetch_add(1, Ordering::Relaxed);
    }

    fn fixed(&self, counter: Fixed) -> u64 {
        self.fixed[counter.slot()].load(Ordering::Relaxed)
    }

    /// Adds one to the counter `name` with `labels`.
    pub(crate) fn count(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        if let Ok(mut counters) = self.counters.lock() {
            let series = counters.entry(series_key(name, labels)).or_default();
            match series.iter_mut().find(|s| s.is(name, labels)) {
                Some(s) => s.value += 1,
                None => series.push(Series {
                    name,
                    labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
                    value: 1,
                }),
            }
        }
    }

    /// Records how long one call of `script` took.
    pub(crate) fn observe_script(&self, script: &str, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Ok(mut histograms) = self.histograms.lock() {
            if !histograms.contains_key(script) {
                histograms.insert(script.to_string(), Histogram::default());
            }
            let Some(h) = histograms.get_mut(script) else {
                return;
            };
            for (slot, bound) in h.counts.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *slot += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// The current value of one counter (for tests).
    #[cfg(test)]
    pub(crate) fn value(&self, name: &'static str, labels: &[(&'static str, &str)]) -> u64 {
        let Ok(counters) = self.counters.lock() else {
            return 0;
        };
        counters
            .get(&series_key(name, labels))
            .and_then(|series| series.iter().find(|s| s.is(name, labels)))
            .map_or(0, |s| s.value)
    }

    /// The hot-path counters as the labelled series they stand for.
    fn fixed_series(&self, name: &str) -> Vec<(Labels, u64)> {
        let series = |labels: &[(&'static str, &str)], counter| {
            (
                labels.iter().map(|(k, v)| (*k, v.to_string())).collect::<Labels>(),
                self.fixed(counter),
            )
        };
        match name {
            "qg_redis_calls_total" => vec![series(&[], Fixed::RedisCalls)],
            "qg_stale_answers_total" => vec![series(&[], Fixed::StaleAnswers)],
            "qg_cache_total" => CACHES
                .iter()
                .flat_map(|(cache, label)| {
                    [
                        series(&[("cache", label), ("result", "hit")], Fixed::CacheHit(*cache)),
                        series(&[("cache", label), ("result", "miss")], Fixed::CacheMiss(*cache)),
                    ]
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Moves the gauge of proxied calls whose commit waits for Redis by `delta`.
    pub(crate) fn commits_waiting(&self, delta: i64) {
        self.commits_waiting.fetch_add(delta, Ordering::Relaxed);
    }

    /// The text exposition format.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let name = "qg_proxy_commits_waiting";
        let _ = writeln!(
            out,
            "# HELP {name} Proxied calls the provider answered whose commit waits for Redis to answer again.\n# TYPE {name} gauge\n{name} {}",
            self.commits_waiting.load(Ordering::Relaxed).max(0)
        );
        if let Ok(counters) = self.counters.lock() {
            for (name, help) in COUNTERS {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                let mut series: Vec<&Series> = counters.values().flatten().filter(|s| s.name == *name).collect();
                series.sort_by(|a, b| a.labels.cmp(&b.labels));
                for s in series {
                    let _ = writeln!(out, "{name}{} {}", render_labels(&s.labels, None), s.value);
                }
                for (labels, value) in self.fixed_series(name) {
                    let _ = writeln!(out, "{name}{} {value}", render_labels(&labels, None));
                }
            }
        }
        if let Ok(histograms) = self.histograms.lock() {
            let name = "qg_script_duration_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} Time of one script call as the node saw it, round trip included."
            );
            let _ = writeln!(out, "# TYPE {name} histogram");
            for (script, h) in histograms.iter() {
                let labels = vec![("script", script.clone())];
                for (count, bound) in h.counts.iter().zip(BUCKETS) {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {count}",
                        render_labels(&labels, Some(&bound.to_string()))
                    );
                }
                let _ = writeln!(out, "{name}_bucket{} {}", render_labels(&labels, Some("+Inf")), h.count);
                let _ = writeln!(out, "{name}_sum{} {}", render_labels(&labels, None), h.sum);
                let _ = writeln!(out, "{name}_count{} {}", render_labels(&labels, None), h.count);
            }
        }
        out
    }
}

fn render_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_whose_labels_join_alike_are_counted_apart_and_rendered_in_order() {
        let m = Metrics::default();
        m.count("qg_requests_total", &[("route", "ab"), ("status", "c")]);
        m.count("qg_requests_total", &[("route", "a"), ("status", "bc")]);
        m.count("qg_requests_total", &[("route", "a"), ("status", "bc")]);
        m.count("qg_reservations_total", &[("outcome", "released")]);
        assert_eq!(m.value("qg_requests_total", &[("route", "ab"), ("status", "c")]), 1);
        assert_eq!(m.value("qg_requests_total", &[("route", "a"), ("status", "bc")]), 2);
        assert_eq!(m.value("qg_requests_total", &[("route", "a"), ("status", "b")]), 0);
        let text = m.render();
        let first = text.find("{route=\"a\",status=\"bc\"} 2").expect(&text);
        let second = text.find("{route=\"ab\",status=\"c\"} 1").expect(&text);
        assert!(first < second, "{text}");
        assert!(text.contains("qg_reservations_total{outcome=\"released\"} 1"), "{text}");
    }

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.count(
            "qg_decisions_total",
            &[("result", "denied"), ("reason", "limit_reached")],
        );
        m.count(
            "qg_decisions_total",
            &[("result", "denied"), ("reason", "limit_reached")],
        );
        m.observe_script("reserve", Duration::from_micros(300));
        let text = m.render();
        assert!(
            text.contains("qg_decisions_total{result=\"denied\",reason=\"limit_reached\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("qg_script_duration_seconds_bucket{script=\"reserve\",le=\"0.0005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("qg_script_duration_seconds_bucket{script=\"reserve\",le=\"0.00025\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("qg_script_duration_seconds_count{script=\"reserve\"} 1"),
            "{text}"
        );
        assert_eq!(
            m.value(
                "qg_decisions_total",
                &[("result", "denied"), ("reason", "limit_reached")]
            ),
            2
        );
    }
}
