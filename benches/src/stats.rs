//! Latency histograms and the result lines every benchmark prints.
//!
//! Each benchmark prints human-readable lines and, for every figure, one
//! machine-readable line `RESULT {json}`; `scripts/bench` collects those
//! and `bench-report` turns them into `docs/performance.md`.

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Highest latency a histogram tracks: one hour, in ns.
const HIGHEST_NS: u64 = 3_600_000_000_000;

/// A latency histogram in ns, with the exact mean beside it.
#[derive(Debug, Clone)]
pub struct Latency {
    hist: Histogram<u64>,
    sum: u128,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    /// An empty histogram covering 0 ns to one hour at 3 significant
    /// digits.
    pub fn new() -> Latency {
        Latency {
            hist: Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("histogram bounds"),
            sum: 0,
        }
    }

    /// Records one sample; anything above an hour is clamped to an hour.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let ns = ns.min(HIGHEST_NS);
        self.sum += u128::from(ns);
        // Cannot fail: the value is within the bounds.
        let _ = self.hist.record(ns);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The percentiles of what was recorded.
    pub fn percentiles(&self) -> Percentiles {
        let h = &self.hist;
        let count = h.len();
        Percentiles {
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: if count == 0 {
                0.0
            } else {
                self.sum as f64 / count as f64
            },
            count,
        }
    }
}

/// The figures a latency report shows, in ns.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    /// Largest sample.
    pub max: u64,
    /// Mean of the samples.
    pub mean: f64,
    /// Samples.
    pub count: u64,
}

impl Percentiles {
    /// The table header matching [`Percentiles::line`].
    pub fn header() -> String {
        format!(
            "{:<44} {:>7} {:>7} {:>7} {:>8} {:>10} {:>8} {:>9}",
            "case", "p50 ns", "p99", "p99.9", "p99.99", "max", "mean", "calls"
        )
    }

    /// One human-readable table line.
    pub fn line(&self, case: &str) -> String {
        format!(
            "{case:<44} {:>7} {:>7} {:>7} {:>8} {:>10} {:>8.1} {:>9}",
            self.p50, self.p99, self.p999, self.p9999, self.max, self.mean, self.count
        )
    }

    /// The figures as JSON fields.
    pub fn json(&self) -> Value {
        json!({
            "p50": self.p50,
            "p99": self.p99,
            "p999": self.p999,
            "p9999": self.p9999,
            "max": self.max,
            "mean": self.mean,
            "count": self.count,
        })
    }
}

/// Prints one machine-readable result line. `fields` must be a JSON
/// object; `group` and `case` are added to it.
pub fn emit(group: &str, case: &str, fields: Value) {
    let mut object = match fields {
        Value::Object(map) => map,
        other => {
            let mut map = serde_json::Map::new();
            map.insert("value".into(), other);
            map
        }
    };
    object.insert("group".into(), group.into());
    object.insert("case".into(), case.into());
    println!("RESULT {}", Value::Object(object));
}

/// Reads a `u64` knob from the environment, with a default.
pub fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}
