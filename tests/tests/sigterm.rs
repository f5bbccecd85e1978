//! SIGTERM, as a job scheduler sends it before SIGKILL: the service drains
//! what the rings hold and exits even while trainers keep logging, and a
//! trainer that SIGTERM ends keeps every row `log` returned from.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use ringtrack_service::state::Phase;
use ringtrack_tests::{
    durable_rows, read_truth, wait_for_phase, Sandbox, TrainerProcess,
};

fn steps_of(dir: &std::path::Path) -> Vec<u64> {
    durable_rows(dir).iter().map(|r| r.step).collect()
}

/// A trainer that logs without pause keeps the drain busy; SIGTERM must
/// still stop the service promptly, with what it drained durable, and the
/// next service must pick up exactly where it stopped.
#[test]
fn service_sigterm_under_load_drains_exits_and_resumes_exactly() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&["--segment-size", "65536"]);
    let truth = sandbox.root.with_file_name("truth");
    // Plain rows, the fastest the SDK logs: the drain always finds more.
    let trainer = TrainerProcess::start(
        &sandbox,
        &[
            "400000",
            "--metrics",
            "2",
            "--truth",
            truth.to_str().unwrap(),
            "--full-wait",
            "60000",
        ],
        &[("RINGTRACK_RING_SIZE", "4M")],
    );
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    let log = service.terminate();
    let took = asked.elapsed();
    assert!(
        log.contains("drain paused for shutdown") && log.contains("service stopped"),
        "{log}"
    );
    assert!(
        took < Duration::from_secs(30),
        "the service did not stop within 30 s of SIGTERM under load ({took:?})"
    );
    let during = steps_of(&trainer.dir);
    assert!(!during.is_empty(), "rows were drained before the stop");
    assert_eq!(during, (0..during.len() as u64).collect::<Vec<_>>());

    let _service = sandbox.start_service(&[]);
    let dir = trainer.dir.clone();
    let (status, out) = trainer.wait(Duration::from_secs(120));
    assert!(status.success(), "{status}: {out}");
    assert_eq!(
        wait_for_phase(&dir, Duration::from_secs(30)).phase,
        Phase::Finished
    );
    let truth = read_truth(&truth);
    assert_eq!(truth.len(), 400000, "no row dropped: the ring waited");
    assert_eq!(steps_of(&dir), truth);
    eprintln!(
        "service SIGTERM under load: exited in {took:?} with {} rows durable",
        during.len()
    );
}

/// Starts a trainer that logs slowly and hangs, SIGTERMs it once it has
/// logged some rows, and returns its run directory, its truth and how it
/// ended.
fn sigterm_trainer(
    sandbox: &Sandbox,
    handler: Option<&str>,
) -> (
    std::path::PathBuf,
    Vec<u64>,
    std::process::ExitStatus,
    Duration,
) {
    let truth = sandbox.root.with_file_name(format!("truth-{handler:?}"));
    let mut args = vec![
        "1000000",
        "--then",
        "hang",
        "--truth",
        truth.to_str().unwrap(),
        "--pause-every",
        "100:1",
    ];
    if let Some(mode) = handler {
        args.extend(["--sigterm", mode]);
    }
    let trainer = TrainerProcess::start(sandbox, &args, &[]);
    let dir = trainer.dir.clone();
    std::thread::sleep(Duration::from_millis(150));
    let sent = Instant::now();
    trainer.signal(Signal::SIGTERM);
    let (status, _) = trainer.wait(Duration::from_secs(30));
    wait_for_phase(&dir, Duration::from_secs(30));
    (dir, read_truth(&truth), status, sent.elapsed())
}

#[test]
fn a_trainer_ended_by_sigterm_keeps_its_rows_and_is_crashed_unless_it_finishes() {
    use std::os::unix::process::ExitStatusExt;
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);

    // Default action: the kernel ends the process; the rows are in the ring
    // file and the service drains them when the control socket closes.
    let (dir, truth, status, _) = sigterm_trainer(&sandbox, None);
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert_eq!(wait_for_phase(&dir, Duration::ZERO).phase, Phase::Crashed);
    let steps = steps_of(&dir);
    assert!(steps.len() == truth.len() || steps.len() == truth.len() + 1);
    assert_eq!(&steps[..truth.len()], truth);
    assert!(truth.len() > 100, "it logged before the signal");

    // A handler that leaves without finishing: crashed, rows kept.
    let (dir, truth, status, _) = sigterm_trainer(&sandbox, Some("exit"));
    assert_eq!(status.code(), Some(143));
    assert_eq!(wait_for_phase(&dir, Duration::ZERO).phase, Phase::Crashed);
    assert_eq!(steps_of(&dir), truth);

    // A handler that finishes the run: finished, rows kept, and quickly.
    let (dir, truth, status, took) = sigterm_trainer(&sandbox, Some("finish"));
    assert_eq!(status.code(), Some(0));
    assert_eq!(wait_for_phase(&dir, Duration::ZERO).phase, Phase::Finished);
    assert_eq!(steps_of(&dir), truth);
    eprintln!("SIGTERM to finished run: {took:?}");
    assert!(
        took < Duration::from_secs(30),
        "a trainer finishing from its SIGTERM handler did not end within 30 s ({took:?})"
    );
}
