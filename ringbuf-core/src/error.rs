//! Errors from creating, opening, validating and reading a ring.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong with a ring file.
///
/// Variants that come from the file's contents name the field or the
/// position that was wrong, so a message about a corrupt ring points at the
/// fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// An I/O call on the ring file failed.
    #[error("ring file {path}: {op}: {source}")]
    Io {
        /// The ring file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file system has no room for the ring.
    #[error(
        "ring file {path}: cannot reserve {bytes} bytes: the file system is full \
         (choose a smaller ring or another directory)"
    )]
    NoSpace {
        /// The ring file.
        path: PathBuf,
        /// How many bytes were asked for.
        bytes: u64,
    },
    /// The options asked for a ring that cannot be built.
    #[error("invalid ring options: {0}")]
    InvalidOptions(String),
    /// The file is not a valid ring: a header field is out of range.
    #[error("ring file {path} is not a valid ring: {reason}")]
    BadHeader {
        /// The ring file.
        path: PathBuf,
        /// Which field was wrong and how.
        reason: String,
    },
    /// The file was truncated while mapped: the SIGBUS guard caught a read
    /// past its new end (see [`crate::guard`]).
    #[error(
        "ring file {path} was truncated while mapped: a read past its new end was \
         caught (SIGBUS) and the ring can no longer be trusted"
    )]
    Truncated {
        /// The ring file.
        path: PathBuf,
    },
    /// The shared positions or a record header broke the protocol.
    #[error("ring file {path} is corrupt at position {pos}: {reason}")]
    Corrupt {
        /// The ring file.
        path: PathBuf,
        /// The ring position (bytes since creation) where the fault is.
        pos: u64,
        /// What was wrong.
        reason: String,
    },
}
