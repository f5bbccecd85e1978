//! Status codes and the thread's last error message.
//!
//! A call that fails returns a [`ringtrack_status`] other than
//! `RINGTRACK_OK` and stores a message in a thread-local buffer, which
//! [`ringtrack_last_error`] hands out. Successful calls leave the buffer
//! alone, so the hot path never touches it.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};

use crate::error::Error;

/// What a call returned. `RINGTRACK_OK` is 0; every other value is an
/// error, and `ringtrack_last_error()` then says what was wrong.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ringtrack_status {
    /// The call succeeded.
    RINGTRACK_OK = 0,
    /// A required pointer was NULL, or not aligned for its type.
    RINGTRACK_ERR_NULL_POINTER = 1,
    /// A string was not NUL-terminated within its limit (names: 255 bytes
    /// plus the NUL) or was not valid UTF-8.
    RINGTRACK_ERR_BAD_STRING = 2,
    /// Two arrays that pair up element by element have different counts.
    RINGTRACK_ERR_LENGTH_MISMATCH = 3,
    /// A setting is invalid: `struct_size`, project, run name, mode, ring
    /// capacity or flags.
    RINGTRACK_ERR_SETTINGS = 4,
    /// A config is not a JSON object, nests too deeply or has an empty key.
    RINGTRACK_ERR_CONFIG = 5,
    /// A metric or summary name is empty, too long or has a control
    /// character.
    RINGTRACK_ERR_METRIC_NAME = 6,
    /// The run already has as many distinct metrics as it may.
    RINGTRACK_ERR_TOO_MANY_METRICS = 7,
    /// A row names the same metric twice.
    RINGTRACK_ERR_DUPLICATE_METRIC = 8,
    /// A metric handle from another run (or a made-up one) was used.
    RINGTRACK_ERR_FOREIGN_METRIC = 9,
    /// A row, value or count is larger than the ring's record limit.
    RINGTRACK_ERR_TOO_LARGE = 10,
    /// The ring stayed full for the whole wait: the row was not logged and
    /// was counted as dropped. Is the node service running?
    RINGTRACK_ERR_RING_FULL = 11,
    /// The automatic step would pass the largest `uint64_t`.
    RINGTRACK_ERR_STEP_OVERFLOW = 12,
    /// `ringtrack_finish` did not see the run made durable in time. Nothing
    /// is lost: the rows stay in the ring file for the service.
    RINGTRACK_ERR_FINISH_TIMEOUT = 13,
    /// The run was finished: only `ringtrack_run_free` may follow.
    RINGTRACK_ERR_FINISHED = 14,
    /// The handle was made in a parent process and this is a forked child;
    /// nothing was written.
    RINGTRACK_ERR_FORKED = 15,
    /// Another thread is in a call on this (not shared) handle; nothing was
    /// done. Create the run with `RINGTRACK_SHARED` to log from several
    /// threads.
    RINGTRACK_ERR_BUSY = 16,
    /// The run directory could not be created or written.
    RINGTRACK_ERR_RUN_DIR = 17,
    /// The ring file could not be created (for example: no room for it).
    RINGTRACK_ERR_RING = 18,
    /// No node service could be reached or started.
    RINGTRACK_ERR_SERVICE = 19,
    /// A `ringtrack_value` has a kind other than `RINGTRACK_VALUE_*`.
    RINGTRACK_ERR_BAD_VALUE = 20,
    /// A bug in ringtrack panicked; the panic was caught at the boundary.
    /// The run stays usable: it is consistent between calls.
    RINGTRACK_ERR_PANIC = 21,
    /// An error this version of the header has no code for.
    RINGTRACK_ERR_INTERNAL = 22,
}

