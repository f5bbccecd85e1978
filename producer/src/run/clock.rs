//! The row clock: a timestamp for every row, in nanoseconds since the Unix
//! epoch (CLOCK_REALTIME), at a fraction of the cost of asking the kernel.
//!
//! # Why
//!
//! Reading CLOCK_REALTIME through `SystemTime::now()` costs 25 to 45 ns even
//! through the vDSO (it reads the time-stamp counter, scales it, and std then
//! converts the `timespec` again); measured, that was most of a `log` call.
//! CLOCK_REALTIME_COARSE costs 5 ns but only moves once a kernel tick (4 ms
//! on a HZ=250 kernel): rows logged in the same tick would share a stamp and
//! stamps would jump by whole ticks, which is too coarse for timestamps this
//! SDK documents and exports in nanoseconds. So it is not used.
//!
//! # How
//!
//! On x86-64 Linux, when the kernel keeps time with the time-stamp counter
//! itself (clock source `tsc`, which it selects only for an invariant counter
//! that is synchronised across CPUs), a row reads the counter (`rdtsc`,
//! about 10 ns) and converts it from an anchor:
//!
//! ```text
//! ns = anchor_ns + (tsc - anchor_tsc) * ns_per_tick
//! ```
//!
//! - The anchor is a CLOCK_REALTIME reading paired with the counter read
//!   around it. It is taken again (the slow path: two `clock_gettime` vDSO
//!   calls) whenever the counter has moved 10 ms past the anchor, or moved
//!   backwards, so a stamp is never extrapolated more than 10 ms and a step
//!   of the wall clock (NTP, `settimeofday`) shows in the stamps at most 10 ms
//!   late, as it would at the next kernel read anyway.
//! - `ns_per_tick` is measured against CLOCK_MONOTONIC (the same rate as
//!   CLOCK_REALTIME, but never stepped) over a baseline that starts when the
//!   run starts and grows with every anchor, restarting each minute so it
//!   follows NTP's rate corrections. Until the baseline is 1 ms long, every
//!   row takes the slow path and gets CLOCK_REALTIME itself.
//!
//! The error of a stamp against CLOCK_REALTIME read at the same instant is
//! the rate error times the time since the anchor: with a 1 ms baseline and
//! 10 ns counter steps, at most about 40 ppm × 10 ms = 0.4 µs in the first
//! anchors of a run, under 1 ns once the baseline is a second long. Stamps can
//! therefore step back by at most that much at a re-anchor, far less than
//! CLOCK_REALTIME itself steps back under NTP. A counter rate outside 100 MHz
//! to 20 GHz is taken as a broken counter and the clock falls back for good.
//!
//! Everywhere else (another clock source, another CPU or OS), or when
//! `RINGTRACK_ROW_CLOCK=system` is set when the run starts, every row reads
//! CLOCK_REALTIME with `clock_gettime`, which skips std's conversions.

/// Re-anchor after this long on the counter.
const REANCHOR_NS: u64 = 10_000_000;
/// Shortest baseline the rate is measured over.
const MIN_BASELINE_NS: i64 = 1_000_000;
/// The baseline restarts once it is this long.
const MAX_BASELINE_NS: i64 = 60_000_000_000;
/// Fixed-point fraction bits of `ns_per_tick`.
const SHIFT: u32 = 32;

/// The clock rows are stamped with. See the module docs.
#[derive(Debug)]
pub(crate) struct RowClock {
    counter: Option<Counter>,
}

impl RowClock {
    /// The counter-based clock where it is sound, else the system clock.
    pub(crate) fn new() -> RowClock {
        let forced_system =
            std::env::var("RINGTRACK_ROW_CLOCK").is_ok_and(|v| v.trim() == "system");
        let counter = if forced_system { None } else { Counter::new() };
        RowClock { counter }
    }

    /// A clock that always asks the kernel.
    #[cfg(test)]
    pub(crate) fn system() -> RowClock {
        RowClock { counter: None }
    }

    /// Which clock this is: `"tsc"` or `"system"`.
    #[cfg(test)]
    pub(crate) fn source(&self) -> &'static str {
        if self.counter.is_some() {
            "tsc"
        } else {
            "system"
        }
    }

    /// Now, in nanoseconds since the Unix epoch.
    #[inline]
    pub(crate) fn now_ns(&mut self) -> i64 {
        match &mut self.counter {
            Some(counter) => counter.now_ns(),
            None => realtime_ns(),
        }
    }
}

/// CLOCK_REALTIME in nanoseconds since the epoch.
#[inline]
pub(crate) fn realtime_ns() -> i64 {
    clock_ns(libc::CLOCK_REALTIME)
}

#[inline]
#[allow(
    clippy::unnecessary_cast,
    reason = "time_t and c_long are 32 bits wide on some targets"
)]
fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only `ts`; both clocks always exist on
    // Linux, so it cannot fail, and `ts` stays zero if it did.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as i64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as i64)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[inline(always)]
fn read_counter() -> u64 {
    // SAFETY: rdtsc exists on every x86-64 CPU, reads no memory and is
    // allowed in user mode on Linux (the kernel uses it for the vDSO).
    unsafe { std::arch::x86_64::_rdtsc() }
}

