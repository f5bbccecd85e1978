//! `ringtrack`: the node service and the command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use ringtrack::protocol::{Reply, Request};
use ringtrack_service::drain::DrainOptions;
use ringtrack_service::export::{self, Format};
use ringtrack_service::runs::{list_runs, load_history, resolve_run};
use ringtrack_service::segment::FsyncPolicy;
use ringtrack_service::{daemon, logging, server, verify};

mod sync;

/// Fast, crash-proof metrics logging for machine-learning training.
#[derive(Debug, Parser)]
#[command(name = "ringtrack", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the node service: drain every run's ring into segment files.
    Service(ServiceArgs),
    /// Show whether a service is running and which runs it drains.
    Status {
        /// The service directory.
        #[arg(
            long,
            visible_alias = "dir",
            env = "RINGTRACK_SERVICE_DIR",
            value_name = "DIR"
        )]
        service_dir: Option<PathBuf>,
    },
    /// List the runs under the run directory root.
    Ls {
        #[command(flatten)]
        root: RootArg,
    },
    /// Write a run's history (or its config or summary) to stdout.
    Export {
        /// A run id, id prefix, name, or run directory.
        run: String,
        #[command(flatten)]
        root: RootArg,
        /// The format of the rows.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Print the config as one JSON object instead of the rows.
        #[arg(long, conflicts_with = "summary")]
        config: bool,
        /// Print the summary as one JSON object instead of the rows.
        #[arg(long)]
        summary: bool,
    },
    /// Upload runs to their MLflow tracking server (offline runs, or runs
    /// whose upload did not finish). Safe while the service runs.
    Sync {
        /// Runs to upload (ids, id prefixes, names or run directories).
        runs: Vec<String>,
        /// Upload every run under the root that is not fully uploaded.
        #[arg(long, conflicts_with = "runs")]
        all: bool,
        #[command(flatten)]
        root: RootArg,
        /// The tracking server, for runs that do not name one (else
        /// `RINGTRACK_MLFLOW_URI` or `MLFLOW_TRACKING_URI`).
        #[arg(long, value_name = "URI")]
        uri: Option<String>,
    },
    /// Check every frame's checksum and the sequence numbers of a run.
    Verify {
        /// A run id, id prefix, name, or run directory.
        run: String,
        #[command(flatten)]
        root: RootArg,
    },
}

