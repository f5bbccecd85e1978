//! A per-call timer for latency histograms, and its calibration.
//!
//! On x86-64 a sample is two reads of the time-stamp counter: `lfence;
//! rdtsc; lfence` before the measured code and `rdtscp; lfence` after it,
//! so the measured instructions can neither start before the first read nor
//! still be running at the second. Elsewhere it is two `Instant::now()`
//! reads. Either way the pair itself costs something, and that cost is
//! calibrated and taken off every sample:
//!
//! - the tick rate is measured against `Instant` over a 100 ms sleep;
//! - [`Timer::pair_ticks`] is the median of 1,000,000 empty pairs (the two
//!   reads back to back with nothing between them); every sample has it
//!   subtracted, saturating at zero.
//!
//! The counter's resolution is whatever the machine gives. On AMD Zen the
//! counter moves in steps of the 100 MHz reference clock (about 26 ticks of
//! a 2.6 GHz counter, that is 10 ns), so single samples fall on a 10 ns
//! grid there; means are still meaningful because a call's start lands at a
//! random phase of that grid. [`Timer::resolution_ns`] reports the step.

use std::time::{Duration, Instant};

/// A calibrated timer.
#[derive(Debug, Clone, Copy)]
pub struct Timer {
    /// Nanoseconds per tick.
    pub ns_per_tick: f64,
    /// Median ticks of an empty start/stop pair, subtracted from samples.
    pub pair_ticks: u64,
    /// The counter's step: the smallest gap between distinct pair
    /// durations (1-tick gaps ignored), in ns.
    pub resolution_ns: f64,
    /// What the ticks are: `"tsc"` or `"instant"`.
    pub source: &'static str,
}

#[cfg(target_arch = "x86_64")]
mod ticks {
    use std::arch::x86_64::{__rdtscp, _mm_lfence, _rdtsc};

    pub const SOURCE: &str = "tsc";

    /// Reads the counter after all earlier instructions have finished and
    /// before any later one starts.
    #[inline(always)]
    pub fn start() -> u64 {
        // SAFETY: lfence and rdtsc exist on every x86-64 CPU and touch no
        // memory.
        unsafe {
            _mm_lfence();
            let t = _rdtsc();
            _mm_lfence();
            t
        }
    }

    /// Reads the counter once all earlier instructions have finished.
    #[inline(always)]
    pub fn stop() -> u64 {
        let mut aux = 0u32;
        // SAFETY: rdtscp writes only `aux`; every x86-64 CPU this benchmark
        // targets has it (Linux lists it as `rdtscp` in /proc/cpuinfo).
        unsafe {
            let t = __rdtscp(&mut aux);
            _mm_lfence();
            t
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod ticks {
    use std::sync::OnceLock;
    use std::time::Instant;

    pub const SOURCE: &str = "instant";

    fn anchor() -> Instant {
        static ANCHOR: OnceLock<Instant> = OnceLock::new();
        *ANCHOR.get_or_init(Instant::now)
    }

    #[inline(always)]
    pub fn start() -> u64 {
        anchor().elapsed().as_nanos() as u64
    }

    #[inline(always)]
    pub fn stop() -> u64 {
        start()
    }
}

pub use ticks::{start, stop};

impl Timer {
    /// Measures the tick rate and the cost of an empty pair.
    pub fn calibrate() -> Timer {
        let t0 = start();
        let i0 = Instant::now();
        std::thread::sleep(Duration::from_millis(100));
        let t1 = stop();
        let elapsed = i0.elapsed();
        let ns_per_tick = elapsed.as_nanos() as f64 / (t1 - t0).max(1) as f64;

        let mut pairs: Vec<u64> = (0..1_000_000)
            .map(|_| {
                let a = start();
                let b = stop();
                b.wrapping_sub(a)
            })
            .collect();
        pairs.sort_unstable();
        let pair_ticks = pairs[pairs.len() / 2];

        // The step: the smallest gap between distinct pair durations,
        // ignoring 1-tick gaps (reads in the same step of a coarse counter
        // still differ by one tick).
        pairs.dedup();
        let step = pairs
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|&d| d > 1)
            .min()
            .unwrap_or(1);
        Timer {
            ns_per_tick,
            pair_ticks,
            resolution_ns: step as f64 * ns_per_tick,
            source: ticks::SOURCE,
        }
    }

    /// The empty pair's cost in ns.
    pub fn pair_ns(&self) -> f64 {
        self.pair_ticks as f64 * self.ns_per_tick
    }

    /// One sample in ns, the empty pair's cost taken off.
    #[inline(always)]
    pub fn net_ns(&self, start: u64, stop: u64) -> u64 {
        let ticks = stop.wrapping_sub(start).saturating_sub(self.pair_ticks);
        (ticks as f64 * self.ns_per_tick + 0.5) as u64
    }

    /// Ticks to ns, without any subtraction.
    pub fn ticks_ns(&self, ticks: u64) -> f64 {
        ticks as f64 * self.ns_per_tick
    }
}
