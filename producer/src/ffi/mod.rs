//! The C ABI of the SDK: what `include/ringtrack.h` declares.
//!
//! Every function is `extern "C"`, named `ringtrack_*`, returns a
//! [`ringtrack_status`] (or a pointer that is NULL on failure), checks every
//! pointer it is given, and catches any panic before it reaches the caller.
//! A failing call leaves a message for [`ringtrack_last_error`] on the
//! calling thread. The header is generated from these files by cbindgen
//! (`scripts/gen-header`); `tests/header.rs` fails when it is stale.
//!
//! # Ownership
//!
//! - A `ringtrack_run*` comes from [`ringtrack_init`] and is owned by the
//!   caller until it passes it to [`ringtrack_run_free`], exactly once.
//!   [`ringtrack_finish`] ends the run but does not free the handle: after
//!   it, every call on the handle returns `RINGTRACK_ERR_FINISHED` (so a
//!   second finish is reported, not a crash) until it is freed. Freeing an
//!   unfinished run finishes it first, with exit code 0. A freed handle
//!   cannot be told from a live one: using it is undefined behaviour.
//! - A `ringtrack_metric` is a plain value (copy it freely, no free). It is
//!   valid for the run that resolved it; with any other run the call returns
//!   `RINGTRACK_ERR_FOREIGN_METRIC`.
//! - Strings passed in are borrowed for the call only. Strings returned
//!   ([`ringtrack_run_id`], [`ringtrack_run_dir`]) live as long as the
//!   handle; [`ringtrack_last_error`]'s lives until the next `ringtrack_*`
//!   call on the same thread; names from [`ringtrack_status_name`] forever.
//!
//! # Threads
//!
//! A run handle made without `RINGTRACK_SHARED` belongs to one thread at a
//! time: it may move between threads, but two calls on it must not overlap.
//! An overlapping call is detected (one atomic swap per call) and returns
//! `RINGTRACK_ERR_BUSY` without touching the run, so misuse is reported
//! instead of corrupting the ring. A handle made with `RINGTRACK_SHARED`
//! may be used from any number of threads at once; each call then takes a
//! mutex. Either way, [`ringtrack_run_free`] must be the last call.
//!
//! # fork()
//!
//! A ring has one writer. After `fork()` the child holds a copy of the
//! parent's handles, and its calls on them return `RINGTRACK_ERR_FORKED`
//! without writing anything: a `pthread_atfork` child handler bumps a
//! process-wide generation that each call compares with the handle's, one
//! load and no syscall. The child may free such handles (the parent's run
//! is left alone) and may start runs of its own.

#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]

// In the order the header lists them: errors, a run's life, logging,
// config and summary, counters.
mod error;

mod lifecycle;

mod log;

mod config;

mod counters;

mod args;
mod handle;

use std::panic::{self, AssertUnwindSafe};

pub use config::{ringtrack_config_json, ringtrack_summary, ringtrack_summary_f64};
pub use counters::{ringtrack_counters, ringtrack_run_counters};
pub use error::{
    ringtrack_last_error, ringtrack_status, ringtrack_status_name, ringtrack_version,
};
pub use handle::ringtrack_run;
pub use lifecycle::{
    ringtrack_finish, ringtrack_finish_report, ringtrack_init, ringtrack_run_dir,
    ringtrack_run_free, ringtrack_run_id, ringtrack_settings, ringtrack_settings_default,
    RINGTRACK_SHARED,
};
pub use log::{
    ringtrack_log, ringtrack_log_at, ringtrack_log_named, ringtrack_log_named_at,
    ringtrack_metric, ringtrack_resolve_metric, ringtrack_value, RINGTRACK_VALUE_F64,
    RINGTRACK_VALUE_I64, RINGTRACK_VALUE_TEXT,
};

pub use args::{RINGTRACK_MAX_NAME_LEN, RINGTRACK_MAX_PATH_LEN, RINGTRACK_MAX_TEXT_LEN};

use error::Failure;

/// Runs the body of an exported function: its error becomes the returned
/// status and the thread's last error, and a panic is caught here, at the
/// boundary, and reported as `RINGTRACK_ERR_PANIC`.
#[inline(always)]
fn guard(body: impl FnOnce() -> Result<(), Failure>) -> ringtrack_status {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ringtrack_status::RINGTRACK_OK,
        Ok(Err(failure)) => failure.record(),
        Err(payload) => Failure::from_panic(payload.as_ref()).record(),
    }
}

#[cfg(test)]
mod tests;
