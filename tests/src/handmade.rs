//! Run directories made by hand, for tests that give the service what no
//! honest SDK would: rings that lie, links planted where files belong.
//!
//! A hand-made run names the test process as its trainer, so the service
//! takes it as live for as long as its control connection stays open.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use ringtrack::meta::RunMeta;
use ringtrack::protocol::{Reply, Request};

use crate::harness::{bin_path, Sandbox};

/// A run directory under the sandbox's root, with a `run.json` that names
/// `ring_path` and `ring_id`. Returns the directory.
pub fn make_run(sandbox: &Sandbox, id: &str, ring_path: &Path, ring_id: u64) -> PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&sandbox.root)
        .expect("run root");
    let dir = sandbox.root.join(id);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .expect("run dir");
    let pid = std::process::id();
    let meta = RunMeta {
        format: 1,
        id: id.to_owned(),
        project: "hand-made".to_owned(),
        name: id.to_owned(),
        created_ms: 0,
        host: "test".to_owned(),
        pid,
        pid_start_time: ringtrack::paths::process_start_time(pid),
        ring_path: ring_path.to_owned(),
        ring_id,
        mode: "offline".to_owned(),
        sdk_version: "test".to_owned(),
        tracking_uri: None,
    };
    meta.store(&dir).expect("run.json");
    dir
}

/// Registers the run in `dir` with the sandbox's service (starting none)
/// and returns the open control connection with the service's reply.
pub fn register(sandbox: &Sandbox, dir: &Path) -> (UnixStream, Reply) {
    let mut stream = ringtrack::client::connect_or_start(
        &sandbox.service_dir,
        Some(&bin_path("ringtrack")),
    )
    .expect("connect to the service");
    let reply = ringtrack::client::call(
        &mut stream,
        &Request::Register {
            run_dir: dir.to_owned(),
        },
    )
    .expect("register");
    (stream, reply)
}
