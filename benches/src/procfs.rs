//! What `/proc` says about a process: CPU time and memory.

use std::path::Path;

/// CPU time a process has used (user plus system, all its threads), in
/// seconds, from fields 14 and 15 of `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in parentheses and may hold spaces: count the
    // fields from the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')' come field 3 (state) onwards: utime is field 14, stime 15.
    let field =
        |n: usize| -> u64 { fields.get(n - 3).and_then(|f| f.parse().ok()).unwrap_or(0) };
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (field(14) + field(15)) as f64 / hz
}

/// A process's memory, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// `VmRSS` from `/proc/<pid>/status`.
    pub rss_kib: u64,
    /// `VmHWM` (peak RSS) from `/proc/<pid>/status`.
    pub peak_rss_kib: u64,
    /// The resident part of mappings of ring files (`*.ring`), from
    /// `/proc/<pid>/smaps`.
    pub ring_kib: u64,
}

impl Memory {
    /// Resident memory that is not ring mappings: the service's own.
    pub fn own_kib(&self) -> u64 {
        self.rss_kib.saturating_sub(self.ring_kib)
    }
}

/// Reads a process's memory figures.
pub fn memory(pid: u32) -> Memory {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: kib("VmRSS:"),
        peak_rss_kib: kib("VmHWM:"),
        ring_kib: ring_rss_kib(Path::new(&format!("/proc/{pid}/smaps"))),
    }
}

/// Sums `Rss:` over the mappings in an smaps file whose path ends in
/// `.ring`.
fn ring_rss_kib(smaps: &Path) -> u64 {
    let text = std::fs::read_to_string(smaps).unwrap_or_default();
    let mut in_ring = false;
    let mut total = 0;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if is_mapping_header(first) {
            // address perms offset dev inode [path]
            in_ring = words.nth(4).is_some_and(|p| p.ends_with(".ring"));
        } else if in_ring && first == "Rss:" {
            total += words
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

fn is_mapping_header(word: &str) -> bool {
    word.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty()
            && a.bytes().all(|c| c.is_ascii_hexdigit())
            && b.bytes().all(|c| c.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_ring_mappings_are_summed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("smaps");
        std::fs::write(
            &path,
            "7f00-7f10 rw-s 00000000 00:1a 12 /dev/shm/r/a.ring\nSize: 64 kB\nRss: 40 kB\n\
             7f10-7f20 rw-p 00000000 00:00 0\nRss: 8 kB\n\
             7f20-7f30 rw-s 00000000 00:1a 13 /dev/shm/r/b.ring\nRss: 2 kB\n",
        )
        .unwrap();
        assert_eq!(ring_rss_kib(&path), 42);
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        assert!(memory(pid).rss_kib > 0);
        assert!(cpu_seconds(pid) >= 0.0);
    }
}
