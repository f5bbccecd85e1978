//! A test trainer: logs rows through the SDK and records, in a side file,
//! each step whose `log` call returned, so tests compare what survives
//! against the trainer's own ground truth.
//!
//! `trainer ROWS [--metrics N] [--then finish|exit|hang] [--truth FILE]
//!  [--vary SEED] [--full-wait MS] [--on-full stop|skip]
//!  [--sigterm finish|exit] [--pause-every N:MS]`
//!
//! - `finish` (default): finish the run with exit code 0;
//! - `exit`: leave the process with exit code 3 without finishing (the
//!   `Run` is leaked, so nothing finishes it);
//! - `hang`: after the rows, sleep until killed.
//!
//! `--vary SEED` logs rows of seeded, varied sizes (see
//! `ringtrack_tests::rows`); without it every row holds all metrics.
//! `--full-wait MS` sets how long `log` waits on a full ring. `--on-full skip`
//! goes on after `Error::RingFull` (the step is then not in the truth file),
//! `stop` (default) exits with code 2. `--sigterm finish` installs a SIGTERM
//! handler after which the loop finishes the run (exit 0); `--sigterm exit`
//! leaves without finishing (exit 143). `--pause-every N:MS` sleeps MS ms
//! after every N rows, so a service has time to catch up.
//!
//! Settings come from the `RINGTRACK_*` environment; the project is
//! `RINGTRACK_TRAINER_PROJECT` (default `trainer-test`). Values are
//! `step * 1000 + metric index`, so any row can be checked from its step.
//! A truth line is written with one `write` call after `log` returned, so a
//! kill leaves either the whole line or none of it.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ringtrack::{Error, Row, Run, Settings, Value};
use ringtrack_tests::rows::{metric_names, row_values};

/// Set by the SIGTERM handler; the logging loop polls it.
static TERMINATE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    TERMINATE.store(true, Ordering::SeqCst);
}

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
    let seed: Option<u64> = option("--vary").map(|s| s.parse()).transpose()?;
    let skip_full = match option("--on-full").as_deref() {
        None | Some("stop") => false,
        Some("skip") => true,
        Some(other) => {
            return Err(format!("--on-full {other:?} is not stop or skip").into())
        }
    };
    let sigterm = option("--sigterm");
    let pause: Option<(u64, u64)> = match option("--pause-every") {
        Some(text) => {
            let (n, ms) = text.split_once(':').ok_or("--pause-every N:MS")?;
            Some((n.parse()?, ms.parse()?))
        }
        None => None,
    };
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
    let mut settings = Settings::new(project).config("rows", rows);
    if let Some(ms) = option("--full-wait") {
        settings = settings.full_wait(Duration::from_millis(ms.parse()?));
    }
    let mut run = Run::init(settings)?;
    let handles: Vec<_> = metric_names(metrics)
        .iter()
        .map(|name| run.metric(name))
        .collect::<Result<_, _>>()?;
    if seed.is_some() {
        run.metric("text")?;
    }
    if let Some(mode) = sigterm.as_deref() {
        install_sigterm(mode)?;
    }
    println!("{}", run.dir().display());
    std::io::stdout().flush()?;
    let mut values = Vec::with_capacity(metrics);
    let mut line = Vec::with_capacity(24);
    for step in 0..rows {
        if TERMINATE.load(Ordering::SeqCst) {
            return on_terminate(run, sigterm.as_deref());
        }
        let logged = match seed {
            None => {
                values.clear();
                values.extend(
                    handles
                        .iter()
                        .enumerate()
                        .map(|(i, &h)| (h, ringtrack_tests::rows::value_at(step, i))),
                );
                run.log_at(step, &values)
            }
            Some(_) => {
                let named = row_values(step, metrics, seed);
                let borrowed: Vec<(&str, Value)> =
                    named.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                run.log_row(&Row {
                    step: Some(step),
                    timestamp_ns: None,
                    values: &borrowed,
                })
                .map(|_| ())
            }
        };
        match logged {
            Ok(()) => {}
            Err(Error::RingFull { .. }) if skip_full => continue,
            Err(err) => return Err(err.into()),
        }
        if let Some(truth) = truth.as_mut() {
            line.clear();
            writeln!(line, "{step}")?;
            truth.write_all(&line)?;
        }
        if let Some((every, ms)) = pause {
            if every > 0 && (step + 1) % every == 0 {
                std::thread::sleep(Duration::from_millis(ms));
            }
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
            if TERMINATE.load(Ordering::SeqCst) {
                return on_terminate(run, sigterm.as_deref());
            }
            std::thread::sleep(Duration::from_millis(5));
        },
        other => Err(format!("--then {other:?} is not finish, exit or hang").into()),
    }
}

fn install_sigterm(mode: &str) -> Result<(), Box<dyn std::error::Error>> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    if mode != "finish" && mode != "exit" {
        return Err(format!("--sigterm {mode:?} is not finish or exit").into());
    }
    let action = SigAction::new(
        SigHandler::Handler(on_sigterm),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is
    // async-signal-safe.
    unsafe { sigaction(Signal::SIGTERM, &action) }?;
    Ok(())
}

/// What the trainer does once its SIGTERM handler ran.
fn on_terminate(
    run: Run,
    mode: Option<&str>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if mode == Some("finish") {
        println!("{}", run.finish()?);
        return Ok(ExitCode::SUCCESS);
    }
    std::mem::forget(run);
    Ok(ExitCode::from(143))
}
