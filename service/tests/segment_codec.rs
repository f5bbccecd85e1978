//! Property tests of the segment frame codec and the segment scanner:
//! whatever events go in come out bit for bit, and no byte string, however
//! hostile, makes decoding panic or read past what it was given.

use proptest::prelude::*;
use ringtrack::Value;
use ringtrack_service::event::Event;
use ringtrack_service::segment::{
    decode_frame, encode_frame, scan_segment, FileHeader, FILE_HEADER_LEN,
    FRAME_HEADER_LEN,
};

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(|b| Value::F64(f64::from_bits(b))),
        any::<i64>().prop_map(Value::I64),
        ".{0,40}".prop_map(Value::Text),
    ]
}

/// An event of any kind, numbered `seq`.
fn event(seq: u64) -> impl Strategy<Value = Event> {
    prop_oneof![
        (any::<u32>(), "[a-z/_.]{1,30}").prop_map(move |(id, name)| Event::Metric {
            seq,
            id,
            name
        }),
        (
            any::<u64>(),
            any::<i64>(),
            proptest::collection::vec((any::<u32>(), value()), 0..12)
        )
            .prop_map(move |(step, timestamp_ns, values)| Event::Row {
                seq,
                step,
                timestamp_ns,
                values
            }),
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(move |wire| Event::Config { seq, wire }),
        proptest::collection::vec(("[a-z]{1,8}", value()), 0..4)
            .prop_map(move |entries| Event::Summary { seq, entries }),
        any::<i32>().prop_map(move |exit_code| Event::Finish { seq, exit_code }),
    ]
}

/// 1 to 39 events numbered from `first`.
fn events(first: u64) -> impl Strategy<Value = Vec<Event>> {
    (1u64..40)
        .prop_flat_map(move |n| (0..n).map(|i| event(first + i)).collect::<Vec<_>>())
}

/// Bit-exact comparison: the postcard bytes of both (f64 `==` would call
/// NaN unequal to itself and -0.0 equal to 0.0).
fn same(a: &[Event], b: &[Event]) -> bool {
    postcard::to_stdvec(a).unwrap() == postcard::to_stdvec(b).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frames_round_trip_bit_exactly(
        (first, events) in (0u64..u64::MAX / 2).prop_flat_map(|f| (Just(f), events(f))),
        ring_end in any::<u64>(),
    ) {
        let frame = encode_frame(&events, ring_end).unwrap();
        let (header, back, len) = decode_frame(&frame).unwrap();
        prop_assert_eq!(len, frame.len());
        prop_assert_eq!(header.first_seq, first);
        prop_assert_eq!(header.ring_end, ring_end);
        prop_assert_eq!(header.count as usize, events.len());
        prop_assert!(same(&events, &back));
    }

    /// Any change to a frame's bytes and any cut is an error, not a panic
    /// and not a different frame.
    #[test]
    fn damaged_frames_are_errors(
        events in events(3),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let frame = encode_frame(&events, 4096).unwrap();
        let mut bad = frame.clone();
        let i = at.index(bad.len());
        bad[i] ^= xor;
        prop_assert!(decode_frame(&bad).is_err(), "flip at {} of {}", i, frame.len());
        let n = cut.index(frame.len());
        prop_assert!(decode_frame(&frame[..n]).is_err(), "cut at {}", n);
    }

    /// Arbitrary bytes, alone or behind a frame magic: decoding returns,
    /// and a success claims no more than it was given.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        magic in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if magic && bytes.len() >= 4 {
            bytes[..4].copy_from_slice(b"RTF\x01");
        }
        if let Ok((_, _, len)) = decode_frame(&bytes) {
            prop_assert!(len <= bytes.len() && len >= FRAME_HEADER_LEN);
        }
    }

    /// A segment of good frames followed by random bytes: the scan returns
    /// exactly the good frames' events and stops where the last one ends.
    #[test]
    fn scans_keep_the_good_prefix_and_stop_at_the_first_bad_byte(
        batches in proptest::collection::vec(1usize..6, 1..5),
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000.seg");
        let mut bytes = FileHeader { ring_id: 9 }.encode().to_vec();
        let mut all = Vec::new();
        let mut seq = 0u64;
        for n in batches {
            let events: Vec<Event> = (0..n)
                .map(|i| Event::Finish { seq: seq + i as u64, exit_code: i as i32 })
                .collect();
            seq += n as u64;
            bytes.extend(encode_frame(&events, seq * 8).unwrap());
            all.extend(events);
        }
        let good = bytes.len();
        bytes.extend(&tail);
        std::fs::write(&path, &bytes).unwrap();
        let report = scan_segment(&path).unwrap();
        // Random bytes could only extend the good prefix by forming a
        // frame whose CRC-32C checks: 2^-32 per try.
        prop_assert_eq!(report.valid_len as usize, good);
        prop_assert!(report.valid_len <= report.file_len);
        prop_assert!(report.valid_len as usize >= FILE_HEADER_LEN);
        prop_assert!(same(&report.events, &all));
        prop_assert_eq!(report.problem.is_some(), !tail.is_empty());
    }
}
