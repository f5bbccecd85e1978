//! The service's uploader: a thread with its own tokio runtime that keeps
//! every online run's upload going beside the drains.
//!
//! Runs to upload are listed in `<service dir>/uploads/`, one file per run
//! (like the drain registry), added when an online run with a tracking
//! server registers and removed once its upload is complete. Every second
//! the worker starts a session for each listed run that has new durable
//! events or has ended, one session per run at a time. A run whose server
//! is unreachable is retried after a growing pause (5 s doubling to 5 min),
//! so an outage of any length ends with the run uploaded. The worker only
//! reads segments: it never touches rings, so it cannot slow a trainer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringtrack::meta::RunMeta;

use super::retry::RetryPolicy;
use super::session::{upload_run, UploadError};
use super::target::Target;
use crate::registry;
use crate::state::RunState;

/// The registry folder of pending uploads.
pub const UPLOADS: &str = "uploads";

#[derive(Debug, Default)]
struct RunSlot {
    busy: bool,
    seen_events: Option<u64>,
    not_before: Option<Instant>,
    pause: Duration,
}

/// Starts the upload thread; it stops when `stop` is set.
pub fn spawn(
    service_dir: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("uploader".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the upload runtime; uploads are off");
                return;
            }
        };
        runtime.block_on(run_loop(service_dir, stop));
    })
}

async fn run_loop(service_dir: PathBuf, stop: Arc<AtomicBool>) {
    let slots: Arc<Mutex<HashMap<String, RunSlot>>> = Arc::default();
    let policy = RetryPolicy::from_env();
    while !stop.load(Ordering::Relaxed) {
        for (id, dir) in registry::list_in(&service_dir, UPLOADS) {
            if let Some(target) = due(&slots, &id, &dir) {
                let (slots, service_dir) = (Arc::clone(&slots), service_dir.clone());
                tokio::spawn(async move {
                    let result = upload_run(&dir, &target, policy, &|_, _| {}).await;
                    settle(&slots, &service_dir, &id, result);
                });
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The target to upload to now, if this run should start a session.
fn due(slots: &Mutex<HashMap<String, RunSlot>>, id: &str, dir: &Path) -> Option<Target> {
    let mut slots = slots.lock().unwrap_or_else(|p| p.into_inner());
    let slot = slots.entry(id.to_owned()).or_default();
    if slot.busy || slot.not_before.is_some_and(|t| Instant::now() < t) {
        return None;
    }
    let state = RunState::load(dir);
    let events = state.as_ref().map(|s| s.events);
    let ended = state.as_ref().is_some_and(|s| s.phase.is_final());
    if !ended && events == slot.seen_events {
        return None;
    }
    let uri = RunMeta::load(dir).ok()?.tracking_uri?;
    let target = match Target::new(&uri) {
        Ok(target) => target,
        Err(e) => {
            tracing::error!(run = id, error = %e, "cannot upload run");
            return None;
        }
    };
    slot.busy = true;
    slot.seen_events = events;
    Some(target)
}

fn settle(
    slots: &Mutex<HashMap<String, RunSlot>>,
    service_dir: &Path,
    id: &str,
    result: Result<super::UploadOutcome, UploadError>,
) {
    let mut slots = slots.lock().unwrap_or_else(|p| p.into_inner());
    let slot = slots.entry(id.to_owned()).or_default();
    slot.busy = false;
    match result {
        Ok(outcome) if outcome.complete => {
            registry::remove_in(service_dir, UPLOADS, id);
            slots.remove(id);
        }
        Ok(_) => slot.pause = Duration::ZERO,
        Err(UploadError::Busy) => slot.seen_events = None,
        Err(UploadError::Unavailable(e)) => {
            slot.pause =
                (slot.pause * 2).clamp(Duration::from_secs(5), Duration::from_secs(300));
            slot.not_before = Some(Instant::now() + slot.pause);
            slot.seen_events = None;
            tracing::warn!(run = id, pause_s = slot.pause.as_secs(), error = %e, "upload paused: server unavailable");
        }
        Err(UploadError::Fatal(e)) => {
            tracing::error!(run = id, error = %e, "upload stopped");
            registry::remove_in(service_dir, UPLOADS, id);
        }
    }
}
