//! Latency of one `log` call, measured call by call.
//!
//! Every call is timed with the calibrated timer of
//! `ringtrack_benches::timer` (TSC reads on x86-64): the median cost of an
//! empty timer pair is measured first and subtracted from every sample, so
//! the figures are the call's own cost, on the counter's resolution (10 ns
//! on AMD Zen). Each sample goes into an HDR histogram (1 ns to 1 h, three
//! significant digits).
//!
//! The cases: the handle API (`Run::log` with `Metric` handles) and the
//! name API (`Run::log_named`), with 1, 4, 16 and 64 values per row, each
//!
//! - `draining`: the real service runs as its own process, pinned to the
//!   other core, and drains the ring while the calls are made;
//! - `paused`: the service is stopped with SIGSTOP after the run is
//!   registered, so the calls only fill the ring; the ring is large enough
//!   to take every measured call;
//!
//! and then the full-ring behaviour: a small ring, the service stopped, rows
//! logged until the ring is full, the wait and the `Error::RingFull` that
//! follow, and the recovery once the service runs again.
//!
//! Knobs: `RINGTRACK_BENCH_CALLS` (calls per case, default 1,000,000),
//! `RINGTRACK_BENCH_PAUSED_RING` (ring bytes of the paused cases, default
//! 256 MiB), `RINGTRACK_BENCH_PIN=0` (no pinning). Run with `scripts/bench`,
//! or `cargo build --release --bins && cargo bench -p ringtrack-benches
//! --bench log_latency`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ringtrack::{Error, Metric, Run, Value};
use ringtrack_benches::{
    emit, fill_row, knob, pin_current_thread, pinning, service_binary, timer,
    BenchService, Latency, Percentiles, Timer,
};
use serde_json::json;

/// Bytes of a row record with `n` f64 values: record header, row header,
/// entries.
fn row_record_bytes(n: usize) -> u64 {
    (8 + ringbuf_core::record::row_len(n, 0)) as u64
}

const WARMUP: u64 = 10_000;

#[derive(Clone, Copy, PartialEq)]
enum Api {
    Handle,
    Name,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Handle => "handle",
            Api::Name => "name",
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list
    }
    let Some(bin) = service_binary() else {
        eprintln!("log_latency: build the service first: cargo build --release --bins");
        return;
    };
    let calls = knob("RINGTRACK_BENCH_CALLS", 1_000_000);
    let paused_ring = knob("RINGTRACK_BENCH_PAUSED_RING", 256 << 20);
    let pin = pinning();
    if pin {
        pin_current_thread(0);
    }
    let timer = Timer::calibrate();
    println!(
        "timer: {} at {:.4} ns/tick, resolution {:.1} ns, empty pair {:.1} ns (subtracted); pinned: {pin}",
        timer.source,
        timer.ns_per_tick,
        timer.resolution_ns,
        timer.pair_ns()
    );
    emit(
        "timer",
        "calibration",
        json!({
            "source": timer.source,
            "ns_per_tick": timer.ns_per_tick,
            "resolution_ns": timer.resolution_ns,
            "pair_ns": timer.pair_ns(),
            "pinned": pin,
        }),
    );
    clock_costs();

    let service = BenchService::start_on(&bin, pin.then_some(1));
    println!("{}", Percentiles::header());
    for mode in ["draining", "paused"] {
        for api in [Api::Handle, Api::Name] {
            for metrics in [1usize, 4, 16, 64] {
                let (ring, n) = if mode == "paused" {
                    let fit = paused_ring * 9 / 10 / row_record_bytes(metrics) - WARMUP;
                    (paused_ring, calls.min(fit))
                } else {
                    (64 << 20, calls)
                };
                let case = Case {
                    api,
                    metrics,
                    calls: n,
                    ring,
                    paused: mode == "paused",
                };
                let (p, full_events) = case.run(&service, &timer);
                let name = format!("{}/{metrics}/{mode}", api.name());
                println!("{}", p.line(&name));
                let mut fields = p.json();
                fields["api"] = api.name().into();
                fields["metrics"] = metrics.into();
                fields["mode"] = mode.into();
                fields["full_events"] = full_events.into();
                emit("latency", &name, fields);
            }
        }
    }
    batch_mean(&service, calls);
    system_clock(&service, calls, &timer);
    full_ring(&service, &timer);
}