impl ringtrack_status {
    const ALL: [ringtrack_status; 23] = {
        use ringtrack_status::*;
        [
            RINGTRACK_OK,
            RINGTRACK_ERR_NULL_POINTER,
            RINGTRACK_ERR_BAD_STRING,
            RINGTRACK_ERR_LENGTH_MISMATCH,
            RINGTRACK_ERR_SETTINGS,
            RINGTRACK_ERR_CONFIG,
            RINGTRACK_ERR_METRIC_NAME,
            RINGTRACK_ERR_TOO_MANY_METRICS,
            RINGTRACK_ERR_DUPLICATE_METRIC,
            RINGTRACK_ERR_FOREIGN_METRIC,
            RINGTRACK_ERR_TOO_LARGE,
            RINGTRACK_ERR_RING_FULL,
            RINGTRACK_ERR_STEP_OVERFLOW,
            RINGTRACK_ERR_FINISH_TIMEOUT,
            RINGTRACK_ERR_FINISHED,
            RINGTRACK_ERR_FORKED,
            RINGTRACK_ERR_BUSY,
            RINGTRACK_ERR_RUN_DIR,
            RINGTRACK_ERR_RING,
            RINGTRACK_ERR_SERVICE,
            RINGTRACK_ERR_BAD_VALUE,
            RINGTRACK_ERR_PANIC,
            RINGTRACK_ERR_INTERNAL,
        ]
    };

    /// The code's name as the header spells it, NUL-terminated.
    fn name(self) -> &'static std::ffi::CStr {
        use ringtrack_status::*;
        match self {
            RINGTRACK_OK => c"RINGTRACK_OK",
            RINGTRACK_ERR_NULL_POINTER => c"RINGTRACK_ERR_NULL_POINTER",
            RINGTRACK_ERR_BAD_STRING => c"RINGTRACK_ERR_BAD_STRING",
            RINGTRACK_ERR_LENGTH_MISMATCH => c"RINGTRACK_ERR_LENGTH_MISMATCH",
            RINGTRACK_ERR_SETTINGS => c"RINGTRACK_ERR_SETTINGS",
            RINGTRACK_ERR_CONFIG => c"RINGTRACK_ERR_CONFIG",
            RINGTRACK_ERR_METRIC_NAME => c"RINGTRACK_ERR_METRIC_NAME",
            RINGTRACK_ERR_TOO_MANY_METRICS => c"RINGTRACK_ERR_TOO_MANY_METRICS",
            RINGTRACK_ERR_DUPLICATE_METRIC => c"RINGTRACK_ERR_DUPLICATE_METRIC",
            RINGTRACK_ERR_FOREIGN_METRIC => c"RINGTRACK_ERR_FOREIGN_METRIC",
            RINGTRACK_ERR_TOO_LARGE => c"RINGTRACK_ERR_TOO_LARGE",
            RINGTRACK_ERR_RING_FULL => c"RINGTRACK_ERR_RING_FULL",
            RINGTRACK_ERR_STEP_OVERFLOW => c"RINGTRACK_ERR_STEP_OVERFLOW",
            RINGTRACK_ERR_FINISH_TIMEOUT => c"RINGTRACK_ERR_FINISH_TIMEOUT",
            RINGTRACK_ERR_FINISHED => c"RINGTRACK_ERR_FINISHED",
            RINGTRACK_ERR_FORKED => c"RINGTRACK_ERR_FORKED",
            RINGTRACK_ERR_BUSY => c"RINGTRACK_ERR_BUSY",
            RINGTRACK_ERR_RUN_DIR => c"RINGTRACK_ERR_RUN_DIR",
            RINGTRACK_ERR_RING => c"RINGTRACK_ERR_RING",
            RINGTRACK_ERR_SERVICE => c"RINGTRACK_ERR_SERVICE",
            RINGTRACK_ERR_BAD_VALUE => c"RINGTRACK_ERR_BAD_VALUE",
            RINGTRACK_ERR_PANIC => c"RINGTRACK_ERR_PANIC",
            RINGTRACK_ERR_INTERNAL => c"RINGTRACK_ERR_INTERNAL",
        }
    }
}

/// A failed call: the code to return and the message to leave.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: ringtrack_status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: ringtrack_status, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    /// Stores the message as the thread's last error and returns the code.
    #[cold]
    pub(crate) fn record(self) -> ringtrack_status {
        set_last_error(&self.message);
        self.status
    }

    #[cold]
    pub(crate) fn from_panic(payload: &(dyn Any + Send)) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("no message");
        Failure::new(
            ringtrack_status::RINGTRACK_ERR_PANIC,
            format!("internal error in ringtrack (please report it): {what}"),
        )
    }
}

