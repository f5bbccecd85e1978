//! Who may touch a run: everything is created owner-only, the control
//! socket serves only the service's own user, and links planted in a run
//! directory are refused, never followed.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ringbuf_core::{RingFile, RingOptions};
use ringtrack::protocol::Reply;
use ringtrack::Run;
use ringtrack_service::state::Phase;
use ringtrack_tests::handmade::{make_run, register};
use ringtrack_tests::{bin_path, wait_for_phase, Sandbox};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .mode()
        & 0o7777
}

#[test]
fn runs_rings_segments_and_the_service_are_owner_only() {
    let sandbox = Sandbox::new();
    let service = sandbox.start_service(&["--segment-size", "4096"]);
    // A ring directory the SDK creates itself, and a run root it creates.
    let ring_dir = sandbox.ring_dir.join("made-by-sdk");
    let root = sandbox.root.join("made-by-sdk");
    let mut run =
        Run::init(sandbox.settings("modes").ring_dir(&ring_dir).root(&root)).unwrap();
    let m = run.metric("m").unwrap();
    for step in 0..2000u64 {
        run.log_at(step, &[(m, step as f64)]).unwrap();
    }
    let dir = run.dir().to_owned();
    let ring = ringtrack::meta::RunMeta::load(&dir).unwrap().ring_path;
    assert_eq!(mode(&ring), 0o600, "ring file");
    assert_eq!(mode(&ring_dir), 0o700, "ring directory");
    run.finish().unwrap();

    assert_eq!(mode(&root), 0o700, "run root");
    assert_eq!(mode(&dir), 0o700, "run directory");
    assert_eq!(mode(&dir.join("run.json")), 0o600, "run.json");
    assert_eq!(mode(&dir.join("state.json")), 0o600, "state.json");
    let segments = dir.join("segments");
    assert_eq!(mode(&segments), 0o700, "segments directory");
    let files: Vec<_> = std::fs::read_dir(&segments).unwrap().collect();
    assert!(files.len() > 1, "several segments were sealed");
    for file in files {
        let path = file.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    let svc = &sandbox.service_dir;
    assert_eq!(mode(svc), 0o700, "service directory");
    assert_eq!(mode(&sandbox.socket()), 0o600, "control socket");
    for name in ["service.lock", "service.log"] {
        assert_eq!(mode(&svc.join(name)), 0o600, "{name}");
    }
    assert_eq!(mode(&svc.join("runs")), 0o700, "registry");
    drop(service);
}

/// Runs the `peer` client as uid 65534 (nobody); `None` when this process
/// cannot switch users (not root).
fn peer_as_nobody(socket: &Path, args: &[&str]) -> Option<String> {
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let out = Command::new(bin_path("peer"))
        .arg(socket)
        .args(args)
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run peer");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn another_user_is_kept_out_by_the_socket_and_by_peer_credentials() {
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);
    let socket = sandbox.socket();
    // The peer binary must be reachable by nobody.
    let target = bin_path("peer");
    let reachable = target
        .ancestors()
        .all(|p| p.as_os_str().is_empty() || mode(p) & 0o001 != 0 || p == target);
    if !reachable {
        eprintln!(
            "SKIPPED: {} is not reachable by another user",
            target.display()
        );
        return;
    }

    // As the SDK leaves it: nobody cannot even reach the socket.
    let Some(out) = peer_as_nobody(&socket, &["status"]) else {
        eprintln!("SKIPPED: not root, cannot run a client as another user");
        return;
    };
    assert!(
        out.starts_with("connect:") && out.contains("ermission denied"),
        "{out}"
    );

    // With the file permissions opened up by hand, the service's own check
    // of the peer's credentials still refuses.
    let tmp = sandbox.service_dir.parent().unwrap();
    for (path, m) in [
        (tmp, 0o711),
        (sandbox.service_dir.as_path(), 0o711),
        (&socket, 0o777),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let out = peer_as_nobody(&socket, &["status"]).unwrap();
    assert!(
        out.contains("Refused") && out.contains("serves uid 0 only"),
        "{out}"
    );
    let run_dir = sandbox.root.join("x");
    let out = peer_as_nobody(&socket, &["register", run_dir.to_str().unwrap()]).unwrap();
    assert!(out.contains("Refused"), "{out}");
    let log = std::fs::read_to_string(sandbox.service_dir.join("service.log")).unwrap();
    assert!(
        log.contains("connection from another user refused")
            && log.contains("peer_uid=65534"),
        "{log}"
    );
}

/// A hand-made run with a valid ring; `plant` puts a link into it before
/// it is registered. The run must end in error naming the link, and the
/// link's target must be untouched.
fn planted(sandbox: &Sandbox, name: &str, plant: impl FnOnce(&Path, &Path), fault: &str) {
    let ring = sandbox.ring_dir.join(name);
    let ring_id = RingFile::create(&ring, RingOptions::with_capacity(1 << 16))
        .unwrap()
        .info()
        .ring_id;
    let dir = make_run(sandbox, name, &ring, ring_id);
    let outside = sandbox.root.with_file_name(format!("outside-{name}"));
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("target"), b"precious").unwrap();
    plant(&dir, &outside);
    let (_stream, reply) = register(sandbox, &dir);
    assert!(matches!(reply, Reply::Registered), "{name}: {reply:?}");
    let state = wait_for_phase(&dir, Duration::from_secs(20));
    let message = state.error.clone().unwrap_or_default();
    assert_eq!(state.phase, Phase::Error, "{name}: {state:?}");
    assert!(message.contains(fault), "{name}: {message}");
    assert_eq!(std::fs::read(outside.join("target")).unwrap(), b"precious");
    let entries: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
    assert_eq!(
        entries.len(),
        1,
        "{name}: nothing was created through the link"
    );
}

