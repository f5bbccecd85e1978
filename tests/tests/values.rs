//! Bad values and odd steps: floats of every class come back bit for bit
//! through ring, segments and export, and steps are stored as given.

use ringtrack::{Error, Row, Run, Value};
use ringtrack_tests::{durable_rows, Sandbox};

/// Floats that a careless encoder would change: NaNs with payloads and
/// signs, signalling NaNs, infinities, both zeros, subnormals at both ends.
fn odd_floats() -> Vec<f64> {
    [
        0x7ff8_0000_0000_0000u64, // the quiet NaN
        0xfff8_0000_0000_0000,    // negative quiet NaN
        0x7ff0_0000_0000_0001,    // signalling NaN, smallest payload
        0x7ff7_ffff_ffff_ffff,    // signalling NaN, largest payload
        0xffff_ffff_ffff_ffff,    // negative NaN, all payload bits
        0x7ff8_dead_beef_0001,    // quiet NaN with a payload
        0x7ff0_0000_0000_0000,    // +inf
        0xfff0_0000_0000_0000,    // -inf
        0x0000_0000_0000_0000,    // +0.0
        0x8000_0000_0000_0000,    // -0.0
        0x0000_0000_0000_0001,    // smallest subnormal
        0x8000_0000_0000_0001,    // smallest negative subnormal
        0x000f_ffff_ffff_ffff,    // largest subnormal
        0x0010_0000_0000_0000,    // smallest normal
        0x7fef_ffff_ffff_ffff,    // f64::MAX
        0x3ff0_0000_0000_0001,    // 1 + one ulp
    ]
    .iter()
    .map(|&b| f64::from_bits(b))
    .collect()
}

#[test]
fn every_float_class_survives_segments_and_export_bit_for_bit() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let mut run = Run::init(sandbox.settings("floats")).unwrap();
    let x = run.metric("x").unwrap();
    let floats = odd_floats();
    for (i, &f) in floats.iter().enumerate() {
        run.log_at(i as u64, &[(x, f)]).unwrap();
    }
    // The same values as named values in one row.
    let named: Vec<(String, Value)> = floats
        .iter()
        .enumerate()
        .map(|(i, &f)| (format!("f{i}"), Value::F64(f)))
        .collect();
    let borrowed: Vec<(&str, Value)> =
        named.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    run.log_named(&borrowed).unwrap();
    let id = run.id().to_owned();
    let dir = run.dir().to_owned();
    run.finish().unwrap();

    let rows = durable_rows(&dir);
    for (i, &f) in floats.iter().enumerate() {
        assert!(
            rows[i].values[0].1.bit_eq(&Value::F64(f)),
            "segments: {:#018x} came back as {:?}",
            f.to_bits(),
            rows[i].values[0].1
        );
    }
    let exported = sandbox.export_rows(&id);
    for (i, &f) in floats.iter().enumerate() {
        let Value::F64(got) = exported[i].values[0].1 else {
            panic!("row {i} exported a float")
        };
        assert_eq!(
            got.to_bits(),
            f.to_bits(),
            "export of {:#018x}",
            f.to_bits()
        );
    }
    let last = &exported[floats.len()].values;
    for (i, &f) in floats.iter().enumerate() {
        assert!(
            last[i].1.bit_eq(&Value::F64(f)),
            "named f{i}: {:?}",
            last[i].1
        );
    }
}

/// Steps are stored as given: they may go backwards, repeat, and reach
/// u64::MAX. Only the automatic step refuses to pass u64::MAX, with
/// `Error::StepOverflow`, and a refused call moves nothing.
#[test]
fn steps_are_stored_as_given_and_the_auto_step_stops_at_the_top() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let mut run = Run::init(sandbox.settings("steps")).unwrap();
    let m = run.metric("m").unwrap();
    let mut expected = Vec::new();
    for step in [10u64, 5, 5, 0, 7] {
        run.log_at(step, &[(m, step as f64)]).unwrap();
        expected.push(step);
    }
    // The automatic step follows the last step logged, not the highest.
    assert_eq!(run.log(&[(m, 8.0)]).unwrap(), 8);
    expected.push(8);
    run.log_at(u64::MAX - 1, &[(m, 1.0)]).unwrap();
    expected.push(u64::MAX - 1);
    assert_eq!(run.log(&[(m, 2.0)]).unwrap(), u64::MAX);
    expected.push(u64::MAX);
    assert!(matches!(run.log(&[(m, 3.0)]), Err(Error::StepOverflow)));
    assert!(matches!(
        run.log_named(&[("m", Value::F64(3.0))]),
        Err(Error::StepOverflow)
    ));
    let err = run.log(&[(m, 3.0)]).unwrap_err().to_string();
    assert!(err.contains("18446744073709551615"), "{err}");
    // An explicit step still works after the overflow, and u64::MAX again.
    run.log_row(&Row {
        step: Some(u64::MAX),
        timestamp_ns: Some(i64::MIN),
        values: &[("m", Value::F64(4.0))],
    })
    .unwrap();
    expected.push(u64::MAX);
    run.log_at(3, &[(m, 5.0)]).unwrap();
    expected.push(3);
    assert_eq!(run.log(&[(m, 6.0)]).unwrap(), 4);
    expected.push(4);
    let id = run.id().to_owned();
    run.finish().unwrap();

    let rows = sandbox.export_rows(&id);
    let steps: Vec<u64> = rows.iter().map(|r| r.step).collect();
    assert_eq!(steps, expected);
    let at_max = rows.iter().find(|r| r.timestamp_ns == i64::MIN).unwrap();
    assert_eq!(at_max.step, u64::MAX);
    assert_eq!(rows.len(), expected.len(), "no refused call left a row");
}
