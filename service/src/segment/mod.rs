//! Segment files: the durable, append-only form of a run's events.
//!
//! A run's segments live in `<run dir>/segments/`, named by an increasing
//! eight-digit number (`00000000.seg`). Only the newest one is ever
//! appended to; older ones are sealed (synced and never written again).
//! Each file is a 24-byte file header followed by frames; each frame holds
//! a batch of events, postcard-encoded, lz4-compressed and covered by a
//! CRC-32C. The byte layout is in `docs/segment-format.md`.

mod format;
mod reader;
mod writer;

pub use format::{
    decode_frame, encode_frame, FileHeader, FrameHeader, FILE_HEADER_LEN,
    FRAME_HEADER_LEN,
};
pub use reader::{
    list_segments, read_events, read_no_follow, scan_segment, ScanReport, SegmentProblem,
};
pub use writer::{FsyncPolicy, Recovered, SegmentWriter};

/// The folder of a run's segments.
pub fn segments_dir(run_dir: &std::path::Path) -> std::path::PathBuf {
    run_dir.join("segments")
}
