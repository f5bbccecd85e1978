//! Logging rows from C: metric handles resolved once, rows by handles (the
//! hot path), rows by names.
//!
//! The handle calls copy the two arrays into a buffer the run keeps and
//! reuses, then call [`Run::log_at`](crate::Run::log_at): no allocation once
//! the buffer has grown to the widest row, no lock, no syscall.

use std::ffi::c_char;

use super::args::{self, c_name, slice, write_optional};
use super::error::{ringtrack_status, Failure};
use super::guard;
use super::handle::{handle, ringtrack_run, Slot};
use crate::metrics::Metric;
use crate::run::Row;
use crate::value::Value;

/// A metric resolved once with `ringtrack_resolve_metric`: a plain value to
/// copy and keep, never freed. Its fields are the run's business; a handle
/// not made by the run it is used with is refused with
/// `RINGTRACK_ERR_FOREIGN_METRIC`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ringtrack_metric {
    /// The metric's id within its run.
    pub id: u32,
    /// Which run made the handle.
    pub run_tag: u32,
}

impl ringtrack_metric {
    #[inline]
    fn to_metric(self) -> Metric {
        Metric {
            id: self.id,
            run_tag: self.run_tag,
        }
    }
}

/// `ringtrack_value.kind`: a float in `f64`.
pub const RINGTRACK_VALUE_F64: u32 = 1;
/// `ringtrack_value.kind`: an integer in `i64`.
pub const RINGTRACK_VALUE_I64: u32 = 2;
/// `ringtrack_value.kind`: UTF-8 text in `text`, NUL-terminated within
/// `RINGTRACK_MAX_TEXT_LEN` bytes.
pub const RINGTRACK_VALUE_TEXT: u32 = 3;

/// A value for a named row or the summary. Only the field that `kind`
/// names is read.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ringtrack_value {
    /// `RINGTRACK_VALUE_F64`, `RINGTRACK_VALUE_I64` or
    /// `RINGTRACK_VALUE_TEXT`.
    pub kind: u32,
    /// The float, for `RINGTRACK_VALUE_F64`. NaN, infinities and -0.0 are
    /// kept bit for bit.
    pub f64: f64,
    /// The integer, for `RINGTRACK_VALUE_I64`.
    pub i64: i64,
    /// The text, for `RINGTRACK_VALUE_TEXT`; borrowed for the call.
    pub text: *const c_char,
}

impl ringtrack_value {
    /// The SDK's value.
    ///
    /// # Safety
    ///
    /// For text, `text` is NULL or NUL-terminated within the text limit.
    pub(crate) unsafe fn to_value(
        self,
        what: impl std::fmt::Display,
    ) -> Result<Value, Failure> {
        match self.kind {
            RINGTRACK_VALUE_F64 => Ok(Value::F64(self.f64)),
            RINGTRACK_VALUE_I64 => Ok(Value::I64(self.i64)),
            RINGTRACK_VALUE_TEXT => {
                // SAFETY: passed on from the caller.
                let text = unsafe {
                    args::c_str(
                        self.text,
                        format_args!("{what}.text"),
                        args::RINGTRACK_MAX_TEXT_LEN,
                    )
                }?;
                Ok(Value::Text(text.to_owned()))
            }
            kind => Err(Failure::new(
                ringtrack_status::RINGTRACK_ERR_BAD_VALUE,
                format!(
                    "{what}.kind is {kind}; expected RINGTRACK_VALUE_F64 (1), \
                     RINGTRACK_VALUE_I64 (2) or RINGTRACK_VALUE_TEXT (3)"
                ),
            )),
        }
    }
}

