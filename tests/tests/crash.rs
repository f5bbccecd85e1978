//! Crash survival with real processes: trainers and the service are
//! SIGKILLed at random points, and every row whose `log` call returned
//! before the kill is in the segments exactly once, in order.
//!
//! The ground truth is the trainer's own side file: it appends a step only
//! after `log` returned for it (see `src/bin/trainer.rs`). A kill between
//! `log` returning and that append leaves one durable row more than the
//! file names; nothing else may differ.
//!
//! `RINGTRACK_KILLS` sets how many trainers the kill test kills (default
//! 60) and `RINGTRACK_SEED` the seed of its kill times and row sizes;
//! `scripts/soak-kill` runs thousands.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbuf_core::{RingFile, RingReader};
use ringtrack::{Run, Value};
use ringtrack_service::event::Event;
use ringtrack_service::history::HistoryRow;
use ringtrack_service::segment::{encode_frame, list_segments, scan_segment};
use ringtrack_service::state::Phase;
use ringtrack_tests::rows::{row_values, Rng};
use ringtrack_tests::{
    durable_rows, read_truth, wait_for_phase, Sandbox, TrainerProcess,
};

const RING_64K: &str = "65536";
const METRICS: usize = 8;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Checks a run's durable rows against the trainer's truth: the truth is a
/// prefix of the rows, at most one row longer, steps contiguous from 0 (or
/// exactly the truth when `exact`), and every value as logged.
fn check_rows(rows: &[HistoryRow], truth: &[u64], seed: u64, exact: bool) {
    let steps: Vec<u64> = rows.iter().map(|r| r.step).collect();
    if exact {
        assert_eq!(steps, truth, "durable steps differ from the truth");
    } else {
        assert!(
            steps.len() == truth.len() || steps.len() == truth.len() + 1,
            "{} durable rows for {} rows whose log returned",
            steps.len(),
            truth.len()
        );
        assert_eq!(
            &steps[..truth.len()],
            truth,
            "a logged row is missing or moved"
        );
        if let Some(&extra) = steps.get(truth.len()) {
            assert_eq!(
                extra,
                truth.len() as u64,
                "the one extra row is the next step"
            );
        }
    }
    for row in rows {
        let expected = row_values(row.step, METRICS, Some(seed));
        assert!(
            row.values.len() == expected.len()
                && row
                    .values
                    .iter()
                    .zip(&expected)
                    .all(|(a, b)| a.0 == b.0 && a.1.bit_eq(&b.1)),
            "step {} came back as {:?}",
            row.step,
            row.values
        );
    }
}

/// The ring position just past the last durable record, from the frames.
fn durable_ring_end(dir: &Path) -> u64 {
    let mut end = 0;
    for (_, path) in list_segments(dir).unwrap() {
        if let Some(frame) = scan_segment(&path).unwrap().frames.last() {
            end = frame.ring_end;
        }
    }
    end
}

#[derive(Debug, Default)]
struct KillStats {
    kills: AtomicU64,
    rows: AtomicU64,
    wrapped: AtomicU64,
    extra_row: AtomicU64,
    early: AtomicU64,
}

/// One trainer: start it, let it log for a random time, SIGKILL it, check.
fn kill_one(sandbox: &Sandbox, n: u64, rng: &mut Rng, stats: &KillStats) {
    let seed = rng.next_u64();
    let truth_path = sandbox.root.with_file_name(format!("truth-{n}"));
    let trainer = TrainerProcess::start(
        sandbox,
        &[
            "1000000000",
            "--then",
            "hang",
            "--metrics",
            &METRICS.to_string(),
            "--vary",
            &seed.to_string(),
            "--truth",
            truth_path.to_str().unwrap(),
        ],
        &[("RINGTRACK_RING_SIZE", RING_64K)],
    );
    // A quarter of the kills land within 2 ms of registration, the rest
    // anywhere in the first 150 ms of logging.
    let delay_us = if rng.below(4) == 0 {
        stats.early.fetch_add(1, Ordering::Relaxed);
        rng.below(2_000)
    } else {
        rng.below(150_000)
    };
    std::thread::sleep(Duration::from_micros(delay_us));
    let dir = trainer.dir.clone();
    let status = trainer.kill();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "trainer {n} was killed"
    );

    let state = wait_for_phase(&dir, Duration::from_secs(30));
    assert_eq!(state.phase, Phase::Crashed, "kill {n}: {state:?}");
    let truth = read_truth(&truth_path);
    let rows = durable_rows(&dir);
    check_rows(&rows, &truth, seed, false);
    assert_eq!(state.rows, rows.len() as u64, "state.json counts the rows");
    assert_eq!(state.dropped, 0, "kill {n}: nothing dropped");
    // The ring goes right after the final state is on disk.
    let ring = ringtrack::meta::RunMeta::load(&dir).unwrap().ring_path;
    let deadline = Instant::now() + Duration::from_secs(10);
    while ring.exists() {
        assert!(
            Instant::now() < deadline,
            "a crashed run's ring is removed once drained"
        );
        std::thread::sleep(Duration::from_millis(2));
    }

    stats.kills.fetch_add(1, Ordering::Relaxed);
    stats.rows.fetch_add(rows.len() as u64, Ordering::Relaxed);
    if durable_ring_end(&dir) > 65536 {
        stats.wrapped.fetch_add(1, Ordering::Relaxed);
    }
    if rows.len() > truth.len() {
        stats.extra_row.fetch_add(1, Ordering::Relaxed);
    }
    let _ = std::fs::remove_file(&truth_path);
}

