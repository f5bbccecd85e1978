//! The test trainer as a child process, and what a crash test reads back:
//! the trainer's ground-truth file, the run's state and its durable rows.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ringtrack_service::history::{History, HistoryRow};
use ringtrack_service::segment::read_events;
use ringtrack_service::state::{Phase, RunState};

use crate::harness::{bin_path, Sandbox};

/// A running `trainer` (see `src/bin/trainer.rs`). Dropping it kills it.
#[derive(Debug)]
pub struct TrainerProcess {
    child: Option<Child>,
    stdout: Option<BufReader<ChildStdout>>,
    /// The run directory the trainer printed once `init` returned.
    pub dir: PathBuf,
}

impl TrainerProcess {
    /// Starts `trainer ARGS` in the sandbox's environment plus `env`, and
    /// waits until it has printed its run directory (so the run is
    /// registered with the service).
    pub fn start(
        sandbox: &Sandbox,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TrainerProcess {
        let mut command = Command::new(bin_path("trainer"));
        command.args(args);
        sandbox.env(&mut command);
        for (k, v) in env {
            command.env(k, v);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("spawn trainer");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("trainer stdout");
        if line.trim().is_empty() {
            let status = child.wait().expect("trainer exit");
            panic!("trainer {args:?} printed no run directory and exited with {status}");
        }
        TrainerProcess {
            child: Some(child),
            stdout: Some(stdout),
            dir: PathBuf::from(line.trim()),
        }
    }

    /// The trainer's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The run id (the run directory's name).
    pub fn id(&self) -> String {
        self.dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("run id")
            .to_owned()
    }

    /// Sends `signal` to the trainer.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal the trainer");
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running trainer");
        let _ = child.kill();
        child.wait().expect("reap trainer")
    }

    /// Waits for the trainer to exit (at most `timeout`, then it is killed
    /// and the test fails); returns its status and the rest of its stdout.
    pub fn wait(mut self, timeout: Duration) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running trainer");
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("trainer status") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("trainer did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut rest = String::new();
        if let Some(mut stdout) = self.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
        }
        (status, rest)
    }
}

impl Drop for TrainerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The steps in a trainer's truth file; only whole lines count.
pub fn read_truth(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    whole
        .lines()
        .map(|l| l.parse().expect("truth line is a step"))
        .collect()
}

/// Waits until the run's `state.json` shows an ended phase; fails the test
/// after `timeout`.
pub fn wait_for_phase(dir: &Path, timeout: Duration) -> RunState {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(state) = RunState::load(dir) {
            if state.phase != Phase::Running {
                return state;
            }
        }
        assert!(
            Instant::now() < deadline,
            "run {} did not end within {timeout:?}: {:?}",
            dir.display(),
            RunState::load(dir)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The rows durable in a run's segments, failing the test on any segment
/// problem.
pub fn durable_rows(dir: &Path) -> Vec<HistoryRow> {
    let (events, problems) = read_events(dir).expect("read segments");
    assert!(problems.is_empty(), "segment problems: {problems:?}");
    let history = History::from_events(&events);
    assert!(
        history.anomalies.is_empty(),
        "history anomalies: {:?}",
        history.anomalies
    );
    history.rows
}