/// The handle API with 4 values, draining, again with the row clock forced
/// to `clock_gettime(CLOCK_REALTIME)` (`RINGTRACK_ROW_CLOCK=system`, read
/// at `Run::init`), to show what the counter-based row clock saves in the
/// same run.
fn system_clock(service: &BenchService, calls: u64, timer: &Timer) {
    // Single-threaded here: nothing reads the environment concurrently.
    std::env::set_var("RINGTRACK_ROW_CLOCK", "system");
    let case = Case {
        api: Api::Handle,
        metrics: 4,
        calls,
        ring: 64 << 20,
        paused: false,
    };
    let (p, full_events) = case.run(service, timer);
    std::env::remove_var("RINGTRACK_ROW_CLOCK");
    let name = "handle/4/draining, RINGTRACK_ROW_CLOCK=system";
    println!("{}", p.line(name));
    let mut fields = p.json();
    fields["full_events"] = full_events.into();
    emit("latency_system_clock", "handle/4/draining", fields);
}

/// What the clock reads cost, as batch means (no timer around single
/// reads): the hot path reads one clock per row.
fn clock_costs() {
    const N: u32 = 2_000_000;
    let mean = |f: &dyn Fn() -> i64| {
        let start = Instant::now();
        let mut acc = 0i64;
        for _ in 0..N {
            acc = acc.wrapping_add(black_box(f()));
        }
        black_box(acc);
        start.elapsed().as_nanos() as f64 / f64::from(N)
    };
    let system = mean(&|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)
    });
    let realtime = mean(&|| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes only `ts`.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    });
    let coarse = mean(&|| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes only `ts`.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    });
    let counter = mean(&|| timer::start() as i64);
    println!(
        "clock reads (batch means): SystemTime::now {system:.1} ns, \
         clock_gettime(REALTIME) {realtime:.1} ns, REALTIME_COARSE {coarse:.1} ns, \
         fenced counter read {counter:.1} ns"
    );
    for (case, ns) in [
        ("SystemTime::now", system),
        ("clock_gettime(CLOCK_REALTIME)", realtime),
        ("clock_gettime(CLOCK_REALTIME_COARSE)", coarse),
        ("lfence+rdtsc+lfence", counter),
    ] {
        emit("clock", case, json!({ "mean_ns": ns }));
    }
}

struct Case {
    api: Api,
    metrics: usize,
    calls: u64,
    ring: u64,
    paused: bool,
}

impl Case {
    fn run(&self, service: &BenchService, timer: &Timer) -> (Percentiles, u64) {
        let settings = service
            .settings("bench-latency")
            .ring_capacity(self.ring)
            .full_wait(Duration::from_secs(30));
        let mut run = Run::init(settings).expect("init");
        let names: Vec<String> = (0..self.metrics).map(|i| format!("m{i}")).collect();
        let handles: Vec<Metric> = names
            .iter()
            .map(|n| run.metric(n).expect("metric"))
            .collect();
        if self.paused {
            service.pause();
        }
        let mut hist = Latency::new();
        match self.api {
            Api::Handle => log_handles(&mut run, &handles, self.calls, timer, &mut hist),
            Api::Name => log_names(&mut run, &names, self.calls, timer, &mut hist),
        }
        if self.paused {
            service.resume();
        }
        let full_events = run.counters().full_events;
        run.finish_with(0, Duration::from_secs(300))
            .expect("finish");
        (hist.percentiles(), full_events)
    }
}

fn log_handles(
    run: &mut Run,
    handles: &[Metric],
    calls: u64,
    timer: &Timer,
    hist: &mut Latency,
) {
    let mut values = vec![0.0; handles.len()];
    let mut row: Vec<(Metric, f64)> = handles.iter().map(|&h| (h, 0.0)).collect();
    for step in 0..WARMUP + calls {
        fill_row(&mut values, step);
        for (entry, &v) in row.iter_mut().zip(&values) {
            entry.1 = v;
        }
        let start = timer::start();
        let result = run.log(&row);
        let stop = timer::stop();
        result.expect("log");
        if step >= WARMUP {
            hist.record(timer.net_ns(start, stop));
        }
    }
}

fn log_names(
    run: &mut Run,
    names: &[String],
    calls: u64,
    timer: &Timer,
    hist: &mut Latency,
) {
    let mut values = vec![0.0; names.len()];
    let mut row: Vec<(&str, Value)> = names
        .iter()
        .map(|n| (n.as_str(), Value::F64(0.0)))
        .collect();
    for step in 0..WARMUP + calls {
        fill_row(&mut values, step);
        for (entry, &v) in row.iter_mut().zip(&values) {
            entry.1 = Value::F64(v);
        }
        let start = timer::start();
        let result = run.log_named(&row);
        let stop = timer::stop();
        result.expect("log");
        if step >= WARMUP {
            hist.record(timer.net_ns(start, stop));
        }
    }
}

