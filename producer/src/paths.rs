//! Where things live on a node, and who a process is.
//!
//! These rules are shared by the SDK and the service so both agree on the
//! service's directory, the run directory root and a process's identity.

use std::path::PathBuf;

/// The service's directory when `RINGTRACK_SERVICE_DIR` is not set:
/// `$XDG_RUNTIME_DIR/ringtrack` when that is set, else
/// `/tmp/ringtrack-<uid>`. One service runs per directory, so per user.
pub fn default_service_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RINGTRACK_SERVICE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") {
        return PathBuf::from(runtime).join("ringtrack");
    }
    PathBuf::from(format!("/tmp/ringtrack-{}", nix::unistd::getuid()))
}

/// The run directory root when none is set: `RINGTRACK_DIR`, else
/// `./ringtrack-runs`.
pub fn default_root() -> PathBuf {
    std::env::var_os("RINGTRACK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("ringtrack-runs"))
}

/// The service's control socket inside its directory.
pub fn socket_path(service_dir: &std::path::Path) -> PathBuf {
    service_dir.join("service.sock")
}

/// A process's start time in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`), which tells a live process from a later one that
/// reused its pid. `None` when the process does not exist.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process `pid` that started at `start_time` is still alive
/// (and not a zombie).
pub fn process_alive(pid: u32, start_time: Option<u64>) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    let mut fields = stat[close + 1..].split_whitespace();
    if fields.next() == Some("Z") {
        return false;
    }
    match start_time {
        Some(expected) => fields.nth(18).and_then(|f| f.parse().ok()) == Some(expected),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = std::process::id();
        let start = process_start_time(me).expect("own start time");
        assert!(process_alive(me, Some(start)));
        assert!(!process_alive(me, Some(start + 1)));
        assert!(!process_alive(u32::MAX - 1, None));
    }
}
