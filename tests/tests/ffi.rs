//! C and C++ trainers through the C ABI, with real processes: the programs
//! are compiled here with the system gcc and g++ against the library the
//! workspace built (`libringtrack.so`, or `libringtrack.a` for the static
//! case), run against the sandbox's service, and what they logged is read
//! back with `ringtrack export` and checked row by row.
//!
//! The bad-use program (`tests/c/bad_use.c`) checks each call's status and
//! message itself and prints which runs it made and how many good rows each
//! holds; here every one of those rows is checked to be in the export, so a
//! bad call provably lost nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ringtrack::Value;
use ringtrack_tests::{bin_path, ExportedRow, Sandbox};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn include_dir() -> PathBuf {
    workspace().join("producer/include")
}

/// The directory holding `libringtrack.so` and `libringtrack.a`: the one
/// the `ringtrack` binary was built into.
fn lib_dir() -> PathBuf {
    let dir = bin_path("ringtrack")
        .parent()
        .expect("target directory")
        .to_owned();
    for lib in ["libringtrack.so", "libringtrack.a"] {
        assert!(
            dir.join(lib).is_file(),
            "{} is missing: build with `cargo build --workspace` first",
            dir.join(lib).display()
        );
    }
    dir
}

enum Link {
    Shared,
    Static,
}

/// Compiles one C (`.c`) or C++ (`.cpp`) file with the flags docs/c-api.md
/// gives, into `out_dir`.
fn compile(source: &Path, out_dir: &Path, link: Link) -> PathBuf {
    let cpp = source.extension().is_some_and(|e| e == "cpp");
    let exe = out_dir.join(source.file_stem().expect("file name"));
    let lib = lib_dir();
    let mut command = Command::new(if cpp { "g++" } else { "gcc" });
    command
        .arg(if cpp { "-std=c++17" } else { "-std=c11" })
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-I"])
        .arg(include_dir())
        .arg(source)
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Shared => {
            command
                .arg("-L")
                .arg(&lib)
                .arg("-lringtrack")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Link::Static => {
            command
                .arg(lib.join("libringtrack.a"))
                .args(["-lpthread", "-ldl"]);
        }
    }
    command.arg("-lm");
    let out = command.output().expect("run the compiler");
    assert!(
        out.status.success(),
        "compiling {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs `exe` with the sandbox's environment and small rings.
fn run_program(sandbox: &Sandbox, exe: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(exe);
    command.args(args);
    sandbox.env(&mut command);
    command.env("RINGTRACK_RING_SIZE", "1M");
    command.output().expect("run the program")
}

fn stdout_of(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The `row STEP v1 v2 ...` lines a trainer printed.
fn printed_rows(stdout: &str) -> Vec<(u64, Vec<f64>)> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("row "))
        .map(|rest| {
            let mut fields = rest.split(' ');
            let step = fields.next().unwrap().parse().expect("step");
            let values = fields.map(|f| f.parse().expect("a float")).collect();
            (step, values)
        })
        .collect()
}

/// The run id from the `run ID DIR` line.
fn printed_run_id(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("run "))
        .and_then(|rest| rest.split(' ').next())
        .expect("a `run ID DIR` line")
        .to_owned()
}

fn float(row: &ExportedRow, name: &str) -> f64 {
    match row.values.iter().find(|(k, _)| k == name) {
        Some((_, Value::F64(f))) => *f,
        other => panic!("step {} has no float {name}: {other:?}", row.step),
    }
}

/// Every exported row is the printed one: same step, same values bit for
/// bit, in the metric order given.
fn assert_export_matches(
    rows: &[ExportedRow],
    printed: &[(u64, Vec<f64>)],
    names: &[&str],
) {
    assert_eq!(
        rows.len(),
        printed.len(),
        "one exported row per printed row"
    );
    for (row, (step, values)) in rows.iter().zip(printed) {
        assert_eq!(row.step, *step);
        let keys: Vec<&str> = row.values.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, names, "step {step}: the metrics of the row");
        for (name, value) in names.iter().zip(values) {
            assert_eq!(
                float(row, name).to_bits(),
                value.to_bits(),
                "step {step}: {name} exported as {}, printed as {value}",
                float(row, name)
            );
        }
    }
}

