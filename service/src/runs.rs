//! Finding runs on disk: listing a root, resolving what a user typed, and
//! reading a run's segments into its history.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use ringtrack::meta::RunMeta;

use crate::history::History;
use crate::segment::{list_segments, read_events, SegmentProblem};
use crate::state::RunState;

/// A run directory with its metadata and state.
#[derive(Debug, Clone)]
pub struct RunEntry {
    /// The directory.
    pub dir: PathBuf,
    /// `run.json`.
    pub meta: RunMeta,
    /// `state.json`, when the service has written one.
    pub state: Option<RunState>,
}

impl RunEntry {
    /// Reads a run directory.
    pub fn load(dir: &Path) -> Result<RunEntry, String> {
        Ok(RunEntry {
            dir: dir.to_owned(),
            meta: RunMeta::load(dir)?,
            state: RunState::load(dir),
        })
    }

    /// Bytes of segments on disk.
    pub fn segment_bytes(&self) -> u64 {
        list_segments(&self.dir)
            .unwrap_or_default()
            .iter()
            .filter_map(|(_, p)| std::fs::symlink_metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// How the run's upload stands, for `ls`: `offline` or `local` (not
    /// uploaded), `pending`, `<acked>/<total>` rows, or `done`; `degraded`
    /// is added when the server refused a batch.
    pub fn upload_status(&self) -> String {
        let cursor = crate::upload::cursor::UploadCursor::load(&self.dir)
            .ok()
            .flatten();
        let Some(cursor) = cursor else {
            return match (self.meta.mode.as_str(), &self.meta.tracking_uri) {
                ("offline", _) => "offline".into(),
                (_, None) => "local".into(),
                _ => "pending".into(),
            };
        };
        let progress = if cursor.complete {
            "done".to_owned()
        } else {
            format!("{}/{}", cursor.rows_acked, cursor.rows_total)
        };
        if cursor.degraded() {
            format!("{progress},degraded")
        } else {
            progress
        }
    }

    /// The state's name, `unknown` before the service wrote one.
    pub fn phase_name(&self) -> &'static str {
        self.state.as_ref().map_or("unknown", |s| s.phase.as_str())
    }
}

/// Every run under `root`, oldest first (run ids sort by start time).
pub fn list_runs(root: &Path) -> anyhow::Result<Vec<RunEntry>> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => bail!("cannot list the run directory root {}: {e}", root.display()),
    };
    let mut runs: Vec<RunEntry> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| RunEntry::load(&e.path()).ok())
        .collect();
    runs.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    Ok(runs)
}

/// Finds the run a user named: a run directory path, or an id, a unique id
/// prefix or a unique name under `root`.
pub fn resolve_run(root: &Path, what: &str) -> anyhow::Result<RunEntry> {
    let as_path = Path::new(what);
    if as_path.join(ringtrack::meta::META_FILE).is_file() {
        return RunEntry::load(as_path).map_err(|e| anyhow!(e));
    }
    let runs = list_runs(root)?;
    let exact: Vec<&RunEntry> = runs.iter().filter(|r| r.meta.id == what).collect();
    if let [one] = exact.as_slice() {
        return Ok((*one).clone());
    }
    let matching: Vec<&RunEntry> = runs
        .iter()
        .filter(|r| r.meta.id.starts_with(what) || r.meta.name == what)
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!(
            "no run {what:?} under {} (give a run directory, an id, an id prefix or a name; \
             `ringtrack ls` lists them)",
            root.display()
        ),
        many => bail!(
            "{what:?} matches {} runs under {}: {}",
            many.len(),
            root.display(),
            many.iter().map(|r| r.meta.id.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Reads a run's history from its segments, with any problems found.
pub fn load_history(run: &RunEntry) -> anyhow::Result<(History, Vec<SegmentProblem>)> {
    let (events, problems) = read_events(&run.dir)
        .map_err(|e| anyhow!("cannot read the segments of {}: {e}", run.dir.display()))?;
    Ok((History::from_events(&events), problems))
}
