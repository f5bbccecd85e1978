//! The publish/consume protocol, end to end in one process: records come
//! back whole, in order, across wrap-around, and a full ring refuses
//! instead of overwriting. Runs under Miri (in-memory rings only).

use proptest::prelude::*;
use ringbuf_core::{Batch, ReserveError, RingFile, RingOptions, RingReader, RingWriter};

fn pair(capacity: u64) -> (RingWriter, RingReader) {
    let file = RingFile::in_memory(RingOptions::with_capacity(capacity)).unwrap();
    let reader = RingReader::new(file.share()).unwrap();
    (RingWriter::new(file), reader)
}

fn payload_for(n: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (n as usize * 31 + i) as u8).collect()
}

fn write(writer: &mut RingWriter, n: u64, len: usize) -> Result<(), ReserveError> {
    let mut slot = writer.reserve(len)?;
    slot.payload().copy_from_slice(&payload_for(n, len));
    slot.commit(1 + (n % 7) as u16);
    Ok(())
}

#[test]
fn full_ring_refuses_then_accepts_after_commit() {
    let (mut writer, mut reader) = pair(4096);
    let mut written = 0u64;
    while write(&mut writer, written, 100).is_ok() {
        written += 1;
    }
    assert_eq!(
        written,
        4096 / 112,
        "every 112-byte record fits until the ring is full"
    );
    assert!(matches!(
        writer.reserve(100),
        Err(ReserveError::Full { .. })
    ));

    let mut batch = Batch::default();
    reader.read_batch(usize::MAX, &mut batch).unwrap();
    assert_eq!(batch.len() as u64, written);
    // Reading alone frees nothing: the space is freed on commit.
    assert!(writer.reserve(100).is_err());
    reader.commit_read(batch.end_pos()).unwrap();
    write(&mut writer, written, 100).unwrap();
}

#[test]
fn record_over_the_limit_is_refused() {
    let (mut writer, _reader) = pair(4096);
    let err = writer.reserve(2000).unwrap_err();
    assert_eq!(
        err,
        ReserveError::TooLarge {
            size: 2008,
            max: 1024
        }
    );
}

#[test]
fn restarted_reader_resumes_from_the_stored_position() {
    let file = RingFile::in_memory(RingOptions::with_capacity(8192)).unwrap();
    let mut writer = RingWriter::new(file.share());
    for n in 0..10 {
        write(&mut writer, n, 40).unwrap();
    }
    let mut reader = RingReader::new(file.share()).unwrap();
    let mut batch = Batch::default();
    reader.read_batch(200, &mut batch).unwrap();
    let first = batch.len();
    reader.commit_read(batch.end_pos()).unwrap();
    drop(reader);

    let mut reader = RingReader::new(file.share()).unwrap();
    reader.read_batch(usize::MAX, &mut batch).unwrap();
    assert_eq!(first + batch.len(), 10);
    let first_again = batch.iter().next().unwrap();
    assert_eq!(first_again.payload, &payload_for(first as u64, 40)[..]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]

    /// Random record sizes and random read/commit interleavings: every
    /// record written comes back once, whole and in order.
    #[test]
    fn records_survive_wrap_around(
        ops in proptest::collection::vec((0usize..300, any::<bool>(), 1usize..4000), 1..200)
    ) {
        let (mut writer, mut reader) = pair(4096);
        let mut batch = Batch::default();
        let (mut next_write, mut next_read) = (0u64, 0u64);
        let mut lens = std::collections::VecDeque::new();
        for (len, read_now, read_bytes) in ops {
            match write(&mut writer, next_write, len) {
                Ok(()) => { lens.push_back(len); next_write += 1; }
                Err(ReserveError::Full { .. }) => {}
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
            if read_now {
                reader.read_batch(read_bytes, &mut batch).unwrap();
                for record in batch.iter() {
                    let len = lens.pop_front().unwrap();
                    prop_assert_eq!(record.kind, 1 + (next_read % 7) as u16);
                    prop_assert_eq!(record.payload, &payload_for(next_read, len)[..]);
                    next_read += 1;
                }
                reader.commit_read(batch.end_pos()).unwrap();
            }
        }
        reader.read_batch(usize::MAX, &mut batch).unwrap();
        prop_assert_eq!(next_read + batch.len() as u64, next_write);
    }
}
