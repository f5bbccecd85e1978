//! The pipeline as a whole: sustained throughput into durable segments,
//! what the service costs in CPU and memory, how fresh the segments are,
//! and how many bytes a row takes on disk.
//!
//! - **Throughput**: producers (threads, one run and one ring each; one
//!   producer is pinned to core 0 and the service to core 1, eight share
//!   both cores with the service) log
//!   rows as fast as `log` returns for `RINGTRACK_BENCH_SECS` seconds
//!   (default 3), then `finish`, which returns once the service has
//!   written every row into a segment and synced it. Rows per second are
//!   rows over the time from the first `log` to the last `finish`. A
//!   producer that outruns the service finds its ring full and waits
//!   (`full_wait` is set to 60 s so nothing is dropped; drops are checked).
//! - **Service cost**: CPU is the change of utime+stime in
//!   `/proc/<pid>/stat` over a phase, divided by its wall time (1.0 is
//!   one core). Memory is `VmRSS` from `/proc/<pid>/status`, sampled every
//!   100 ms, and the resident part of the service's ring mappings from
//!   `/proc/<pid>/smaps`; "own" is RSS minus ring mappings.
//! - **Idle**: 8 live runs that log nothing for `RINGTRACK_BENCH_IDLE_SECS`
//!   (default 5).
//! - **Freshness**: one row at a time at random gaps of 0 to 20 ms; the
//!   time from `log` returning to `Run::counters().backlog_bytes` reaching
//!   0, which the service makes happen only after the row's frame is
//!   written to a segment file (`RINGTRACK_BENCH_FRESH` samples, default
//!   500). Written means in the page cache; the fsync follows within the
//!   service's fsync interval (1 s by default).
//! - **Bytes per row**: every real training log under `shared/data/real/`
//!   (loaded with the integration tests' replay loader) logged through the
//!   SDK; segment bytes over rows.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use ringtrack::{Metric, Run};
use ringtrack_benches::procfs::{self, Memory};
use ringtrack_benches::{
    emit, fill_row, knob, pin_current_thread, pinning, service_binary, BenchService,
    Latency,
};
use ringtrack_tests::replay;
use serde_json::json;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list
    }
    let Some(bin) = service_binary() else {
        eprintln!("pipeline: build the service first: cargo build --release --bins");
        return;
    };
    let secs = knob("RINGTRACK_BENCH_SECS", 3);
    let idle_secs = knob("RINGTRACK_BENCH_IDLE_SECS", 5);
    let fresh = knob("RINGTRACK_BENCH_FRESH", 500);

    // One producer: it and the service each get a core, when pinning.
    let pin = pinning();
    {
        let service = BenchService::start_on(&bin, pin.then_some(1));
        idle(&service, 0, idle_secs.min(3));
        for metrics in [4usize, 16, 64] {
            throughput(&service, 1, metrics, Duration::from_secs(secs), pin);
        }
    }
    // Eight producers and the service share both cores.
    let service = BenchService::start(&bin);
    throughput(&service, 8, 4, Duration::from_secs(secs), false);
    idle(&service, 8, idle_secs);
    freshness(&service, fresh);
    bytes_per_row(&service);
}

/// The largest memory figures seen while sampling, in KiB.
#[derive(Debug, Clone, Copy, Default)]
struct Peak {
    rss: u64,
    ring: u64,
    own: u64,
}

