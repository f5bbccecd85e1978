//! A run's upload progress, `upload.json` in its directory.
//!
//! Written (atomically) only after the server acknowledged: `next_seq` is
//! the first event not yet acknowledged, so everything before it is on the
//! server, and a restarted upload resumes there.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Name of the progress file in a run directory.
pub const CURSOR_FILE: &str = "upload.json";

/// A batch the server refused, kept with its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// First event of the batch.
    pub first_seq: u64,
    /// Last event of the batch.
    pub last_seq: u64,
    /// HTTP status.
    pub status: u16,
    /// The server's message.
    pub message: String,
}

/// The contents of `upload.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadCursor {
    /// The server the run is uploaded to.
    pub target: String,
    /// The MLflow experiment.
    pub experiment_id: Option<String>,
    /// The MLflow run.
    pub mlflow_run_id: Option<String>,
    /// The first event the server has not acknowledged.
    pub next_seq: u64,
    /// History rows acknowledged.
    pub rows_acked: u64,
    /// History rows in the run when last planned.
    pub rows_total: u64,
    /// Batches the server refused.
    pub rejected: Vec<Rejected>,
    /// Whether the run's end (status and end time) is on the server.
    pub complete: bool,
    /// When this file was written, ms since the Unix epoch.
    pub updated_ms: i64,
}

impl UploadCursor {
    /// A cursor for a run not yet uploaded.
    pub fn new(target: &str) -> UploadCursor {
        UploadCursor {
            target: target.to_owned(),
            experiment_id: None,
            mlflow_run_id: None,
            next_seq: 0,
            rows_acked: 0,
            rows_total: 0,
            rejected: Vec::new(),
            complete: false,
            updated_ms: 0,
        }
    }

    /// Reads the cursor, `Ok(None)` when the run was never uploaded.
    pub fn load(run_dir: &Path) -> Result<Option<UploadCursor>, String> {
        let path = run_dir.join(CURSOR_FILE);
        match crate::segment::read_no_follow(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{} is not valid: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the cursor atomically.
    pub fn store(&mut self, run_dir: &Path) -> std::io::Result<()> {
        self.updated_ms = crate::state::now_ms();
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        ringtrack::meta::write_atomic(&run_dir.join(CURSOR_FILE), &text)
    }

    /// Whether a batch was refused.
    pub fn degraded(&self) -> bool {
        !self.rejected.is_empty()
    }
}
