//! Latency of one `log` call, measured call by call.
//!
//! Each call is timed with a pair of `Instant::now()` reads; the median cost
//! of an empty pair (measured first, the same way) is subtracted from every
//! sample, so the figures are the call's own cost. The real service runs as
//! its own process and drains the ring on the other core while the calls
//! are made, as in a training job.
//!
//! Run with `scripts/bench` (which builds the `ringtrack` binary first), or
//! `cargo build --release --bins && cargo bench -p ringtrack-benches`.
//! `RINGTRACK_BENCH_CALLS` sets the calls per case (default 2,000,000).

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringtrack::{Metric, Run, Value};
use ringtrack_benches::{service_binary, timer_cost_ns, BenchService, Percentiles};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list
    }
    let calls: u64 = std::env::var("RINGTRACK_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let Some(bin) = service_binary() else {
        eprintln!("log_latency: build the service first: cargo build --release --bins");
        return;
    };
    let timer = timer_cost_ns();
    println!("timer pair cost {timer} ns (subtracted); {calls} calls per case");
    println!("{}", Percentiles::header());
    let service = BenchService::start(&bin);
    for metrics in [1usize, 4, 16, 64] {
        let p = handle_api(&service, metrics, calls, timer);
        println!("{}", p.line(&format!("handle API, {metrics} metrics")));
    }
    let p = name_api(&service, 4, calls / 4, timer);
    println!("{}", p.line("name API, 4 metrics"));
}

fn new_run(service: &BenchService, metrics: usize) -> (Run, Vec<Metric>) {
    let settings = service.settings("bench").ring_capacity(64 << 20);
    let mut run = Run::init(settings).expect("init");
    let handles = (0..metrics)
        .map(|i| run.metric(&format!("m{i}")).expect("metric"))
        .collect();
    (run, handles)
}

fn handle_api(
    service: &BenchService,
    metrics: usize,
    calls: u64,
    timer: u64,
) -> Percentiles {
    let (mut run, handles) = new_run(service, metrics);
    let mut row: Vec<(Metric, f64)> = handles.iter().map(|&h| (h, 0.0)).collect();
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    for step in 0..calls {
        for (i, entry) in row.iter_mut().enumerate() {
            entry.1 = (step + i as u64) as f64;
        }
        let start = Instant::now();
        let result = run.log(&row);
        let took = start.elapsed().as_nanos() as u64;
        result.expect("log");
        hist.saturating_record(took.saturating_sub(timer));
    }
    run.finish_with(0, Duration::from_secs(120))
        .expect("finish");
    Percentiles::of(&hist)
}

fn name_api(
    service: &BenchService,
    metrics: usize,
    calls: u64,
    timer: u64,
) -> Percentiles {
    let (mut run, _) = new_run(service, metrics);
    let names: Vec<String> = (0..metrics).map(|i| format!("m{i}")).collect();
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    for step in 0..calls {
        let row: Vec<(&str, Value)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), Value::F64((step + i as u64) as f64)))
            .collect();
        let start = Instant::now();
        let result = run.log_named(&row);
        let took = start.elapsed().as_nanos() as u64;
        result.expect("log");
        hist.saturating_record(took.saturating_sub(timer));
    }
    run.finish_with(0, Duration::from_secs(120))
        .expect("finish");
    Percentiles::of(&hist)
}
