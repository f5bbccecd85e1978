//! `ringtrack verify`: check a run's segments end to end.
//!
//! Every frame's checksum, compression and encoding; sequence numbers
//! contiguous from 0 across frames and files; ring positions that never go
//! backwards within one ring; rows that only use defined metrics. Each
//! problem is reported with the file and byte offset where it is.

use std::path::Path;

use crate::history::History;
use crate::segment::{list_segments, scan_segment};

/// What verification found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Segment files checked.
    pub segments: usize,
    /// Frames that checked out.
    pub frames: usize,
    /// Events in them.
    pub events: u64,
    /// History rows among them.
    pub rows: u64,
    /// Each problem, as a sentence.
    pub problems: Vec<String>,
}

/// Verifies the segments of the run in `run_dir`.
pub fn verify_run(run_dir: &Path) -> std::io::Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut next_seq = 0u64;
    let mut last_ring: Option<(u64, u64)> = None;
    let mut all_events = Vec::new();
    for (_, path) in list_segments(run_dir)? {
        report.segments += 1;
        let scan = scan_segment(&path)?;
        let mut offset = crate::segment::FILE_HEADER_LEN as u64;
        for frame in &scan.frames {
            if frame.first_seq != next_seq {
                report.problems.push(format!(
                    "{} at byte {offset}: frame starts at sequence number {}, expected {next_seq}",
                    path.display(),
                    frame.first_seq
                ));
            }
            next_seq = frame.first_seq + u64::from(frame.count);
            if let (Some(header), Some((ring, end))) = (scan.header, last_ring) {
                if header.ring_id == ring && frame.ring_end < end {
                    report.problems.push(format!(
                        "{} at byte {offset}: ring position {} is behind {end}",
                        path.display(),
                        frame.ring_end
                    ));
                }
            }
            if let Some(header) = scan.header {
                last_ring = Some((header.ring_id, frame.ring_end));
            }
            offset +=
                (crate::segment::FRAME_HEADER_LEN + frame.compressed_len as usize) as u64;
            report.frames += 1;
        }
        if let Some(problem) = scan.problem {
            report.problems.push(problem.to_string());
        }
        all_events.extend(scan.events);
    }
    report.events = all_events.len() as u64;
    let history = History::from_events(&all_events);
    report.rows = history.rows.len() as u64;
    report.problems.extend(history.anomalies);
    Ok(report)
}
