//! The byte layout of segment files and frames, and the frame codec.
//!
//! File header (24 bytes): magic `RTSEG\0\0\x01`, `u32` format version,
//! `u32` zero, `u64` id of the ring the frames' ring positions refer to.
//!
//! Frame header (40 bytes, little-endian): magic `RTF\x01`, `u32`
//! compressed length, `u32` raw length, `u32` event count, `u64` first
//! sequence number, `u64` ring position just past the frame's last record,
//! `u32` CRC-32C of the header's first 32 bytes and the compressed body,
//! `u32` zero (checked). The body is the lz4 block compression of the postcard
//! encoding of the frame's `Vec<Event>`.

use crate::event::Event;

/// Magic of a segment file.
pub const FILE_MAGIC: [u8; 8] = *b"RTSEG\0\0\x01";
/// Segment format version.
pub const FILE_VERSION: u32 = 1;
/// Length of a segment file's header.
pub const FILE_HEADER_LEN: usize = 24;
/// Magic of a frame.
pub const FRAME_MAGIC: [u8; 4] = *b"RTF\x01";
/// Length of a frame header.
pub const FRAME_HEADER_LEN: usize = 40;
/// Largest raw (uncompressed) frame body a reader accepts.
pub const MAX_FRAME_RAW: usize = 64 << 20;

/// A segment file's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    /// The ring whose positions the frames record.
    pub ring_id: u64,
}

impl FileHeader {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; FILE_HEADER_LEN] {
        let mut b = [0u8; FILE_HEADER_LEN];
        b[..8].copy_from_slice(&FILE_MAGIC);
        b[8..12].copy_from_slice(&FILE_VERSION.to_le_bytes());
        b[16..24].copy_from_slice(&self.ring_id.to_le_bytes());
        b
    }

    /// Parses and checks a header.
    pub fn decode(b: &[u8]) -> Result<FileHeader, String> {
        if b.len() < FILE_HEADER_LEN {
            return Err(format!(
                "file header is {} bytes, expected {FILE_HEADER_LEN}",
                b.len()
            ));
        }
        if b[..8] != FILE_MAGIC {
            return Err("not a segment file (bad magic)".into());
        }
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        if u32::from_le_bytes([b[12], b[13], b[14], b[15]]) != 0 {
            return Err("segment file header's reserved word is not zero".into());
        }
        if version != FILE_VERSION {
            return Err(format!(
                "segment format version {version}, this build reads {FILE_VERSION}"
            ));
        }
        Ok(FileHeader {
            ring_id: u64_at(b, 16),
        })
    }
}

/// A frame's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Length of the compressed body.
    pub compressed_len: u32,
    /// Length of the body before compression.
    pub raw_len: u32,
    /// Number of events.
    pub count: u32,
    /// Sequence number of the first event.
    pub first_seq: u64,
    /// Ring position just past the frame's last record.
    pub ring_end: u64,
    /// The checksum.
    pub crc: u32,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Encodes `events` into a complete frame (header and body).
