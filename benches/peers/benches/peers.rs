//! ringtrack side by side with its peers, in one run: each peer sends the
//! same rows (a step and four `f64` values), first call by call under the
//! calibrated timer (latency), then as fast as it can until its consumer
//! has everything (throughput). Every figure is also given as a ratio to
//! ringtrack's in the same run.
//!
//! ringtrack here is the handle API with 4 metrics and the real service
//! draining into segments; its throughput counts until `finish` returned,
//! that is until every row is in a synced segment.
//!
//! Knobs: `RINGTRACK_PEERS_CALLS` (timed calls per peer, default 500,000),
//! `RINGTRACK_PEERS_ROWS` (rows of the throughput phase, default
//! 2,000,000); the socket peer does a fifth of both (a syscall per row).
//! `RINGTRACK_BENCH_PIN=0` turns pinning off.

use std::time::{Duration, Instant};

use ringtrack::{Metric, Run};
use ringtrack_benches::{
    emit, knob, pin_current_thread, pinning, service_binary, timer, BenchService,
    Latency, Percentiles, Timer,
};
use ringtrack_peers::peers::{
    child_main, scratch_dir, Crossbeam, Iceoryx2, Peer, Placement, Rtrb, Uds,
};
use serde_json::json;

const WARMUP: u64 = 10_000;

struct Ringtrack {
    run: Run,
    metrics: [Metric; 4],
}

impl Ringtrack {
    fn new(service: &BenchService) -> Ringtrack {
        let settings = service
            .settings("bench-peers")
            .ring_capacity(64 << 20)
            .full_wait(Duration::from_secs(60));
        let mut run = Run::init(settings).expect("init");
        let metrics = ["a", "b", "c", "d"].map(|n| run.metric(n).expect("metric"));
        Ringtrack { run, metrics }
    }
}

impl Peer for Ringtrack {
    #[inline]
    fn send(&mut self, step: u64, values: &[f64; 4]) {
        let m = &self.metrics;
        self.run
            .log_at(
                step,
                &[
                    (m[0], values[0]),
                    (m[1], values[1]),
                    (m[2], values[2]),
                    (m[3], values[3]),
                ],
            )
            .expect("log");
    }

    fn finish(self: Box<Self>) -> u64 {
        self.run
            .finish_with(0, Duration::from_secs(300))
            .expect("finish")
            .rows
    }
}

fn values(step: u64) -> [f64; 4] {
    let s = step as f64 * 0.5;
    [s, s + 1.0, s + 2.0, s + 3.0]
}

/// Times `calls` sends one by one.
fn latency(mut peer: Box<dyn Peer>, calls: u64, timer: &Timer) -> Percentiles {
    let mut hist = Latency::new();
    for step in 0..WARMUP + calls {
        let v = values(step);
        let start = timer::start();
        peer.send(step, &v);
        let stop = timer::stop();
        if step >= WARMUP {
            hist.record(timer.net_ns(start, stop));
        }
    }
    let got = peer.finish();
    assert_eq!(got, WARMUP + calls, "rows lost");
    hist.percentiles()
}

/// Sends `rows` as fast as possible; rows per second until the consumer
/// has all of them.
fn throughput(mut peer: Box<dyn Peer>, rows: u64) -> f64 {
    let start = Instant::now();
    for step in 0..rows {
        peer.send(step, &values(step));
    }
    let got = peer.finish();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, rows, "rows lost");
    rows as f64 / secs
}

struct Figures {
    name: &'static str,
    what: &'static str,
    latency: Percentiles,
    rows_per_s: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if child_main(&args) {
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list
    }
    let Some(bin) = service_binary() else {
        eprintln!("peers: build the service first: cargo build --release --bins");
        return;
    };
    let calls = knob("RINGTRACK_PEERS_CALLS", 500_000);
    let rows = knob("RINGTRACK_PEERS_ROWS", 2_000_000);
    let pin = pinning();
    if pin {
        pin_current_thread(0);
    }
    let placement = Placement {
        consumer_cpu: pin.then_some(1),
    };
    let timer = Timer::calibrate();
    println!(
        "timer: {} empty pair {:.1} ns subtracted, resolution {:.1} ns; pinned: {pin}",
        timer.source,
        timer.pair_ns(),
        timer.resolution_ns
    );
    let service = BenchService::start_on(&bin, placement.consumer_cpu);
    let (_scratch, dir) = scratch_dir();

