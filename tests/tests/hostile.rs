//! Hostile and corrupt rings against the real service process: a ring that
//! is garbage, of another version or size, lies about its records or its
//! positions, changes its header or shrinks while mapped ends THAT run with
//! an error naming the file and the fault; the service and its other runs
//! go on.

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ringbuf_core::layout::{offset, HEADER_SIZE};
use ringbuf_core::{RingFile, RingOptions};
use ringtrack::protocol::Reply;
use ringtrack::Run;
use ringtrack_service::state::{Phase, RunState};
use ringtrack_tests::handmade::{make_run, register};
use ringtrack_tests::{durable_rows, wait_for_phase, Sandbox, TrainerProcess};

const CAPACITY: u64 = 1 << 16;

fn poke(path: &Path, at: u64, bytes: &[u8]) {
    let file = OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, at).unwrap();
}

fn read_u64(path: &Path, at: usize) -> u64 {
    let mut b = [0u8; 8];
    std::fs::File::open(path)
        .unwrap()
        .read_exact_at(&mut b, at as u64)
        .unwrap();
    u64::from_le_bytes(b)
}

/// Waits for the run to end and checks it ended in error with a message
/// naming `ring` and containing `fault`.
fn assert_error(dir: &Path, ring: &Path, fault: &str) -> RunState {
    let state = wait_for_phase(dir, Duration::from_secs(20));
    let message = state.error.clone().unwrap_or_default();
    assert_eq!(state.phase, Phase::Error, "{}: {state:?}", dir.display());
    assert!(
        message.contains(&ring.display().to_string()) && message.contains(fault),
        "expected the ring's path and {fault:?} in: {message}"
    );
    state
}

/// A valid, empty ring file in the sandbox's ring directory.
fn honest_ring(sandbox: &Sandbox, name: &str) -> (PathBuf, u64) {
    let path = sandbox.ring_dir.join(name);
    let file = RingFile::create(&path, RingOptions::with_capacity(CAPACITY)).unwrap();
    (path, file.info().ring_id)
}

/// Rings that are wrong before the service ever maps them.
#[test]
fn rings_that_are_wrong_from_the_start_end_their_run_only() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let mut bystander = Run::init(sandbox.settings("bystander")).unwrap();
    let beat = bystander.metric("beat").unwrap();
    let mut beats = 0u64;

    type Spoil = fn(&Path);
    let cases: Vec<(&str, Spoil, &str)> = vec![
        (
            "garbage",
            |p| std::fs::write(p, vec![0xAB; HEADER_SIZE + CAPACITY as usize]).unwrap(),
            "magic",
        ),
        (
            "version",
            |p| poke(p, offset::VERSION as u64, &9u32.to_le_bytes()),
            "format version is 9",
        ),
        (
            "short",
            |p| {
                OpenOptions::new()
                    .write(true)
                    .open(p)
                    .unwrap()
                    .set_len(HEADER_SIZE as u64 + 100)
                    .unwrap()
            },
            "capacity of 65536",
        ),
        (
            "capacity",
            |p| poke(p, offset::CAPACITY as u64, &12345u64.to_le_bytes()),
            "power of two",
        ),
        (
            "positions",
            |p| poke(p, offset::WRITE_POS as u64, &(1u64 << 40).to_le_bytes()),
            "not within one capacity",
        ),
        (
            "missing",
            |p| std::fs::remove_file(p).unwrap(),
            "No such file",
        ),
    ];
    let mut runs = Vec::new();
    for (name, spoil, fault) in cases {
        let (ring, ring_id) = honest_ring(&sandbox, name);
        spoil(&ring);
        // Keep the file owner-only, as the SDK makes it, so the check that
        // fires is the one about the contents.
        if ring.exists() {
            std::fs::set_permissions(&ring, std::fs::Permissions::from_mode(0o600))
                .unwrap();
        }
        let dir = make_run(&sandbox, &format!("bad-{name}"), &ring, ring_id);
        let (stream, reply) = register(&sandbox, &dir);
        assert!(matches!(reply, Reply::Registered), "{reply:?}");
        runs.push((dir, ring, fault, stream));
        bystander.log_at(beats, &[(beat, 1.0)]).unwrap();
        beats += 1;
    }
    for (dir, ring, fault, _stream) in &runs {
        assert_error(dir, ring, fault);
    }

    // A ring whose id is not the one run.json names.
    let (ring, ring_id) = honest_ring(&sandbox, "other-id");
    let dir = make_run(&sandbox, "bad-id", &ring, ring_id ^ 1);
    let _stream = register(&sandbox, &dir);
    assert_error(&dir, &ring, "but run.json names");

    for _ in 0..100 {
        bystander.log_at(beats, &[(beat, 2.0)]).unwrap();
        beats += 1;
    }
    let dir = bystander.dir().to_owned();
    bystander.finish().unwrap();
    assert_eq!(
        durable_rows(&dir).len() as u64,
        beats,
        "the other run is whole"
    );
    let _ = service.terminate();
}

