//! Every real training log under `shared/data/real/` is pushed through the
//! SDK into the real service (its own process), exported with the CLI, and
//! compared with the source: every key, step, value and timestamp, in
//! order, bit for bit; the config and the explicit summary too.

use ringtrack::Run;
use ringtrack_tests::harness::decode_value;
use ringtrack_tests::replay::{self, ReplayRun};
use ringtrack_tests::Sandbox;

/// Logs one source; returns the run id and the steps the SDK used.
fn log_source(sandbox: &Sandbox, source: &ReplayRun) -> (String, Vec<u64>) {
    let project = source.source.replace('.', "-");
    let mut settings = sandbox.settings(&project).run_name(&source.source);
    for (key, v) in &source.config {
        settings = settings.config(key.as_str(), v.to_config_value());
    }
    let mut run = Run::init(settings).expect("init");
    let mut steps = Vec::new();
    for row in &source.rows {
        let step = row
            .log_to(&mut run)
            .unwrap_or_else(|e| panic!("{}: log_row: {e}", source.source));
        steps.push(step);
    }
    for (key, v) in &source.summary {
        run.summary(key, v.to_value()).expect("summary");
    }
    let id = run.id().to_owned();
    let report = run.finish().expect("finish");
    assert_eq!(report.rows, source.rows.len() as u64);
    (id, steps)
}

fn check_rows(sandbox: &Sandbox, source: &ReplayRun, id: &str, steps: &[u64]) {
    let exported = sandbox.export_rows(id);
    assert_eq!(
        exported.len(),
        source.rows.len(),
        "{}: row count",
        source.source
    );
    for (i, (row, got)) in source.rows.iter().zip(&exported).enumerate() {
        let context = format!("{} row {i}", source.source);
        assert_eq!(got.step, steps[i], "{context}: step");
        if let Some(step) = row.step {
            assert_eq!(got.step, step, "{context}: explicit step");
        }
        if let Some(ms) = row.timestamp_ms {
            assert_eq!(got.timestamp_ns, ms * 1_000_000, "{context}: timestamp");
        }
        assert_eq!(got.values.len(), row.values.len(), "{context}: value count");
        for ((key, want), (got_key, got_value)) in row.values.iter().zip(&got.values) {
            assert_eq!(key, got_key, "{context}: key order");
            assert!(
                want.to_value().bit_eq(got_value),
                "{context}: {key}: {want:?} came back {got_value:?}"
            );
        }
    }
}

fn check_config_and_summary(sandbox: &Sandbox, source: &ReplayRun, id: &str) {
    let config: serde_json::Value =
        serde_json::from_str(&sandbox.ringtrack_ok(&["export", id, "--config"]))
            .expect("config");
    assert_eq!(
        config.as_object().map(|o| o.len()),
        Some(source.config.len()),
        "{}",
        source.source
    );
    for (key, want) in &source.config {
        let got = decode_value(&config[key]);
        assert!(
            want.to_value().bit_eq(&got),
            "{}: config {key}: {want:?} vs {got:?}",
            source.source
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(&sandbox.ringtrack_ok(&["export", id, "--summary"]))
            .expect("summary");
    for (key, want) in &source.summary {
        let got = decode_value(&summary[key]);
        assert!(
            want.to_value().bit_eq(&got),
            "{}: summary {key}: {want:?} vs {got:?}",
            source.source
        );
    }
}

#[test]
fn every_real_log_comes_back_exactly() {
    let sources = replay::load_all(&replay::real_data_dir()).expect("real data");
    assert_eq!(sources.len(), 6, "six real sources");
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    for source in &sources {
        let (id, steps) = log_source(&sandbox, source);
        check_rows(&sandbox, source, &id, &steps);
        check_config_and_summary(&sandbox, source, &id);
        let verify = sandbox.ringtrack_ok(&["verify", &id]);
        assert!(verify.starts_with("ok:"), "{}: {verify}", source.source);
    }
    let listing = sandbox.ringtrack_ok(&["ls"]);
    assert_eq!(
        listing.matches("finished").count(),
        sources.len(),
        "{listing}"
    );
    service.terminate();
}