/// Resolves a metric name to a handle for the hot path, defining the
/// metric the first time its name is seen. Resolve each name once, before
/// the loop.
///
/// Returns `RINGTRACK_ERR_BAD_STRING` (no NUL within 256 bytes, or not
/// UTF-8), `RINGTRACK_ERR_METRIC_NAME` (empty, or a control character),
/// `RINGTRACK_ERR_TOO_MANY_METRICS`, `RINGTRACK_ERR_RING_FULL`, and the
/// errors of every run call: `RINGTRACK_ERR_NULL_POINTER`,
/// `RINGTRACK_ERR_FINISHED`, `RINGTRACK_ERR_FORKED`, `RINGTRACK_ERR_BUSY`.
///
/// # Safety
///
/// `run` is NULL or a live handle; `name` is NULL or readable up to its NUL
/// or 256 bytes; `metric` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_resolve_metric(
    run: *mut ringtrack_run,
    name: *const c_char,
    metric: *mut ringtrack_metric,
) -> ringtrack_status {
    guard(|| {
        args::check_ptr(metric, "metric (the out pointer)")?;
        // SAFETY: `run` is NULL or live, by the caller's promise.
        let handle = unsafe { handle(run) }?;
        let resolved = handle.with(|slot| {
            if slot.finished {
                return Err(super::error::finished());
            }
            // SAFETY: NULL or readable up to its NUL or 256 bytes.
            let name = unsafe { c_name(name, "metric name") }?;
            Ok(slot.run.metric(name)?)
        })?;
        let handle = ringtrack_metric {
            id: resolved.id,
            run_tag: resolved.run_tag,
        };
        // SAFETY: not NULL and aligned (checked), writable by the caller's
        // promise.
        unsafe { metric.write(handle) };
        Ok(())
    })
}

/// Logs one row of values by metric handle, `values[i]` for `metrics[i]`,
/// at the next automatic step (the previous row's step plus one, from 0),
/// and stores that step in `*step` when `step` is not NULL. This is the hot
/// path: no allocation, no lock, no syscall.
///
/// `metric_count` and `value_count` must be equal; the arrays may be NULL
/// when both are 0 (a row with a step and no values).
///
/// Returns `RINGTRACK_ERR_LENGTH_MISMATCH`, `RINGTRACK_ERR_FOREIGN_METRIC`,
/// `RINGTRACK_ERR_DUPLICATE_METRIC`, `RINGTRACK_ERR_TOO_LARGE`,
/// `RINGTRACK_ERR_RING_FULL` (the row was dropped and counted),
/// `RINGTRACK_ERR_STEP_OVERFLOW`, and the errors of every run call. A call
/// that fails logs nothing and leaves the step where it was.
///
/// # Safety
///
/// `run` is NULL or a live handle; `metrics` and `values` are NULL or point
/// to `metric_count` and `value_count` elements; `step` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_log(
    run: *mut ringtrack_run,
    metrics: *const ringtrack_metric,
    metric_count: usize,
    values: *const f64,
    value_count: usize,
    step: *mut u64,
) -> ringtrack_status {
    guard(|| {
        // SAFETY: `run` is NULL or live, by the caller's promise.
        let handle = unsafe { handle(run) }?;
        handle.with(|slot| {
            // SAFETY: the arrays hold the counts given, by the caller's
            // promise.
            unsafe { fill_row(slot, metrics, metric_count, values, value_count) }?;
            let logged = slot.run.log(&slot.scratch)?;
            // SAFETY: NULL or writable, by the caller's promise.
            unsafe { write_optional(step, logged, "step") }
        })
    })
}

/// Logs one row by metric handle at `step`. Steps are stored as given:
/// they may repeat or go backwards; the next automatic step is `step + 1`.
///
/// Arguments and errors as for `ringtrack_log`.
///
/// # Safety
///
/// As for `ringtrack_log`.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_log_at(
    run: *mut ringtrack_run,
    step: u64,
    metrics: *const ringtrack_metric,
    metric_count: usize,
    values: *const f64,
    value_count: usize,
) -> ringtrack_status {
    guard(|| {
        // SAFETY: `run` is NULL or live, by the caller's promise.
        let handle = unsafe { handle(run) }?;
        handle.with(|slot| {
            // SAFETY: the arrays hold the counts given, by the caller's
            // promise.
            unsafe { fill_row(slot, metrics, metric_count, values, value_count) }?;
            Ok(slot.run.log_at(step, &slot.scratch)?)
        })
    })
}

