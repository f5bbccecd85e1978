//! Byte layout of a ring file and the checks that make a file a valid ring.
//!
//! A ring file is a 4096-byte header followed by a data region whose size
//! (the capacity) is a power of two. The fixed fields and record headers are
//! little-endian; the shared positions are native atomics, so the header
//! carries a byte-order marker written in native order, and a ring written
//! on a machine of the other byte order is refused rather than misread. The full description, with the
//! ordering rules, is in `docs/ring-format.md`.

/// The first eight bytes of every ring file.
pub const MAGIC: [u8; 8] = *b"RTRING\0\0";
/// The format version this crate writes and reads.
pub const VERSION: u32 = 1;
/// Size of the header; the data region starts here.
pub const HEADER_SIZE: usize = 4096;
/// Written in native byte order; reads back as this value only on a machine
/// of the writer's byte order.
pub const BYTE_ORDER_MARK: u64 = 0x0102_0304_0506_0708;
/// Smallest data region a ring may have.
pub const MIN_CAPACITY: u64 = 4096;
/// Largest data region a ring may have (4 GiB).
pub const MAX_CAPACITY: u64 = 1 << 32;
/// Size of a record header: length (u32), kind (u16), reserved (u16).
pub const RECORD_HEADER: usize = 8;
/// Records start and end on this alignment.
pub const RECORD_ALIGN: usize = 8;
/// The record kind that fills the tail of the data region before a wrap.
pub const KIND_PAD: u16 = 0;

/// Offsets of the header fields, in bytes from the start of the file.
pub mod offset {
    /// `[u8; 8]` magic.
    pub const MAGIC: usize = 0;
    /// `u32` format version.
    pub const VERSION: usize = 8;
    /// `u32` header size.
    pub const HEADER_SIZE: usize = 12;
    /// `u64` capacity of the data region.
    pub const CAPACITY: usize = 16;
    /// `u64` random identity of this ring, chosen at creation.
    pub const RING_ID: usize = 24;
    /// `u32` largest record (header included) the writer will produce.
    pub const MAX_RECORD: usize = 32;
    /// `u32` process id of the creating process.
    pub const CREATOR_PID: usize = 36;
    /// `u64` creation time, nanoseconds since the Unix epoch.
    pub const CREATED_NS: usize = 40;
    /// `u64` byte-order marker.
    pub const BYTE_ORDER: usize = 48;

    /// Producer cache line: `u64` write position (release-stored by the
    /// writer, acquire-loaded by the reader).
    pub const WRITE_POS: usize = 128;
    /// Producer cache line: `u64` records the writer could not place
    /// because the ring stayed full.
    pub const DROPPED: usize = 136;
    /// Producer cache line: `u64` times the writer found the ring full.
    pub const FULL_EVENTS: usize = 144;

    /// Consumer cache line: `u64` read position (release-stored by the
    /// reader, acquire-loaded by the writer).
    pub const READ_POS: usize = 256;
}

/// Rounds `n` up to the record alignment.
#[inline]
pub const fn align_up(n: usize) -> usize {
    (n + RECORD_ALIGN - 1) & !(RECORD_ALIGN - 1)
}

/// The size a record with `payload_len` bytes of payload takes in the ring.
#[inline]
pub const fn record_size(payload_len: usize) -> usize {
    align_up(RECORD_HEADER + payload_len)
}

