//! The CLI as a user meets it: help on every command, tables, clear errors,
//! and `verify` catching damage.

use ringtrack::Run;
use ringtrack_tests::Sandbox;

fn logged_run(sandbox: &Sandbox, rows: u64) -> String {
    let mut run = Run::init(sandbox.settings("cli").run_name("cli-run")).unwrap();
    let m = run.metric("loss").unwrap();
    for step in 0..rows {
        run.log(&[(m, 1.0 / (1.0 + step as f64))]).unwrap();
    }
    let id = run.id().to_owned();
    run.finish().unwrap();
    id
}

#[test]
fn every_command_has_help() {
    let sandbox = Sandbox::new();
    for command in ["service", "status", "ls", "export", "verify"] {
        let text = sandbox.ringtrack_ok(&[command, "--help"]);
        assert!(text.contains("Usage: ringtrack"), "{command}: {text}");
    }
    let top = sandbox.ringtrack_ok(&["--help"]);
    for command in ["service", "status", "ls", "export", "verify"] {
        assert!(top.contains(command), "{top}");
    }
}

#[test]
fn runs_are_found_by_id_prefix_name_or_directory() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let id = logged_run(&sandbox, 10);
    let by_dir = sandbox.root.join(&id);
    for what in [id.as_str(), &id[..18], "cli-run", by_dir.to_str().unwrap()] {
        assert_eq!(sandbox.export_rows(what).len(), 10, "{what}");
    }
    let out = sandbox.ringtrack(&["export", "no-such-run"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no run \"no-such-run\""), "{stderr}");

    logged_run(&sandbox, 1);
    let out = sandbox.ringtrack(&["export", "cli-run"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("matches 2 runs"));
}

#[test]
fn ls_shows_state_rows_and_size() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let id = logged_run(&sandbox, 25);
    let listing = sandbox.ringtrack_ok(&["ls"]);
    let header = listing.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["RUN", "PROJECT", "NAME", "STATE", "ROWS", "DROPPED", "SIZE", "UPLOAD"]
    );
    let line = listing.lines().find(|l| l.starts_with(&id)).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &cells[1..6],
        ["cli", "cli-run", "finished", "25", "0"],
        "{line}"
    );
}

#[test]
fn verify_catches_a_flipped_byte_and_export_warns() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let id = logged_run(&sandbox, 50);
    assert!(sandbox.ringtrack_ok(&["verify", &id]).starts_with("ok:"));

    let segment = sandbox.root.join(&id).join("segments").join("00000000.seg");
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();

    let out = sandbox.ringtrack(&["verify", &id]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("checksum mismatch") && stdout.contains("FAILED"),
        "{stdout}"
    );
    let out = sandbox.ringtrack(&["export", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("the rest of that file is not exported"));
}

#[test]
fn status_without_a_service_says_so() {
    let sandbox = Sandbox::new();
    let out = sandbox.ringtrack(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no service running"));
}
