//! One upload session of one run: everything the segments hold that the
//! server has not acknowledged, and the run's end once it has ended.
//!
//! A session takes the run's `upload.lock`, so the service and a
//! `ringtrack sync` never upload the same run at once. It sends up to
//! [`IN_FLIGHT`] batches at a time and records progress only up to the
//! longest prefix of batches the server acknowledged.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ringtrack::meta::RunMeta;
use tokio::task::JoinSet;

use super::cursor::{Rejected, UploadCursor};
use super::http::HttpClient;
use super::mapping::{plan, Plan, Planned};
use super::mlflow::{CallError, Mlflow};
use super::retry::RetryPolicy;
use super::target::Target;
use crate::segment::read_events;
use crate::state::{Phase, RunState};

/// Batches sent at once.
pub const IN_FLIGHT: usize = 2;

/// How far a session got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOutcome {
    /// The MLflow run id.
    pub mlflow_run_id: String,
    /// Rows acknowledged so far.
    pub rows_acked: u64,
    /// Rows in the run's segments.
    pub rows_total: u64,
    /// Whether the run's end is on the server too.
    pub complete: bool,
    /// Batches the server refused, over the run's life.
    pub rejected: usize,
}

/// Why a session stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    /// Another process is uploading this run.
    Busy,
    /// The server could not be reached; progress so far is recorded.
    Unavailable(String),
    /// The run cannot be uploaded as it is.
    Fatal(String),
}

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadError::Busy => f.write_str("another process is uploading this run"),
            UploadError::Unavailable(e) => write!(f, "{e}"),
            UploadError::Fatal(e) => write!(f, "{e}"),
        }
    }
}

/// Progress callback: (rows acknowledged, rows in total).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Uploads what the run in `run_dir` holds and the server lacks.
pub async fn upload_run(
    run_dir: &Path,
    target: &Target,
    policy: RetryPolicy,
    progress: Progress<'_>,
) -> Result<UploadOutcome, UploadError> {
    let _lock = lock(run_dir)?;
    let meta = RunMeta::load(run_dir).map_err(UploadError::Fatal)?;
    let state = RunState::load(run_dir);
    let mut cursor = UploadCursor::load(run_dir)
        .map_err(UploadError::Fatal)?
        .unwrap_or_else(|| UploadCursor::new(&target.uri));
    if cursor.target != target.uri {
        return Err(UploadError::Fatal(format!(
            "run {} is being uploaded to {}, not {}",
            meta.id, cursor.target, target.uri
        )));
    }
    let http = HttpClient::new(target, policy.timeout).map_err(UploadError::Fatal)?;
    let api = Mlflow::new(http, policy, &meta.id);
    let fail = |e: CallError| match e {
        CallError::Unavailable(m) => UploadError::Unavailable(m),
        rejected => UploadError::Fatal(rejected.to_string()),
    };

    let run_id = ensure_run(&api, &meta, &mut cursor, run_dir)
        .await
        .map_err(fail)?;
    let (events, _) = read_events(run_dir).map_err(|e| {
        UploadError::Fatal(format!(
            "cannot read the segments of {}: {e}",
            run_dir.display()
        ))
    })?;
    let planned = plan(&events, cursor.next_seq);
    cursor.rows_total = planned.total_rows;
    if cursor.next_seq == 0 {
        cursor.rows_acked = 0;
    }
    progress(cursor.rows_acked, cursor.rows_total);
    send_batches(&api, &run_id, &planned, &mut cursor, run_dir, progress).await?;

    let ended = state.as_ref().filter(|s| s.phase.is_final());
    if let Some(state) = ended {
        if !cursor.complete && cursor.next_seq >= planned.end_seq {
            finish_run(&api, &run_id, state, &planned, &cursor)
                .await
                .map_err(fail)?;
            cursor.complete = true;
            store(&mut cursor, run_dir)?;
            tracing::info!(run = %meta.id, mlflow_run = %run_id, rows = cursor.rows_acked, "upload complete");
        }
    }
    Ok(UploadOutcome {
        mlflow_run_id: run_id,
        rows_acked: cursor.rows_acked,
        rows_total: cursor.rows_total,
        complete: cursor.complete,
        rejected: cursor.rejected.len(),
    })
}

/// The run's MLflow id: recorded, found by its tag, or created.
async fn ensure_run(
    api: &Mlflow,
    meta: &RunMeta,
    cursor: &mut UploadCursor,
    run_dir: &Path,
) -> Result<String, CallError> {
    if let Some(id) = &cursor.mlflow_run_id {
        return Ok(id.clone());
    }
    let experiment = match &cursor.experiment_id {
        Some(id) => id.clone(),
        None => api.experiment_id(&meta.project).await?,
    };
    let run_id = match api.find_run(&experiment, &meta.id).await? {
        Some(id) => id,
        None => {
            let tags = vec![
                ("ringtrack.run_id".to_owned(), meta.id.clone()),
                ("ringtrack.host".to_owned(), meta.host.clone()),
                ("ringtrack.pid".to_owned(), meta.pid.to_string()),
                ("ringtrack.version".to_owned(), meta.sdk_version.clone()),
            ];
            api.create_run(&experiment, &meta.name, meta.created_ms, &tags)
                .await?
        }
    };
    cursor.experiment_id = Some(experiment);
    cursor.mlflow_run_id = Some(run_id.clone());
    let _ = cursor.store(run_dir);
    Ok(run_id)
}