    let mut all: Vec<Figures> = Vec::new();
    let mut measure = |name: &'static str,
                       what: &'static str,
                       make: &mut dyn FnMut() -> Box<dyn Peer>,
                       scale: u64| {
        let latency = latency(make(), calls / scale, &timer);
        let rows_per_s = throughput(make(), rows / scale);
        println!(
            "{:<10} p50 {:>6} ns  p99 {:>7} ns  p99.9 {:>7} ns  {:>12.0} rows/s",
            name, latency.p50, latency.p99, latency.p999, rows_per_s
        );
        all.push(Figures {
            name,
            what,
            latency,
            rows_per_s,
        });
    };

    measure(
        "ringtrack",
        "Run::log, 4 handles; service drains into segments",
        &mut || Box::new(Ringtrack::new(&service)),
        1,
    );
    measure(
        "rtrb",
        "in-process SPSC ring; a thread pops row by row, spinning (no persistence)",
        &mut || Box::new(Rtrb::new(1 << 16, None, placement)),
        1,
    );
    measure(
        "rtrb-batch",
        "in-process SPSC ring; a thread takes chunks, sleeps 100 µs when empty (no persistence)",
        &mut || Box::new(Rtrb::new(1 << 16, Some(Duration::from_micros(100)), placement)),
        1,
    );
    let file = dir.join("crossbeam.rows");
    measure(
        "crossbeam",
        "bounded channel to a thread writing a file",
        &mut || Box::new(Crossbeam::new(1 << 16, &file, placement)),
        1,
    );
    measure(
        "uds",
        "one write(2) per row on a Unix socket to a reader process writing a file",
        &mut || Box::new(Uds::new(&dir, placement)),
        5,
    );
    match Iceoryx2::new(&dir, placement) {
        Ok(first) => {
            let mut first = Some(first);
            measure(
                "iceoryx2",
                "publish/subscribe to a subscriber process writing a file",
                &mut || match first.take() {
                    Some(p) => Box::new(p),
                    None => Box::new(Iceoryx2::new(&dir, placement).expect("iceoryx2")),
                },
                1,
            );
        }
        Err(err) => {
            println!("iceoryx2: not measured: {err}");
            emit("peers_error", "iceoryx2", json!({ "error": err }));
        }
    }

    let base = &all[0];
    let (base_p50, base_p99, base_rate) = (
        base.latency.p50.max(1) as f64,
        base.latency.p99.max(1) as f64,
        base.rows_per_s,
    );
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>13} {:>11} {:>11} {:>13}",
        "peer",
        "p50 ns",
        "p99 ns",
        "p99.9",
        "rows/s",
        "p50 ratio",
        "p99 ratio",
        "rt faster by"
    );
    for f in &all {
        let r50 = f.latency.p50.max(1) as f64 / base_p50;
        let r99 = f.latency.p99.max(1) as f64 / base_p99;
        let speedup = base_rate / f.rows_per_s;
        println!(
            "{:<10} {:>8} {:>8} {:>8} {:>13.0} {:>10.2}x {:>10.2}x {:>12.2}x",
            f.name,
            f.latency.p50,
            f.latency.p99,
            f.latency.p999,
            f.rows_per_s,
            r50,
            r99,
            speedup
        );
        let mut fields = f.latency.json();
        fields["what"] = f.what.into();
        fields["rows_per_s"] = f.rows_per_s.into();
        fields["p50_ratio"] = r50.into();
        fields["p99_ratio"] = r99.into();
        fields["ringtrack_throughput_ratio"] = speedup.into();
        emit("peers", f.name, fields);
    }
}
