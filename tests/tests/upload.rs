//! Uploads to a real MLflow server (started by `scripts/test`), read back
//! over MLflow's REST API: every point arrives exactly once, through
//! crashes, outages and injected faults.

use std::time::{Duration, Instant};

use ringtrack::{ConfigValue, Mode, Run, Value};
use ringtrack_tests::mlflow::{entry, MlflowServer, StoredPoint};
use ringtrack_tests::proxy::{free_port, Fault, FaultProxy};
use ringtrack_tests::Sandbox;
use serde_json::Value as Json;

/// Service settings that make retries quick enough for tests.
const FAST_RETRIES: [(&str, &str); 4] = [
    ("RINGTRACK_UPLOAD_ATTEMPTS", "4"),
    ("RINGTRACK_UPLOAD_BACKOFF_MS", "50"),
    ("RINGTRACK_UPLOAD_MAX_BACKOFF_MS", "1500"),
    ("RINGTRACK_UPLOAD_TIMEOUT_MS", "15000"),
];

fn project(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn upload_complete(run_dir: &std::path::Path) -> bool {
    std::fs::read_to_string(run_dir.join("upload.json"))
        .is_ok_and(|t| t.contains("\"complete\": true"))
}

/// Logs `rows` rows of four metrics whose values say their step.
fn simple_run(
    sandbox: &Sandbox,
    project: &str,
    uri: &str,
    rows: u64,
) -> (String, std::path::PathBuf) {
    let mut run = Run::init(sandbox.settings(project).tracking_uri(uri)).unwrap();
    let metrics: Vec<_> = (0..4)
        .map(|i| run.metric(&format!("m{i}")).unwrap())
        .collect();
    for step in 0..rows {
        let row: Vec<_> = metrics
            .iter()
            .enumerate()
            .map(|(i, &m)| (m, (step * 10 + i as u64) as f64))
            .collect();
        run.log_at(step, &row).unwrap();
    }
    let (id, dir) = (run.id().to_owned(), run.dir().to_owned());
    run.finish().unwrap();
    (id, dir)
}

/// Checks that every point of `simple_run` is on the server exactly once.
fn assert_simple_run_stored(
    server: &MlflowServer,
    project: &str,
    id: &str,
    rows: u64,
    except: &[u64],
) {
    let run = server
        .run_of(project, id)
        .expect("the run is on the server");
    let run_id = run["info"]["run_id"].as_str().unwrap();
    for i in 0..4u64 {
        let mut history = server.history(run_id, &format!("m{i}"));
        history.sort_by_key(|p| p.step);
        let steps: Vec<i64> = history.iter().map(|p| p.step).collect();
        let expected: Vec<i64> = (0..rows)
            .filter(|s| !except.contains(s))
            .map(|s| s as i64)
            .collect();
        assert_eq!(
            steps.len(),
            expected.len(),
            "m{i}: point count (duplicates or losses)"
        );
        assert_eq!(steps, expected, "m{i}: steps");
        assert!(
            history
                .iter()
                .all(|p| p.value == (p.step as u64 * 10 + i) as f64),
            "m{i}: values"
        );
    }
}

#[test]
fn a_run_arrives_with_every_point_its_params_and_its_status() {
    let server = MlflowServer::from_env();
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service_with(&[], &FAST_RETRIES);
    let project = project("mapping");
    let settings = sandbox
        .settings(&project)
        .run_name("mapping-run")
        .tracking_uri(&server.uri)
        .config("lr", 0.1)
        .config(
            "model",
            ConfigValue::map([
                ("layers", ConfigValue::from(vec![64i64, 32])),
                ("act", "relu".into()),
            ]),
        );
    let mut run = Run::init(settings).unwrap();
    let values = [
        1.5,
        f64::NAN,
        -0.0,
        5e-324,
        1.6226933508321501e24,
        f64::INFINITY,
        -2.6e-06,
    ];
    let x = run.metric("x").unwrap();
    for (step, &v) in values.iter().enumerate() {
        run.log_at(step as u64, &[(x, v)]).unwrap();
    }
    run.log_named(&[
        ("best@16", Value::I64(3)),
        ("eta", Value::Text("59h:30m".into())),
        ("big", Value::I64(i64::MAX)),
    ])
    .unwrap();
    run.log_at(u64::MAX, &[(x, 9.0)]).unwrap();
    run.config("lr", 0.05).unwrap();
    run.summary("best", 0.97).unwrap();
    let (id, dir) = (run.id().to_owned(), run.dir().to_owned());
    run.finish().unwrap();
    wait_for("the upload", Duration::from_secs(180), || {
        upload_complete(&dir)
    });

    let stored = server.run_of(&project, &id).expect("run on the server");
    let run_id = stored["info"]["run_id"].as_str().unwrap().to_owned();
    let data = server.run_data(&run_id);
    assert_eq!(data["info"]["status"], "FINISHED");
    assert_eq!(data["info"]["run_name"], "mapping-run");

    // Floats as logged, NaN included; the infinity and the u64::MAX step
    // are not stored (MLflow would change them) and are counted instead.
    let history = server.history(&run_id, "x");
    let expected: Vec<StoredPoint> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite() || v.is_nan())
        .map(|(step, &v)| StoredPoint {
            step: step as i64,
            value: v,
            timestamp_ms: 0,
        })
        .collect();
    assert_eq!(history.len(), expected.len(), "{history:?}");
    for (got, want) in history.iter().zip(&expected) {
        assert_eq!(got.step, want.step);
        if want.value.is_nan() {
            assert!(got.value.is_nan());
        } else if want.value == 0.0 {
            assert_eq!(got.value, 0.0, "-0.0 is stored as 0.0");
        } else {
            assert_eq!(
                got.value.to_bits(),
                want.value.to_bits(),
                "step {}",
                got.step
            );
        }
    }
    let renamed = server.history(&run_id, "best_16");
    assert_eq!(renamed.iter().map(|p| p.value).collect::<Vec<_>>(), [3.0]);
    assert!(
        server.history(&run_id, "big").is_empty(),
        "an i64 a float cannot hold is not sent"
    );

    let params = &data["data"]["params"];
    assert_eq!(
        entry(params, "lr"),
        Some("0.1"),
        "a param keeps its first value"
    );
    assert_eq!(entry(params, "model.layers"), Some("[64,32]"));
    assert_eq!(entry(params, "model.act"), Some("relu"));
    let tags = &data["data"]["tags"];
    assert_eq!(
        entry(tags, "config/lr"),
        Some("0.05"),
        "a changed value is a tag"
    );
    assert_eq!(entry(tags, "text/eta"), Some("59h:30m"));
    assert_eq!(entry(tags, "summary/best"), Some("0.97"));
    assert_eq!(
        entry(tags, "ringtrack.original_name/best_16"),
        Some("best@16")
    );
    assert_eq!(entry(tags, "ringtrack.skipped.infinite"), Some("1"));
    assert_eq!(entry(tags, "ringtrack.skipped.inexact_int"), Some("1"));
    assert_eq!(entry(tags, "ringtrack.skipped.step"), Some("1"));
    assert_eq!(entry(tags, "ringtrack.run_id"), Some(id.as_str()));
    assert!(sandbox
        .ringtrack_ok(&["ls"])
        .lines()
        .any(|l| l.starts_with(&id) && l.ends_with("done")));
}

