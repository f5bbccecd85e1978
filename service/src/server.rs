//! The node service: one per service directory (so per user and node),
//! holding a lock, listening on a control socket, and running one drain
//! thread per live run.
//!
//! Drains are plain threads: each does blocking file I/O on its own run,
//! and a node has a handful of runs, not thousands. The control socket is
//! served by a small accept loop, a thread per connection; a trainer's
//! connection stays open for the run's life and its end tells the drain
//! that the trainer is gone.
//!
//! Stopping (SIGTERM, SIGINT or a `Stop` request) lets every drain empty
//! its ring into segments, syncs them, and exits. Runs that had not ended
//! stay in the registry and are resumed by the next service.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context};
use ringtrack::meta::RunMeta;
use ringtrack::paths::socket_path;
use ringtrack::protocol::{self, Reply, Request, RunStatus, ServiceStatus};

use crate::drain::{drain_run, run_id_of, DrainEnd, DrainOptions, RunHandle};
use crate::registry;
use crate::state::now_ms;

/// Set by the signal handler; checked by the accept loop.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// The service's settings.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// The service directory: lock, socket, log, registry.
    pub dir: PathBuf,
    /// How drains behave.
    pub drain: DrainOptions,
}

/// Holds the node lock for as long as it lives.
#[derive(Debug)]
pub struct NodeLock {
    _file: File,
}

/// Takes the service directory's lock, or says which process holds it.
pub fn take_lock(dir: &Path) -> anyhow::Result<NodeLock> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| {
            format!("cannot create the service directory {}", dir.display())
        })?;
    check_private_dir(dir)?;
    let path = dir.join("service.lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        bail!(
            "another ringtrack service is already running for {} (pid {}); one runs per \
             node and user",
            dir.display(),
            holder.trim()
        );
    }
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())?;
    Ok(NodeLock { _file: file })
}

/// Refuses a service directory that another user owns, and tightens one of
/// ours that others could enter.
fn check_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).with_context(|| {
        format!("cannot stat the service directory {}", dir.display())
    })?;
    let me = nix::unistd::getuid().as_raw();
    if !meta.is_dir() || meta.uid() != me {
        bail!(
            "the service directory {} is not a directory owned by uid {me}; refusing to use it",
            dir.display()
        );
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

struct Service {
    options: ServiceOptions,
    stop: Arc<AtomicBool>,
    runs: Mutex<HashMap<String, Arc<RunHandle>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    started_ms: i64,
}

/// Runs the service until it is told to stop. `ready` is called once the
/// lock is held and the socket listens (or with the reason it could not).
pub fn run(
    options: ServiceOptions,
    ready: impl FnOnce(Result<(), String>),
) -> anyhow::Result<()> {
    let (lock, listener) = match bind(&options.dir) {
        Ok(bound) => bound,
        Err(err) => {
            ready(Err(format!("{err:#}")));
            return Err(err);
        }
    };
    install_signal_handlers();
    // A ring file truncated under its mapping must end that run, not the
    // service: see ringbuf_core::guard.
    if let Err(err) = ringbuf_core::guard::install_sigbus_guard() {
        tracing::warn!(error = %err, "no SIGBUS guard: a ring truncated mid-read can kill the service");
    }
    let service = Arc::new(Service {
        options,
        stop: Arc::new(AtomicBool::new(false)),
        runs: Mutex::new(HashMap::new()),
        threads: Mutex::new(Vec::new()),
        started_ms: now_ms(),
    });
    tracing::info!(dir = %service.options.dir.display(), pid = std::process::id(), "service started");
    for (id, dir) in registry::list(&service.options.dir) {
        service.start_drain(id, dir);
    }
    match crate::upload::worker::spawn(
        service.options.dir.clone(),
        Arc::clone(&service.stop),
    ) {
        Ok(thread) => service
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(thread),
        Err(e) => tracing::error!(error = %e, "cannot start the uploader"),
    }
    ready(Ok(()));
    accept_loop(&service, &listener);

    tracing::info!("service stopping: draining what the rings hold");
    service.stop.store(true, Ordering::SeqCst);
    let threads =
        std::mem::take(&mut *service.threads.lock().unwrap_or_else(|p| p.into_inner()));
    for thread in threads {
        let _ = thread.join();
    }
    let _ = std::fs::remove_file(socket_path(&service.options.dir));
    drop(lock);
    tracing::info!("service stopped");
    Ok(())
}

fn bind(dir: &Path) -> anyhow::Result<(NodeLock, UnixListener)> {
    let lock = take_lock(dir)?;
    let socket = socket_path(dir);
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok((lock, listener))
}

fn install_signal_handlers() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        let _ = unsafe { sigaction(signal, &action) };
    }
    // SAFETY: ignoring SIGPIPE installs no handler code; writes to closed
    // sockets then fail with EPIPE instead of killing the service.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigIgn) };
}