#[test]
fn cpp_logistic_regression_logs_every_step_exactly() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let out_dir = tempfile::tempdir().expect("temp dir");
    let source = workspace().join("producer/examples/cpp/train_logreg.cpp");
    let exe = compile(&source, out_dir.path(), Link::Shared);
    let dataset = workspace().join("../shared/data/datasets/breast_cancer.csv");

    let mut command = Command::new(&exe);
    command.arg(&dataset);
    sandbox.env(&mut command);
    command
        .env("RINGTRACK_RING_SIZE", "1M")
        .env("RINGTRACK_EPOCHS", "120");
    let stdout = stdout_of(&command.output().expect("run"), "train_logreg");

    let printed = printed_rows(&stdout);
    assert_eq!(printed.len(), 120, "{stdout}");
    let id = printed_run_id(&stdout);
    let rows = sandbox.export_rows(&id);
    let names = [
        "train/loss",
        "train/accuracy",
        "val/loss",
        "val/accuracy",
        "grad_norm",
        "lr",
    ];
    assert_export_matches(&rows, &printed, &names);
    assert!(
        rows.iter().enumerate().all(|(i, r)| r.step == i as u64),
        "automatic steps 0, 1, 2, ..."
    );

    // It really trains: from ln 2 at zero weights, the loss falls each
    // step, and the held-out accuracy ends high.
    let loss: Vec<f64> = rows.iter().map(|r| float(r, "train/loss")).collect();
    assert!(
        (loss[0] - std::f64::consts::LN_2).abs() < 1e-12,
        "{}",
        loss[0]
    );
    assert!(
        loss.windows(2).all(|w| w[1] < w[0]),
        "loss falls every step"
    );
    assert!(loss[119] < loss[0] / 4.0, "{} -> {}", loss[0], loss[119]);
    assert!(float(&rows[119], "val/accuracy") > 0.95);

    let config = sandbox.ringtrack_ok(&["export", &id, "--config"]);
    for part in [
        "\"language\":\"c++\"",
        "\"lr\":0.1",
        "\"epochs\":120",
        "\"features\":30",
    ] {
        assert!(config.contains(part), "{part} in {config}");
    }
    let summary = sandbox.ringtrack_ok(&["export", &id, "--summary"]);
    assert!(summary.contains("\"best_val_accuracy\":"), "{summary}");
    let listing = sandbox.ringtrack_ok(&["ls"]);
    assert!(
        listing
            .lines()
            .any(|l| l.contains(&id) && l.contains("finished")),
        "{listing}"
    );
}

#[test]
fn c_linear_regression_linked_statically_converges() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let out_dir = tempfile::tempdir().expect("temp dir");
    let source = workspace().join("producer/examples/c/train_linreg.c");
    let exe = compile(&source, out_dir.path(), Link::Static);
    let stdout = stdout_of(&run_program(&sandbox, &exe, &["150"]), "train_linreg");

    let printed = printed_rows(&stdout);
    assert_eq!(printed.len(), 150);
    let id = printed_run_id(&stdout);
    let rows = sandbox.export_rows(&id);
    assert_export_matches(&rows, &printed, &["train/mse", "w", "b", "grad_norm"]);

    // Gradient descent on a convex quadratic with a small step: the error
    // falls every step, towards the line the data was made from.
    let mse: Vec<f64> = rows.iter().map(|r| float(r, "train/mse")).collect();
    assert!(mse.windows(2).all(|w| w[1] < w[0]), "mse falls every step");
    let last = &rows[149];
    assert!(
        (float(last, "w") - 3.0).abs() < 0.05,
        "w = {}",
        float(last, "w")
    );
    assert!(
        (float(last, "b") + 2.0).abs() < 0.05,
        "b = {}",
        float(last, "b")
    );
    assert!(
        mse[149] < 0.01,
        "the noise alone has variance 0.0033: {}",
        mse[149]
    );
    let summary = sandbox.ringtrack_ok(&["export", &id, "--summary"]);
    assert!(summary.contains("\"final/w\":"), "{summary}");
}

