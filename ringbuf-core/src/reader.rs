//! The consumer half of a ring.
//!
//! A [`RingReader`] copies published records out of the ring into a
//! [`Batch`] of its own memory, validating each record header against the
//! ring's bounds first, and frees the space with [`RingReader::commit_read`]
//! once the caller has made the records durable. Reading and freeing are
//! separate so a consumer that crashes in between reads the same records
//! again; records carry sequence numbers for the caller to drop the ones it
//! already holds.
//!
//! Before every batch the reader checks that the file still has its mapped
//! length and that the fixed header fields (magic, version, capacity, ring
//! id, record limit, ...) are the ones it opened; after every copy out of
//! the ring it checks whether the SIGBUS guard caught a truncation
//! ([`crate::guard`]). Each of these ends the ring with an error naming the
//! file.

use crate::error::RingError;
use crate::file::RingFile;
use crate::layout::{offset, record_size, HEADER_SIZE, KIND_PAD, RECORD_HEADER};
use crate::sync::Ordering;

/// One record copied out of the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// The record's kind (never the pad kind).
    pub kind: u16,
    /// The ring position of the record's header.
    pub pos: u64,
    /// The ring position just past the record.
    pub end: u64,
    /// The payload bytes.
    pub payload: &'a [u8],
}

/// Records copied out of a ring by one [`RingReader::read_batch`].
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    records: Vec<(u16, u64, u64, usize, usize)>,
    end_pos: u64,
}

impl Batch {
    /// The records, in ring order.
    pub fn iter(&self) -> impl Iterator<Item = RawRecord<'_>> {
        self.records
            .iter()
            .map(|&(kind, pos, end, at, len)| RawRecord {
                kind,
                pos,
                end,
                payload: &self.bytes[at..at + len],
            })
    }

    /// How many records the batch holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The ring position just past the batch: what to pass to
    /// [`RingReader::commit_read`] once the records are durable.
    pub fn end_pos(&self) -> u64 {
        self.end_pos
    }

    fn clear(&mut self, at: u64) {
        self.bytes.clear();
        self.records.clear();
        self.end_pos = at;
    }
}

/// The shared counters of a ring, as the reader last saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingStats {
    /// Capacity of the data region.
    pub capacity: u64,
    /// The writer's published position.
    pub write_pos: u64,
    /// The position freed so far.
    pub read_pos: u64,
    /// Rows the writer gave up on because the ring stayed full.
    pub dropped: u64,
    /// Times the writer found the ring full.
    pub full_events: u64,
}

/// The consumer half of a ring.
#[derive(Debug)]
pub struct RingReader {
    file: RingFile,
    capacity: u64,
    mask: u64,
    max_record: u64,
    /// Next position to copy from.
    cursor: u64,
    /// The position last stored to READ_POS.
    committed: u64,
    /// The highest write position seen; it never goes backwards.
    write_seen: u64,
    /// The fixed header fields as they were when the reader was made.
    fixed_header: [u8; FIXED_HEADER],
}

/// Bytes of the header that never change after creation: magic through
/// byte-order marker.
const FIXED_HEADER: usize = offset::BYTE_ORDER + 8;

/// The name of the fixed header field at byte `at`.
fn field_at(at: usize) -> &'static str {
    match at {
        0..8 => "magic",
        8..12 => "format version",
        12..16 => "header size",
        16..24 => "capacity",
        24..32 => "ring id",
        32..36 => "max record size",
        36..40 => "creator pid",
        40..48 => "creation time",
        _ => "byte-order marker",
    }
}

impl RingReader {
    /// Takes the consumer half of `file`, resuming from its stored read
    /// position. Fails if the stored positions break the protocol.
    pub fn new(file: RingFile) -> Result<RingReader, RingError> {
        let info = *file.info();
        let region = &file.region;
        // Acquire pairs with the release stores of the writer and of an
        // earlier reader.
        let read_pos = region.atomic_u64(offset::READ_POS).load(Ordering::Acquire);
        let write_pos = region.atomic_u64(offset::WRITE_POS).load(Ordering::Acquire);
        let mut fixed_header = [0u8; FIXED_HEADER];
        region.copy_out(0, &mut fixed_header);
        let mut reader = RingReader {
            capacity: info.capacity,
            mask: info.capacity - 1,
            max_record: u64::from(info.max_record),
            cursor: read_pos,
            committed: read_pos,
            write_seen: read_pos,
            fixed_header,
            file,
        };
        reader.check_mapping()?;
        if read_pos % 8 != 0 {
            return Err(
                reader.corrupt(read_pos, "read position is not 8-byte aligned".into())
            );
        }
        reader.check_write_pos(write_pos)?;
        reader.write_seen = write_pos;
        Ok(reader)
    }

    /// The ring file this reader reads.
    pub fn file(&self) -> &RingFile {
        &self.file
    }

    /// Moves the cursor (and the stored read position) forward to `pos`,
    /// which a caller recovering from its own durable state knows to be a
    /// record boundary it has already consumed.
    pub fn skip_to(&mut self, pos: u64) -> Result<(), RingError> {
        if pos < self.committed {
            return Ok(());
        }
        let write_pos = self.load_write_pos()?;
        if pos > write_pos || pos % 8 != 0 {
            return Err(self.corrupt(
                pos,
                format!(
                    "resume position is not a record boundary at or before {write_pos}"
                ),
            ));
        }
        self.cursor = pos;
        self.commit_read(pos)
    }

