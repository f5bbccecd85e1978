//! The ring reader over arbitrary bytes, the way the service meets them: a
//! file it maps, validates and drains, changed again between batches.
//!
//! Input: one mode byte, then bytes. Mode even: the bytes are the whole
//! file (header validation). Mode odd: a valid 4 KiB-capacity header is
//! kept, the first 16 bytes set the write and read positions, the next
//! 4096 fill the data region, and whatever is left is written over the
//! positions and the data between two batches.
#![no_main]

use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ringbuf_core::layout::{offset, HEADER_SIZE};
use ringbuf_core::{Batch, RingFile, RingOptions, RingReader};

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

fn drain(reader: &mut RingReader, batch: &mut Batch) -> bool {
    for _ in 0..4 {
        match reader.read_batch(1 << 12, batch) {
            Ok(()) if batch.is_empty() => return true,
            Ok(()) => {
                for record in batch.iter() {
                    assert!(record.end > record.pos && record.payload.len() < 4096);
                }
                if reader.commit_read(batch.end_pos()).is_err() {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let path = scratch().path().join("ring");
    let _ = std::fs::remove_file(&path);
    let mut tail: &[u8] = &[];
    if mode % 2 == 0 {
        std::fs::write(&path, rest).unwrap();
    } else {
        drop(RingFile::create(&path, RingOptions::with_capacity(4096)).unwrap());
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let (positions, body) = rest.split_at(rest.len().min(16));
        file.write_all_at(positions, offset::WRITE_POS as u64).unwrap();
        let (region, left) = body.split_at(body.len().min(4096));
        file.write_all_at(region, HEADER_SIZE as u64).unwrap();
        tail = left;
    }
    let Ok(ring) = RingFile::open(&path) else {
        return;
    };
    let Ok(mut reader) = RingReader::new(ring) else {
        return;
    };
    let mut batch = Batch::default();
    if !drain(&mut reader, &mut batch) || tail.is_empty() {
        return;
    }
    // Change the shared bytes under the live mapping, then read again.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let (at, bytes) = tail.split_at(tail.len().min(2));
    let at = u16::from_le_bytes([at[0], *at.get(1).unwrap_or(&0)]) as u64;
    let _ = file.write_all_at(bytes, (offset::WRITE_POS as u64 + at) % (HEADER_SIZE as u64 + 4096));
    drain(&mut reader, &mut batch);
});
