//! `ringtrack sync`: upload runs from the command line, with a progress
//! bar, resumably, and safely beside a running service (both take the
//! run's upload lock).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use ringtrack_service::runs::{list_runs, resolve_run, RunEntry};
use ringtrack_service::upload::cursor::UploadCursor;
use ringtrack_service::upload::retry::RetryPolicy;
use ringtrack_service::upload::session::UploadError;
use ringtrack_service::upload::{upload_run, Target};

/// Uploads the named runs (or all unfinished ones).
pub fn sync(
    root: &Path,
    names: &[String],
    all: bool,
    uri: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let runs: Vec<RunEntry> = if all {
        list_runs(root)?
            .into_iter()
            .filter(|r| !uploaded(r))
            .collect()
    } else if names.is_empty() {
        bail!("name the runs to upload, or give --all");
    } else {
        names
            .iter()
            .map(|n| resolve_run(root, n))
            .collect::<anyhow::Result<_>>()?
    };
    if runs.is_empty() {
        println!("nothing to upload under {}", root.display());
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let policy = RetryPolicy::from_env();
    let mut failed = 0;
    for run in &runs {
        let target = match target_for(run, uri) {
            Ok(target) => target,
            Err(e) => {
                eprintln!("ringtrack: {}: {e}", run.meta.id);
                failed += 1;
                continue;
            }
        };
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} rows {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(run.meta.id.clone());
        let progress = |acked: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(acked);
        };
        let result = runtime.block_on(upload_run(&run.dir, &target, policy, &progress));
        bar.finish_and_clear();
        match result {
            Ok(outcome) => {
                let end = if outcome.complete {
                    "complete"
                } else {
                    "up to date (run still live)"
                };
                let degraded = if outcome.rejected > 0 {
                    format!(
                        ", {} batches refused by the server (see upload.json)",
                        outcome.rejected
                    )
                } else {
                    String::new()
                };
                println!(
                    "{}: {}/{} rows on {} as run {}, {end}{degraded}",
                    run.meta.id,
                    outcome.rows_acked,
                    outcome.rows_total,
                    target.uri,
                    outcome.mlflow_run_id
                );
            }
            Err(UploadError::Busy) => {
                println!(
                    "{}: being uploaded by another process (the service); skipped",
                    run.meta.id
                );
            }
            Err(e) => {
                eprintln!("ringtrack: {}: upload stopped: {e}; run `ringtrack sync` again to resume", run.meta.id);
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn uploaded(run: &RunEntry) -> bool {
    matches!(UploadCursor::load(&run.dir), Ok(Some(c)) if c.complete)
}

/// The run's own server, else `--uri`, else the environment's.
fn target_for(run: &RunEntry, uri: Option<&str>) -> Result<Target, String> {
    if let Some(uri) = run.meta.tracking_uri.as_deref().or(uri) {
        return Target::new(uri);
    }
    Target::from_env().unwrap_or_else(|| {
        Err("no tracking server: give --uri or set RINGTRACK_MLFLOW_URI or MLFLOW_TRACKING_URI".to_owned())
    })
}
