//! A fixed number of `Run::log` calls (handle API, 4 values) through a
//! function that is never inlined, for instruction counts under callgrind:
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='*log_once*' \
//!     target/release/deps/hot_path-* --bench
//! ```
//!
//! Instructions per call are the collected total over the calls. The
//! service runs natively (it is started by the bench) and drains as usual.
//! `RINGTRACK_HOT_CALLS` sets the calls (default 100,000);
//! `RINGTRACK_ROW_CLOCK=system` measures the system-clock row stamp.
//! `scripts/bench` runs it that way when valgrind is installed.

use std::time::Duration;

use ringtrack::{Metric, Run};
use ringtrack_benches::{knob, service_binary, BenchService};

#[inline(never)]
fn log_once(run: &mut Run, row: &[(Metric, f64)]) {
    run.log(row).expect("log");
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list
    }
    let Some(bin) = service_binary() else {
        eprintln!("hot_path: build the service first: cargo build --release --bins");
        return;
    };
    let calls = knob("RINGTRACK_HOT_CALLS", 100_000);
    let service = BenchService::start(&bin);
    let settings = service.settings("bench-hot").ring_capacity(64 << 20);
    let mut run = Run::init(settings).expect("init");
    let handles: Vec<Metric> = (0..4)
        .map(|i| run.metric(&format!("m{i}")).expect("metric"))
        .collect();
    let mut row: Vec<(Metric, f64)> = handles.iter().map(|&h| (h, 0.0)).collect();
    for step in 0..calls {
        row[0].1 = step as f64;
        log_once(&mut run, &row);
    }
    run.finish_with(0, Duration::from_secs(60)).expect("finish");
    println!("hot_path: {calls} calls");
}