/// Samples the service's memory every 100 ms until stopped; keeps the
/// largest figures seen.
fn watch_memory(pid: u32, stop: &AtomicBool, peak: &Mutex<Peak>) {
    while !stop.load(Ordering::Relaxed) {
        let now: Memory = procfs::memory(pid);
        let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
        p.rss = p.rss.max(now.rss_kib);
        p.ring = p.ring.max(now.ring_kib);
        p.own = p.own.max(now.own_kib());
        drop(p);
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct ProducerResult {
    rows: u64,
    dropped: u64,
    full_events: u64,
    segment_bytes: u64,
}

fn throughput(
    service: &BenchService,
    producers: usize,
    metrics: usize,
    duration: Duration,
    pin: bool,
) {
    let pid = service.pid();
    let barrier = Barrier::new(producers + 1);
    let stop = AtomicBool::new(false);
    let peak = Mutex::new(Peak::default());
    let (results, elapsed, cpu) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..producers)
            .map(|_| s.spawn(|| produce(service, metrics, duration, &barrier, pin)))
            .collect();
        barrier.wait();
        let cpu0 = procfs::cpu_seconds(pid);
        let start = Instant::now();
        let watcher = s.spawn(|| watch_memory(pid, &stop, &peak));
        let results: Vec<ProducerResult> = workers
            .into_iter()
            .map(|w| w.join().expect("producer"))
            .collect();
        let elapsed = start.elapsed();
        let cpu = procfs::cpu_seconds(pid) - cpu0;
        stop.store(true, Ordering::Relaxed);
        watcher.join().expect("watcher");
        (results, elapsed, cpu)
    });
    let rows: u64 = results.iter().map(|r| r.rows).sum();
    let dropped: u64 = results.iter().map(|r| r.dropped).sum();
    let full_events: u64 = results.iter().map(|r| r.full_events).sum();
    let seg: u64 = results.iter().map(|r| r.segment_bytes).sum();
    let secs = elapsed.as_secs_f64();
    let peak = *peak.lock().unwrap_or_else(|e| e.into_inner());
    let case = format!("{producers} producer(s), {metrics} metrics per row");
    println!(
        "{case}: {:.0} rows/s, {:.1} M values/s into segments ({rows} rows in {secs:.2} s, \
         {dropped} dropped, {full_events} full-ring waits); service CPU {:.2} cores, \
         peak RSS {} MiB of which rings {} MiB, peak own {} MiB; {:.1} segment bytes/row",
        rows as f64 / secs,
        (rows * metrics as u64) as f64 / secs / 1e6,
        cpu / secs,
        peak.rss / 1024,
        peak.ring / 1024,
        peak.own / 1024,
        seg as f64 / rows.max(1) as f64
    );
    emit(
        "throughput",
        &case,
        json!({
            "producers": producers,
            "metrics": metrics,
            "rows": rows,
            "secs": secs,
            "rows_per_s": rows as f64 / secs,
            "values_per_s": (rows * metrics as u64) as f64 / secs,
            "dropped": dropped,
            "full_events": full_events,
            "service_cpu_cores": cpu / secs,
            "rss_kib": peak.rss,
            "ring_kib": peak.ring,
            "own_kib": peak.own,
            "segment_bytes_per_row": seg as f64 / rows.max(1) as f64,
        }),
    );
}

fn produce(
    service: &BenchService,
    metrics: usize,
    duration: Duration,
    barrier: &Barrier,
    pin: bool,
) -> ProducerResult {
    if pin {
        pin_current_thread(0);
    }
    let settings = service
        .settings("bench-throughput")
        .ring_capacity(64 << 20)
        .full_wait(Duration::from_secs(60));
    let mut run = Run::init(settings).expect("init");
    let handles: Vec<Metric> = (0..metrics)
        .map(|i| run.metric(&format!("m{i}")).expect("metric"))
        .collect();
    let mut values = vec![0.0; metrics];
    let mut row: Vec<(Metric, f64)> = handles.iter().map(|&h| (h, 0.0)).collect();
    let dir = run.dir().to_owned();
    barrier.wait();
    let start = Instant::now();
    let mut step = 0u64;
    'outer: loop {
        // Check the clock every 1024 rows only.
        for _ in 0..1024 {
            fill_row(&mut values, step);
            for (entry, &v) in row.iter_mut().zip(&values) {
                entry.1 = v;
            }
            run.log(&row).expect("log");
            step += 1;
        }
        if start.elapsed() >= duration {
            break 'outer;
        }
    }
    let counters = run.counters();
    let report = run
        .finish_with(0, Duration::from_secs(600))
        .expect("finish");
    assert_eq!(report.rows, step);
    ProducerResult {
        rows: report.rows,
        dropped: report.dropped,
        full_events: counters.full_events,
        segment_bytes: segment_bytes(&dir).0,
    }
}

/// Segment file bytes and allocated bytes (blocks) of a run directory.
fn segment_bytes(run_dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut len = 0;
    let mut blocks = 0;
    if let Ok(entries) = std::fs::read_dir(run_dir.join("segments")) {
        for entry in entries.flatten() {
            if let Ok(meta) = entry.metadata() {
                len += meta.len();
                blocks += meta.blocks() * 512;
            }
        }
    }
    (len, blocks)
}