#[test]
fn a_crashed_trainer_becomes_a_failed_run_tagged_crashed() {
    let server = MlflowServer::from_env();
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service_with(&[], &FAST_RETRIES);
    let project = project("crashed");
    let mut command = std::process::Command::new(ringtrack_tests::bin_path("trainer"));
    sandbox.env(&mut command);
    command
        .args(["200", "--then", "exit"])
        .env("MLFLOW_TRACKING_URI", &server.uri);
    command.env("RINGTRACK_TRAINER_PROJECT", &project);
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let dir = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let id = dir.file_name().unwrap().to_str().unwrap().to_owned();
    wait_for("the upload", Duration::from_secs(180), || {
        upload_complete(&dir)
    });
    let stored = server.run_of(&project, &id).expect("run on the server");
    let data = server.run_data(stored["info"]["run_id"].as_str().unwrap());
    assert_eq!(data["info"]["status"], "FAILED");
    assert_eq!(
        entry(&data["data"]["tags"], "ringtrack.crashed"),
        Some("true")
    );
    assert_eq!(
        server
            .history(stored["info"]["run_id"].as_str().unwrap(), "m0")
            .len(),
        200
    );
}

#[test]
fn offline_runs_stay_local_until_synced_and_sync_twice_adds_nothing() {
    let server = MlflowServer::from_env();
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let project = project("offline");
    let mut run = Run::init(
        sandbox
            .settings(&project)
            .mode(Mode::Offline)
            .tracking_uri(&server.uri),
    )
    .unwrap();
    let m: Vec<_> = (0..4)
        .map(|i| run.metric(&format!("m{i}")).unwrap())
        .collect();
    for step in 0..1500u64 {
        let row: Vec<_> = m
            .iter()
            .enumerate()
            .map(|(i, &h)| (h, (step * 10 + i as u64) as f64))
            .collect();
        run.log_at(step, &row).unwrap();
    }
    let (id, dir) = (run.id().to_owned(), run.dir().to_owned());
    run.finish().unwrap();
    // The service queues a run for upload when it registers it, before it
    // answers; an offline run is never queued, so the uploader never sees it.
    let queued = sandbox.service_dir.join("uploads").join(&id);
    assert!(!queued.exists(), "an offline run is not queued for upload");
    assert!(
        server.run_of(&project, &id).is_none(),
        "an offline run leaves nothing on the server"
    );
    assert!(!dir.join("upload.json").exists());
    assert!(sandbox
        .ringtrack_ok(&["ls"])
        .lines()
        .any(|l| l.starts_with(&id) && l.ends_with("offline")));

    let out = sandbox.ringtrack_ok(&["sync", &id]);
    assert!(
        out.contains("1500/1500 rows") && out.contains("complete"),
        "{out}"
    );
    assert_simple_run_stored(&server, &project, &id, 1500, &[]);
    let again = sandbox.ringtrack_ok(&["sync", &id]);
    assert!(again.contains("1500/1500 rows"), "{again}");
    assert_simple_run_stored(&server, &project, &id, 1500, &[]);
    assert!(sandbox
        .ringtrack_ok(&["sync", "--all"])
        .contains("nothing to upload"));
}