/// A run that logs honestly for a while, then its ring starts to lie. The
/// SDK run logs a few rows, the service drains them, and then `spoil`
/// changes the ring file behind everyone's back.
fn lie_after_honest_rows(
    sandbox: &Sandbox,
    name: &str,
    spoil: impl FnOnce(&Path, u64),
    fault: &str,
) {
    let mut run = Run::init(
        sandbox
            .settings(name)
            .ring_capacity(CAPACITY)
            .finish_timeout(Duration::from_millis(50)),
    )
    .unwrap();
    let m = run.metric("m").unwrap();
    for step in 0..50u64 {
        run.log_at(step, &[(m, step as f64)]).unwrap();
    }
    while run.counters().backlog_bytes > 0 {
        std::thread::sleep(Duration::from_millis(2));
    }
    let ring = ringtrack::meta::RunMeta::load(run.dir()).unwrap().ring_path;
    let write_pos = read_u64(&ring, offset::WRITE_POS);
    spoil(&ring, write_pos);
    let state = assert_error(run.dir(), &ring, fault);
    assert_eq!(state.rows, 50, "{name}: the honest rows stay durable");
    assert_eq!(durable_rows(run.dir()).len(), 50);
    // The run is over for the service; the SDK's finish times out.
    let _ = run.finish();
}

#[test]
fn rings_that_start_lying_while_mapped_end_their_run_only() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let mut bystander = Run::init(sandbox.settings("bystander")).unwrap();
    let beat = bystander.metric("beat").unwrap();
    let data = |pos: u64| (HEADER_SIZE as u64) + (pos & (CAPACITY - 1));

    // A record header whose length runs past what was published.
    lie_after_honest_rows(
        &sandbox,
        "long-record",
        |ring, w| {
            let mut header = [0u8; 8];
            header[..4].copy_from_slice(&60000u32.to_le_bytes());
            header[4..6].copy_from_slice(&2u16.to_le_bytes());
            poke(ring, data(w), &header);
            poke(ring, offset::WRITE_POS as u64, &(w + 64).to_le_bytes());
        },
        "length 60000",
    );
    bystander.log_at(0, &[(beat, 0.0)]).unwrap();

    // The write position moving backwards.
    lie_after_honest_rows(
        &sandbox,
        "backwards",
        |ring, _| poke(ring, offset::WRITE_POS as u64, &8u64.to_le_bytes()),
        "moved backwards",
    );
    bystander.log_at(1, &[(beat, 1.0)]).unwrap();

    // A whole, well-formed record with a sequence number out of order.
    lie_after_honest_rows(
        &sandbox,
        "sequence",
        |ring, w| {
            let mut record = vec![0u8; 8 + ringbuf_core::record::FINISH_LEN];
            record[..4].copy_from_slice(&16u32.to_le_bytes());
            record[4..6]
                .copy_from_slice(&ringbuf_core::record::KIND_FINISH.to_le_bytes());
            ringbuf_core::record::put_finish(&mut record[8..], 999, 0);
            poke(ring, data(w), &record);
            poke(ring, offset::WRITE_POS as u64, &(w + 24).to_le_bytes());
        },
        "sequence number 999",
    );
    bystander.log_at(2, &[(beat, 2.0)]).unwrap();

    // Header fields rewritten under the mapping.
    lie_after_honest_rows(
        &sandbox,
        "header",
        |ring, _| poke(ring, offset::CAPACITY as u64, &(1u64 << 20).to_le_bytes()),
        "header changed while mapped: the capacity",
    );
    lie_after_honest_rows(
        &sandbox,
        "magic",
        |ring, _| poke(ring, 0, b"NOTARING"),
        "header changed while mapped: the magic",
    );
    bystander.log_at(3, &[(beat, 3.0)]).unwrap();

    let dir = bystander.dir().to_owned();
    bystander.finish().unwrap();
    assert_eq!(durable_rows(&dir).len(), 4, "the other run is whole");
    let log = service.terminate();
    assert_eq!(log.matches("run stopped on a fault").count(), 5, "{log}");
}

/// The ring file shrinks while the service has it mapped, under a trainer
/// process (which may itself die of SIGBUS when it writes next: that is
/// the trainer's problem, not the service's).
#[test]
fn a_ring_truncated_under_the_service_ends_that_run_and_the_service_lives() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let mut bystander = Run::init(sandbox.settings("bystander")).unwrap();
    let beat = bystander.metric("beat").unwrap();
    for (n, len) in [0u64, HEADER_SIZE as u64, HEADER_SIZE as u64 + 5000]
        .into_iter()
        .enumerate()
    {
        let trainer = TrainerProcess::start(
            &sandbox,
            &["200000", "--then", "hang", "--pause-every", "50:1"],
            &[("RINGTRACK_RING_SIZE", "65536")],
        );
        std::thread::sleep(Duration::from_millis(100));
        let ring = ringtrack::meta::RunMeta::load(&trainer.dir)
            .unwrap()
            .ring_path;
        OpenOptions::new()
            .write(true)
            .open(&ring)
            .unwrap()
            .set_len(len)
            .unwrap();
        let state = wait_for_phase(&trainer.dir, Duration::from_secs(20));
        let message = state.error.clone().unwrap_or_default();
        assert_eq!(state.phase, Phase::Error, "cut to {len}: {state:?}");
        assert!(
            message.contains(&ring.display().to_string())
                && (message.contains("changed size") || message.contains("truncated")),
            "{message}"
        );
        assert!(state.rows > 0, "rows drained before the cut stay durable");
        durable_rows(&trainer.dir);
        bystander.log_at(n as u64, &[(beat, 1.0)]).unwrap();
    }
    let dir = bystander.dir().to_owned();
    bystander.finish().unwrap();
    assert_eq!(durable_rows(&dir).len(), 3);
    let alive =
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(service.pid() as i32), None);
    assert!(alive.is_ok(), "the service lives");
}
