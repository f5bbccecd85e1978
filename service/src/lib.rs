//! The ringtrack node service and the library behind the `ringtrack` CLI.
//!
//! - [`server`]: the service process: node lock, control socket, one drain
//!   per live run, clean shutdown;
//! - [`drain`]: moving one run's records from its ring into segments;
//! - [`segment`]: the segment file format, writer (with recovery) and
//!   reader;
//! - [`event`], [`history`], [`export`]: what segments hold, rebuilt into a
//!   run's history and written out exactly;
//! - [`runs`]: finding runs on disk for the CLI;
//! - [`upload`]: shipping runs to an MLflow tracking server, from the
//!   service in the background or from `ringtrack sync`;
//! - [`state`], [`registry`]: the small files that say how a run stands
//!   and which runs the service is draining or uploading.

pub mod daemon;
pub mod drain;
pub mod event;
pub mod export;
pub mod history;
pub mod logging;
pub mod registry;
pub mod runs;
pub mod segment;
pub mod server;
pub mod state;
pub mod upload;
pub mod verify;
