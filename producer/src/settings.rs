//! How a run is set up: [`Settings`], filled from code and from the
//! environment.
//!
//! A value set in code wins over the environment; the environment wins over
//! the defaults. The variables are:
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `RINGTRACK_DIR` | run directory root | `./ringtrack-runs` |
//! | `RINGTRACK_MODE` | `online`, `offline` or `disabled` | `online` |
//! | `RINGTRACK_SERVICE_DIR` | the node service's directory | `$XDG_RUNTIME_DIR/ringtrack` or `/tmp/ringtrack-<uid>` |
//! | `RINGTRACK_RING_DIR` | where ring files are created | `/dev/shm/ringtrack-<uid>` if `/dev/shm` exists, else the run directory |
//! | `RINGTRACK_RING_SIZE` | ring capacity in bytes (`K`, `M`, `G` suffixes) | `16M` |
//! | `RINGTRACK_MLFLOW_URI`, `MLFLOW_TRACKING_URI` | the MLflow server online runs are uploaded to (`http://` or `https://`) | none: runs stay local |
//! | `RINGTRACK_SERVICE_BIN` | the `ringtrack` binary to start when no service runs | next to the program, then `PATH` |

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::value::ConfigValue;

/// Where a run's data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Drained to segments and uploaded by the service.
    Online,
    /// Drained to segments; nothing leaves the machine until a later sync.
    Offline,
    /// Nothing is written; every call succeeds and does nothing.
    Disabled,
}

impl Mode {
    /// The mode's name, as `RINGTRACK_MODE` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Online => "online",
            Mode::Offline => "offline",
            Mode::Disabled => "disabled",
        }
    }

    /// Parses a mode name.
    pub fn parse(text: &str) -> Result<Mode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "online" | "" => Ok(Mode::Online),
            "offline" | "dryrun" => Ok(Mode::Offline),
            "disabled" => Ok(Mode::Disabled),
            other => Err(Error::Settings(format!(
                "mode {other:?} is not one of online, offline, disabled"
            ))),
        }
    }
}

/// Default ring capacity: 16 MiB, about 150,000 rows of four metrics.
pub const DEFAULT_RING_CAPACITY: u64 = 16 << 20;
/// Default most distinct metric names per run.
pub const DEFAULT_MAX_METRICS: usize = 65_536;

/// The settings of one run. Build with [`Settings::new`] and the chained
/// setters, then pass to [`crate::Run::init`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) project: String,
    pub(crate) run_name: Option<String>,
    pub(crate) config: Vec<(String, ConfigValue)>,
    pub(crate) root: Option<PathBuf>,
    pub(crate) mode: Option<Mode>,
    pub(crate) ring_dir: Option<PathBuf>,
    pub(crate) ring_capacity: Option<u64>,
    pub(crate) service_dir: Option<PathBuf>,
    pub(crate) service_bin: Option<PathBuf>,
    pub(crate) full_wait: Duration,
    pub(crate) finish_timeout: Duration,
    pub(crate) max_metrics: usize,
    pub(crate) tracking_uri: Option<String>,
}

impl Settings {
    /// Settings for a run in `project`, everything else from the
    /// environment or the defaults.
    pub fn new(project: impl Into<String>) -> Settings {
        Settings {
            project: project.into(),
            run_name: None,
            config: Vec::new(),
            root: None,
            mode: None,
            ring_dir: None,
            ring_capacity: None,
            service_dir: None,
            service_bin: None,
            full_wait: Duration::from_secs(2),
            finish_timeout: Duration::from_secs(60),
            max_metrics: DEFAULT_MAX_METRICS,
            tracking_uri: None,
        }
    }

    /// A human name for the run (default: the run id).
    pub fn run_name(mut self, name: impl Into<String>) -> Settings {
        self.run_name = Some(name.into());
        self
    }

    /// Adds a config entry; a value may be a nested map or list.
    pub fn config(
        mut self,
        key: impl Into<String>,
        value: impl Into<ConfigValue>,
    ) -> Settings {
        self.config.push((key.into(), value.into()));
        self
    }

    /// The run directory root (instead of `RINGTRACK_DIR`).
    pub fn root(mut self, root: impl Into<PathBuf>) -> Settings {
        self.root = Some(root.into());
        self
    }

    /// The mode (instead of `RINGTRACK_MODE`).
    pub fn mode(mut self, mode: Mode) -> Settings {
        self.mode = Some(mode);
        self
    }

    /// Where to create the ring file (instead of `RINGTRACK_RING_DIR`).
    pub fn ring_dir(mut self, dir: impl Into<PathBuf>) -> Settings {
        self.ring_dir = Some(dir.into());
        self
    }

