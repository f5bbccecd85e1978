//! A run's state file, `state.json`, written by the service.
//!
//! It says how far the run is (running, or how it ended) and how much of
//! it is durable. It is rewritten atomically, at most about once a second
//! while the run is live and once when it ends. The segments stay the
//! source of truth: the state file is a summary of them for `ls` and
//! `status`, and is rebuilt from them when the service recovers a run.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Name of the state file inside a run directory.
pub const STATE_FILE: &str = "state.json";

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The trainer is logging.
    Running,
    /// The trainer finished with exit code 0.
    Finished,
    /// The trainer finished with a non-zero exit code.
    Failed,
    /// The trainer went away without finishing.
    Crashed,
    /// The service stopped draining the run because of a fault.
    Error,
}

impl Phase {
    /// The phase's name as shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Finished => "finished",
            Phase::Failed => "failed",
            Phase::Crashed => "crashed",
            Phase::Error => "error",
        }
    }

    /// Whether the run has ended.
    pub fn is_final(self) -> bool {
        self != Phase::Running
    }
}

/// The contents of `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Where the run is.
    pub phase: Phase,
    /// The exit code, once the trainer finished.
    pub exit_code: Option<i32>,
    /// History rows durable in segments.
    pub rows: u64,
    /// Events (rows, metric definitions, config, summary) durable.
    pub events: u64,
    /// Records the trainer dropped because the ring stayed full.
    pub dropped: u64,
    /// Times segment writing started failing (counted once per fault, not
    /// per retry).
    #[serde(default)]
    pub write_faults: u64,
    /// The fault, for the error phase, or the last write fault.
    pub error: Option<String>,
    /// When this file was written, ms since the Unix epoch.
    pub updated_ms: i64,
    /// When the run ended, ms since the Unix epoch.
    pub ended_ms: Option<i64>,
}

impl RunState {
    /// A fresh state for a running run.
    pub fn running() -> RunState {
        RunState {
            phase: Phase::Running,
            exit_code: None,
            rows: 0,
            events: 0,
            dropped: 0,
            write_faults: 0,
            error: None,
            updated_ms: now_ms(),
            ended_ms: None,
        }
    }

    /// Reads the state file; `None` when there is none or it is unreadable.
    pub fn load(run_dir: &Path) -> Option<RunState> {
        let bytes = crate::segment::read_no_follow(&run_dir.join(STATE_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes the state file atomically.
    pub fn store(&mut self, run_dir: &Path) -> std::io::Result<()> {
        self.updated_ms = now_ms();
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        ringtrack::meta::write_atomic(&run_dir.join(STATE_FILE), &text)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
