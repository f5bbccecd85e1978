//! The ringtrack SDK: log metrics from a training loop at the cost of a
//! memory write.
//!
//! A [`Run`] owns a memory-mapped ring file. Each [`Run::log`] writes one
//! history row into it and returns; the node service (`ringtrack service`,
//! started automatically when none runs) drains the ring into compressed,
//! checksummed segment files in the run directory. Whatever `log` returned
//! from is in the ring file, which outlives the trainer process, so a
//! trainer killed at any point loses nothing it logged.
//!
//! ```no_run
//! use ringtrack::{Run, Settings};
//!
//! # fn main() -> Result<(), ringtrack::Error> {
//! let mut run = Run::init(Settings::new("mnist").config("lr", 0.01))?;
//! let loss = run.metric("train/loss")?;
//! for step in 0..1000 {
//!     let value = 1.0 / (1.0 + step as f64);
//!     run.log(&[(loss, value)])?;
//! }
//! run.summary("best_loss", 0.001)?;
//! println!("{}", run.finish()?);
//! # Ok(())
//! # }
//! ```
//!
//! Settings come from code and from `RINGTRACK_*` environment variables; see
//! [`settings`]. The hot-path, full-ring, step and threading rules are in
//! [`run`]. C and C++ trainers use the same SDK through the C ABI in [`ffi`]
//! and `include/ringtrack.h`.

pub mod client;
pub mod error;
pub mod ffi;
pub mod meta;
pub mod metrics;
pub mod paths;
pub mod protocol;
pub mod run;
pub mod settings;
mod shared;
pub mod value;

pub use error::{Error, Result};
pub use metrics::Metric;
pub use run::{Counters, FinishReport, Row, Run};
pub use settings::{Mode, Settings};
pub use shared::SharedRun;
pub use value::{ConfigValue, Value};