#[test]
fn links_planted_in_a_run_directory_are_refused_not_followed() {
    use std::os::unix::fs::symlink;
    let sandbox = Sandbox::new();
    let _service = sandbox.start_service(&[]);

    planted(
        &sandbox,
        "segments-dir",
        |dir, outside| symlink(outside, dir.join("segments")).unwrap(),
        "segments is not a directory (a symbolic link?)",
    );
    planted(
        &sandbox,
        "segment-file",
        |dir, outside| {
            std::fs::create_dir(dir.join("segments")).unwrap();
            symlink(outside.join("target"), dir.join("segments/00000000.seg")).unwrap();
        },
        "00000000.seg is not a regular file",
    );
    planted(
        &sandbox,
        "state-file",
        |dir, outside| symlink(outside.join("target"), dir.join("state.json")).unwrap(),
        "state.json is a symbolic link",
    );
    planted(
        &sandbox,
        "ring-link",
        |dir, outside| {
            // The ring's path is a link to a file elsewhere.
            let meta = ringtrack::meta::RunMeta::load(dir).unwrap();
            std::fs::remove_file(&meta.ring_path).unwrap();
            symlink(outside.join("target"), &meta.ring_path).unwrap();
        },
        "is a symbolic link; the service maps only regular files",
    );
    planted(
        &sandbox,
        "ring-outside",
        |dir, outside| {
            // run.json names a file that is not a ring at all.
            let mut meta = ringtrack::meta::RunMeta::load(dir).unwrap();
            meta.ring_path = outside.join("target");
            std::fs::set_permissions(
                &meta.ring_path,
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            meta.store(dir).unwrap();
        },
        "target is not a valid ring",
    );
    planted(
        &sandbox,
        "ring-shared",
        |dir, _| {
            let meta = ringtrack::meta::RunMeta::load(dir).unwrap();
            std::fs::set_permissions(
                &meta.ring_path,
                std::fs::Permissions::from_mode(0o666),
            )
            .unwrap();
        },
        "can be written by other users (mode 666)",
    );
    planted(
        &sandbox,
        "ring-foreign",
        |dir, _| {
            let meta = ringtrack::meta::RunMeta::load(dir).unwrap();
            std::os::unix::fs::chown(&meta.ring_path, Some(65534), None).unwrap();
        },
        "belongs to uid 65534",
    );

    // run.json itself as a link is refused at registration.
    let ring = sandbox.ring_dir.join("meta-link");
    let id = RingFile::create(&ring, RingOptions::with_capacity(1 << 16))
        .unwrap()
        .info()
        .ring_id;
    let dir = make_run(&sandbox, "meta-link", &ring, id);
    let elsewhere = sandbox.root.with_file_name("run.json");
    std::fs::rename(dir.join("run.json"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.join("run.json")).unwrap();
    let (_stream, reply) = register(&sandbox, &dir);
    assert!(
        matches!(&reply, Reply::Refused(r) if r.contains("is not a regular file")),
        "{reply:?}"
    );
}
