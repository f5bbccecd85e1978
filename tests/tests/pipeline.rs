//! The whole local pipeline with real processes: trainers log through the
//! ring, the service (its own process) makes the rows durable, and the CLI
//! gives them back exactly.

use std::process::Command;

use ringtrack::{Mode, Row, Run, Value};
use ringtrack_tests::{bin_path, example_path, Sandbox};

fn trainer(sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(bin_path("trainer"));
    command.args(args);
    sandbox.env(&mut command);
    command.output().expect("run trainer")
}

#[test]
fn training_example_logs_a_falling_loss() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let mut command = Command::new(example_path("train"));
    sandbox.env(&mut command);
    command.env("RINGTRACK_EPOCHS", "120");
    let out = command.output().expect("run the example");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dirs = sandbox.run_dirs();
    assert_eq!(dirs.len(), 1);
    let id = dirs[0].file_name().unwrap().to_str().unwrap().to_owned();
    let rows = sandbox.export_rows(&id);
    assert_eq!(rows.len(), 120);
    let loss = |i: usize| match rows[i].values.iter().find(|(k, _)| k == "train/loss") {
        Some((_, Value::F64(f))) => *f,
        other => panic!("row {i} has no float train/loss: {other:?}"),
    };
    assert!(
        (loss(0) - std::f64::consts::LN_2).abs() < 1e-9,
        "starts at ln 2: {}",
        loss(0)
    );
    assert!(
        loss(119) < loss(0) / 4.0,
        "loss falls: {} -> {}",
        loss(0),
        loss(119)
    );
    assert!(
        rows.windows(2).all(|w| w[1].step == w[0].step + 1),
        "steps are 0, 1, 2, ..."
    );

    let config = sandbox.ringtrack_ok(&["export", &id, "--config"]);
    assert!(config.contains("\"lr\":0.1"), "{config}");
    let listing = sandbox.ringtrack_ok(&["ls"]);
    assert!(
        listing.contains(&id)
            && listing.contains("finished")
            && listing.contains(" 120 "),
        "{listing}"
    );
}

#[test]
fn odd_floats_and_every_value_kind_come_back_bit_exact() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let mut run = Run::init(sandbox.settings("floats")).unwrap();
    let odd = [
        f64::NAN,
        f64::from_bits(0x7ff8_0000_0000_0abc),
        f64::from_bits(0xfff0_0000_0000_0001),
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        f64::MIN_POSITIVE / 1024.0,
        f64::MAX,
        f64::MIN,
        1.6226933508321501e24,
        -2.6e-06,
    ];
    let x = run.metric("x").unwrap();
    for (i, &f) in odd.iter().enumerate() {
        run.log_at(i as u64, &[(x, f)]).unwrap();
    }
    run.log_named(&[
        ("int", Value::I64(i64::MIN)),
        ("text", Value::Text("59h:30m:19s, \"quoted\"\n".into())),
        ("x", Value::F64(0.5)),
    ])
    .unwrap();
    run.summary("best", f64::NEG_INFINITY).unwrap();
    let id = run.id().to_owned();
    run.finish().unwrap();

    let rows = sandbox.export_rows(&id);
    assert_eq!(rows.len(), odd.len() + 1);
    for (i, &f) in odd.iter().enumerate() {
        let Value::F64(got) = rows[i].values[0].1 else {
            panic!("row {i} is a float")
        };
        assert_eq!(
            got.to_bits(),
            f.to_bits(),
            "row {i}: {f:?} came back {got:?}"
        );
    }
    let last = &rows[odd.len()].values;
    assert_eq!(last[0], ("int".into(), Value::I64(i64::MIN)));
    assert_eq!(
        last[1],
        (
            "text".into(),
            Value::Text("59h:30m:19s, \"quoted\"\n".into())
        )
    );
    assert_eq!(
        rows[odd.len()].step,
        odd.len() as u64,
        "auto step follows the last explicit one"
    );

    let csv = sandbox.ringtrack_ok(&["export", &id, "--format", "csv"]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("step,timestamp_ns,x,int,text"));
    assert!(lines.next().unwrap().ends_with(",NaN,,"));
    assert!(lines.next().unwrap().ends_with(",NaN:0x7ff8000000000abc,,"));
    assert!(csv.contains(",-0.0,"), "{csv}");
    assert!(csv.contains("\"59h:30m:19s, \"\"quoted\"\"\n\""), "{csv}");
    let summary = sandbox.ringtrack_ok(&["export", &id, "--summary"]);
    assert!(summary.contains("\"best\":\"-Infinity\""), "{summary}");
}

#[test]
fn the_sdk_starts_a_service_when_none_runs() {
    let sandbox = Sandbox::new();
    assert!(std::os::unix::net::UnixStream::connect(sandbox.socket()).is_err());
    let mut run = Run::init(sandbox.settings("autostart")).unwrap();
    let m = run.metric("m").unwrap();
    for step in 0..1000 {
        run.log(&[(m, step as f64)]).unwrap();
    }
    let id = run.id().to_owned();
    let report = run.finish().unwrap();
    assert_eq!(report.rows, 1000);
    assert_eq!(sandbox.export_rows(&id).len(), 1000);

    let status = sandbox.ringtrack_ok(&["status"]);
    assert!(
        status.contains(&id) && status.contains("finished"),
        "{status}"
    );
    let stopped = sandbox.ringtrack_ok(&["service", "--stop"]);
    assert!(stopped.contains("service stopped"), "{stopped}");
    let out = sandbox.ringtrack(&["status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no service running"));
}

