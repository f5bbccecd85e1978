//! Shared pieces of the benchmarks: the real service as a process, timer
//! calibration and percentile reporting.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringtrack::Settings;

/// The release `ringtrack` binary next to the benchmark executable, if
/// built.
pub fn service_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("ringtrack");
    path.is_file().then_some(path)
}

/// The median cost of two back-to-back `Instant::now()` reads, in ns.
pub fn timer_cost_ns() -> u64 {
    let mut samples: Vec<u64> = (0..200_000)
        .map(|_| {
            let start = Instant::now();
            start.elapsed().as_nanos() as u64
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// A service process in a temporary directory, killed on drop.
#[derive(Debug)]
pub struct BenchService {
    child: Child,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl BenchService {
    /// Starts `bin service` and waits for its socket.
    pub fn start(bin: &std::path::Path) -> BenchService {
        let dir = tempfile::tempdir().expect("temp dir");
        let service_dir = dir.path().join("svc");
        let child = Command::new(bin)
            .args(["service", "--dir"])
            .arg(&service_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the service");
        let socket = ringtrack::paths::socket_path(&service_dir);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "service did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        BenchService {
            child,
            dir,
            bin: bin.to_owned(),
        }
    }

    /// Settings that use this service and keep runs in its directory.
    pub fn settings(&self, project: &str) -> Settings {
        Settings::new(project)
            .root(self.dir.path().join("runs"))
            .service_dir(self.dir.path().join("svc"))
            .service_bin(&self.bin)
    }
}

impl Drop for BenchService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The percentiles a latency report shows, in ns.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 99th.
    pub p99: u64,
    /// 99.9th.
    pub p999: u64,
    /// 99.99th.
    pub p9999: u64,
    /// Largest.
    pub max: u64,
    /// Samples.
    pub count: u64,
}

impl Percentiles {
    /// Reads them off a histogram.
    pub fn of(hist: &Histogram<u64>) -> Percentiles {
        Percentiles {
            p50: hist.value_at_quantile(0.5),
            p99: hist.value_at_quantile(0.99),
            p999: hist.value_at_quantile(0.999),
            p9999: hist.value_at_quantile(0.9999),
            max: hist.max(),
            count: hist.len(),
        }
    }

    /// The table header matching [`Percentiles::line`].
    pub fn header() -> String {
        format!(
            "{:<28} {:>8} {:>8} {:>8} {:>9} {:>10}",
            "case", "p50 ns", "p99", "p99.9", "p99.99", "max"
        )
    }

    /// One table line.
    pub fn line(&self, case: &str) -> String {
        format!(
            "{case:<28} {:>8} {:>8} {:>8} {:>9} {:>10}",
            self.p50, self.p99, self.p999, self.p9999, self.max
        )
    }
}