fn accept_loop(service: &Arc<Service>, listener: &UnixListener) {
    while !SIGNALLED.load(Ordering::SeqCst) && !service.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let service = Arc::clone(service);
                std::thread::spawn(move || service.serve(stream));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Service {
    fn serve(self: Arc<Self>, mut stream: UnixStream) {
        let _ = stream.set_nonblocking(false);
        if let Err(reason) = check_peer(&stream) {
            let _ = protocol::send(&mut stream, &Reply::Refused(reason));
            return;
        }
        let request = match protocol::receive::<Request>(&mut stream) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "bad control message");
                let _ = protocol::send(
                    &mut stream,
                    &Reply::Refused(format!("bad message: {e}")),
                );
                return;
            }
        };
        match request {
            Request::Register { run_dir } => self.register(stream, run_dir),
            Request::Status => {
                let _ = protocol::send(&mut stream, &Reply::Status(self.status()));
            }
            Request::Stop => {
                self.stop.store(true, Ordering::SeqCst);
                let _ = protocol::send(&mut stream, &Reply::Stopping);
            }
        }
    }

    fn register(&self, mut stream: UnixStream, run_dir: PathBuf) {
        let checked = check_run_dir(&run_dir);
        let (id, handle) = match checked.and_then(|id| {
            registry::add(&self.options.dir, &id, &run_dir)
                .map_err(|e| format!("cannot record the run: {e}"))?;
            queue_upload(&self.options.dir, &id, &run_dir)?;
            Ok(id)
        }) {
            Ok(id) => {
                let handle = self.start_drain(id.clone(), run_dir);
                (id, handle)
            }
            Err(reason) => {
                tracing::warn!(dir = %run_dir.display(), reason = %reason, "registration refused");
                let _ = protocol::send(&mut stream, &Reply::Refused(reason));
                return;
            }
        };
        if protocol::send(&mut stream, &Reply::Registered).is_err() {
            handle.trainer_gone.store(true, Ordering::SeqCst);
            return;
        }
        tracing::info!(run = %id, "run registered");
        // The connection stays open for the run's life; its end is the
        // trainer's end.
        let mut sink = [0u8; 64];
        loop {
            match std::io::Read::read(&mut stream, &mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        handle.trainer_gone.store(true, Ordering::SeqCst);
    }

    fn start_drain(&self, id: String, dir: PathBuf) -> Arc<RunHandle> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = runs.get(&id) {
            existing.trainer_gone.store(false, Ordering::SeqCst);
            return Arc::clone(existing);
        }
        let handle = Arc::new(RunHandle::new(id.clone(), dir));
        runs.insert(id.clone(), Arc::clone(&handle));
        drop(runs);
        let drain_handle = Arc::clone(&handle);
        let options = self.options.drain;
        let stop = Arc::clone(&self.stop);
        let service_dir = self.options.dir.clone();
        let thread = std::thread::Builder::new()
            .name(format!("drain-{id}"))
            .spawn(move || {
                let end = drain_run(&drain_handle, &options, &stop);
                if let DrainEnd::RunEnded(_) = end {
                    registry::remove(&service_dir, &drain_handle.id);
                }
            });
        match thread {
            Ok(thread) => self
                .threads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(thread),
            Err(e) => {
                tracing::error!(run = %id, error = %e, "cannot start a drain thread")
            }
        }
        handle
    }

    fn status(&self) -> ServiceStatus {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<RunStatus> = runs
            .values()
            .map(|h| RunStatus {
                id: h.id.clone(),
                dir: h.dir.clone(),
                state: h
                    .phase
                    .lock()
                    .map(|p| p.as_str())
                    .unwrap_or("error")
                    .to_owned(),
                rows: h.rows.load(Ordering::Relaxed),
                backlog_bytes: h.backlog.load(Ordering::Relaxed),
                dropped: h.dropped.load(Ordering::Relaxed),
            })
            .collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        ServiceStatus {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_ms: self.started_ms,
            runs: list,
        }
    }
}

/// Queues an online run that names a tracking server for upload.
fn queue_upload(service_dir: &Path, id: &str, run_dir: &Path) -> Result<(), String> {
    let meta = RunMeta::load(run_dir)?;
    if meta.mode == "online" && meta.tracking_uri.is_some() {
        registry::add_in(service_dir, crate::upload::worker::UPLOADS, id, run_dir)
            .map_err(|e| format!("cannot queue the run's upload: {e}"))?;
    }
    Ok(())
}

/// Accepts connections only from processes of the service's own user.
fn check_peer(stream: &UnixStream) -> Result<(), String> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let creds = getsockopt(stream, PeerCredentials)
        .map_err(|e| format!("peer credentials: {e}"))?;
    let me = nix::unistd::getuid().as_raw();
    if creds.uid() != me {
        tracing::warn!(
            peer_uid = creds.uid(),
            peer_pid = creds.pid(),
            "connection from another user refused"
        );
        return Err(format!("this service serves uid {me} only"));
    }
    Ok(())
}

/// Checks a run directory named in a registration; returns the run id.
fn check_run_dir(run_dir: &Path) -> Result<String, String> {
    if !run_dir.is_absolute() {
        return Err(format!(
            "run directory {} is not an absolute path",
            run_dir.display()
        ));
    }
    let meta_path = run_dir.join(ringtrack::meta::META_FILE);
    let link = std::fs::symlink_metadata(&meta_path)
        .map_err(|e| format!("cannot read {}: {e}", meta_path.display()))?;
    if !link.file_type().is_file() {
        return Err(format!("{} is not a regular file", meta_path.display()));
    }
    let meta = RunMeta::load(run_dir)?;
    let id = run_id_of(run_dir).ok_or_else(|| {
        format!("run directory name {} is not a run id", run_dir.display())
    })?;
    if meta.id != id {
        return Err(format!(
            "run.json says id {:?} but the directory is {id:?}",
            meta.id
        ));
    }
    Ok(id)
}
