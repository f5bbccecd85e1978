//! `ringtrack service --background`: start the service detached from the
//! caller, and return once it is ready.
//!
//! The command forks before any thread exists. The child starts a new
//! session, points its standard streams at `/dev/null` (it logs to the
//! service directory's `service.log`) and runs the service; the parent
//! waits on a pipe until the child reports that it holds the lock and
//! listens, or why it could not, and exits with that outcome.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;

use anyhow::{bail, Context};

/// What the calling process is after the fork.
#[derive(Debug)]
pub enum Side {
    /// The detached child: report readiness on this pipe.
    Child(std::fs::File),
}

/// Forks. In the parent this waits for the child's report and never
/// returns (it exits); in the child it returns the pipe to report on.
pub fn detach() -> anyhow::Result<Side> {
    let (read_end, write_end) = nix::unistd::pipe().context("cannot make a pipe")?;
    // SAFETY: the process has a single thread here (this runs before the
    // service starts any), so the child may run arbitrary code after fork.
    match unsafe { nix::unistd::fork() }.context("cannot fork")? {
        nix::unistd::ForkResult::Parent { .. } => {
            drop(write_end);
            let mut report = String::new();
            std::fs::File::from(read_end).read_to_string(&mut report)?;
            match report.strip_prefix("ok") {
                Some(_) => std::process::exit(0),
                None if report.is_empty() => {
                    bail!("the service exited before it was ready")
                }
                None => bail!("{}", report.trim_start_matches("err ")),
            }
        }
        nix::unistd::ForkResult::Child => {
            drop(read_end);
            nix::unistd::setsid().context("setsid")?;
            redirect_stdio_to_null()?;
            Ok(Side::Child(std::fs::File::from(write_end)))
        }
    }
}

/// Tells the waiting parent how starting went.
pub fn report(pipe: &mut std::fs::File, outcome: Result<(), String>) {
    let text = match outcome {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("err {e}"),
    };
    let _ = pipe.write_all(text.as_bytes());
}

fn redirect_stdio_to_null() -> anyhow::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors; `null` stays open
        // for the call, and nothing in this process holds Rust handles to
        // descriptors 0 to 2 that would be invalidated.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            bail!("cannot redirect descriptor {fd}");
        }
    }
    Ok(())
}