async fn send_batches(
    api: &Mlflow,
    run_id: &str,
    planned: &Plan,
    cursor: &mut UploadCursor,
    run_dir: &Path,
    progress: Progress<'_>,
) -> Result<(), UploadError> {
    let batches = &planned.batches;
    let mut in_flight = JoinSet::new();
    let mut done: std::collections::BTreeMap<usize, Result<(), CallError>> =
        Default::default();
    let (mut next_send, mut next_ack) = (0usize, 0usize);
    let mut rows_acked = planned.rows_before;
    while next_ack < batches.len() {
        while in_flight.len() < IN_FLIGHT && next_send < batches.len() {
            let (api, run_id, batch) =
                (api.clone(), run_id.to_owned(), batches[next_send].clone());
            let index = next_send;
            in_flight
                .spawn(async move { (index, send_one(&api, &run_id, &batch).await) });
            next_send += 1;
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (index, result) =
            joined.map_err(|e| UploadError::Fatal(format!("upload task failed: {e}")))?;
        done.insert(index, result);
        while let Some(result) = done.remove(&next_ack) {
            let batch = &batches[next_ack];
            match result {
                Ok(()) => {}
                Err(CallError::Rejected {
                    status, message, ..
                }) => {
                    tracing::error!(
                        run = %run_dir.display(), first_seq = batch.first_seq, last_seq = batch.last_seq,
                        status, message = %message, "server refused a batch; set aside"
                    );
                    cursor.rejected.push(Rejected {
                        first_seq: batch.first_seq,
                        last_seq: batch.last_seq,
                        status,
                        message,
                    });
                }
                Err(CallError::Unavailable(message)) => {
                    in_flight.abort_all();
                    return Err(UploadError::Unavailable(message));
                }
            }
            rows_acked += batch.rows;
            if batch.completes {
                cursor.next_seq = batch.last_seq + 1;
                cursor.rows_acked = rows_acked;
                store(cursor, run_dir)?;
                progress(cursor.rows_acked, cursor.rows_total);
            }
            next_ack += 1;
        }
    }
    Ok(())
}

async fn send_one(api: &Mlflow, run_id: &str, batch: &Planned) -> Result<(), CallError> {
    if batch.points.is_empty() && batch.params.is_empty() && batch.tags.is_empty() {
        return Ok(());
    }
    api.log_batch(run_id, &batch.points, &batch.params, &batch.tags)
        .await
}

/// Sends the run's end: counters of what could not be stored, how it
/// ended, its status and end time.
async fn finish_run(
    api: &Mlflow,
    run_id: &str,
    state: &RunState,
    planned: &Plan,
    cursor: &UploadCursor,
) -> Result<(), CallError> {
    let mut tags = planned.skipped.tags();
    tags.push((
        "ringtrack.state".to_owned(),
        state.phase.as_str().to_owned(),
    ));
    if let Some(code) = state.exit_code {
        tags.push(("ringtrack.exit_code".to_owned(), code.to_string()));
    }
    if state.phase == Phase::Crashed {
        tags.push(("ringtrack.crashed".to_owned(), "true".to_owned()));
    }
    if let Some(error) = &state.error {
        tags.push(("ringtrack.error".to_owned(), error.clone()));
    }
    if cursor.degraded() {
        tags.push((
            "ringtrack.rejected_batches".to_owned(),
            cursor.rejected.len().to_string(),
        ));
    }
    api.log_batch(run_id, &[], &[], &tags).await?;
    let status = match state.phase {
        Phase::Finished => "FINISHED",
        _ => "FAILED",
    };
    api.end_run(run_id, status, state.ended_ms.unwrap_or(state.updated_ms))
        .await
}

fn store(cursor: &mut UploadCursor, run_dir: &Path) -> Result<(), UploadError> {
    cursor.store(run_dir).map_err(|e| {
        UploadError::Fatal(format!(
            "cannot record upload progress in {}: {e}",
            run_dir.display()
        ))
    })
}

/// Takes the run's upload lock, or reports that someone holds it.
fn lock(run_dir: &Path) -> Result<File, UploadError> {
    let path = run_dir.join("upload.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| {
            UploadError::Fatal(format!("cannot open {}: {e}", path.display()))
        })?;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(UploadError::Busy);
    }
    Ok(file)
}
