//! The run's counters from C.

use super::args;
use super::error::{finished, ringtrack_status};
use super::guard;
use super::handle::{handle, ringtrack_run};

/// A run's counters, as `ringtrack_run_counters` reads them.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ringtrack_counters {
    /// Rows logged.
    pub rows: u64,
    /// Rows given up because the ring stayed full.
    pub dropped: u64,
    /// Times a call found the ring full.
    pub full_events: u64,
    /// Bytes published and not yet drained by the service.
    pub backlog_bytes: u64,
}

/// Reads the run's counters into `*counters` (all zero for a disabled
/// run). A plain read of the run's state: no syscall.
///
/// Returns `RINGTRACK_ERR_NULL_POINTER` and the errors of every run call
/// (after `ringtrack_finish`, the finish report has the final counts).
///
/// # Safety
///
/// `run` is NULL or a live handle; `counters` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_run_counters(
    run: *mut ringtrack_run,
    counters: *mut ringtrack_counters,
) -> ringtrack_status {
    guard(|| {
        args::check_ptr(counters, "counters")?;
        // SAFETY: `run` is NULL or live, by the caller's promise.
        let handle = unsafe { handle(run) }?;
        let read = handle.with(|slot| {
            if slot.finished {
                return Err(finished());
            }
            Ok(slot.run.counters())
        })?;
        let out = ringtrack_counters {
            rows: read.rows,
            dropped: read.dropped,
            full_events: read.full_events,
            backlog_bytes: read.backlog_bytes,
        };
        // SAFETY: not NULL and aligned (checked), writable by the caller's
        // promise.
        unsafe { counters.write(out) };
        Ok(())
    })
}
