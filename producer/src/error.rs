//! The SDK's error type.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Everything an SDK call can fail with.
///
/// Each message names the thing that was wrong (the metric, the file, the
/// limit) so it can be shown to a user as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is out of range or contradicts another.
    #[error("invalid setting: {0}")]
    Settings(String),
    /// The run directory could not be created or written.
    #[error("run directory {path}: {what}: {source}")]
    RunDir {
        /// The directory or file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The ring could not be created.
    #[error(transparent)]
    Ring(#[from] ringbuf_core::RingError),
    /// No node service could be reached or started.
    #[error("node service: {0}")]
    Service(String),
    /// A metric name is empty, too long or otherwise not allowed.
    #[error("metric name {name:?}: {reason}")]
    MetricName {
        /// The name as given (possibly shortened for display).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The run already has as many distinct metrics as it may.
    #[error(
        "metric {name:?} would be distinct metric number {count}; a run may have {limit}"
    )]
    TooManyMetrics {
        /// The name that did not fit.
        name: String,
        /// How many the run would have.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A row names the same metric twice.
    #[error("metric {0:?} appears twice in one row")]
    DuplicateMetric(String),
    /// A metric handle from another run (or a disabled one) was used.
    #[error("metric handle {0} does not belong to this run")]
    ForeignMetric(u32),
    /// A row or value is larger than the ring's record limit.
    #[error("{what} is {size} bytes encoded; the ring's record limit is {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A config could not be encoded.
    #[error("config: {0}")]
    Config(String),
    /// The ring stayed full for the whole wait; the row was not logged and
    /// was counted as dropped.
    #[error(
        "ring is full and the service freed no room within {waited:?}: row not logged \
         ({dropped} rows dropped so far); is `ringtrack service` running?"
    )]
    RingFull {
        /// How long the call waited.
        waited: Duration,
        /// Rows dropped so far in this run.
        dropped: u64,
    },
    /// The automatic step would pass the largest step.
    #[error("the automatic step would pass {}", u64::MAX)]
    StepOverflow,
    /// `finish` did not see the run made durable in time. Nothing is lost:
    /// the rows stay in the ring file for the service to drain.
    #[error(
        "the service did not make the run durable within {timeout:?} ({backlog} bytes still \
         in the ring {ring}); the data stays there and is drained when the service runs"
    )]
    FinishTimeout {
        /// The wait.
        timeout: Duration,
        /// Bytes not yet drained.
        backlog: u64,
        /// The ring file.
        ring: PathBuf,
    },
    /// The run was already finished.
    #[error("the run is already finished")]
    Finished,
}

/// Shorthand for SDK results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