/// The counter-based clock: an anchor and a rate.
#[derive(Debug)]
struct Counter {
    anchor_tsc: u64,
    anchor_ns: i64,
    /// Nanoseconds per tick, `SHIFT` fraction bits; 0 until measured.
    ns_per_tick: u64,
    /// Ticks after the anchor that still take the fast path; 0 until the
    /// rate is measured, so every read takes the slow path.
    limit: u64,
    base_tsc: u64,
    base_mono: i64,
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
impl Counter {
    fn new() -> Option<Counter> {
        let source = std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .ok()?;
        if source.trim() != "tsc" {
            return None;
        }
        let (tsc, mono, real) = sample();
        Some(Counter {
            anchor_tsc: tsc,
            anchor_ns: real,
            ns_per_tick: 0,
            limit: 0,
            base_tsc: tsc,
            base_mono: mono,
        })
    }

    #[inline(always)]
    fn now_ns(&mut self) -> i64 {
        let delta = read_counter().wrapping_sub(self.anchor_tsc);
        if delta < self.limit {
            let ns = (u128::from(delta) * u128::from(self.ns_per_tick)) >> SHIFT;
            return self.anchor_ns + ns as i64;
        }
        self.reanchor()
    }

    /// The slow path: a new anchor, and a new rate when the baseline is
    /// long enough.
    #[cold]
    #[inline(never)]
    fn reanchor(&mut self) -> i64 {
        let (tsc, mono, real) = sample();
        let span_ns = mono - self.base_mono;
        let span_tsc = tsc.wrapping_sub(self.base_tsc);
        if span_tsc >= 1 << 62 || span_ns < 0 {
            // The counter went backwards: start the baseline again.
            self.base_tsc = tsc;
            self.base_mono = mono;
        } else if span_ns >= MIN_BASELINE_NS {
            let rate = ((span_ns as u128) << SHIFT) / u128::from(span_tsc.max(1));
            // 20 GHz to 100 MHz: 0.05 to 10 ns per tick.
            let sane = (1u128 << SHIFT) / 20..=(10u128 << SHIFT);
            if !sane.contains(&rate) {
                self.limit = 0;
                self.ns_per_tick = 0;
                self.anchor_tsc = tsc;
                self.anchor_ns = real;
                return real;
            }
            self.ns_per_tick = rate as u64;
            self.limit = ((u128::from(REANCHOR_NS) << SHIFT) / rate) as u64;
            if span_ns >= MAX_BASELINE_NS {
                self.base_tsc = tsc;
                self.base_mono = mono;
            }
        }
        self.anchor_tsc = tsc;
        self.anchor_ns = real;
        real
    }
}

/// A counter reading with CLOCK_MONOTONIC and CLOCK_REALTIME read between
/// two counter reads; the counter value is the midpoint.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn sample() -> (u64, i64, i64) {
    let before = read_counter();
    let mono = clock_ns(libc::CLOCK_MONOTONIC);
    let real = realtime_ns();
    let after = read_counter();
    (before + after.wrapping_sub(before) / 2, mono, real)
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
impl Counter {
    fn new() -> Option<Counter> {
        None
    }

    fn now_ns(&mut self) -> i64 {
        realtime_ns()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_follow_the_system_clock() {
        let mut clock = RowClock::new();
        let mut last = 0i64;
        let start = std::time::Instant::now();
        let mut worst = 0i64;
        while start.elapsed() < Duration::from_millis(60) {
            let before = realtime_ns();
            let stamp = clock.now_ns();
            let after = realtime_ns();
            // Within 50 µs of the kernel's clock read around it (the bound
            // is far below that; the margin is for a preempted test).
            let off = (stamp - before).min(0).abs().max((stamp - after).max(0));
            worst = worst.max(off);
            // Never more than a few µs backwards.
            assert!(stamp >= last - 5_000, "{stamp} after {last}");
            last = stamp;
        }
        assert!(
            worst < 50_000,
            "{} stamps off by {worst} ns",
            clock_name(&clock)
        );
    }

    fn clock_name(clock: &RowClock) -> &'static str {
        clock.source()
    }

    #[test]
    fn the_system_clock_is_the_realtime_clock() {
        let mut clock = RowClock::system();
        let a = realtime_ns();
        let b = clock.now_ns();
        let c = realtime_ns();
        assert!(a <= b && b <= c);
        let std_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        assert!((std_now - b).abs() < 1_000_000_000);
    }

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[test]
    fn a_counter_that_jumps_back_takes_the_slow_path() {
        let Some(mut counter) = Counter::new() else {
            return; // the kernel does not keep time with the TSC here
        };
        std::thread::sleep(Duration::from_millis(2));
        counter.now_ns(); // measures the rate
        assert!(counter.limit > 0);
        // Pretend the anchor is in the counter's future.
        counter.anchor_tsc = read_counter() + (1 << 40);
        let before = realtime_ns();
        let stamp = counter.now_ns();
        assert!(stamp >= before && stamp <= realtime_ns());
    }
}
