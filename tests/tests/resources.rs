//! Resources running out under a live run: a full file system under the
//! segments, and the run directory removed. The service holds the batch,
//! frees no ring space, reports once per change, and resumes with nothing
//! lost; a run whose directory is gone ends with an error that says so.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ringbuf_core::layout::offset;
use ringtrack_service::state::Phase;
use ringtrack_tests::{
    durable_rows, read_truth, wait_for_phase, Sandbox, TrainerProcess,
};

/// A tmpfs mounted for one test; unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` spells it) on `dir`,
    /// or says why it cannot.
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system under `dir` with one file; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5au8; 4096];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    path
}

fn ring_pos(ring: &Path, at: usize) -> u64 {
    let file = std::fs::File::open(ring).unwrap();
    let mut b = [0u8; 8];
    file.read_exact_at(&mut b, at as u64).unwrap();
    u64::from_le_bytes(b)
}

fn service_log(sandbox: &Sandbox) -> String {
    std::fs::read_to_string(sandbox.service_dir.join("service.log")).unwrap_or_default()
}

fn wait_for_log(sandbox: &Sandbox, what: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let log = service_log(sandbox);
        if log.contains(what) {
            return log;
        }
        assert!(Instant::now() < deadline, "no {what:?} in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_full_disk_holds_the_ring_reports_once_and_resumes_with_nothing_lost() {
    let sandbox = Sandbox::new();
    let _mount = match Tmpfs::mount(&sandbox.root, "1m") {
        Ok(mount) => mount,
        Err(why) => {
            eprintln!("SKIPPED: cannot mount a tmpfs for the run root ({why})");
            return;
        }
    };
    let service = sandbox.start_service(&["--segment-size", "4096"]);
    let truth_path = sandbox.ring_dir.join("truth");
    let rows = 6000u64;
    let trainer = TrainerProcess::start(
        &sandbox,
        &[
            &rows.to_string(),
            "--metrics",
            "8",
            "--vary",
            "11",
            "--truth",
            truth_path.to_str().unwrap(),
            "--full-wait",
            "100",
            "--on-full",
            "skip",
            "--pause-every",
            "20:2",
        ],
        &[("RINGTRACK_RING_SIZE", "65536")],
    );
    let dir = trainer.dir.clone();
    let ring = ringtrack::meta::RunMeta::load(&dir).unwrap().ring_path;
    std::thread::sleep(Duration::from_millis(200));

    // Fill the file system: the next segment write fails.
    let filler = fill(&sandbox.root);
    wait_for_log(&sandbox, "segment write failed", Duration::from_secs(10));
    let held = ring_pos(&ring, offset::READ_POS);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        ring_pos(&ring, offset::READ_POS),
        held,
        "no ring space is freed while the segment cannot be written"
    );
    assert!(
        ring_pos(&ring, offset::WRITE_POS) > held,
        "the ring holds the rows"
    );

    // Free the space: the held batch is written and draining resumes.
    std::fs::remove_file(&filler).unwrap();
    let (status, out) = trainer.wait(Duration::from_secs(120));
    assert!(status.success(), "trainer: {status} {out}");
    let state = wait_for_phase(&dir, Duration::from_secs(30));
    assert_eq!(state.phase, Phase::Finished, "{state:?}");
    assert_eq!(state.error, None, "the fault is cleared once writes work");
    let truth = read_truth(&truth_path);
    let steps: Vec<u64> = durable_rows(&dir).iter().map(|r| r.step).collect();
    assert_eq!(steps, truth, "every accepted row once, in order");
    assert_eq!(
        state.dropped,
        rows - truth.len() as u64,
        "drops are counted"
    );
    let report = ringtrack_service::verify::verify_run(&dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let log = service.terminate();
    let failed = log.matches("segment write failed").count();
    let recovered = log.matches("segment writes work again").count();
    eprintln!(
        "full disk: {} rows durable, {} dropped on the full ring, {failed} fault report, \
         {recovered} recovery report",
        steps.len(),
        state.dropped
    );
    assert_eq!((failed, recovered), (1, 1), "one report per change:\n{log}");
}

/// The writer on a file system that fills up between a frame and the seal
/// it triggers: the frame that made it is not written twice when the
/// drain retries, and the seal goes through once space is back.
#[test]
fn a_seal_that_fails_on_a_full_disk_neither_repeats_the_frame_nor_sticks() {
    use ringtrack::Value;
    use ringtrack_service::event::Event;
    use ringtrack_service::segment::{
        encode_frame, read_events, FsyncPolicy, SegmentWriter,
    };

    let sandbox = Sandbox::new();
    let run_dir = sandbox.root.join("run");
    let _mount = match Tmpfs::mount(&run_dir, "256k") {
        Ok(mount) => mount,
        Err(why) => {
            eprintln!("SKIPPED: cannot mount a tmpfs for the run directory ({why})");
            return;
        }
    };
    let frame = |seq: u64| {
        let row = Event::Row {
            seq,
            step: seq,
            timestamp_ns: 0,
            values: vec![(0, Value::F64(seq as f64))],
        };
        encode_frame(&[row], 64 * (seq + 1)).unwrap()
    };
    // Every frame reaches the limit, so every append seals.
    let (mut writer, _) =
        SegmentWriter::open(&run_dir, 7, 64, FsyncPolicy::Interval(Duration::ZERO))
            .unwrap();
    writer.append(&frame(0)).unwrap();

    // The next frame fits in the segment's last page; the new segment's
    // header does not fit anywhere.
    let filler = fill(&run_dir);
    let mut failures = 0;
    let mut seq = 1;
    while seq < 3 {
        match writer.append(&frame(seq)) {
            Ok(()) => seq += 1,
            Err(_) if failures < 5 => {
                failures += 1;
                // What the drain does: keep the frame, retry it later.
                if failures == 3 {
                    std::fs::remove_file(&filler).unwrap();
                }
            }
            Err(e) => panic!("append still fails with space free: {e}"),
        }
    }
    assert!(failures > 0, "the full disk made a write fail");
    let (events, problems) = read_events(&run_dir).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let seqs: Vec<u64> = events.iter().map(Event::seq).collect();
    assert_eq!(seqs, [0, 1, 2], "each frame exactly once");
}

/// The state the service reports for run `id`.
fn service_state(sandbox: &Sandbox, id: &str) -> Option<String> {
    use ringtrack::protocol::{Reply, Request};
    let mut stream = std::os::unix::net::UnixStream::connect(sandbox.socket()).ok()?;
    match ringtrack::client::call(&mut stream, &Request::Status).ok()? {
        Reply::Status(status) => status
            .runs
            .into_iter()
            .find(|r| r.id == id)
            .map(|r| r.state),
        _ => None,
    }
}

#[test]
fn a_run_directory_removed_while_live_ends_that_run_with_an_error_only() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let trainer = TrainerProcess::start(
        &sandbox,
        &["1000000", "--then", "hang", "--pause-every", "10:2"],
        &[("RINGTRACK_RING_SIZE", "65536")],
    );
    let id = trainer.id();
    let ring = ringtrack::meta::RunMeta::load(&trainer.dir)
        .unwrap()
        .ring_path;
    let mut other = ringtrack::Run::init(sandbox.settings("other")).unwrap();
    let m = other.metric("m").unwrap();
    std::thread::sleep(Duration::from_millis(200));

    // The service may create a file in the directory while it is being
    // removed (a segment, state.json): remove again until it is gone.
    let mut tries = 0;
    while let Err(err) = std::fs::remove_dir_all(&trainer.dir) {
        tries += 1;
        assert!(
            tries < 100,
            "cannot remove {}: {err}",
            trainer.dir.display()
        );
        if err.kind() == std::io::ErrorKind::NotFound {
            break;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while service_state(&sandbox, &id).as_deref() != Some("error") {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            service_state(&sandbox, &id)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = wait_for_log(&sandbox, "lost its segments while live", Duration::ZERO);
    assert!(log.contains(&ring.display().to_string()), "{log}");
    assert!(
        ring.exists(),
        "the ring, holding what was not durable, is kept"
    );

    // The service goes on serving the other run.
    for step in 0..500u64 {
        other.log_at(step, &[(m, step as f64)]).unwrap();
    }
    let other_dir = other.dir().to_owned();
    other.finish().unwrap();
    let steps: Vec<u64> = durable_rows(&other_dir).iter().map(|r| r.step).collect();
    assert_eq!(steps, (0..500).collect::<Vec<_>>());
    drop(trainer);
    drop(service);
}

/// The final state cannot be written (here: a directory sits where the
/// temporary state file goes): the run is not forgotten with a stale
/// `running` state; it stays registered, and the next service records how
/// it ended from the segments.
#[test]
fn a_final_state_that_cannot_be_written_is_recorded_by_the_next_service() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let mut run = ringtrack::Run::init(sandbox.settings("unrecorded")).unwrap();
    let m = run.metric("m").unwrap();
    for step in 0..100u64 {
        run.log_at(step, &[(m, step as f64)]).unwrap();
    }
    let dir = run.dir().to_owned();
    let id = run.id().to_owned();
    let ring = ringtrack::meta::RunMeta::load(&dir).unwrap().ring_path;
    let blocker = dir.join("state.tmp");
    std::fs::create_dir(&blocker).unwrap();
    run.finish().unwrap();

    let log = wait_for_log(
        &sandbox,
        "the run stays registered",
        Duration::from_secs(10),
    );
    assert!(log.contains("cannot write state.json"), "{log}");
    let registered = sandbox.service_dir.join("runs").join(&id);
    assert!(registered.exists(), "the run is still in the registry");
    assert!(ring.exists(), "and its ring is still in place");
    let _ = service.terminate();

    std::fs::remove_dir(&blocker).unwrap();
    let _service = sandbox.start_service(&[]);
    let state = wait_for_phase(&dir, Duration::from_secs(20));
    assert_eq!(state.phase, Phase::Finished, "{state:?}");
    assert_eq!(state.rows, 100);
    let deadline = Instant::now() + Duration::from_secs(10);
    while registered.exists() || ring.exists() {
        assert!(
            Instant::now() < deadline,
            "registry entry and ring are removed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(durable_rows(&dir).len(), 100);
}