#[test]
fn a_second_service_is_refused_by_name() {
    let sandbox = Sandbox::new();
    let first = sandbox.start_service(&[]);
    let out =
        sandbox.ringtrack(&["service", "--dir", sandbox.service_dir.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another ringtrack service is already running")
            && stderr.contains(&format!("pid {}", first.pid())),
        "{stderr}"
    );
    // The first one still serves.
    let mut run = Run::init(sandbox.settings("still-serving")).unwrap();
    run.log_named(&[("a", 1.0.into())]).unwrap();
    run.finish().unwrap();
}

#[test]
fn trainer_exit_without_finish_is_marked_crashed_with_its_rows() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let out = trainer(&sandbox, &["500", "--then", "exit"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let id = dir.rsplit('/').next().unwrap().to_owned();

    // The service notices the trainer's end and closes the run.
    let state_path = std::path::Path::new(&dir).join("state.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&state_path).unwrap_or_default();
        if text.contains("\"crashed\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run not marked crashed: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let rows = sandbox.export_rows(&id);
    assert_eq!(rows.len(), 500);
    assert!(rows
        .iter()
        .enumerate()
        .all(|(i, r)| r.step == i as u64
            && r.values[1].1 == Value::F64((i * 1000 + 1) as f64)));
    let listing = sandbox.ringtrack_ok(&["ls"]);
    assert!(listing.contains("crashed"), "{listing}");
}

#[test]
fn failed_runs_keep_their_exit_code() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let run = Run::init(sandbox.settings("fails")).unwrap();
    let id = run.id().to_owned();
    let report = run
        .finish_with(7, std::time::Duration::from_secs(30))
        .unwrap();
    assert_eq!(report.exit_code, 7);
    let listing = sandbox.ringtrack_ok(&["ls"]);
    assert!(
        listing.contains(&id) && listing.contains("failed (7)"),
        "{listing}"
    );
}

#[test]
fn service_restart_resumes_without_loss_or_duplicates() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let mut run = Run::init(sandbox.settings("restart")).unwrap();
    let m = run.metric("m").unwrap();
    for step in 0..3000u64 {
        run.log_at(step, &[(m, step as f64)]).unwrap();
    }
    service.kill();
    // The trainer keeps logging into the ring while no service runs.
    for step in 3000..6000u64 {
        run.log_at(step, &[(m, step as f64)]).unwrap();
    }
    let _service = sandbox.start_service(&[]);
    let id = run.id().to_owned();
    run.finish().unwrap();
    let steps: Vec<u64> = sandbox.export_rows(&id).iter().map(|r| r.step).collect();
    assert_eq!(steps, (0..6000).collect::<Vec<_>>());
    assert!(sandbox.ringtrack_ok(&["verify", &id]).starts_with("ok:"));
}

#[test]
fn torn_segment_tail_is_cut_and_reported_on_restart() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let mut run = Run::init(sandbox.settings("torn")).unwrap();
    let m = run.metric("m").unwrap();
    for step in 0..100u64 {
        run.log_at(step, &[(m, step as f64)]).unwrap();
    }
    // Wait until the service holds all of it, then stop it and tear the tail
    // as a crash in the middle of a write would.
    while run.counters().backlog_bytes > 0 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    service.kill();
    let segment = run.dir().join("segments").join("00000000.seg");
    let good_len = std::fs::metadata(&segment).unwrap().len();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(b"RTF\x01half a frame");
    std::fs::write(&segment, &bytes).unwrap();

    let service = sandbox.start_service(&[]);
    for step in 100..200u64 {
        run.log_at(step, &[(m, step as f64)]).unwrap();
    }
    let id = run.id().to_owned();
    run.finish().unwrap();
    let log = service.terminate();
    assert!(
        log.contains("cut torn segment tail") && log.contains("bytes=16"),
        "{log}"
    );
    assert!(std::fs::metadata(&segment).unwrap().len() > good_len);
    let steps: Vec<u64> = sandbox.export_rows(&id).iter().map(|r| r.step).collect();
    assert_eq!(steps, (0..200).collect::<Vec<_>>());
}

#[test]
fn offline_and_disabled_modes() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let mut run = Run::init(sandbox.settings("offline").mode(Mode::Offline)).unwrap();
    run.log_row(&Row {
        step: Some(5),
        timestamp_ns: Some(42),
        values: &[("a", 1.0.into())],
    })
    .unwrap();
    let id = run.id().to_owned();
    run.finish().unwrap();
    let rows = sandbox.export_rows(&id);
    assert_eq!((rows[0].step, rows[0].timestamp_ns), (5, 42));
    assert!(sandbox.ringtrack_ok(&["ls"]).contains("offline"));

    let before = sandbox.run_dirs().len();
    let mut run = Run::init(sandbox.settings("off").mode(Mode::Disabled)).unwrap();
    run.log_named(&[("a", 1.0.into())]).unwrap();
    run.finish().unwrap();
    assert_eq!(
        sandbox.run_dirs().len(),
        before,
        "a disabled run writes nothing"
    );
}

#[test]
fn threads_share_one_run() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let run = Run::init(sandbox.settings("threads")).unwrap().shared();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let run = run.clone();
            std::thread::spawn(move || {
                let m = run.metric(&format!("thread{t}")).unwrap();
                for i in 0..500 {
                    run.log(&[(m, f64::from(i))]).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let report = run
        .finish_with(0, std::time::Duration::from_secs(30))
        .unwrap();
    assert_eq!(report.rows, 2000);
    let rows = sandbox.export_rows(&report.id);
    assert_eq!(rows.len(), 2000);
    for t in 0..4 {
        let name = format!("thread{t}");
        let seen: Vec<f64> = rows
            .iter()
            .filter_map(|r| match r.values.first() {
                Some((k, Value::F64(f))) if *k == name => Some(*f),
                _ => None,
            })
            .collect();
        assert_eq!(
            seen,
            (0..500).map(f64::from).collect::<Vec<_>>(),
            "{name} in order"
        );
    }
}