/// The service's CPU and memory with `runs` live runs that log nothing.
fn idle(service: &BenchService, runs: usize, secs: u64) {
    let pid = service.pid();
    let mut live: Vec<Run> = (0..runs)
        .map(|_| {
            let mut run = Run::init(service.settings("bench-idle")).expect("init");
            let m = run.metric("loss").expect("metric");
            for step in 0..100 {
                run.log(&[(m, step as f64)]).expect("log");
            }
            run
        })
        .collect();
    // Let the drains catch up and fall into their idle polling.
    std::thread::sleep(Duration::from_millis(500));
    let cpu0 = procfs::cpu_seconds(pid);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let cpu = procfs::cpu_seconds(pid) - cpu0;
    let wall = start.elapsed().as_secs_f64();
    let mem = procfs::memory(pid);
    println!(
        "idle, {runs} live runs: service CPU {:.3} % of a core over {wall:.1} s; RSS {} KiB, \
         of which ring mappings {} KiB, own {} KiB",
        cpu / wall * 100.0,
        mem.rss_kib,
        mem.ring_kib,
        mem.own_kib()
    );
    emit(
        "idle",
        &format!("{runs} live runs"),
        json!({
            "runs": runs,
            "cpu_percent": cpu / wall * 100.0,
            "secs": wall,
            "rss_kib": mem.rss_kib,
            "ring_kib": mem.ring_kib,
            "own_kib": mem.own_kib(),
        }),
    );
    for run in live.drain(..) {
        run.finish_with(0, Duration::from_secs(60)).expect("finish");
    }
}

/// Time from `log` to the row being in a segment, one row at a time.
fn freshness(service: &BenchService, samples: u64) {
    let mut run = Run::init(service.settings("bench-fresh")).expect("init");
    let m: Vec<Metric> = (0..4)
        .map(|i| run.metric(&format!("m{i}")).expect("metric"))
        .collect();
    let mut hist = Latency::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for step in 0..samples {
        let v = step as f64;
        let row = [(m[0], v), (m[1], v), (m[2], v), (m[3], v)];
        run.log(&row).expect("log");
        let logged = Instant::now();
        while run.counters().backlog_bytes > 0 {
            std::hint::spin_loop();
            if logged.elapsed() > Duration::from_secs(10) {
                panic!("row not drained in 10 s");
            }
        }
        hist.record(logged.elapsed().as_nanos() as u64);
        // xorshift: a gap of 0 to 20 ms before the next row.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_micros(rng % 20_000));
    }
    run.finish_with(0, Duration::from_secs(60)).expect("finish");
    let p = hist.percentiles();
    println!(
        "freshness (log to segment), {} rows: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p.count,
        p.p50 as f64 / 1e6,
        p.p99 as f64 / 1e6,
        p.max as f64 / 1e6
    );
    emit("freshness", "log to segment", p.json());
}

/// Size of a file, or of every file under a folder.
fn tree_bytes(path: &Path) -> u64 {
    if path.is_dir() {
        std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| tree_bytes(&e.path())).sum())
            .unwrap_or(0)
    } else {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }
}

/// Every real log through the SDK; segment bytes per row.
fn bytes_per_row(service: &BenchService) {
    let dir = replay::real_data_dir();
    let sources = match replay::load_all(&dir) {
        Ok(s) => s,
        Err(err) => {
            println!("bytes per row: cannot load {}: {err:#}", dir.display());
            return;
        }
    };
    for source in &sources {
        let mut run = Run::init(service.settings("bench-real")).expect("init");
        let mut values_logged = 0u64;
        for row in &source.rows {
            values_logged += row.values.len() as u64;
            row.log_to(&mut run).expect("log_row");
        }
        let run_dir = run.dir().to_owned();
        let report = run.finish().expect("finish");
        let (len, blocks) = segment_bytes(&run_dir);
        let rows = report.rows.max(1);
        let source_bytes = tree_bytes(&dir.join(&source.source));
        println!(
            "{}: {} rows, {:.1} values/row; segments {len} B = {:.1} B/row ({:.1} B/value), \
             {blocks} B allocated; source {source_bytes} B = {:.1} B/row",
            source.source,
            report.rows,
            values_logged as f64 / rows as f64,
            len as f64 / rows as f64,
            len as f64 / values_logged.max(1) as f64,
            source_bytes as f64 / rows as f64
        );
        emit(
            "bytes_per_row",
            &source.source,
            json!({
                "rows": report.rows,
                "values": values_logged,
                "segment_bytes": len,
                "allocated_bytes": blocks,
                "bytes_per_row": len as f64 / rows as f64,
                "bytes_per_value": len as f64 / values_logged.max(1) as f64,
                "source_bytes": source_bytes,
                "source_bytes_per_row": source_bytes as f64 / rows as f64,
            }),
        );
    }
}
