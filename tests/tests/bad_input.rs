//! Bad input at the SDK gets a clear error naming what was wrong, and
//! loses nothing that was already logged.

use std::time::Duration;

use ringtrack::{ConfigValue, Error, Run, Value};
use ringtrack_tests::Sandbox;

fn steps(sandbox: &Sandbox, id: &str) -> Vec<u64> {
    sandbox.export_rows(id).iter().map(|r| r.step).collect()
}

#[test]
fn bad_metric_names_are_refused_and_the_run_goes_on() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let mut run = Run::init(sandbox.settings("names")).unwrap();
    let ok = run.metric("ok").unwrap();
    run.log_at(0, &[(ok, 1.0)]).unwrap();

    let long = "n".repeat(256);
    let cases: [(&str, &str); 3] = [
        ("", "may not be empty"),
        (&long, "256 bytes is longer than the 255-byte limit"),
        ("a\tb", "control character"),
    ];
    for (name, message) in cases {
        let err = run.metric(name).unwrap_err().to_string();
        assert!(err.contains(message), "{name:?}: {err}");
        let err = run
            .log_named(&[(name, 1.0.into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains(message), "{name:?}: {err}");
    }
    assert!(run.metric(&"n".repeat(255)).is_ok(), "255 bytes is allowed");

    let err = run
        .log_at(1, &[(ok, 1.0), (ok, 2.0)])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "metric \"ok\" appears twice in one row");
    let err = run
        .log_named(&[("ok", 1.0.into()), ("ok", Value::I64(2))])
        .unwrap_err();
    assert!(
        matches!(err, Error::DuplicateMetric(ref n) if n == "ok"),
        "{err}"
    );

    run.log_at(1, &[(ok, 2.0)]).unwrap();
    let id = run.id().to_owned();
    run.finish().unwrap();
    assert_eq!(
        steps(&sandbox, &id),
        [0, 1],
        "only the good rows, none lost"
    );
}

#[test]
fn too_many_metrics_is_an_error_naming_the_limit() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let mut run = Run::init(sandbox.settings("limit").max_metrics(3)).unwrap();
    run.log_named(&[("a", 1.0.into()), ("b", 2.0.into()), ("c", 3.0.into())])
        .unwrap();
    let err = run.metric("d").unwrap_err().to_string();
    assert_eq!(
        err,
        "metric \"d\" would be distinct metric number 4; a run may have 3"
    );
    run.log_named(&[("a", 4.0.into())]).unwrap();
    let id = run.id().to_owned();
    run.finish().unwrap();
    assert_eq!(sandbox.export_rows(&id).len(), 2);
}

#[test]
fn handles_from_another_run_are_refused() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let mut a = Run::init(sandbox.settings("a")).unwrap();
    let mut b = Run::init(sandbox.settings("b")).unwrap();
    let from_a = a.metric("x").unwrap();
    assert!(matches!(
        b.log(&[(from_a, 1.0)]),
        Err(Error::ForeignMetric(0))
    ));
    a.finish().unwrap();
    b.finish().unwrap();
}

#[test]
fn config_that_cannot_be_encoded_is_refused() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let mut deep = ConfigValue::Int(1);
    for _ in 0..40 {
        deep = ConfigValue::List(vec![deep]);
    }
    let err =
        Run::init(sandbox.settings("deep").config("layers", deep.clone())).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"layers\" nests 40 levels deep; the limit is 32"),
        "{err}"
    );
    assert!(
        sandbox.run_dirs().is_empty(),
        "a run that failed to start leaves nothing behind"
    );

    let mut run = Run::init(sandbox.settings("deep-later").config("ok", 1i64)).unwrap();
    run.log_named(&[("a", 1.0.into())]).unwrap();
    assert!(run
        .config("layers", deep)
        .unwrap_err()
        .to_string()
        .contains("nests 40"));
    let huge = "x".repeat(2 << 20);
    let err = run.config("blob", huge).unwrap_err().to_string();
    assert!(
        err.contains("config is") && err.contains("record limit"),
        "{err}"
    );
    let id = run.id().to_owned();
    run.finish().unwrap();
    assert_eq!(
        sandbox.ringtrack_ok(&["export", &id, "--config"]).trim(),
        "{\"ok\":1}"
    );
    assert_eq!(sandbox.export_rows(&id).len(), 1);
}

