//! The producer half of a ring.
//!
//! A [`RingWriter`] is the only writer of the data region and of the
//! producer cache line. Placing a record is two steps: [`RingWriter::reserve`]
//! finds room and hands out a [`Slot`] over the record's payload bytes, and
//! [`Slot::commit`] writes the record header and publishes the new write
//! position. Neither step makes a syscall or allocates; the only shared
//! memory they load is the reader's position, and only when the cached copy
//! says the ring might be full.

use std::fmt;

use crate::file::RingFile;
use crate::layout::{offset, record_size, KIND_PAD, RECORD_HEADER};
use crate::sync::Ordering;

/// Why a record could not be reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveError {
    /// The record is larger than the ring's record limit.
    TooLarge {
        /// The record's size, header included.
        size: usize,
        /// The ring's limit.
        max: usize,
    },
    /// The reader has not yet freed enough room.
    Full {
        /// Bytes the record needs (with the padding a wrap takes).
        needed: u64,
        /// Bytes free right now.
        free: u64,
    },
}

impl fmt::Display for ReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReserveError::TooLarge { size, max } => {
                write!(
                    f,
                    "record of {size} bytes is larger than the ring's limit of {max}"
                )
            }
            ReserveError::Full { needed, free } => {
                write!(
                    f,
                    "ring is full: record needs {needed} bytes, {free} are free"
                )
            }
        }
    }
}

impl std::error::Error for ReserveError {}

/// The producer half of a ring.
#[derive(Debug)]
pub struct RingWriter {
    file: RingFile,
    data: *mut u8,
    capacity: u64,
    mask: u64,
    max_record: usize,
    /// The published write position; only this writer changes it.
    write_pos: u64,
    /// The last read position seen; the real one is never behind it.
    cached_read: u64,
}

// SAFETY: the writer owns its side of the protocol; moving it to another
// thread moves that ownership. `data` points into the region that `file`
// keeps alive.
unsafe impl Send for RingWriter {}

impl RingWriter {
    /// Takes the producer half of `file`, continuing from its published
    /// write position.
    pub fn new(file: RingFile) -> RingWriter {
        let info = *file.info();
        let region = &file.region;
        // SAFETY: the data region starts right after the header and the
        // mapping is header plus capacity bytes long (checked at open/create).
        let data = unsafe { region.base().add(crate::layout::HEADER_SIZE) };
        // Acquire pairs with the release stores of an earlier writer and
        // reader, if any.
        let write_pos = region.atomic_u64(offset::WRITE_POS).load(Ordering::Acquire);
        let cached_read = region.atomic_u64(offset::READ_POS).load(Ordering::Acquire);
        RingWriter {
            data,
            capacity: info.capacity,
            mask: info.capacity - 1,
            max_record: info.max_record as usize,
            write_pos,
            cached_read,
            file,
        }
    }

    /// The ring file this writer writes.
    pub fn file(&self) -> &RingFile {
        &self.file
    }

