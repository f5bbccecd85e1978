//! The service's log: `tracing` events to stderr and to `service.log` in
//! the service directory, one event a line with its fields.

use std::io::IsTerminal;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// Sets up logging for the service. `RINGTRACK_LOG` (an `EnvFilter`
/// directive such as `debug`) overrides the default level, `info`.
pub fn init_service(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("service.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| {
            anyhow::anyhow!("cannot open the log file {}: {e}", path.display())
        })?;
    let filter = EnvFilter::try_from_env("RINGTRACK_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr),
        )
        .with(fmt::layer().with_ansi(false).with_writer(Mutex::new(file)))
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Sets up logging for the other commands: warnings and errors to stderr.
pub fn init_cli() {
    let filter = EnvFilter::try_from_env("RINGTRACK_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
