//! Shared pieces of the integration tests: a sandbox of directories, the
//! real service started as its own process, the CLI run as a command,
//! readers for what `ringtrack export` prints, a reader for what a real
//! MLflow server stores, and a fault-injecting proxy in front of it.
//!
//! The binaries under test are the workspace's own build outputs
//! (`ringtrack`, the `trainer` test program and the examples); build them
//! first with `cargo build --workspace --lib --bins --examples`, as `scripts/test`
//! does.

pub mod handmade;
pub mod harness;
pub mod http;
pub mod mlflow;
pub mod proxy;
pub mod replay;
pub mod rows;
pub mod trainer;

pub use harness::{bin_path, example_path, ExportedRow, Sandbox, ServiceProcess};
pub use trainer::{durable_rows, read_truth, wait_for_phase, TrainerProcess};
