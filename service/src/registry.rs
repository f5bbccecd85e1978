//! The service's list of live runs, kept on disk so a restarted service
//! resumes every run it was draining.
//!
//! Each live run is one file, `<service dir>/runs/<run id>`, holding the
//! run directory's path. It is written before the service answers a
//! registration and removed when the run ends. The upload queue,
//! `<service dir>/uploads/`, has the same layout.

use std::path::{Path, PathBuf};

/// The live-run folder of a service directory.
const LIVE: &str = "runs";

/// Records a live run.
pub fn add(service_dir: &Path, id: &str, run_dir: &Path) -> std::io::Result<()> {
    add_in(service_dir, LIVE, id, run_dir)
}

/// Forgets a run.
pub fn remove(service_dir: &Path, id: &str) {
    remove_in(service_dir, LIVE, id)
}

/// The live runs recorded, as (id, run directory).
pub fn list(service_dir: &Path) -> Vec<(String, PathBuf)> {
    list_in(service_dir, LIVE)
}

/// Records a run in the list `name` (the same layout serves the upload
/// queue).
pub fn add_in(
    service_dir: &Path,
    name: &str,
    id: &str,
    run_dir: &Path,
) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = service_dir.join(name);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    ringtrack::meta::write_atomic(&dir.join(id), run_dir.as_os_str().as_encoded_bytes())
}

/// Forgets a run in the list `name`.
pub fn remove_in(service_dir: &Path, name: &str, id: &str) {
    let _ = std::fs::remove_file(service_dir.join(name).join(id));
}

/// The runs in the list `name`, as (id, run directory).
pub fn list_in(service_dir: &Path, name: &str) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(service_dir.join(name)) else {
        return Vec::new();
    };
    let mut runs: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let id = e.file_name().to_str()?.to_owned();
            if id.ends_with(".tmp") {
                return None;
            }
            let path = std::fs::read_to_string(e.path()).ok()?;
            Some((id, PathBuf::from(path)))
        })
        .collect();
    runs.sort();
    runs
}