/// The handle API with 4 metrics timed as one loop: the mean cost per
/// call with no timer in the loop, to cross-check the histogram's mean.
fn batch_mean(service: &BenchService, calls: u64) {
    let settings = service.settings("bench-batch").ring_capacity(64 << 20);
    let mut run = Run::init(settings).expect("init");
    let handles: Vec<Metric> = (0..4)
        .map(|i| run.metric(&format!("m{i}")).expect("metric"))
        .collect();
    let mut row: Vec<(Metric, f64)> = handles.iter().map(|&h| (h, 0.0)).collect();
    for _ in 0..WARMUP {
        run.log(&row).expect("log");
    }
    let start = Instant::now();
    for step in 0..calls {
        for (i, entry) in row.iter_mut().enumerate() {
            entry.1 = (step as f64) * 0.5 + i as f64;
        }
        run.log(&row).expect("log");
    }
    let mean = start.elapsed().as_nanos() as f64 / calls as f64;
    let full_events = run.counters().full_events;
    run.finish_with(0, Duration::from_secs(300))
        .expect("finish");
    println!("handle/4/draining, one timed loop: {mean:.1} ns per call (mean, no per-call timer)");
    emit(
        "latency_batch",
        "handle/4/draining",
        json!({ "mean_ns": mean, "calls": calls, "full_events": full_events }),
    );
}

/// A 1 MiB ring with the service stopped: how many rows fit, what the
/// call that finds the ring full costs (it waits `full_wait`, then
/// `Error::RingFull`), what the calls after it cost (they fail at once),
/// and how soon logging works again once the service runs.
fn full_ring(service: &BenchService, timer: &Timer) {
    let full_wait = Duration::from_millis(100);
    let settings = service
        .settings("bench-full")
        .ring_capacity(1 << 20)
        .full_wait(full_wait);
    let mut run = Run::init(settings).expect("init");
    let handles: Vec<Metric> = (0..4)
        .map(|i| run.metric(&format!("m{i}")).expect("metric"))
        .collect();
    let mut row: Vec<(Metric, f64)> = handles.iter().map(|&h| (h, 0.0)).collect();
    service.pause();

    // Fill the ring; the call that finds it full waits, then fails.
    let mut accepted = 0u64;
    let (first_full_ns, error) = loop {
        row[0].1 = accepted as f64;
        let start = timer::start();
        let result = run.log(&row);
        let stop = timer::stop();
        match result {
            Ok(_) => accepted += 1,
            Err(err) => break (timer.net_ns(start, stop), err),
        }
    };
    assert!(matches!(error, Error::RingFull { .. }), "{error}");

    // Calls while the ring stays full fail at once.
    let mut failing = Latency::new();
    for _ in 0..10_000 {
        let start = timer::start();
        let result = run.log(&row);
        let stop = timer::stop();
        assert!(matches!(result, Err(Error::RingFull { .. })));
        failing.record(timer.net_ns(start, stop));
    }
    let failing = failing.percentiles();

    // The service runs again: how long until a row is accepted.
    service.resume();
    let resumed = Instant::now();
    let recovered = loop {
        if run.log(&row).is_ok() {
            break resumed.elapsed();
        }
        assert!(
            resumed.elapsed() < Duration::from_secs(30),
            "ring never drained"
        );
        std::thread::sleep(Duration::from_micros(100));
    };
    let counters = run.counters();
    run.finish_with(0, Duration::from_secs(60)).expect("finish");
    println!(
        "full ring (1 MiB, service stopped): {accepted} rows accepted; the call that found it \
         full took {:.1} ms (full_wait {} ms) and returned `{error}`; the next 10,000 calls \
         failed at once (p50 {} ns, p99 {} ns); after SIGCONT a row was accepted again in \
         {:.2} ms; dropped {}",
        first_full_ns as f64 / 1e6,
        full_wait.as_millis(),
        failing.p50,
        failing.p99,
        recovered.as_secs_f64() * 1e3,
        counters.dropped
    );
    emit(
        "full_ring",
        "handle/4/1MiB",
        json!({
            "accepted": accepted,
            "first_full_ms": first_full_ns as f64 / 1e6,
            "full_wait_ms": full_wait.as_millis() as u64,
            "failing_p50": failing.p50,
            "failing_p99": failing.p99,
            "recovered_ms": recovered.as_secs_f64() * 1e3,
            "dropped": counters.dropped,
            "error": error.to_string(),
        }),
    );
}
