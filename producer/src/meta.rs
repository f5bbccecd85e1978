//! A run directory's metadata file, `run.json`.
//!
//! The SDK writes it once when the run starts; it says who the run is and
//! where its ring lives, so a run directory can be inspected, copied or
//! synced with no service running. What the run logged lives in the
//! segments the service writes next to it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Name of the metadata file inside a run directory.
pub const META_FILE: &str = "run.json";

/// Everything fixed about a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Version of this file's layout.
    pub format: u32,
    /// The run's id; also the run directory's name.
    pub id: String,
    /// The project the run belongs to.
    pub project: String,
    /// A human name for the run.
    pub name: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The trainer's host name.
    pub host: String,
    /// The trainer's process id.
    pub pid: u32,
    /// The trainer's start time in clock ticks since boot, to tell it from
    /// a later process with the same pid.
    pub pid_start_time: Option<u64>,
    /// Where the run's ring file is.
    pub ring_path: PathBuf,
    /// The ring's random id (from its header).
    pub ring_id: u64,
    /// `online`, `offline` or `disabled`.
    pub mode: String,
    /// The SDK version that wrote the run.
    pub sdk_version: String,
    /// The tracking server the run is uploaded to (`None`: kept local).
    /// Never holds credentials: the uploading process reads those from its
    /// own environment.
    #[serde(default)]
    pub tracking_uri: Option<String>,
}

impl RunMeta {
    /// Reads `run.json` from a run directory.
    pub fn load(run_dir: &Path) -> Result<RunMeta, String> {
        let path = run_dir.join(META_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not valid: {e}", path.display()))
    }

    /// Writes `run.json` atomically (a temporary file renamed into place).
    pub fn store(&self, run_dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&run_dir.join(META_FILE), text.as_bytes())
    }
}

/// Writes `bytes` to `path` through a temporary file, synced and renamed,
/// so readers see the old contents or the new, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_data()?;
    std::fs::rename(&tmp, path)?;
    // The rename itself is durable only once the directory is synced.
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
