//! Reaching the node service: connect to its control socket, and start one
//! in the background when none is running.
//!
//! Starting is `ringtrack service --background --dir <service dir>`: that
//! command returns once the new service holds the node lock and listens, so
//! the SDK can connect right after it exits. Two trainers starting at once
//! both try; the lock lets one service win and the other command reports
//! that one is already running, which is just as good.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::paths::socket_path;
use crate::protocol::{self, Reply, Request};

/// Connects to the service in `service_dir`, starting it with `bin` (or the
/// binary found by [`find_service_bin`]) when nothing answers.
pub fn connect_or_start(service_dir: &Path, bin: Option<&Path>) -> Result<UnixStream> {
    if let Ok(stream) = UnixStream::connect(socket_path(service_dir)) {
        return Ok(stream);
    }
    let bin = match bin {
        Some(b) => b.to_owned(),
        None => find_service_bin().ok_or_else(|| {
            Error::Service(format!(
                "no service answers at {} and no `ringtrack` binary was found to start one \
                 (set RINGTRACK_SERVICE_BIN, put it on PATH, or run `ringtrack service`)",
                socket_path(service_dir).display()
            ))
        })?,
    };
    start_service(&bin, service_dir)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(socket_path(service_dir)) {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() >= deadline => {
                return Err(Error::Service(format!(
                    "started {} but cannot connect to {}: {e}",
                    bin.display(),
                    socket_path(service_dir).display()
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Sends `request` and reads the one reply.
pub fn call(stream: &mut UnixStream, request: &Request) -> Result<Reply> {
    let io = |e: std::io::Error| Error::Service(format!("control socket: {e}"));
    protocol::send(stream, request).map_err(io)?;
    protocol::receive(stream).map_err(io)?.ok_or_else(|| {
        Error::Service("the service closed the connection without a reply".into())
    })
}

fn start_service(bin: &Path, service_dir: &Path) -> Result<()> {
    let output = Command::new(bin)
        .arg("service")
        .arg("--background")
        .arg("--dir")
        .arg(service_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::Service(format!("cannot start {}: {e}", bin.display())))?;
    if output.status.success() {
        return Ok(());
    }
    // Another trainer may have started one at the same moment.
    if UnixStream::connect(socket_path(service_dir)).is_ok() {
        return Ok(());
    }
    Err(Error::Service(format!(
        "{} service --background failed ({}): {}",
        bin.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

/// The `ringtrack` binary: `RINGTRACK_SERVICE_BIN`, else next to the running
/// program (or one directory up, as for cargo's `examples/`), else on
/// `PATH`.
pub fn find_service_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("RINGTRACK_SERVICE_BIN") {
        return Some(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().ok()?;
    let near = exe
        .parent()
        .into_iter()
        .flat_map(|d| [d.to_owned(), d.join("..")]);
    let path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    near.chain(path)
        .map(|d| d.join("ringtrack"))
        .find(|p| p.is_file())
}