/// The fixed header facts of a ring, as read (and checked) from a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Size of the data region in bytes.
    pub capacity: u64,
    /// Random identity of the ring.
    pub ring_id: u64,
    /// Largest record, header included.
    pub max_record: u32,
    /// Process id of the creator.
    pub creator_pid: u32,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: u64,
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Writes the fixed header fields into `header` (at least
/// [`HEADER_SIZE`] bytes, all zero on entry).
pub fn write_header(header: &mut [u8], info: &HeaderInfo) {
    header[offset::MAGIC..offset::MAGIC + 8].copy_from_slice(&MAGIC);
    header[offset::VERSION..offset::VERSION + 4].copy_from_slice(&VERSION.to_le_bytes());
    header[offset::HEADER_SIZE..offset::HEADER_SIZE + 4]
        .copy_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
    header[offset::CAPACITY..offset::CAPACITY + 8]
        .copy_from_slice(&info.capacity.to_le_bytes());
    header[offset::RING_ID..offset::RING_ID + 8]
        .copy_from_slice(&info.ring_id.to_le_bytes());
    header[offset::MAX_RECORD..offset::MAX_RECORD + 4]
        .copy_from_slice(&info.max_record.to_le_bytes());
    header[offset::CREATOR_PID..offset::CREATOR_PID + 4]
        .copy_from_slice(&info.creator_pid.to_le_bytes());
    header[offset::CREATED_NS..offset::CREATED_NS + 8]
        .copy_from_slice(&info.created_ns.to_le_bytes());
    header[offset::BYTE_ORDER..offset::BYTE_ORDER + 8]
        .copy_from_slice(&BYTE_ORDER_MARK.to_ne_bytes());
}

/// Checks a copy of the fixed header fields against the file's length and
/// returns them, or says which field is wrong.
pub fn check_header(header: &[u8], file_len: u64) -> Result<HeaderInfo, String> {
    if header.len() < HEADER_SIZE || file_len < HEADER_SIZE as u64 {
        return Err(format!(
            "file is {file_len} bytes, shorter than the {HEADER_SIZE}-byte header"
        ));
    }
    if header[..8] != MAGIC {
        return Err(format!(
            "magic is {:02x?}, expected {:02x?}",
            &header[..8],
            MAGIC
        ));
    }
    let version = read_u32(header, offset::VERSION);
    if version != VERSION {
        return Err(format!(
            "format version is {version}, this build reads {VERSION}"
        ));
    }
    let mut mark = [0u8; 8];
    mark.copy_from_slice(&header[offset::BYTE_ORDER..offset::BYTE_ORDER + 8]);
    if u64::from_ne_bytes(mark) != BYTE_ORDER_MARK {
        return Err(
            "byte-order marker does not match: written on another kind of machine"
                .to_string(),
        );
    }
    let header_size = read_u32(header, offset::HEADER_SIZE);
    if header_size as usize != HEADER_SIZE {
        return Err(format!(
            "header size is {header_size}, expected {HEADER_SIZE}"
        ));
    }
    let capacity = read_u64(header, offset::CAPACITY);
    check_capacity(capacity)?;
    let expected_len = HEADER_SIZE as u64 + capacity;
    if file_len != expected_len {
        return Err(format!(
            "file is {file_len} bytes, but header plus a capacity of {capacity} is \
             {expected_len}"
        ));
    }
    let max_record = read_u32(header, offset::MAX_RECORD);
    if (max_record as usize) < record_size(0)
        || u64::from(max_record) > capacity / 2
        || max_record as usize % RECORD_ALIGN != 0
    {
        return Err(format!(
            "max record size {max_record} is not an 8-byte multiple between 8 and half the \
             capacity ({capacity})"
        ));
    }
    Ok(HeaderInfo {
        capacity,
        ring_id: read_u64(header, offset::RING_ID),
        max_record,
        creator_pid: read_u32(header, offset::CREATOR_PID),
        created_ns: read_u64(header, offset::CREATED_NS),
    })
}

/// Checks that `capacity` is a power of two within the allowed range.
pub fn check_capacity(capacity: u64) -> Result<(), String> {
    if !capacity.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
        return Err(format!(
            "capacity {capacity} is not a power of two between {MIN_CAPACITY} and \
             {MAX_CAPACITY}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(capacity: u64) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_SIZE];
        let info = HeaderInfo {
            capacity,
            ring_id: 7,
            max_record: 1024,
            creator_pid: 1,
            created_ns: 2,
        };
        write_header(&mut h, &info);
        h
    }

    #[test]
    fn written_header_checks_back() {
        let h = header(8192);
        let info = check_header(&h, HEADER_SIZE as u64 + 8192).unwrap();
        assert_eq!(
            (info.capacity, info.ring_id, info.max_record),
            (8192, 7, 1024)
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let len = HEADER_SIZE as u64 + 8192;
        let mut h = header(8192);
        h[0] = b'X';
        assert!(check_header(&h, len).unwrap_err().contains("magic"));

        let mut h = header(8192);
        h[offset::VERSION] = 9;
        assert!(check_header(&h, len).unwrap_err().contains("version is 9"));

        let h = header(8192);
        assert!(check_header(&h, len - 1)
            .unwrap_err()
            .contains("capacity of 8192"));

        let mut h = header(8192);
        h[offset::CAPACITY..offset::CAPACITY + 8].copy_from_slice(&5000u64.to_le_bytes());
        assert!(check_header(&h, len).unwrap_err().contains("power of two"));

        let mut h = header(8192);
        h[offset::MAX_RECORD..offset::MAX_RECORD + 4]
            .copy_from_slice(&8000u32.to_le_bytes());
        assert!(check_header(&h, len).unwrap_err().contains("max record"));

        let mut h = header(8192);
        h[offset::BYTE_ORDER] ^= 0xff;
        assert!(check_header(&h, len).unwrap_err().contains("byte-order"));

        assert!(check_header(&h[..100], 100)
            .unwrap_err()
            .contains("shorter"));
    }
}