    /// Finds room for a record with `payload_len` bytes of payload.
    ///
    /// Nothing becomes visible to the reader until the slot is committed;
    /// dropping the slot abandons the record.
    #[inline]
    pub fn reserve(&mut self, payload_len: usize) -> Result<Slot<'_>, ReserveError> {
        let size = record_size(payload_len);
        if size > self.max_record {
            return Err(ReserveError::TooLarge {
                size,
                max: self.max_record,
            });
        }
        let off = self.write_pos & self.mask;
        let contiguous = self.capacity - off;
        let needed = if size as u64 <= contiguous {
            size as u64
        } else {
            contiguous + size as u64
        };
        if self.write_pos + needed - self.cached_read > self.capacity {
            // Acquire pairs with the reader's release store of READ_POS in
            // `RingReader::commit_read`: the bytes it freed are no longer read.
            self.cached_read = self
                .file
                .region
                .atomic_u64(offset::READ_POS)
                .load(Ordering::Acquire);
            let used = self.write_pos.wrapping_sub(self.cached_read);
            if used > self.capacity
                || self.write_pos + needed - self.cached_read > self.capacity
            {
                let free = self.capacity.saturating_sub(used);
                return Err(ReserveError::Full { needed, free });
            }
        }
        let start = if size as u64 <= contiguous {
            self.write_pos
        } else {
            // The record does not fit before the end: fill the tail with a
            // pad record and start the record at offset 0.
            self.write_header(
                off,
                (contiguous as usize - RECORD_HEADER) as u32,
                KIND_PAD,
            );
            self.write_pos + contiguous
        };
        Ok(Slot {
            writer: self,
            start,
            payload_len,
        })
    }

    /// Whether a record with `payload_len` bytes of payload would fit now.
    pub fn has_room(&mut self, payload_len: usize) -> bool {
        let size = record_size(payload_len) as u64;
        let contiguous = self.capacity - (self.write_pos & self.mask);
        let needed = if size <= contiguous {
            size
        } else {
            contiguous + size
        };
        self.cached_read = self.read_pos();
        fits(self.write_pos, self.cached_read, needed, self.capacity)
    }

    /// The published write position.
    pub fn write_pos(&self) -> u64 {
        self.write_pos
    }

    /// The reader's current position (acquire load).
    pub fn read_pos(&self) -> u64 {
        // Acquire pairs with the reader's release store in `commit_read`.
        self.file
            .region
            .atomic_u64(offset::READ_POS)
            .load(Ordering::Acquire)
    }

    /// Whether the reader has consumed everything published.
    pub fn is_drained(&self) -> bool {
        self.read_pos() >= self.write_pos
    }

    /// Bytes that are published but not yet consumed.
    pub fn backlog(&self) -> u64 {
        self.write_pos.saturating_sub(self.read_pos())
    }

    /// Counts a row that could not be placed because the ring stayed full.
    pub fn count_dropped(&self) {
        // Relaxed: a statistic, read by the service for reporting only.
        self.file
            .region
            .atomic_u64(offset::DROPPED)
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an occasion on which the ring was found full.
    pub fn count_full(&self) {
        // Relaxed: a statistic, read by the service for reporting only.
        self.file
            .region
            .atomic_u64(offset::FULL_EVENTS)
            .fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    fn write_header(&mut self, off: u64, len: u32, kind: u16) {
        let mut header = [0u8; RECORD_HEADER];
        header[..4].copy_from_slice(&len.to_le_bytes());
        header[4..6].copy_from_slice(&kind.to_le_bytes());
        // SAFETY: `off` is below the capacity and 8-aligned, and a record
        // header always fits before the end because every record size and
        // the capacity are multiples of 8; the bytes are in the free part of
        // the ring, which the reader does not read until they are published.
        unsafe {
            std::ptr::copy_nonoverlapping(
                header.as_ptr(),
                self.data.add(off as usize),
                RECORD_HEADER,
            )
        }
    }
}

/// Whether `needed` more bytes fit between the positions. A read position
/// ahead of the write position (which only a misbehaving reader produces)
/// counts as a full ring, never as room.
#[inline]
fn fits(write_pos: u64, read_pos: u64, needed: u64, capacity: u64) -> bool {
    let used = write_pos.wrapping_sub(read_pos);
    used <= capacity && needed <= capacity - used
}

/// Room for one record's payload, reserved in a ring.
#[derive(Debug)]
pub struct Slot<'a> {
    writer: &'a mut RingWriter,
    start: u64,
    payload_len: usize,
}

impl Slot<'_> {
    /// The payload bytes, to fill before committing. Their contents are
    /// whatever an earlier record left there.
    #[inline]
    pub fn payload(&mut self) -> &mut [u8] {
        let off = (self.start & self.writer.mask) as usize + RECORD_HEADER;
        // SAFETY: `reserve` checked that the whole record lies before the end
        // of the data region and in its free part, which only this writer
        // touches until the record is published; `&mut self` keeps the slice
        // unique, and it cannot outlive the slot and so the writer.
        unsafe {
            std::slice::from_raw_parts_mut(self.writer.data.add(off), self.payload_len)
        }
    }

    /// Writes the record header with `kind` and publishes the record.
    ///
    /// # Panics
    ///
    /// If `kind` is the pad kind (0), which is the ring's own.
    #[inline]
    pub fn commit(self, kind: u16) {
        assert_ne!(kind, KIND_PAD, "record kind 0 is reserved for padding");
        let writer = self.writer;
        let off = self.start & writer.mask;
        writer.write_header(off, self.payload_len as u32, kind);
        writer.write_pos = self.start + record_size(self.payload_len) as u64;
        // Release pairs with the reader's acquire load of WRITE_POS in
        // `RingReader::read_batch`: the record's bytes (and any pad before
        // it) are visible before the position that covers them.
        writer
            .file
            .region
            .atomic_u64(offset::WRITE_POS)
            .store(writer.write_pos, Ordering::Release);
    }
}