    /// The ring's capacity in bytes, a power of two of at least 64 KiB
    /// (instead of `RINGTRACK_RING_SIZE`).
    pub fn ring_capacity(mut self, bytes: u64) -> Settings {
        self.ring_capacity = Some(bytes);
        self
    }

    /// The node service's directory (instead of `RINGTRACK_SERVICE_DIR`).
    pub fn service_dir(mut self, dir: impl Into<PathBuf>) -> Settings {
        self.service_dir = Some(dir.into());
        self
    }

    /// The `ringtrack` binary to start when no service is running.
    pub fn service_bin(mut self, path: impl Into<PathBuf>) -> Settings {
        self.service_bin = Some(path.into());
        self
    }

    /// How long `log` waits for room when the ring is full before it gives
    /// the row up, counts it as dropped and returns [`Error::RingFull`].
    pub fn full_wait(mut self, wait: Duration) -> Settings {
        self.full_wait = wait;
        self
    }

    /// How long `finish` (and `Drop`) waits for the service to make the run
    /// durable.
    pub fn finish_timeout(mut self, timeout: Duration) -> Settings {
        self.finish_timeout = timeout;
        self
    }

    /// The most distinct metric names the run may define.
    pub fn max_metrics(mut self, limit: usize) -> Settings {
        self.max_metrics = limit;
        self
    }

    /// The MLflow tracking server to upload the run to (instead of
    /// `RINGTRACK_MLFLOW_URI` or `MLFLOW_TRACKING_URI`); an empty string
    /// keeps the run local whatever the environment says. Credentials are
    /// not set here: the uploading process reads MLflow's own variables.
    pub fn tracking_uri(mut self, uri: impl Into<String>) -> Settings {
        self.tracking_uri = Some(uri.into());
        self
    }

    /// The tracking server: the setting, else `RINGTRACK_MLFLOW_URI`, else
    /// `MLFLOW_TRACKING_URI`, when it is an `http(s)://` address.
    pub(crate) fn resolved_tracking_uri(&self) -> Option<String> {
        let uri = self.tracking_uri.clone().or_else(|| {
            std::env::var("RINGTRACK_MLFLOW_URI")
                .or_else(|_| std::env::var("MLFLOW_TRACKING_URI"))
                .ok()
        })?;
        let uri = uri.trim().trim_end_matches('/').to_owned();
        (uri.starts_with("http://") || uri.starts_with("https://")).then_some(uri)
    }

    pub(crate) fn resolved_mode(&self) -> Result<Mode> {
        match self.mode {
            Some(mode) => Ok(mode),
            None => match std::env::var("RINGTRACK_MODE") {
                Ok(text) => Mode::parse(&text),
                Err(_) => Ok(Mode::Online),
            },
        }
    }

    pub(crate) fn resolved_capacity(&self) -> Result<u64> {
        let bytes = match self.ring_capacity {
            Some(bytes) => bytes,
            None => match std::env::var("RINGTRACK_RING_SIZE") {
                Ok(text) => parse_size(&text)?,
                Err(_) => DEFAULT_RING_CAPACITY,
            },
        };
        if !bytes.is_power_of_two() || !(1 << 16..=1 << 32).contains(&bytes) {
            return Err(Error::Settings(format!(
                "ring capacity {bytes} must be a power of two between 64 KiB and 4 GiB"
            )));
        }
        Ok(bytes)
    }

    pub(crate) fn resolved_ring_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.ring_dir {
            return Some(dir.clone());
        }
        if let Some(dir) = std::env::var_os("RINGTRACK_RING_DIR") {
            return Some(PathBuf::from(dir));
        }
        let shm = std::path::Path::new("/dev/shm");
        shm.is_dir()
            .then(|| shm.join(format!("ringtrack-{}", nix::unistd::getuid())))
    }
}

/// Parses a byte count with an optional `K`, `M` or `G` suffix (powers of
/// 1024).
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let (digits, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| Error::Settings(format!("ring size {text:?} is not a byte count")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_modes_parse() {
        assert_eq!(parse_size("16M").unwrap(), 16 << 20);
        assert_eq!(parse_size("65536").unwrap(), 65536);
        assert!(parse_size("lots")
            .unwrap_err()
            .to_string()
            .contains("\"lots\""));
        assert_eq!(Mode::parse("OFFLINE").unwrap(), Mode::Offline);
        assert!(Mode::parse("sometimes")
            .unwrap_err()
            .to_string()
            .contains("sometimes"));
    }

    #[test]
    fn bad_capacity_is_named() {
        let err = Settings::new("p")
            .ring_capacity(1000)
            .resolved_capacity()
            .unwrap_err();
        assert!(err.to_string().contains("ring capacity 1000"));
    }
}
