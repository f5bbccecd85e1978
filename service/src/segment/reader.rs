//! Reading segments back: listing a run's files, scanning one file frame by
//! frame, and collecting a run's events in order.
//!
//! A scan stops at the first frame that does not check out and reports
//! where and why; everything before that point is good. For the newest
//! segment of a run that crashed mid-write, that point is the torn tail.

use std::path::{Path, PathBuf};

use super::format::{decode_frame, FileHeader, FrameHeader, FILE_HEADER_LEN};
use super::segments_dir;
use crate::event::Event;

/// Something wrong in a segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentProblem {
    /// The file.
    pub path: PathBuf,
    /// Byte offset of the bad frame (or 0 for the file header).
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for SegmentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.path.display(),
            self.offset,
            self.reason
        )
    }
}

/// What a scan of one segment file found.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// The file header, if it was valid.
    pub header: Option<FileHeader>,
    /// The good frames' headers.
    pub frames: Vec<FrameHeader>,
    /// The good frames' events, in order.
    pub events: Vec<Event>,
    /// Length of the good prefix of the file.
    pub valid_len: u64,
    /// Length of the whole file.
    pub file_len: u64,
    /// The first problem, if any; nothing after it was read.
    pub problem: Option<SegmentProblem>,
}

/// The run's segment files, ordered by number. A `segments` folder or a
/// segment that is a symbolic link is an error, never followed.
pub fn list_segments(run_dir: &Path) -> std::io::Result<Vec<(u32, PathBuf)>> {
    let dir = segments_dir(run_dir);
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if !meta.file_type().is_dir() => {
            return Err(std::io::Error::other(format!(
                "{} is not a directory (a symbolic link?); segments are never followed \
                 through links",
                dir.display()
            )));
        }
        _ => {}
    }
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".seg"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if !entry.file_type()?.is_file() {
            return Err(std::io::Error::other(format!(
                "{} is not a regular file (a symbolic link?); segments are never \
                 followed through links",
                entry.path().display()
            )));
        }
        segments.push((number, entry.path()));
    }
    segments.sort();
    Ok(segments)
}

/// Reads one segment file, checking every frame.
pub fn scan_segment(path: &Path) -> std::io::Result<ScanReport> {
    let bytes = read_no_follow(path)?;
    let mut report = ScanReport {
        file_len: bytes.len() as u64,
        ..ScanReport::default()
    };
    let problem = |offset: usize, reason: String| SegmentProblem {
        path: path.to_owned(),
        offset: offset as u64,
        reason,
    };
    match FileHeader::decode(&bytes) {
        Ok(header) => report.header = Some(header),
        Err(reason) => {
            report.problem = Some(problem(0, reason));
            return Ok(report);
        }
    }
    let mut at = FILE_HEADER_LEN;
    report.valid_len = at as u64;
    while at < bytes.len() {
        match decode_frame(&bytes[at..]) {
            Ok((header, events, len)) => {
                report.frames.push(header);
                report.events.extend(events);
                at += len;
                report.valid_len = at as u64;
            }
            Err(reason) => {
                report.problem = Some(problem(at, reason));
                break;
            }
        }
    }
    Ok(report)
}

/// All of a run's events in order, with the problems met on the way.
pub fn read_events(run_dir: &Path) -> std::io::Result<(Vec<Event>, Vec<SegmentProblem>)> {
    let mut events = Vec::new();
    let mut problems = Vec::new();
    for (_, path) in list_segments(run_dir)? {
        let report = scan_segment(&path)?;
        events.extend(report.events);
        problems.extend(report.problem);
    }
    Ok((events, problems))
}

/// Reads a file without following a symlink planted in its place.
pub fn read_no_follow(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}
