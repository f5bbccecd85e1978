//! The ringtrack ring file: a single-producer, single-consumer byte ring
//! that lives in a memory-mapped file shared by a trainer process and the
//! node service.
//!
//! The crate has four parts:
//!
//! - [`layout`]: the header's byte offsets and the checks that make a file
//!   a valid ring;
//! - [`RingFile`]: creating (space reserved, pages pre-faulted) and opening
//!   a ring file;
//! - [`RingWriter`] and [`RingReader`]: the producer and consumer halves of
//!   the publish/consume protocol;
//! - [`record`]: the fixed binary layout of the records ringtrack puts in a
//!   ring (metric definitions, history rows, finish markers);
//! - [`guard`]: the SIGBUS guard a consumer process installs so a ring file
//!   truncated under its mapping ends that ring, not the process.
//!
//! What it promises:
//!
//! - a record becomes visible to the reader only when it is whole: the
//!   writer stores the record, then publishes the new write position with a
//!   release store that the reader's acquire load pairs with;
//! - a writer killed at any instruction leaves a readable ring, because an
//!   unpublished record is simply not there for the reader;
//! - the reader treats every byte of the file as untrusted: every header
//!   field and every record header is checked against the bounds before it
//!   is used, and a bad one is a [`RingError`], never a panic or an
//!   out-of-bounds read;
//! - the writer's hot path ([`RingWriter::reserve`] and
//!   [`Slot::commit`]) makes no syscall and no allocation.
//!
//! The format is written down in `docs/ring-format.md`.
//!
//! ```
//! use ringbuf_core::{RingFile, RingReader, RingWriter, RingOptions};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("ring");
//! let file = RingFile::create(&path, RingOptions::with_capacity(1 << 16)).unwrap();
//! let mut writer = RingWriter::new(file);
//! let mut slot = writer.reserve(5).unwrap();
//! slot.payload().copy_from_slice(b"hello");
//! slot.commit(7);
//!
//! let mut reader = RingReader::new(RingFile::open(&path).unwrap()).unwrap();
//! let mut batch = ringbuf_core::Batch::default();
//! reader.read_batch(1 << 20, &mut batch).unwrap();
//! let record = batch.iter().next().unwrap();
//! assert_eq!((record.kind, record.payload), (7, &b"hello"[..]));
//! reader.commit_read(batch.end_pos()).unwrap();
//! ```

pub mod error;
pub mod file;
pub mod guard;
pub mod layout;
pub mod reader;
pub mod record;
mod region;
mod sync;
pub mod writer;

pub use error::RingError;
pub use file::{RingFile, RingOptions};
pub use reader::{Batch, RawRecord, RingReader, RingStats};
pub use writer::{ReserveError, RingWriter, Slot};
