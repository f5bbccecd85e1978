//! A test trainer: logs rows through the SDK and records, in a side file,
//! each step whose `log` call returned, so tests compare what survives
//! against the trainer's own ground truth.
//!
//! `trainer ROWS [--metrics N] [--then finish|exit|hang] [--truth FILE]`
//!
//! - `finish` (default): finish the run with exit code 0;
//! - `exit`: leave the process with exit code 3 without finishing (the
//!   `Run` is leaked, so nothing finishes it);
//! - `hang`: after the rows, sleep until killed.
//!
//! Settings come from the `RINGTRACK_*` environment; the project is
//! `RINGTRACK_TRAINER_PROJECT` (default `trainer-test`). Values are
//! `step * 1000 + metric index`, so any row can be checked from its step.

use std::io::Write;
use std::process::ExitCode;

use ringtrack::{Run, Settings};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("trainer: {err}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: u64 = args
        .first()
        .ok_or("usage: trainer ROWS [options]")?
        .parse()?;
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let metrics: usize = option("--metrics").map_or(Ok(4), |m| m.parse())?;
    let then = option("--then").unwrap_or_else(|| "finish".into());
    let mut truth = match option("--truth") {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        None => None,
    };

    let project = std::env::var("RINGTRACK_TRAINER_PROJECT")
        .unwrap_or_else(|_| "trainer-test".into());
    let mut run = Run::init(Settings::new(project).config("rows", rows))?;
    let handles: Vec<_> = (0..metrics)
        .map(|i| run.metric(&format!("m{i}")))
        .collect::<Result<_, _>>()?;
    println!("{}", run.dir().display());
    std::io::stdout().flush()?;
    let mut values = Vec::with_capacity(metrics);
    for step in 0..rows {
        values.clear();
        values.extend(
            handles
                .iter()
                .enumerate()
                .map(|(i, &h)| (h, (step * 1000 + i as u64) as f64)),
        );
        run.log_at(step, &values)?;
        if let Some(truth) = truth.as_mut() {
            writeln!(truth, "{step}")?;
        }
    }
    match then.as_str() {
        "finish" => {
            println!("{}", run.finish()?);
            Ok(ExitCode::SUCCESS)
        }
        "exit" => {
            std::mem::forget(run);
            Ok(ExitCode::from(3))
        }
        "hang" => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        other => Err(format!("--then {other:?} is not finish, exit or hang").into()),
    }
}