/// Runs one scenario of `bad_use` and checks, for every run it reports,
/// that the run holds exactly its good rows: steps 0..N-1, and (unless
/// several threads wrote it) each value equal to its step.
fn bad_use(scenario: &str) -> (Sandbox, BTreeMap<String, String>, String) {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let out_dir = tempfile::tempdir().expect("temp dir");
    let exe = compile(
        &workspace().join("tests/c/bad_use.c"),
        out_dir.path(),
        Link::Shared,
    );
    let out = run_program(&sandbox, &exe, &[scenario]);
    let stdout = stdout_of(&out, &format!("bad_use {scenario}"));
    assert!(!stdout.contains("FAIL"), "{stdout}");

    let mut ids = BTreeMap::new();
    let mut rows = BTreeMap::new();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["run", label, id] => {
                ids.insert(label.to_string(), id.to_string());
            }
            ["rows", label, n] => {
                rows.insert(label.to_string(), n.parse::<u64>().expect("count"));
            }
            _ => {}
        }
    }
    assert!(!ids.is_empty(), "{stdout}");
    assert_eq!(
        ids.keys().collect::<Vec<_>>(),
        rows.keys().collect::<Vec<_>>(),
        "{stdout}"
    );
    for (label, id) in &ids {
        let exported = sandbox.export_rows(id);
        let steps: Vec<u64> = exported.iter().map(|r| r.step).collect();
        let expected: Vec<u64> = (0..rows[label]).collect();
        assert_eq!(steps, expected, "run {label}: every good row, nothing else");
        if !["shared", "single"].contains(&label.as_str()) {
            for row in &exported {
                assert_eq!(
                    row.values,
                    [("loss".to_string(), Value::F64(row.step as f64))],
                    "run {label}"
                );
            }
        }
    }
    drop(service);
    (sandbox, ids, stdout)
}

#[test]
fn null_pointers_and_mismatched_arrays_are_refused() {
    let (sandbox, ids, _) = bad_use("args");
    let config = sandbox.ringtrack_ok(&["export", &ids["args"], "--config"]);
    assert_eq!(config.trim(), "{\"a\":1}", "the bad config applied nothing");
}

#[test]
fn bad_strings_are_refused_within_the_scan_limit() {
    bad_use("names");
}

#[test]
fn a_finished_handle_reports_every_later_call() {
    let (sandbox, ids, _) = bad_use("finish");
    let listing = sandbox.ringtrack_ok(&["ls"]);
    let state = |label: &str| {
        listing
            .lines()
            .find(|l| l.contains(&ids[label]))
            .unwrap_or_else(|| panic!("{label} in {listing}"))
            .to_owned()
    };
    assert!(state("finish").contains("failed"), "exit code 3: {listing}");
    assert!(state("unfinished").contains("finished"), "{listing}");
}

#[test]
fn a_forked_child_cannot_write_into_the_parents_ring() {
    let (sandbox, ids, stdout) = bad_use("fork");
    assert!(stdout.contains("RINGTRACK_ERR_FORKED"), "{stdout}");
    let listing = sandbox.ringtrack_ok(&["ls"]);
    for label in ["parent", "child"] {
        assert!(
            listing
                .lines()
                .any(|l| l.contains(&ids[label]) && l.contains("finished")),
            "{label}: {listing}"
        );
    }
}

#[test]
fn threads_share_a_shared_handle_and_are_refused_on_a_single_one() {
    let (_, _, stdout) = bad_use("threads");
    assert!(stdout.contains("busy calls refused"), "{stdout}");
}

/// The ```c block under "## A complete example" in docs/c-api.md.
fn docs_example() -> String {
    let doc = std::fs::read_to_string(workspace().join("docs/c-api.md"))
        .expect("docs/c-api.md");
    let section = doc
        .split_once("## A complete example")
        .expect("the example section")
        .1;
    let code = section.split_once("```c\n").expect("a C block").1;
    code.split_once("```")
        .expect("the block's end")
        .0
        .to_owned()
}

#[test]
fn docs_example_compiles_and_runs() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let out_dir = tempfile::tempdir().expect("temp dir");
    let source = out_dir.path().join("quickstart.c");
    std::fs::write(&source, docs_example()).expect("write the example");
    let exe = compile(&source, out_dir.path(), Link::Shared);
    let stdout = stdout_of(&run_program(&sandbox, &exe, &[]), "the docs example");
    let id = stdout
        .strip_prefix("run ")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("a `run ID: N rows` line: {stdout}"));
    assert_eq!(stdout.trim(), format!("run {id}: 100 rows"));
    let rows = sandbox.export_rows(id);
    assert_eq!(rows.len(), 100);
    assert_eq!(float(&rows[99], "train/loss"), 1.0 / 100.0);
    let config = sandbox.ringtrack_ok(&["export", id, "--config"]);
    assert!(config.contains("\"layers\":[64,32]"), "{config}");
}