/// A run in the test process that logs a row every few milliseconds for as
/// long as `stop` is unset, to show the service keeps serving other runs.
fn bystander(
    sandbox: &Sandbox,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(String, u64)> {
    let mut run = Run::init(sandbox.settings("bystander")).unwrap();
    std::thread::spawn(move || {
        let m = run.metric("beat").unwrap();
        let mut step = 0u64;
        while !stop.load(Ordering::Relaxed) {
            run.log_at(step, &[(m, step as f64)]).unwrap();
            step += 1;
            std::thread::sleep(Duration::from_millis(3));
        }
        let id = run.id().to_owned();
        let report = run.finish().unwrap();
        assert_eq!(report.rows, step);
        (id, step)
    })
}

#[test]
fn trainers_killed_at_random_points_keep_every_returned_row_once() {
    let kills = env_u64("RINGTRACK_KILLS", 60);
    let seed = env_u64("RINGTRACK_SEED", 0x5eed_c0de);
    let workers = env_u64("RINGTRACK_KILL_WORKERS", 2).max(1);
    eprintln!("kill test: {kills} kills, {workers} at a time, seed {seed:#x}");
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&["--segment-size", "65536"]);
    let stop = Arc::new(AtomicBool::new(false));
    let beat = bystander(&sandbox, Arc::clone(&stop));
    let stats = KillStats::default();
    let started = Instant::now();

    std::thread::scope(|scope| {
        for w in 0..workers {
            let (sandbox, stats) = (&sandbox, &stats);
            scope.spawn(move || {
                let mut rng = Rng::new(seed ^ (w + 1).wrapping_mul(0x9e37_79b9));
                let mut n = w;
                while n < kills {
                    kill_one(sandbox, n, &mut rng, stats);
                    n += workers;
                }
            });
        }
    });
    let elapsed = started.elapsed();

    stop.store(true, Ordering::Relaxed);
    let (beat_id, beat_rows) = beat.join().unwrap();
    let steps: Vec<u64> = durable_rows(&sandbox.root.join(&beat_id))
        .iter()
        .map(|r| r.step)
        .collect();
    assert_eq!(
        steps,
        (0..beat_rows).collect::<Vec<_>>(),
        "the bystander run"
    );
    let alive =
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(service.pid() as i32), None);
    assert!(alive.is_ok(), "the service survived every kill");

    let done = stats.kills.load(Ordering::Relaxed);
    assert_eq!(done, kills);
    let wrapped = stats.wrapped.load(Ordering::Relaxed);
    eprintln!(
        "kill test: {done} kills in {:.1} s ({:.0} ms each), {} rows durable, {wrapped} \
         after the ring wrapped, {} killed within 2 ms of init, {} with the row \
         logged but not yet in the truth file; bystander {beat_rows} rows",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / done as f64,
        stats.rows.load(Ordering::Relaxed),
        stats.early.load(Ordering::Relaxed),
        stats.extra_row.load(Ordering::Relaxed),
    );
    assert!(
        wrapped * 2 >= done,
        "most kills should hit a ring that has wrapped ({wrapped} of {done})"
    );
}

/// How often `what` occurs in a service log.
fn count(log: &str, what: &str) -> usize {
    log.matches(what).count()
}