/// Copies the two arrays into the slot's reused row buffer.
///
/// # Safety
///
/// `metrics` and `values` are NULL or hold the counts given.
#[inline]
unsafe fn fill_row(
    slot: &mut Slot,
    metrics: *const ringtrack_metric,
    metric_count: usize,
    values: *const f64,
    value_count: usize,
) -> Result<(), Failure> {
    if slot.finished {
        return Err(super::error::finished());
    }
    if metric_count != value_count {
        return Err(mismatch("metric_count", metric_count, value_count));
    }
    // SAFETY: passed on from the caller.
    let metrics = unsafe { slice(metrics, metric_count, "metrics") }?;
    // SAFETY: passed on from the caller.
    let values = unsafe { slice(values, value_count, "values") }?;
    slot.scratch.clear();
    slot.scratch.extend(
        metrics
            .iter()
            .zip(values)
            .map(|(metric, &value)| (metric.to_metric(), value)),
    );
    Ok(())
}

#[cold]
fn mismatch(what: &str, left: usize, right: usize) -> Failure {
    Failure::new(
        ringtrack_status::RINGTRACK_ERR_LENGTH_MISMATCH,
        format!("{what} is {left} but value_count is {right}; they must be equal"),
    )
}

/// Logs one row of named values at the next automatic step, defining names
/// not seen before, and stores the step in `*step` when it is not NULL.
/// Slower than the handle calls (each name is looked up, and the call
/// allocates); use handles in the training loop.
///
/// `name_count` and `value_count` must be equal. Errors as for
/// `ringtrack_log`, plus the name errors of `ringtrack_resolve_metric` and
/// `RINGTRACK_ERR_BAD_VALUE`.
///
/// # Safety
///
/// `run` is NULL or a live handle; `names` and `values` are NULL or point
/// to `name_count` and `value_count` elements, each name NULL or readable
/// up to its NUL or 256 bytes, each text value NULL or NUL-terminated;
/// `step` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_log_named(
    run: *mut ringtrack_run,
    names: *const *const c_char,
    name_count: usize,
    values: *const ringtrack_value,
    value_count: usize,
    step: *mut u64,
) -> ringtrack_status {
    guard(|| {
        // SAFETY: passed on from the caller.
        let logged =
            unsafe { log_named(run, None, names, name_count, values, value_count) }?;
        // SAFETY: NULL or writable, by the caller's promise.
        unsafe { write_optional(step, logged, "step") }
    })
}

/// Logs one row of named values at `step`. Arguments and errors as for
/// `ringtrack_log_named`.
///
/// # Safety
///
/// As for `ringtrack_log_named`.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_log_named_at(
    run: *mut ringtrack_run,
    step: u64,
    names: *const *const c_char,
    name_count: usize,
    values: *const ringtrack_value,
    value_count: usize,
) -> ringtrack_status {
    guard(|| {
        // SAFETY: passed on from the caller.
        unsafe { log_named(run, Some(step), names, name_count, values, value_count) }
            .map(|_| ())
    })
}

/// # Safety
///
/// As for `ringtrack_log_named`.
unsafe fn log_named(
    run: *mut ringtrack_run,
    step: Option<u64>,
    names: *const *const c_char,
    name_count: usize,
    values: *const ringtrack_value,
    value_count: usize,
) -> Result<u64, Failure> {
    // SAFETY: `run` is NULL or live, by the caller's promise.
    let handle = unsafe { handle(run) }?;
    handle.with(|slot| {
        if slot.finished {
            return Err(super::error::finished());
        }
        if name_count != value_count {
            return Err(mismatch("name_count", name_count, value_count));
        }
        // SAFETY: the arrays hold the counts given, by the caller's
        // promise.
        let names = unsafe { slice(names, name_count, "names") }?;
        // SAFETY: as above.
        let values = unsafe { slice(values, value_count, "values") }?;
        let mut row = Vec::with_capacity(names.len());
        for (i, (&name, value)) in names.iter().zip(values).enumerate() {
            // SAFETY: each name and text is NULL or NUL-terminated
            // within its limit, by the caller's promise.
            let name = unsafe { c_name(name, format_args!("names[{i}]")) }?;
            // SAFETY: as above.
            let value = unsafe { value.to_value(format_args!("values[{i}]")) }?;
            row.push((name, value));
        }
        Ok(slot.run.log_row(&Row {
            step,
            timestamp_ns: None,
            values: &row,
        })?)
    })
}