    /// Copies published records, up to about `max_bytes` of them, into
    /// `batch` (which is cleared first), continuing after the last batch.
    pub fn read_batch(
        &mut self,
        max_bytes: usize,
        batch: &mut Batch,
    ) -> Result<(), RingError> {
        batch.clear(self.cursor);
        self.file.check_len()?;
        self.check_header_unchanged()?;
        let write_pos = self.load_write_pos()?;
        let mut cursor = self.cursor;
        while cursor < write_pos && batch.bytes.len() < max_bytes {
            cursor = self.copy_record(cursor, write_pos, batch)?;
        }
        self.cursor = cursor;
        batch.end_pos = cursor;
        Ok(())
    }

    /// Frees the ring up to `pos`: the records before it are durable.
    pub fn commit_read(&mut self, pos: u64) -> Result<(), RingError> {
        if pos < self.committed || pos > self.cursor {
            return Err(self.corrupt(
                pos,
                format!(
                    "commit outside the read range {}..={}: a consumer bug",
                    self.committed, self.cursor
                ),
            ));
        }
        self.committed = pos;
        // Release pairs with the writer's acquire load of READ_POS in
        // `RingWriter::reserve`: our copies of the freed bytes are finished
        // before the writer may overwrite them.
        self.file
            .region
            .atomic_u64(offset::READ_POS)
            .store(pos, Ordering::Release);
        self.check_mapping()
    }

    /// The position up to which records have been committed.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// The shared counters, loaded now.
    pub fn stats(&self) -> RingStats {
        let region = &self.file.region;
        // Relaxed: these are for reporting; nothing is read on their basis.
        RingStats {
            capacity: self.capacity,
            write_pos: region.atomic_u64(offset::WRITE_POS).load(Ordering::Relaxed),
            read_pos: self.committed,
            dropped: region.atomic_u64(offset::DROPPED).load(Ordering::Relaxed),
            full_events: region
                .atomic_u64(offset::FULL_EVENTS)
                .load(Ordering::Relaxed),
        }
    }

    fn load_write_pos(&mut self) -> Result<u64, RingError> {
        // Acquire pairs with the writer's release store in `Slot::commit`:
        // every record below this position is whole in memory.
        let write_pos = self
            .file
            .region
            .atomic_u64(offset::WRITE_POS)
            .load(Ordering::Acquire);
        self.check_mapping()?;
        self.check_write_pos(write_pos)?;
        self.write_seen = write_pos;
        Ok(write_pos)
    }

    /// Fails when the SIGBUS guard caught a read past the file's end: what
    /// was read since is zeros, not the ring.
    fn check_mapping(&self) -> Result<(), RingError> {
        if self.file.region.truncated() {
            return Err(RingError::Truncated {
                path: self.file.path().to_owned(),
            });
        }
        Ok(())
    }

    /// Fails when a fixed header field changed since the reader was made:
    /// the ring is no longer the one that was validated.
    fn check_header_unchanged(&self) -> Result<(), RingError> {
        let mut now = [0u8; FIXED_HEADER];
        self.file.region.copy_out(0, &mut now);
        self.check_mapping()?;
        match (0..FIXED_HEADER).find(|&i| now[i] != self.fixed_header[i]) {
            None => Ok(()),
            Some(at) => Err(RingError::BadHeader {
                path: self.file.path().to_owned(),
                reason: format!(
                    "header changed while mapped: the {} (byte {at}) is not what it was \
                     when the ring was opened",
                    field_at(at)
                ),
            }),
        }
    }

    fn check_write_pos(&self, write_pos: u64) -> Result<(), RingError> {
        if write_pos < self.write_seen {
            return Err(self.corrupt(
                write_pos,
                format!("write position moved backwards from {}", self.write_seen),
            ));
        }
        if write_pos % 8 != 0 {
            return Err(
                self.corrupt(write_pos, "write position is not 8-byte aligned".into())
            );
        }
        if write_pos < self.committed || write_pos - self.committed > self.capacity {
            return Err(self.corrupt(
                write_pos,
                format!(
                    "write position is not within one capacity ({}) ahead of the read \
                     position {}",
                    self.capacity, self.committed
                ),
            ));
        }
        Ok(())
    }

    /// Validates and copies the record at `pos`; returns the position after it.
    fn copy_record(
        &self,
        pos: u64,
        write_pos: u64,
        batch: &mut Batch,
    ) -> Result<u64, RingError> {
        let off = pos & self.mask;
        let contiguous = self.capacity - off;
        let mut header = [0u8; RECORD_HEADER];
        self.file
            .region
            .copy_out(HEADER_SIZE + off as usize, &mut header);
        self.check_mapping()?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let kind = u16::from_le_bytes([header[4], header[5]]);
        let reserved = u16::from_le_bytes([header[6], header[7]]);
        if reserved != 0 {
            return Err(
                self.corrupt(pos, format!("record header reserved field is {reserved}"))
            );
        }
        let size = record_size(len as usize) as u64;
        if kind == KIND_PAD {
            if size != contiguous || pos + size > write_pos {
                return Err(self.corrupt(
                    pos,
                    format!("pad record of {size} bytes does not end the data region"),
                ));
            }
            return Ok(pos + size);
        }
        if size > self.max_record || size > contiguous || pos + size > write_pos {
            return Err(self.corrupt(
                pos,
                format!(
                    "record of kind {kind} with length {len} runs past the published data, \
                     the region's end or the {}-byte record limit",
                    self.max_record
                ),
            ));
        }
        let at = batch.bytes.len();
        batch.bytes.resize(at + len as usize, 0);
        self.file.region.copy_out(
            HEADER_SIZE + off as usize + RECORD_HEADER,
            &mut batch.bytes[at..at + len as usize],
        );
        self.check_mapping()?;
        batch
            .records
            .push((kind, pos, pos + size, at, len as usize));
        Ok(pos + size)
    }

    fn corrupt(&self, pos: u64, reason: String) -> RingError {
        RingError::Corrupt {
            path: self.file.path().to_owned(),
            pos,
            reason,
        }
    }
}