#[test]
fn service_killed_while_draining_and_sealing_loses_and_repeats_nothing() {
    let seed = env_u64("RINGTRACK_SEED", 0x5eed_c0de) ^ 0xdead;
    let sandbox = Sandbox::new();
    let args = ["--segment-size", "4096"];
    let mut service = sandbox.start_service(&args);
    let truth_path = sandbox.root.with_file_name("truth");
    let trainer = TrainerProcess::start(
        &sandbox,
        &[
            "20000",
            "--metrics",
            &METRICS.to_string(),
            "--vary",
            &seed.to_string(),
            "--truth",
            truth_path.to_str().unwrap(),
            "--full-wait",
            "100",
            "--on-full",
            "skip",
            "--pause-every",
            "50:3",
        ],
        &[("RINGTRACK_RING_SIZE", RING_64K)],
    );
    let dir = trainer.dir.clone();

    // Kill the service at random points while the trainer logs; leave it
    // dead for a random while (the ring may fill and rows be dropped by the
    // full-ring rule), then start a new one, which resumes from the
    // segments.
    let mut rng = Rng::new(seed);
    let mut logs = String::new();
    let mut kills = 0;
    let started = Instant::now();
    while kills < 12 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_micros(2_000 + rng.below(100_000)));
        let log_path = sandbox.service_dir.join("service.log");
        service.kill();
        kills += 1;
        std::thread::sleep(Duration::from_micros(rng.below(30_000)));
        logs.push_str(&std::fs::read_to_string(&log_path).unwrap_or_default());
        let _ = std::fs::remove_file(&log_path);
        service = sandbox.start_service(&args);
    }

    let (status, out) = trainer.wait(Duration::from_secs(120));
    assert!(status.success(), "trainer: {status} {out}");
    let state = wait_for_phase(&dir, Duration::from_secs(30));
    assert_eq!(state.phase, Phase::Finished);
    let truth = read_truth(&truth_path);
    let rows = durable_rows(&dir);
    check_rows(&rows, &truth, seed, true);
    assert_eq!(
        state.dropped,
        20000 - truth.len() as u64,
        "every row not logged was counted as dropped"
    );
    let report = ringtrack_service::verify::verify_run(&dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    drop(service);
    logs.push_str(
        &std::fs::read_to_string(sandbox.service_dir.join("service.log"))
            .unwrap_or_default(),
    );
    eprintln!(
        "service kills: {kills} in {:.1} s; {} rows durable, {} dropped while no service \
         ran, {} segments sealed, {} segments, {} torn tails cut",
        started.elapsed().as_secs_f64(),
        rows.len(),
        state.dropped,
        count(&logs, "segment sealed"),
        report.segments,
        count(&logs, "cut torn segment tail"),
    );
    assert!(report.segments > kills, "the kills fell among many seals");
}

/// What the service would have written next, as one frame: the records the
/// ring holds beyond its read position.
fn next_frame(ring: &Path) -> (Vec<u8>, usize) {
    let mut reader = RingReader::new(RingFile::open(ring).unwrap()).unwrap();
    let mut batch = ringbuf_core::Batch::default();
    reader.read_batch(usize::MAX, &mut batch).unwrap();
    let events: Vec<Event> = batch
        .iter()
        .map(|r| Event::from_record(&r).unwrap())
        .collect();
    let count = events.len();
    (encode_frame(&events, batch.end_pos()).unwrap(), count)
}