impl From<Error> for Failure {
    #[cold]
    fn from(err: Error) -> Failure {
        use ringtrack_status::*;
        let status = match &err {
            Error::Settings(_) => RINGTRACK_ERR_SETTINGS,
            Error::RunDir { .. } => RINGTRACK_ERR_RUN_DIR,
            Error::Ring(_) => RINGTRACK_ERR_RING,
            Error::Service(_) => RINGTRACK_ERR_SERVICE,
            Error::MetricName { .. } => RINGTRACK_ERR_METRIC_NAME,
            Error::TooManyMetrics { .. } => RINGTRACK_ERR_TOO_MANY_METRICS,
            Error::DuplicateMetric(_) => RINGTRACK_ERR_DUPLICATE_METRIC,
            Error::ForeignMetric(_) => RINGTRACK_ERR_FOREIGN_METRIC,
            Error::TooLarge { .. } => RINGTRACK_ERR_TOO_LARGE,
            Error::Config(_) => RINGTRACK_ERR_CONFIG,
            Error::RingFull { .. } => RINGTRACK_ERR_RING_FULL,
            Error::StepOverflow => RINGTRACK_ERR_STEP_OVERFLOW,
            Error::FinishTimeout { .. } => RINGTRACK_ERR_FINISH_TIMEOUT,
            Error::Finished => return finished(),
        };
        Failure::new(status, err.to_string())
    }
}

/// The failure of any call on a finished run.
#[cold]
pub(crate) fn finished() -> Failure {
    Failure::new(
        ringtrack_status::RINGTRACK_ERR_FINISHED,
        "the run is already finished (ringtrack_finish was called on this handle); \
         only ringtrack_run_free may follow",
    )
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message quotes user input, which cannot hold a NUL coming from C,
    // but a config key parsed from JSON can ("\u0000"): escape it.
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // During thread teardown the slot may be gone; the code still tells.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = text);
}

/// The message of the last call that failed on this thread, or "" if none
/// has.
///
/// Never NULL. The text is valid until the next `ringtrack_*` call on the
/// same thread (this one excepted) and must not be freed; copy it to keep
/// it.
#[no_mangle]
pub extern "C" fn ringtrack_last_error() -> *const c_char {
    std::panic::catch_unwind(|| {
        LAST_ERROR
            .try_with(|slot| slot.borrow().as_ptr())
            .unwrap_or(c"".as_ptr())
    })
    .unwrap_or(c"".as_ptr())
}

/// The name of a status code, such as "RINGTRACK_ERR_FINISHED", or
/// "RINGTRACK_UNKNOWN_STATUS" for a value that is none of them.
///
/// Never NULL; the text is static.
#[no_mangle]
pub extern "C" fn ringtrack_status_name(status: c_int) -> *const c_char {
    ringtrack_status::ALL
        .iter()
        .find(|s| **s as c_int == status)
        .map_or(c"RINGTRACK_UNKNOWN_STATUS".as_ptr(), |s| s.name().as_ptr())
}

/// The library's version, such as "0.1.0". Never NULL; the text is static.
#[no_mangle]
pub extern "C" fn ringtrack_version() -> *const c_char {
    const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(text) => text,
        Err(_) => c"unknown",
    };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_name() {
        for (i, status) in ringtrack_status::ALL.iter().enumerate() {
            assert_eq!(*status as usize, i, "codes are dense from 0");
            let name = status.name().to_str().unwrap();
            assert_eq!(format!("{status:?}"), name);
        }
        // SAFETY: ringtrack_status_name returns a static NUL-terminated string.
        let unknown = unsafe { std::ffi::CStr::from_ptr(ringtrack_status_name(99)) };
        assert_eq!(unknown.to_str().unwrap(), "RINGTRACK_UNKNOWN_STATUS");
    }
}
