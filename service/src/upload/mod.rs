//! Uploading runs to an MLflow tracking server.
//!
//! The uploader reads a run's events from its segments, in order, maps them
//! onto MLflow's model ([`mapping`]), sends them in batches through the REST
//! API ([`mlflow`]) with retries ([`retry`]), and records in the run
//! directory's `upload.json` ([`cursor`]) how far the server has
//! acknowledged, so an upload stopped at any point resumes where it was.
//! The service runs it in the background for online runs ([`worker`]);
//! `ringtrack sync` runs the same code from the command line.
//!
//! Exactly once: a batch is re-sent only when its acknowledgement was not
//! recorded, and a re-sent batch is identical to the first (every point's
//! key, step, timestamp and value come from the segments). MLflow's SQL
//! store keeps one copy of a point that is identical in all four, so a
//! re-send adds nothing. The MLflow run is found again by its
//! `ringtrack.run_id` tag before a new one is created. The mapping and its
//! rules are written down in `docs/mlflow.md`.

pub mod cursor;
pub mod http;
pub mod mapping;
pub mod mlflow;
pub mod names;
pub mod retry;
pub mod session;
pub mod target;
pub mod worker;

pub use session::{upload_run, UploadOutcome};
pub use target::Target;
