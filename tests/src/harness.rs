//! A sandbox per test: its own run root, service directory and ring
//! directory in a temporary folder, and helpers to start the service, run
//! the CLI and read exports back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringtrack::{Settings, Value};
use ringtrack_service::export::parse_float_text;

/// Path of a workspace binary (`ringtrack`, `trainer`).
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build with `cargo build --workspace --lib --bins --examples` first",
        path.display()
    );
    path
}

/// Path of a workspace example (`train`).
pub fn example_path(name: &str) -> PathBuf {
    let ringtrack = bin_path("ringtrack");
    let path = ringtrack
        .parent()
        .expect("target directory")
        .join("examples")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the examples first",
        path.display()
    );
    path
}

/// Directories for one test, removed when it ends.
#[derive(Debug)]
pub struct Sandbox {
    _tmp: tempfile::TempDir,
    /// The run directory root.
    pub root: PathBuf,
    /// The service directory.
    pub service_dir: PathBuf,
    /// Where rings are created.
    pub ring_dir: PathBuf,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A fresh sandbox.
    pub fn new() -> Sandbox {
        let tmp = tempfile::Builder::new()
            .prefix("rt-test-")
            .tempdir()
            .expect("temp dir");
        let base = tmp.path().to_owned();
        let sandbox = Sandbox {
            root: base.join("runs"),
            service_dir: base.join("svc"),
            ring_dir: base.join("rings"),
            _tmp: tmp,
        };
        std::fs::create_dir_all(&sandbox.ring_dir).expect("ring dir");
        sandbox
    }

    /// SDK settings that keep everything inside the sandbox.
    pub fn settings(&self, project: &str) -> Settings {
        Settings::new(project)
            .root(&self.root)
            .service_dir(&self.service_dir)
            .ring_dir(&self.ring_dir)
            .service_bin(bin_path("ringtrack"))
            .ring_capacity(1 << 20)
            // Never upload to whatever server the environment names.
            .tracking_uri("")
    }

    /// Environment that points the CLI, the SDK and the service here.
    pub fn env(&self, command: &mut Command) {
        command
            .env("RINGTRACK_DIR", &self.root)
            .env("RINGTRACK_SERVICE_DIR", &self.service_dir)
            .env("RINGTRACK_RING_DIR", &self.ring_dir)
            .env("RINGTRACK_SERVICE_BIN", bin_path("ringtrack"))
            .env_remove("RINGTRACK_MODE")
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("RINGTRACK_MLFLOW_URI");
    }

    /// Starts `ringtrack service` in the foreground as a child process and
    /// waits until its socket answers.
    pub fn start_service(&self, extra: &[&str]) -> ServiceProcess {
        self.start_service_with(extra, &[])
    }

    /// Starts the service with extra environment variables.
    pub fn start_service_with(
        &self,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> ServiceProcess {
        let mut command = Command::new(bin_path("ringtrack"));
        command
            .arg("service")
            .arg("--dir")
            .arg(&self.service_dir)
            .args(extra);
        self.env(&mut command);
        command.envs(env.iter().copied());
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn ringtrack service");
        // Read the service's stderr as it comes: a pipe nobody reads fills
        // after 64 KiB of log and then blocks every thread that logs.
        let mut stderr = child.stderr.take().expect("service stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match std::io::Read::read(&mut stderr, &mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&chunk[..n]),
                }
            }
        });
        let service = ServiceProcess {
            child: Some(child),
            socket: self.socket(),
            log,
            reader: Some(reader),
        };
        service.wait_ready();
        service
    }

    /// The service's socket path.
    pub fn socket(&self) -> PathBuf {
        ringtrack::paths::socket_path(&self.service_dir)
    }

    /// Runs the CLI with the sandbox's environment.
    pub fn ringtrack(&self, args: &[&str]) -> Output {
        let mut command = Command::new(bin_path("ringtrack"));
        command.args(args);
        self.env(&mut command);
        command.output().expect("run ringtrack")
    }

    /// Runs the CLI and returns its stdout, failing the test on a non-zero
    /// exit.
    pub fn ringtrack_ok(&self, args: &[&str]) -> String {
        let out = self.ringtrack(args);
        assert!(
            out.status.success(),
            "ringtrack {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// `ringtrack export RUN` parsed back.
    pub fn export_rows(&self, run: &str) -> Vec<ExportedRow> {
        self.ringtrack_ok(&["export", run])
            .lines()
            .map(ExportedRow::parse)
            .collect()
    }

    /// The run directories under the root.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs
    }
}

/// The real service, as a child process. Dropping it kills it.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Option<Child>,
    socket: PathBuf,
    log: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ServiceProcess {
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "service did not listen on {}",
                self.socket.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The service's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the service's stderr.
    pub fn terminate(mut self) -> String {
        let mut child = self.child.take().expect("running service");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let status = child.wait().expect("service exit");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let log = self.log_so_far();
        assert!(status.success(), "service exited with {status}: {log}");
        log
    }

    /// What the service has written to stderr so far.
    pub fn log_so_far(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap_or_else(|p| p.into_inner()))
            .into_owned()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One line of `ringtrack export --format jsonl`, values decoded exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedRow {
    /// The step.
    pub step: u64,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// The values in the order printed.
    pub values: Vec<(String, Value)>,
}

impl ExportedRow {
    /// Parses one JSON line. Keys keep their printed order.
    pub fn parse(line: &str) -> ExportedRow {
        let json: serde_json::Value =
            serde_json::from_str(line).expect("export line is JSON");
        let values_text = line
            .split_once("\"values\":")
            .map(|(_, rest)| &rest[..rest.len() - 1])
            .expect("values object");
        let order = key_order(values_text);
        let values = &json["values"];
        let values = order
            .into_iter()
            .map(|key| {
                let value = decode_value(&values[&key]);
                (key, value)
            })
            .collect();
        ExportedRow {
            step: json["step"].as_u64().expect("step"),
            timestamp_ns: json["timestamp_ns"].as_i64().expect("timestamp_ns"),
            values,
        }
    }
}

/// The keys of a flat JSON object in the order written.
fn key_order(object: &str) -> Vec<String> {
    let mut keys = Vec::new();
    // Walk the text: a key is a string literal followed by a colon at depth 1.
    let bytes = object.as_bytes();
    let (mut i, mut depth) = (0usize, 0i32);
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b'"' => {
                let start = i;
                i += 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let literal = &object[start..=i];
                let mut j = i + 1;
                while bytes[j] == b' ' {
                    j += 1;
                }
                if depth == 1 && bytes[j] == b':' {
                    keys.push(serde_json::from_str(literal).expect("key literal"));
                }
            }
            _ => {}
        }
        i += 1;
    }
    keys
}

/// A JSON value from an export, back to the value logged.
pub fn decode_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Number(n) if n.is_i64() => {
            Value::I64(n.as_i64().expect("i64"))
        }
        serde_json::Value::Number(n) => Value::F64(n.as_f64().expect("f64")),
        serde_json::Value::String(s) => match parse_float_text(s) {
            Some(f) if !f.is_finite() => Value::F64(f),
            _ => Value::Text(s.clone()),
        },
        other => panic!("unexpected value in export: {other}"),
    }
}