#[test]
fn an_unwritable_run_root_is_named() {
    let sandbox = Sandbox::new();
    let blocker = sandbox.root.with_file_name("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let err = Run::init(sandbox.settings("p").root(blocker.join("runs")))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("a-file/runs")
            && err.contains("cannot create the run directory root"),
        "{err}"
    );
}

#[test]
fn a_missing_service_binary_is_a_clear_error() {
    let sandbox = Sandbox::new();
    let err = Run::init(sandbox.settings("p").service_bin("/nonexistent/ringtrack"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot start /nonexistent/ringtrack"), "{err}");
    assert!(sandbox.run_dirs().is_empty());
    assert_eq!(
        std::fs::read_dir(&sandbox.ring_dir).unwrap().count(),
        0,
        "no ring left behind"
    );
}

#[test]
fn bad_ring_size_is_named() {
    let sandbox = Sandbox::new();
    let err = Run::init(sandbox.settings("p").ring_capacity(3000))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ring capacity 3000 must be a power of two"),
        "{err}"
    );
}

/// With the service gone, the ring fills; `log` waits, then gives the row
/// up with an error and counts it; once a service runs again, everything
/// that `log` accepted arrives.
#[test]
fn a_full_ring_drops_with_an_error_and_a_count_and_keeps_every_accepted_row() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let settings = sandbox
        .settings("full")
        .ring_capacity(1 << 16)
        .full_wait(Duration::from_millis(50));
    let mut run = Run::init(settings).unwrap();
    let m = run.metric("m").unwrap();
    service.kill();

    let mut accepted = Vec::new();
    let mut first_error = None;
    for step in 0..10_000u64 {
        match run.log_at(step, &[(m, step as f64)]) {
            Ok(()) => accepted.push(step),
            Err(err) => {
                first_error = Some((step, err));
                break;
            }
        }
    }
    let (failed_step, err) = first_error.expect("a 64 KiB ring fills");
    assert!(matches!(err, Error::RingFull { dropped: 1, .. }), "{err}");
    assert!(err.to_string().contains("ring is full"), "{err}");
    // A second call fails at once instead of waiting again: it reports
    // that it waited not at all.
    let second = run.log_at(failed_step, &[(m, 0.0)]).unwrap_err();
    assert!(
        matches!(second, Error::RingFull { dropped: 2, waited } if waited == Duration::ZERO),
        "{second:?}"
    );
    assert_eq!(run.counters().dropped, 2);

    // Once a service drains the ring again, logging works again.
    let _service = sandbox.start_service(&[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while run.counters().backlog_bytes > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new service never drained"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    run.log_at(failed_step, &[(m, failed_step as f64)]).unwrap();
    accepted.push(failed_step);
    let id = run.id().to_owned();
    run.finish().unwrap();
    assert_eq!(steps(&sandbox, &id), accepted);
    let status = sandbox.ringtrack_ok(&["status"]);
    assert!(
        status
            .lines()
            .any(|l| l.contains(&id) && l.split_whitespace().nth(5) == Some("2")),
        "{status}"
    );
}

#[test]
fn finish_times_out_without_a_service_and_nothing_is_lost() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let mut run = Run::init(sandbox.settings("late")).unwrap();
    let m = run.metric("m").unwrap();
    service.kill();
    for step in 0..100u64 {
        run.log_at(step, &[(m, step as f64)]).unwrap();
    }
    let id = run.id().to_owned();
    let err = run.finish_with(0, Duration::from_millis(100)).unwrap_err();
    assert!(matches!(err, Error::FinishTimeout { .. }), "{err}");
    assert!(err.to_string().contains("the data stays there"), "{err}");

    // The next service finds the run in its registry and drains it.
    let _service = sandbox.start_service(&[]);
    let dir = sandbox.root.join(&id);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(dir.join("state.json"))
        .unwrap_or_default()
        .contains("\"finished\"")
    {
        assert!(std::time::Instant::now() < deadline, "run never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(steps(&sandbox, &id), (0..100).collect::<Vec<_>>());
}
