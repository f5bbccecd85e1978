//! Rings whose bytes lie: the reader answers with an error that names the
//! fault, and never panics or reads out of bounds.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use ringbuf_core::layout::{offset, HEADER_SIZE};
use ringbuf_core::{Batch, RingError, RingFile, RingOptions, RingReader, RingWriter};

fn ring_with_records(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("ring");
    let mut writer = RingWriter::new(
        RingFile::create(&path, RingOptions::with_capacity(8192)).unwrap(),
    );
    for n in 0..4u8 {
        let mut slot = writer.reserve(20).unwrap();
        slot.payload().fill(n);
        slot.commit(2);
    }
    path
}

fn poke(path: &std::path::Path, at: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, at).unwrap();
}

fn read_all(path: &std::path::Path) -> Result<usize, RingError> {
    let mut reader = RingReader::new(RingFile::open(path)?)?;
    let mut batch = Batch::default();
    reader.read_batch(usize::MAX, &mut batch)?;
    Ok(batch.len())
}

#[test]
fn an_honest_ring_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_all(&ring_with_records(dir.path())).unwrap(), 4);
}

#[test]
fn record_length_past_the_published_data_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring_with_records(dir.path());
    poke(&path, HEADER_SIZE as u64 + 32, &5000u32.to_le_bytes());
    let err = read_all(&path).unwrap_err().to_string();
    assert!(
        err.contains("position 32") && err.contains("length 5000"),
        "{err}"
    );
}

#[test]
fn write_position_far_ahead_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring_with_records(dir.path());
    poke(&path, offset::WRITE_POS as u64, &(1u64 << 40).to_le_bytes());
    let err = read_all(&path).unwrap_err().to_string();
    assert!(err.contains("not within one capacity"), "{err}");
}

#[test]
fn write_position_moving_backwards_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring_with_records(dir.path());
    let mut reader = RingReader::new(RingFile::open(&path).unwrap()).unwrap();
    let mut batch = Batch::default();
    reader.read_batch(usize::MAX, &mut batch).unwrap();
    poke(&path, offset::WRITE_POS as u64, &8u64.to_le_bytes());
    let err = reader
        .read_batch(usize::MAX, &mut batch)
        .unwrap_err()
        .to_string();
    assert!(err.contains("moved backwards"), "{err}");
}

#[test]
fn garbage_and_truncated_files_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, vec![0xAB; HEADER_SIZE + 4096]).unwrap();
    let err = read_all(&garbage).unwrap_err().to_string();
    assert!(err.contains("garbage") && err.contains("magic"), "{err}");

    let path = ring_with_records(dir.path());
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(HEADER_SIZE as u64 + 100).unwrap();
    let err = read_all(&path).unwrap_err().to_string();
    assert!(err.contains("capacity of 8192"), "{err}");
}

#[test]
fn file_shrunk_under_the_mapping_is_caught_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring_with_records(dir.path());
    let mut reader = RingReader::new(RingFile::open(&path).unwrap()).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(HEADER_SIZE as u64)
        .unwrap();
    let mut batch = Batch::default();
    let err = reader
        .read_batch(usize::MAX, &mut batch)
        .unwrap_err()
        .to_string();
    assert!(err.contains("changed size"), "{err}");
}

#[test]
fn wrong_version_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = ring_with_records(dir.path());
    poke(&path, offset::VERSION as u64, &99u32.to_le_bytes());
    let err = read_all(&path).unwrap_err().to_string();
    assert!(err.contains("format version is 99"), "{err}");
}

#[test]
fn header_changed_while_mapped_is_named() {
    for (at, bytes, field) in [
        (offset::MAGIC, &b"XX"[..], "magic"),
        (offset::VERSION, &2u32.to_le_bytes()[..], "format version"),
        (
            offset::CAPACITY,
            &(1u64 << 20).to_le_bytes()[..],
            "capacity",
        ),
        (offset::RING_ID, &7u64.to_le_bytes()[..], "ring id"),
        (
            offset::MAX_RECORD,
            &16u32.to_le_bytes()[..],
            "max record size",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = ring_with_records(dir.path());
        let mut reader = RingReader::new(RingFile::open(&path).unwrap()).unwrap();
        let mut batch = Batch::default();
        reader.read_batch(usize::MAX, &mut batch).unwrap();
        poke(&path, at as u64, bytes);
        let err = reader
            .read_batch(usize::MAX, &mut batch)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("header changed while mapped")
                && err.contains(field)
                && err.contains(path.to_str().unwrap()),
            "{field}: {err}"
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

    /// Random bytes written anywhere in a ring, before or between batches:
    /// the reader returns records or an error, and never panics or reads
    /// out of bounds.
    #[test]
    fn random_damage_is_an_error_or_records_never_a_panic(
        before in proptest::collection::vec((0u64..(HEADER_SIZE as u64 + 8192), proptest::prelude::any::<u8>()), 0..16),
        between in proptest::collection::vec((128u64..400, proptest::prelude::any::<u8>()), 0..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = ring_with_records(dir.path());
        for (at, byte) in before {
            poke(&path, at, &[byte]);
        }
        let Ok(file) = RingFile::open(&path) else { return Ok(()) };
        let Ok(mut reader) = RingReader::new(file) else { return Ok(()) };
        let mut batch = Batch::default();
        if reader.read_batch(usize::MAX, &mut batch).is_err() {
            return Ok(());
        }
        for record in batch.iter() {
            proptest::prop_assert!(record.payload.len() <= 8192);
        }
        let end = batch.end_pos();
        proptest::prop_assert!(reader.commit_read(end).is_ok());
        for (at, byte) in between {
            poke(&path, at, &[byte]);
        }
        let _ = reader.read_batch(usize::MAX, &mut batch);
    }
}