/// The run directory root, shared by the commands that read runs.
#[derive(Debug, clap::Args)]
struct RootArg {
    /// The run directory root.
    #[arg(
        long,
        env = "RINGTRACK_DIR",
        default_value = "ringtrack-runs",
        value_name = "DIR"
    )]
    dir: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ServiceArgs {
    /// The service directory (lock, socket, log, registry).
    #[arg(
        long,
        visible_alias = "service-dir",
        env = "RINGTRACK_SERVICE_DIR",
        value_name = "DIR"
    )]
    dir: Option<PathBuf>,
    /// Detach and return once the service is ready.
    #[arg(long)]
    background: bool,
    /// When segments are synced: `always` (every frame) or a number of
    /// milliseconds between syncs.
    #[arg(long, default_value = "1000", value_name = "always|MS")]
    fsync: String,
    /// Seal a segment when it reaches this many bytes.
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES")]
    segment_size: u64,
    /// Stop the running service (it drains what it holds first).
    #[arg(long, conflicts_with = "background")]
    stop: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Service(args) => service(args),
        command => {
            logging::init_cli();
            match command {
                Command::Status { service_dir } => status(service_dir),
                Command::Ls { root } => ls(&root.dir),
                Command::Export {
                    run,
                    root,
                    format,
                    config,
                    summary,
                } => export(&root.dir, &run, format, config, summary),
                Command::Verify { run, root } => verify(&root.dir, &run),
                Command::Sync {
                    runs,
                    all,
                    root,
                    uri,
                } => sync::sync(&root.dir, &runs, all, uri.as_deref()),
                Command::Service(_) => unreachable!("handled above"),
            }
        }
    };
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ringtrack: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A reader that stopped reading (`ringtrack export RUN | head`) is not an
/// error worth a message.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn service(args: ServiceArgs) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .unwrap_or_else(ringtrack::paths::default_service_dir);
    let dir = std::path::absolute(&dir).context("service directory")?;
    if args.stop {
        return stop_service(&dir);
    }
    let fsync = match args.fsync.as_str() {
        "always" => FsyncPolicy::Always,
        ms => FsyncPolicy::Interval(Duration::from_millis(
            ms.parse()
                .with_context(|| format!("--fsync {ms:?} is neither `always` nor ms"))?,
        )),
    };
    if args.segment_size < 4096 {
        bail!(
            "--segment-size {} is below the 4096-byte minimum",
            args.segment_size
        );
    }
    let options = server::ServiceOptions {
        dir: dir.clone(),
        drain: DrainOptions {
            segment_limit: args.segment_size,
            fsync,
            ..DrainOptions::default()
        },
    };
    let mut pipe = if args.background {
        let daemon::Side::Child(pipe) = daemon::detach()?;
        Some(pipe)
    } else {
        None
    };
    // Owner-only from the start: the socket, the log and the registry live
    // here.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .ok();
    }
    if let Err(err) = logging::init_service(&dir) {
        if let Some(pipe) = pipe.as_mut() {
            daemon::report(pipe, Err(format!("{err:#}")));
        }
        return Err(err);
    }
    server::run(options, |outcome| {
        if let Some(mut pipe) = pipe.take() {
            daemon::report(&mut pipe, outcome);
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn connect(
    service_dir: Option<PathBuf>,
) -> anyhow::Result<(PathBuf, Option<std::os::unix::net::UnixStream>)> {
    let dir = service_dir.unwrap_or_else(ringtrack::paths::default_service_dir);
    let socket = ringtrack::paths::socket_path(&dir);
    Ok((dir, std::os::unix::net::UnixStream::connect(&socket).ok()))
}

fn stop_service(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (_, stream) = connect(Some(dir.to_owned()))?;
    let Some(mut stream) = stream else {
        println!("no service is running for {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    };
    ringtrack::client::call(&mut stream, &Request::Stop)?;
    // The service closes the socket when it has drained and exited.
    let socket = ringtrack::paths::socket_path(dir);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while socket.exists() {
        if std::time::Instant::now() >= deadline {
            bail!("the service was asked to stop but is still running after 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("service stopped");
    Ok(ExitCode::SUCCESS)
}

fn status(service_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (dir, stream) = connect(service_dir)?;
    let Some(mut stream) = stream else {
        println!(
            "no service running (nothing listens at {})",
            ringtrack::paths::socket_path(&dir).display()
        );
        return Ok(ExitCode::from(1));
    };
    let Reply::Status(status) = ringtrack::client::call(&mut stream, &Request::Status)?
    else {
        bail!("the service answered a status request with something else");
    };
    println!(
        "service pid {} (version {}), directory {}",
        status.pid,
        status.version,
        dir.display()
    );
    if status.runs.is_empty() {
        println!("no runs");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![["RUN", "STATE", "ROWS", "BACKLOG", "DROPPED", "DIR"]
        .map(String::from)
        .to_vec()];
    for run in &status.runs {
        table.push(vec![
            run.id.clone(),
            run.state.clone(),
            run.rows.to_string(),
            human_bytes(run.backlog_bytes),
            run.dropped.to_string(),
            run.dir.display().to_string(),
        ]);
    }
    print_table(&table);
    Ok(ExitCode::SUCCESS)
}

fn ls(root: &std::path::Path) -> anyhow::Result<ExitCode> {
    let runs = list_runs(root)?;
    if runs.is_empty() {
        println!("no runs under {}", root.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![[
        "RUN", "PROJECT", "NAME", "STATE", "ROWS", "DROPPED", "SIZE", "UPLOAD",
    ]
    .map(String::from)
    .to_vec()];
    for run in &runs {
        let rows = run
            .state
            .as_ref()
            .map_or("?".to_owned(), |s| s.rows.to_string());
        let mut state = run.phase_name().to_owned();
        if let Some(code) = run
            .state
            .as_ref()
            .and_then(|s| s.exit_code)
            .filter(|c| *c != 0)
        {
            state = format!("{state} ({code})");
        }
        table.push(vec![
            run.meta.id.clone(),
            run.meta.project.clone(),
            run.meta.name.clone(),
            state,
            rows,
            run.state
                .as_ref()
                .map_or("?".to_owned(), |s| s.dropped.to_string()),
            human_bytes(run.segment_bytes()),
            run.upload_status(),
        ]);
    }
    print_table(&table);
    Ok(ExitCode::SUCCESS)
}

fn export(
    root: &std::path::Path,
    what: &str,
    format: Format,
    config: bool,
    summary: bool,
) -> anyhow::Result<ExitCode> {
    let run = resolve_run(root, what)?;
    let (history, problems) = load_history(&run)?;
    for problem in &problems {
        eprintln!("ringtrack: warning: {problem}; the rest of that file is not exported");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if config {
        writeln!(out, "{}", export::config_object(&history))?;
    } else if summary {
        writeln!(out, "{}", export::summary_object(&history))?;
    } else {
        match format {
            Format::Jsonl => export::write_jsonl(&history, &mut out)?,
            Format::Csv => export::write_csv(&history, &mut out)?,
        }
    }
    out.flush()?;
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn verify(root: &std::path::Path, what: &str) -> anyhow::Result<ExitCode> {
    let run = resolve_run(root, what)?;
    let report = verify::verify_run(&run.dir)
        .with_context(|| format!("cannot read the segments of {}", run.dir.display()))?;
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    let verdict = if report.problems.is_empty() {
        "ok"
    } else {
        "FAILED"
    };
    println!(
        "{verdict}: run {}: {} segments, {} frames, {} events, {} rows, {} problems",
        run.meta.id,
        report.segments,
        report.frames,
        report.events,
        report.rows,
        report.problems.len()
    );
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