pub fn encode_frame(events: &[Event], ring_end: u64) -> Result<Vec<u8>, String> {
    let raw =
        postcard::to_stdvec(events).map_err(|e| format!("cannot encode events: {e}"))?;
    let body = lz4_flex::block::compress(&raw);
    let mut frame = vec![0u8; FRAME_HEADER_LEN];
    frame[..4].copy_from_slice(&FRAME_MAGIC);
    frame[4..8].copy_from_slice(&(body.len() as u32).to_le_bytes());
    frame[8..12].copy_from_slice(&(raw.len() as u32).to_le_bytes());
    frame[12..16].copy_from_slice(&(events.len() as u32).to_le_bytes());
    frame[16..24].copy_from_slice(&events.first().map_or(0, Event::seq).to_le_bytes());
    frame[24..32].copy_from_slice(&ring_end.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&frame[..32]), &body);
    frame[32..36].copy_from_slice(&crc.to_le_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Parses a frame header without checking the body.
pub fn parse_frame_header(b: &[u8]) -> Result<FrameHeader, String> {
    if b.len() < FRAME_HEADER_LEN {
        return Err(format!(
            "{} bytes left, too few for a frame header",
            b.len()
        ));
    }
    if b[..4] != FRAME_MAGIC {
        return Err("bad frame magic".into());
    }
    let header = FrameHeader {
        compressed_len: u32_at(b, 4),
        raw_len: u32_at(b, 8),
        count: u32_at(b, 12),
        first_seq: u64_at(b, 16),
        ring_end: u64_at(b, 24),
        crc: u32_at(b, 32),
    };
    if u32_at(b, 36) != 0 {
        return Err("frame header's reserved word is not zero".into());
    }
    if header.raw_len as usize > MAX_FRAME_RAW {
        return Err(format!(
            "frame claims {} raw bytes, over the limit",
            header.raw_len
        ));
    }
    Ok(header)
}

/// Checks and decodes the frame at the start of `b`; returns the header,
/// the events and the frame's total length.
pub fn decode_frame(b: &[u8]) -> Result<(FrameHeader, Vec<Event>, usize), String> {
    let header = parse_frame_header(b)?;
    let total = FRAME_HEADER_LEN + header.compressed_len as usize;
    if b.len() < total {
        return Err(format!(
            "frame body of {} bytes runs past the end of the file ({} bytes left)",
            header.compressed_len,
            b.len() - FRAME_HEADER_LEN
        ));
    }
    let body = &b[FRAME_HEADER_LEN..total];
    let crc = crc32c::crc32c_append(crc32c::crc32c(&b[..32]), body);
    if crc != header.crc {
        return Err(format!(
            "checksum mismatch (stored {:08x}, computed {crc:08x})",
            header.crc
        ));
    }
    let raw = lz4_flex::block::decompress(body, header.raw_len as usize)
        .map_err(|e| format!("body does not decompress: {e}"))?;
    let events: Vec<Event> =
        postcard::from_bytes(&raw).map_err(|e| format!("body does not decode: {e}"))?;
    if events.len() != header.count as usize {
        return Err(format!(
            "header says {} events, body holds {}",
            header.count,
            events.len()
        ));
    }
    if let Some((i, e)) = events
        .iter()
        .enumerate()
        .find(|(i, e)| e.seq() != header.first_seq + *i as u64)
    {
        return Err(format!(
            "event {i} has sequence number {}, expected {}",
            e.seq(),
            header.first_seq + i as u64
        ));
    }
    Ok((header, events, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringtrack::Value;

    fn events() -> Vec<Event> {
        vec![
            Event::Metric {
                seq: 5,
                id: 0,
                name: "loss".into(),
            },
            Event::Row {
                seq: 6,
                step: 0,
                timestamp_ns: 1,
                values: vec![(0, Value::F64(f64::from_bits(0x7ff0_0000_0000_0001)))],
            },
        ]
    }

    #[test]
    fn frames_round_trip() {
        let frame = encode_frame(&events(), 4096).unwrap();
        let (header, back, len) = decode_frame(&frame).unwrap();
        assert_eq!(
            (header.first_seq, header.ring_end, len),
            (5, 4096, frame.len())
        );
        let Event::Row { values, .. } = &back[1] else {
            panic!("a row")
        };
        assert!(
            matches!(values[0].1, Value::F64(f) if f.to_bits() == 0x7ff0_0000_0000_0001)
        );
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let frame = encode_frame(&events(), 4096).unwrap();
        for at in 0..frame.len() {
            let mut bad = frame.clone();
            bad[at] ^= 0x40;
            assert!(
                decode_frame(&bad).is_err(),
                "flip at byte {at} went unnoticed"
            );
        }
        assert!(decode_frame(&frame[..frame.len() - 1])
            .unwrap_err()
            .contains("past the end"));
    }
}