fn append(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

fn newest_segment(dir: &Path) -> std::path::PathBuf {
    list_segments(dir).unwrap().pop().unwrap().1
}

/// The two states a service killed mid-write leaves: part of a frame (the
/// write was cut short), or a whole frame whose ring space was not yet
/// freed. The next service cuts the first and reports it, and skips what
/// the second holds when it reads the ring again.
#[test]
fn a_torn_frame_is_cut_and_a_frame_written_but_not_freed_is_not_read_twice() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let mut run = Run::init(sandbox.settings("torn")).unwrap();
    let m = run.metric("m").unwrap();
    let t = run.metric("t").unwrap();
    let mut step = 0u64;
    let mut log = |run: &mut Run, rows: u64| {
        for _ in 0..rows {
            run.log_at(step, &[(m, step as f64), (t, -(step as f64))])
                .unwrap();
            step += 1;
        }
    };
    log(&mut run, 100);
    while run.counters().backlog_bytes > 0 {
        std::thread::sleep(Duration::from_millis(2));
    }
    service.kill();
    let ring = ringtrack::meta::RunMeta::load(run.dir()).unwrap().ring_path;

    // A frame cut short: the first half of what the service would write.
    log(&mut run, 100);
    let (frame, _) = next_frame(&ring);
    let half = frame.len() / 2;
    append(&newest_segment(run.dir()), &frame[..half]);
    let service = sandbox.start_service(&[]);
    while run.counters().backlog_bytes > 0 {
        std::thread::sleep(Duration::from_millis(2));
    }
    service.kill();
    let log1 = std::fs::read_to_string(sandbox.service_dir.join("service.log")).unwrap();
    assert!(
        log1.contains("cut torn segment tail") && log1.contains(&format!("bytes={half}")),
        "{log1}"
    );

    // A whole frame on disk whose ring space the killed service never freed.
    log(&mut run, 100);
    let (frame, count) = next_frame(&ring);
    assert_eq!(count, 100);
    append(&newest_segment(run.dir()), &frame);
    let _service = sandbox.start_service(&[]);
    log(&mut run, 100);
    let id = run.id().to_owned();
    run.finish().unwrap();

    let rows = sandbox.export_rows(&id);
    let steps: Vec<u64> = rows.iter().map(|r| r.step).collect();
    assert_eq!(steps, (0..400).collect::<Vec<_>>());
    assert!(rows.iter().all(|r| r.values
        == [
            ("m".to_owned(), Value::F64(r.step as f64)),
            ("t".to_owned(), Value::F64(-(r.step as f64)))
        ]));
    assert!(sandbox.ringtrack_ok(&["verify", &id]).starts_with("ok:"));
}

/// The runs the service knows, by id, with their state.
fn service_runs(sandbox: &Sandbox) -> Vec<(String, String)> {
    use ringtrack::protocol::{Reply, Request};
    let mut stream = std::os::unix::net::UnixStream::connect(sandbox.socket()).unwrap();
    match ringtrack::client::call(&mut stream, &Request::Status).unwrap() {
        Reply::Status(status) => {
            status.runs.into_iter().map(|r| (r.id, r.state)).collect()
        }
        other => panic!("status: {other:?}"),
    }
}

/// Trainers killed while `init` runs, before it returned: whatever they
/// got as far as registering ends crashed with what it logged; what they
/// did not register is left as a run directory no service tracks (see
/// docs/reliability.md); either way the service goes on.
#[test]
fn trainers_killed_inside_init_leave_the_service_serving() {
    use std::process::{Command, Stdio};
    let seed = env_u64("RINGTRACK_SEED", 0x5eed_c0de) ^ 0x1417;
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&[]);
    let mut rng = Rng::new(seed);
    let (mut registered, mut unregistered, mut none) = (0, 0, 0);
    for n in 0..20u64 {
        let before: Vec<_> = sandbox.run_dirs();
        let mut command = Command::new(ringtrack_tests::bin_path("trainer"));
        command.args(["1000000", "--then", "hang"]);
        sandbox.env(&mut command);
        let mut child = command
            .env("RINGTRACK_RING_SIZE", RING_64K)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(30_000)));
        let _ = child.kill();
        let _ = child.wait();
        let new: Vec<_> = sandbox
            .run_dirs()
            .into_iter()
            .filter(|d| !before.contains(d))
            .collect();
        let known = service_runs(&sandbox);
        match new.as_slice() {
            [] => none += 1,
            [dir] => {
                let id = dir.file_name().unwrap().to_str().unwrap();
                if known.iter().any(|(k, _)| k == id) {
                    registered += 1;
                    let state = wait_for_phase(dir, Duration::from_secs(30));
                    assert_eq!(state.phase, Phase::Crashed, "kill {n}: {state:?}");
                    let steps: Vec<u64> =
                        durable_rows(dir).iter().map(|r| r.step).collect();
                    assert_eq!(steps, (0..steps.len() as u64).collect::<Vec<_>>());
                } else {
                    unregistered += 1;
                }
            }
            many => panic!("one trainer made {} run directories", many.len()),
        }
    }
    // The service still serves.
    let mut run = Run::init(sandbox.settings("after")).unwrap();
    let m = run.metric("m").unwrap();
    run.log(&[(m, 1.0)]).unwrap();
    let dir = run.dir().to_owned();
    run.finish().unwrap();
    assert_eq!(durable_rows(&dir).len(), 1);
    drop(service);
    eprintln!(
        "kills inside init: {none} before the run directory, {unregistered} before \
         registration, {registered} after it"
    );
}