#[test]
fn a_run_whose_server_was_down_all_along_arrives_when_it_is_back() {
    let server = MlflowServer::from_env();
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service_with(&[], &FAST_RETRIES);
    let project = project("down");
    let port = free_port();
    let uri = format!("http://127.0.0.1:{port}");
    let (id, dir) = simple_run(&sandbox, &project, &uri, 800);
    // Nothing listens there: wait until the uploader has tried, failed
    // every attempt and paused the run.
    let log = sandbox.service_dir.join("service.log");
    wait_for(
        "the uploader to pause the run",
        Duration::from_secs(120),
        || {
            std::fs::read_to_string(&log).is_ok_and(|t| {
                t.contains("upload paused: server unavailable") && t.contains(&id)
            })
        },
    );
    assert!(!upload_complete(&dir));
    let _proxy = FaultProxy::start_on(port, &server.uri, |_| Fault::Forward);
    wait_for(
        "the upload after the outage",
        Duration::from_secs(240),
        || upload_complete(&dir),
    );
    assert_simple_run_stored(&server, &project, &id, 800, &[]);
}

#[test]
fn resets_storms_throttling_and_stalls_lose_and_duplicate_nothing() {
    let server = MlflowServer::from_env();
    let sandbox = Sandbox::new();
    let env = [
        ("RINGTRACK_UPLOAD_ATTEMPTS", "12"),
        ("RINGTRACK_UPLOAD_BACKOFF_MS", "20"),
        ("RINGTRACK_UPLOAD_MAX_BACKOFF_MS", "1000"),
        ("RINGTRACK_UPLOAD_TIMEOUT_MS", "5000"),
    ];
    let _service = sandbox.start_service_with(&[], &env);
    let project = project("faults");
    // The log-batch requests meet each fault in turn: a 5xx storm, a 429
    // with Retry-After, a reset before the server saw the request, a reset
    // after it applied it, and a stall past the client's timeout (the server
    // applies the request after the client gave up).
    let batches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&batches);
    let proxy = FaultProxy::start(&server.uri, move |request| {
        if !request.line.contains("log-batch") {
            return Fault::Forward;
        }
        match seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            1..=4 => Fault::Status(503, None),
            5 => Fault::Status(500, None),
            7 => Fault::Status(429, Some(1)),
            9 => Fault::Reset,
            11 => Fault::ForwardThenReset,
            13 => Fault::Stall(Duration::from_millis(6000)),
            15..=17 => Fault::Status(502, None),
            _ => Fault::Forward,
        }
    });
    let (id, dir) = simple_run(&sandbox, &project, &proxy.uri, 3000);
    let deadline = Instant::now() + Duration::from_secs(240);
    while !upload_complete(&dir) {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(sandbox.service_dir.join("service.log"))
                .unwrap_or_default();
            panic!("upload through faults did not complete; service log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_simple_run_stored(&server, &project, &id, 3000, &[]);
    assert!(
        batches.load(std::sync::atomic::Ordering::SeqCst) > 17,
        "every fault was met"
    );
}

#[test]
fn killing_the_service_mid_upload_duplicates_nothing() {
    let server = MlflowServer::from_env();
    let sandbox = Sandbox::new();
    let project = project("killed");
    let proxy = FaultProxy::start(&server.uri, |request| {
        if request.line.contains("log-batch") {
            Fault::Stall(Duration::from_millis(150))
        } else {
            Fault::Forward
        }
    });
    let service = sandbox.start_service_with(&[], &FAST_RETRIES);
    let (id, dir) = simple_run(&sandbox, &project, &proxy.uri, 8_000);
    let acked = || {
        std::fs::read_to_string(dir.join("upload.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Json>(&t).ok())
            .and_then(|j| j["rows_acked"].as_u64())
            .unwrap_or(0)
    };
    wait_for(
        "some acknowledged batches",
        Duration::from_secs(180),
        || acked() > 0,
    );
    service.kill();
    let before = acked();
    assert!(before < 8_000, "killed mid-upload");
    let _service = sandbox.start_service_with(&[], &FAST_RETRIES);
    wait_for("the resumed upload", Duration::from_secs(240), || {
        upload_complete(&dir)
    });
    assert_simple_run_stored(&server, &project, &id, 8_000, &[]);
}

#[test]
fn a_refused_batch_is_set_aside_with_the_servers_message_and_the_rest_arrives() {
    let server = MlflowServer::from_env();
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service_with(&[], &FAST_RETRIES);
    let project = project("refused");
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&refused);
    let proxy = FaultProxy::start(&server.uri, move |request| {
        // The second log-batch is refused for good.
        if request.line.contains("log-batch")
            && count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1
        {
            Fault::Status(400, None)
        } else {
            Fault::Forward
        }
    });
    let (id, dir) = simple_run(&sandbox, &project, &proxy.uri, 1000);
    wait_for("the upload", Duration::from_secs(180), || {
        upload_complete(&dir)
    });
    let cursor: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("upload.json")).unwrap())
            .unwrap();
    let rejected = &cursor["rejected"][0];
    assert_eq!(rejected["status"], 400);
    assert!(rejected["message"]
        .as_str()
        .unwrap()
        .contains("fault injected"));
    // 1000 rows of 4 metrics are 4 batches of 250 rows; the second held
    // steps 250..500 (after the metric definitions).
    let first = rejected["first_seq"].as_u64().unwrap();
    let last = rejected["last_seq"].as_u64().unwrap();
    let lost: Vec<u64> = (0..1000)
        .filter(|s| (first..=last).contains(&(s + 4)))
        .collect();
    assert_eq!(lost.len(), 250, "{first}..={last}");
    assert_simple_run_stored(&server, &project, &id, 1000, &lost);
    let listing = sandbox.ringtrack_ok(&["ls"]);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with(&id) && l.ends_with("done,degraded")),
        "{listing}"
    );
}

#[test]
fn credentials_come_from_mlflow_variables_and_are_never_written() {
    let server = MlflowServer::from_env();
    let sandbox = Sandbox::new();
    let mut env = FAST_RETRIES.to_vec();
    env.extend([
        ("MLFLOW_TRACKING_USERNAME", "ada"),
        ("MLFLOW_TRACKING_PASSWORD", "pw-s3cret-42"),
    ]);
    let _service = sandbox.start_service_with(&[], &env);
    let project = project("creds");
    let proxy = FaultProxy::start(&server.uri, |_| Fault::Forward);
    let (id, dir) = simple_run(&sandbox, &project, &proxy.uri, 10);
    wait_for("the upload", Duration::from_secs(180), || {
        upload_complete(&dir)
    });
    let seen = proxy.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    // "ada:pw-s3cret-42" in base64.
    assert!(seen
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Basic YWRhOnB3LXMzY3JldC00Mg==")));
    for file in [
        dir.join("run.json"),
        dir.join("upload.json"),
        sandbox.service_dir.join("service.log"),
    ] {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("pw-s3cret-42") && !text.contains("YWRhOnB3"),
            "{} holds the secret",
            file.display()
        );
    }
    assert_simple_run_stored(&server, &project, &id, 10, &[]);
}
