//! Segment decoding over arbitrary bytes. Nothing may panic, and what
//! decodes must encode back to a frame that decodes the same.
//!
//! Each input is tried four ways: as a frame as it is; as the body of a
//! frame with a correct header and checksum (so the fuzzer reaches lz4
//! without forging a CRC); as the uncompressed body of such a frame (so it
//! reaches the postcard decoding of events); and as a segment file's bytes
//! after a valid file header, through `scan_segment`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ringtrack_service::segment::{
    decode_frame, encode_frame, scan_segment, FileHeader, FRAME_HEADER_LEN,
};

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        };
        tempfile::Builder::new()
            .prefix("rt-fuzz-")
            .tempdir_in(base)
            .unwrap()
    })
}

/// A frame around `body` whose header and checksum are right.
fn framed(body: &[u8], raw_len: u32, count: u32, first_seq: u64) -> Vec<u8> {
    let mut frame = vec![0u8; FRAME_HEADER_LEN];
    frame[..4].copy_from_slice(b"RTF\x01");
    frame[4..8].copy_from_slice(&(body.len() as u32).to_le_bytes());
    frame[8..12].copy_from_slice(&raw_len.to_le_bytes());
    frame[12..16].copy_from_slice(&count.to_le_bytes());
    frame[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&frame[..32]), body);
    frame[32..36].copy_from_slice(&crc.to_le_bytes());
    frame.extend_from_slice(body);
    frame
}

fn check(bytes: &[u8]) {
    if let Ok((header, events, len)) = decode_frame(bytes) {
        assert!(len <= bytes.len());
        let again = encode_frame(&events, header.ring_end).unwrap();
        let (_, back, _) = decode_frame(&again).unwrap();
        assert_eq!(back.len(), events.len());
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);

    if data.len() >= 8 {
        let (head, body) = data.split_at(8);
        // Bounded so one input cannot make every run allocate megabytes.
        let raw_len = u32::from(u16::from_le_bytes([head[0], head[1]])) << (head[2] % 5);
        let count = u32::from(head[3]);
        let first_seq = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        check(&framed(body, raw_len, count, first_seq));
        let compressed = lz4_flex::block::compress(body);
        check(&framed(&compressed, body.len() as u32, count, first_seq));
    }

    let path = scratch().path().join("00000000.seg");
    let mut file = FileHeader { ring_id: 1 }.encode().to_vec();
    file.extend_from_slice(data);
    std::fs::write(&path, &file).unwrap();
    let report = scan_segment(&path).unwrap();
    assert!(report.valid_len <= report.file_len);
    assert_eq!(report.problem.is_none(), report.valid_len == report.file_len);
});
