//! The real node service, started as its own process for a benchmark.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringtrack::Settings;

/// The release `ringtrack` binary next to the benchmark executable, if
/// built (`cargo build --release --bins`).
pub fn service_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("ringtrack");
    path.is_file().then_some(path)
}

/// Pins the calling thread (and the threads it starts later) to `cpu`.
pub fn pin_current_thread(cpu: usize) -> bool {
    // SAFETY: the set is a plain bit mask on the stack, sized as the call
    // is told; pid 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Whether benchmarks pin the producer and the service to separate cores:
/// on machines with two or more, unless `RINGTRACK_BENCH_PIN=0`.
pub fn pinning() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores >= 2 && std::env::var("RINGTRACK_BENCH_PIN").map_or(true, |v| v != "0")
}

/// A service process in a temporary directory, killed on drop.
#[derive(Debug)]
pub struct BenchService {
    child: Child,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl BenchService {
    /// Starts `bin service` with the default options and waits for its
    /// socket.
    pub fn start(bin: &Path) -> BenchService {
        BenchService::start_on(bin, None)
    }

    /// Starts `bin service`, pinned to `cpu` when given (every thread the
    /// service starts inherits the pin), and waits for its socket.
    pub fn start_on(bin: &Path, cpu: Option<usize>) -> BenchService {
        let dir = tempfile::tempdir().expect("temp dir");
        let service_dir = dir.path().join("svc");
        let mut command = Command::new(bin);
        command
            .args(["service", "--dir"])
            .arg(&service_dir)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(cpu) = cpu {
            // SAFETY: the closure runs in the child between fork and exec
            // and makes a single async-signal-safe system call.
            unsafe {
                command.pre_exec(move || {
                    pin_current_thread(cpu);
                    Ok(())
                });
            }
        }
        let child = command.spawn().expect("start the service");
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

    /// The service's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The run directory root runs of [`BenchService::settings`] use.
    pub fn runs_dir(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    /// Settings that use this service and keep runs in its directory.
    pub fn settings(&self, project: &str) -> Settings {
        Settings::new(project)
            .root(self.runs_dir())
            .service_dir(self.dir.path().join("svc"))
            .service_bin(&self.bin)
    }

    /// Stops the service process (SIGSTOP): its drains no longer run.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a paused service run again (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid, which stays reserved
        // until we reap it in `drop`.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "signal {signal} to the service");
    }
}

impl Drop for BenchService {
    fn drop(&mut self) {
        self.resume();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
