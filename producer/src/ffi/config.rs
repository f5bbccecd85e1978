//! Config and summary updates from C.

use std::ffi::c_char;

use super::args::{self, c_name};
use super::error::{finished, ringtrack_status};
use super::guard;
use super::handle::{handle, ringtrack_run};
use super::lifecycle::config_entries;
use super::log::ringtrack_value;
use crate::value::Value;

/// Sets (or changes) config entries from a JSON object, such as
/// `{"lr": 0.01, "model": {"layers": [64, 32]}}`. Integers without a
/// fraction stay integers. Every entry is checked before any is written,
/// so a bad one applies none.
///
/// Returns `RINGTRACK_ERR_CONFIG` (not a JSON object, nested deeper than
/// 32 levels, an empty key), `RINGTRACK_ERR_BAD_STRING` (no NUL within
/// `RINGTRACK_MAX_TEXT_LEN` bytes, not UTF-8), `RINGTRACK_ERR_TOO_LARGE`,
/// `RINGTRACK_ERR_RING_FULL`, and the errors of every run call.
///
/// # Safety
///
/// `run` is NULL or a live handle; `json` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_config_json(
    run: *mut ringtrack_run,
    json: *const c_char,
) -> ringtrack_status {
    guard(|| {
        // SAFETY: `run` is NULL or live, by the caller's promise.
        let handle = unsafe { handle(run) }?;
        handle.with(|slot| {
            if slot.finished {
                return Err(finished());
            }
            // SAFETY: NULL or NUL-terminated, by the caller's promise.
            let json = unsafe {
                args::c_str(json, "config JSON", args::RINGTRACK_MAX_TEXT_LEN)
            }?;
            for (key, value) in config_entries(json)? {
                slot.run.config(&key, value)?;
            }
            Ok(())
        })
    })
}

/// Sets the summary value of `key` explicitly; it wins over the last logged
/// value of a metric with the same name.
///
/// Returns the name errors of `ringtrack_resolve_metric`,
/// `RINGTRACK_ERR_BAD_VALUE`, `RINGTRACK_ERR_TOO_LARGE`,
/// `RINGTRACK_ERR_RING_FULL`, and the errors of every run call.
///
/// # Safety
///
/// `run` is NULL or a live handle; `key` is NULL or readable up to its NUL
/// or 256 bytes; `value` is NULL or points to a `ringtrack_value` whose text
/// (for text) is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_summary(
    run: *mut ringtrack_run,
    key: *const c_char,
    value: *const ringtrack_value,
) -> ringtrack_status {
    guard(|| {
        args::check_ptr(value, "value")?;
        // SAFETY: not NULL and aligned (checked), readable by the caller's
        // promise.
        let value = unsafe { value.read() };
        // SAFETY: the text, if any, is NUL-terminated by the caller's
        // promise.
        let value = unsafe { value.to_value("value") }?;
        // SAFETY: passed on from the caller.
        unsafe { set_summary(run, key, value) }
    })
}

/// Sets a float summary value: `ringtrack_summary` with a
/// `RINGTRACK_VALUE_F64`.
///
/// # Safety
///
/// `run` is NULL or a live handle; `key` is NULL or readable up to its NUL
/// or 256 bytes.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_summary_f64(
    run: *mut ringtrack_run,
    key: *const c_char,
    value: f64,
) -> ringtrack_status {
    // SAFETY: passed on from the caller.
    guard(|| unsafe { set_summary(run, key, Value::F64(value)) })
}

/// # Safety
///
/// As for `ringtrack_summary_f64`.
unsafe fn set_summary(
    run: *mut ringtrack_run,
    key: *const c_char,
    value: Value,
) -> Result<(), super::error::Failure> {
    // SAFETY: `run` is NULL or live, by the caller's promise.
    let handle = unsafe { handle(run) }?;
    handle.with(|slot| {
        if slot.finished {
            return Err(finished());
        }
        // SAFETY: NULL or readable up to its NUL or 256 bytes.
        let key = unsafe { c_name(key, "summary key") }?;
        Ok(slot.run.summary(key, value)?)
    })
}
