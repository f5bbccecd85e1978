//! Shared pieces of the ringtrack benchmarks: the real service as a
//! process, a calibrated per-call timer, latency histograms, `/proc`
//! readings and the result lines that `scripts/bench` turns into
//! `docs/performance.md`.
//!
//! Nothing here is published; the peers ringtrack is compared with live in
//! the separate `benches/peers` crate.

pub mod procfs;
pub mod service;
pub mod stats;
pub mod timer;

pub use service::{pin_current_thread, pinning, service_binary, BenchService};
pub use stats::{emit, knob, Latency, Percentiles};
pub use timer::Timer;

/// A row of `n` values for step `step`, different at every step so no
/// layer can skip work on repeated values.
#[inline]
pub fn fill_row(values: &mut [f64], step: u64) {
    for (i, v) in values.iter_mut().enumerate() {
        *v = (step as f64) * 0.5 + i as f64;
    }
}
