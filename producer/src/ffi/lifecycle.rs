//! A run's life from C: settings, `ringtrack_init`, `ringtrack_finish`,
//! `ringtrack_run_free`, and the run's id and directory.

use std::ffi::c_char;
use std::time::Duration;

use super::args::{self, c_name, opt_name, opt_path, write_optional};
use super::error::{finished, ringtrack_status, Failure};
use super::guard;
use super::handle::{self, ringtrack_run, watch_forks};
use crate::run::Run;
use crate::settings::{Mode, Settings};
use crate::value::ConfigValue;

/// `ringtrack_settings.flags`: the handle may be used from several threads
/// at once (each call then takes a mutex).
pub const RINGTRACK_SHARED: u32 = 1;

/// How to start a run. Fill it with `ringtrack_settings_default`, then set
/// what you need; every string is borrowed only during `ringtrack_init`.
/// A NULL (or, for paths, empty) string means "from the environment, else
/// the default", as for the Rust SDK's `Settings`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ringtrack_settings {
    /// `sizeof(ringtrack_settings)`, set by `ringtrack_settings_default`;
    /// lets a later library tell which version of the struct it was given.
    pub struct_size: usize,
    /// The project: 1 to 255 bytes of UTF-8 without '/' or control
    /// characters. Required.
    pub project: *const c_char,
    /// A human name for the run; NULL: the run id.
    pub run_name: *const c_char,
    /// The run directory root; NULL: `RINGTRACK_DIR`, else
    /// `./ringtrack-runs`.
    pub root: *const c_char,
    /// "online", "offline" or "disabled"; NULL: `RINGTRACK_MODE`, else
    /// online.
    pub mode: *const c_char,
    /// The initial config as a JSON object, such as `{"lr": 0.1}`; NULL:
    /// none.
    pub config_json: *const c_char,
    /// The node service's directory; NULL: `RINGTRACK_SERVICE_DIR`, else
    /// the per-user default.
    pub service_dir: *const c_char,
    /// Where to create the ring file; NULL: `RINGTRACK_RING_DIR`, else
    /// `/dev/shm`.
    pub ring_dir: *const c_char,
    /// The `ringtrack` binary to start when no service runs; NULL:
    /// `RINGTRACK_SERVICE_BIN`, else next to the program, else `PATH`.
    pub service_bin: *const c_char,
    /// Ring capacity in bytes, a power of two from 64 KiB to 4 GiB; 0:
    /// `RINGTRACK_RING_SIZE`, else 16 MiB.
    pub ring_capacity: u64,
    /// How long a log call waits for room in a full ring before it drops
    /// the row and returns `RINGTRACK_ERR_RING_FULL`. Default 2000.
    pub full_wait_ms: u32,
    /// How long `ringtrack_finish` waits by default (and `ringtrack_run_free`
    /// on an unfinished run) for the service to make the run durable.
    /// Default 60000.
    pub finish_timeout_ms: u32,
    /// `RINGTRACK_SHARED` or 0.
    pub flags: u32,
}

/// Fills `settings` with the defaults: every string NULL, `ring_capacity`
/// 0, `full_wait_ms` 2000, `finish_timeout_ms` 60000, `flags` 0, and
/// `struct_size` set.
///
/// Returns `RINGTRACK_ERR_NULL_POINTER` when `settings` is NULL.
///
/// # Safety
///
/// `settings` is NULL or points to writable memory for one
/// `ringtrack_settings`.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_settings_default(
    settings: *mut ringtrack_settings,
) -> ringtrack_status {
    guard(|| {
        args::check_ptr(settings, "settings")?;
        let null = std::ptr::null();
        let defaults = ringtrack_settings {
            struct_size: size_of::<ringtrack_settings>(),
            project: null,
            run_name: null,
            root: null,
            mode: null,
            config_json: null,
            service_dir: null,
            ring_dir: null,
            service_bin: null,
            ring_capacity: 0,
            full_wait_ms: 2000,
            finish_timeout_ms: 60_000,
            flags: 0,
        };
        // SAFETY: not NULL and aligned (checked), writable by the caller's
        // promise.
        unsafe { settings.write(defaults) };
        Ok(())
    })
}

/// What `ringtrack_finish` reports.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ringtrack_finish_report {
    /// Rows logged.
    pub rows: u64,
    /// Rows dropped because the ring stayed full.
    pub dropped: u64,
    /// The exit code recorded.
    pub exit_code: i32,
}

/// Starts a run: creates its directory and ring and registers it with the
/// node service, starting one when none runs. On success `*run` is the new
/// handle, owned by the caller until `ringtrack_run_free`; on failure it is
/// NULL.
///
/// Returns `RINGTRACK_ERR_NULL_POINTER` (settings, run or project NULL),
/// `RINGTRACK_ERR_SETTINGS` (`struct_size` is not
/// `sizeof(ringtrack_settings)`, a bad project, run name, mode, capacity or
/// flag), `RINGTRACK_ERR_BAD_STRING`, `RINGTRACK_ERR_CONFIG` (config JSON),
/// `RINGTRACK_ERR_RUN_DIR`, `RINGTRACK_ERR_RING` or
/// `RINGTRACK_ERR_SERVICE`.
///
/// # Safety
///
/// `settings` is NULL or points to a `ringtrack_settings` filled by
/// `ringtrack_settings_default` whose strings are NULL or NUL-terminated
/// within their limits; `run` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_init(
    settings: *const ringtrack_settings,
    run: *mut *mut ringtrack_run,
) -> ringtrack_status {
    guard(|| {
        args::check_ptr(run, "run (the out pointer)")?;
        // SAFETY: not NULL and aligned (checked), writable by the caller's
        // promise. Cleared first so a failure leaves NULL behind.
        unsafe { run.write(std::ptr::null_mut()) };
        args::check_ptr(settings, "settings")?;
        // SAFETY: not NULL and aligned (checked); the caller promises a
        // struct from `ringtrack_settings_default`, whose first field is
        // read alone before anything else is trusted.
        let size = unsafe { std::ptr::addr_of!((*settings).struct_size).read() };
        if size != size_of::<ringtrack_settings>() {
            return Err(Failure::new(
                ringtrack_status::RINGTRACK_ERR_SETTINGS,
                format!(
                    "settings.struct_size is {size}, not sizeof(ringtrack_settings) = {}: \
                     fill the settings with ringtrack_settings_default first",
                    size_of::<ringtrack_settings>()
                ),
            ));
        }
        // SAFETY: as above; the size matches this version of the struct.
        let given = unsafe { &*settings };
        // SAFETY: the strings are NULL or NUL-terminated, by the caller's
        // promise.
        let (sdk_settings, shared, finish_timeout) = unsafe { to_settings(given) }?;
        watch_forks()?;
        let started = Run::init(sdk_settings)?;
        let handle = ringtrack_run::new(started, shared, finish_timeout)?;
        // SAFETY: checked above; the caller now owns the box.
        unsafe { run.write(Box::into_raw(Box::new(handle))) };
        Ok(())
    })
}

/// Turns the C settings into the SDK's.
///
/// # Safety
///
/// Every string in `given` is NULL or NUL-terminated within its limit.
unsafe fn to_settings(
    given: &ringtrack_settings,
) -> Result<(Settings, bool, Duration), Failure> {
    let bad =
        |message: String| Failure::new(ringtrack_status::RINGTRACK_ERR_SETTINGS, message);
    // SAFETY: every string is NULL or NUL-terminated within its limit, by
    // the caller's promise; the same holds for the blocks below.
    let project = unsafe { c_name(given.project, "settings.project") }?;
    let mut settings = Settings::new(project)
        .full_wait(Duration::from_millis(given.full_wait_ms.into()))
        .finish_timeout(Duration::from_millis(given.finish_timeout_ms.into()));
    // SAFETY: as above.
    if let Some(name) = unsafe { opt_name(given.run_name, "settings.run_name") }? {
        settings = settings.run_name(name);
    }
    // SAFETY: as above.
    if let Some(mode) = unsafe { opt_name(given.mode, "settings.mode") }? {
        settings = settings.mode(Mode::parse(mode)?);
    }
    // SAFETY: as above.
    if let Some(root) = unsafe { opt_path(given.root, "settings.root") }? {
        settings = settings.root(root);
    }
    // SAFETY: as above.
    if let Some(dir) = unsafe { opt_path(given.service_dir, "settings.service_dir") }? {
        settings = settings.service_dir(dir);
    }
    // SAFETY: as above.
    if let Some(dir) = unsafe { opt_path(given.ring_dir, "settings.ring_dir") }? {
        settings = settings.ring_dir(dir);
    }
    // SAFETY: as above.
    if let Some(bin) = unsafe { opt_path(given.service_bin, "settings.service_bin") }? {
        settings = settings.service_bin(bin);
    }
    if given.ring_capacity != 0 {
        settings = settings.ring_capacity(given.ring_capacity);
    }
    if !given.config_json.is_null() {
        // SAFETY: as above.
        let json = unsafe {
            args::c_str(
                given.config_json,
                "settings.config_json",
                args::RINGTRACK_MAX_TEXT_LEN,
            )
        }?;
        for (key, value) in config_entries(json)? {
            settings = settings.config(key, value);
        }
    }
    if given.flags & !RINGTRACK_SHARED != 0 {
        return Err(bad(format!(
            "settings.flags has unknown bits {:#x}; the only flag is RINGTRACK_SHARED",
            given.flags & !RINGTRACK_SHARED
        )));
    }
    let shared = given.flags & RINGTRACK_SHARED != 0;
    let finish_timeout = Duration::from_millis(given.finish_timeout_ms.into());
    Ok((settings, shared, finish_timeout))
}

/// Parses config JSON and checks every entry before any is used, so a bad
/// entry applies none.
pub(crate) fn config_entries(json: &str) -> Result<Vec<(String, ConfigValue)>, Failure> {
    let config =
        |message: String| Failure::new(ringtrack_status::RINGTRACK_ERR_CONFIG, message);
    let entries = ConfigValue::entries_from_json(json).map_err(config)?;
    if entries.iter().any(|(key, _)| key.is_empty()) {
        return Err(config("config key \"\" is empty".into()));
    }
    crate::value::encode_config(&entries).map_err(config)?;
    Ok(entries)
}

/// Finishes the run with `exit_code` (non-zero marks it failed) and waits
/// up to `timeout_ms` (negative: the settings' `finish_timeout_ms`) for the
/// service to make it durable. Fills `*report` when it is not NULL.
///
/// The handle stays allocated: free it with `ringtrack_run_free`. From
/// this call on, every call on it (a second finish too) returns
/// `RINGTRACK_ERR_FINISHED`, whatever this one returned.
///
/// Returns `RINGTRACK_ERR_FINISH_TIMEOUT` when the wait ran out (nothing is
/// lost: the rows stay in the ring file for the service),
/// `RINGTRACK_ERR_RING_FULL` when not even the finish record fit,
/// `RINGTRACK_ERR_FINISHED`, `RINGTRACK_ERR_FORKED`, `RINGTRACK_ERR_BUSY` or
/// `RINGTRACK_ERR_NULL_POINTER`.
///
/// # Safety
///
/// `run` is NULL or a live handle; `report` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_finish(
    run: *mut ringtrack_run,
    exit_code: i32,
    timeout_ms: i64,
    report: *mut ringtrack_finish_report,
) -> ringtrack_status {
    guard(|| {
        if !report.is_null() {
            args::check_ptr(report, "report")?;
        }
        // SAFETY: `run` is NULL or live, by the caller's promise.
        let handle = unsafe { handle::handle(run) }?;
        let timeout = match u64::try_from(timeout_ms) {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => handle.finish_timeout,
        };
        let done = handle.with(|slot| {
            if slot.finished {
                return Err(finished());
            }
            slot.finished = true;
            Ok(slot.run.end(exit_code, timeout)?)
        })?;
        let summary = ringtrack_finish_report {
            rows: done.rows,
            dropped: done.dropped,
            exit_code: done.exit_code,
        };
        // SAFETY: NULL or writable, by the caller's promise; checked above.
        unsafe { write_optional(report, summary, "report") }
    })
}

/// Frees a run handle; NULL is a no-op. An unfinished run is finished
/// first, with exit code 0 and the settings' finish timeout, and the status
/// of that finish is returned; the handle is freed either way, except when
/// the call returns `RINGTRACK_ERR_BUSY` (another thread is inside a call
/// on it: nothing was done).
///
/// In a forked child, a handle made by the parent is released without
/// touching the parent's run: the child's copy of the mapping is unmapped
/// and nothing is written into the ring.
///
/// # Safety
///
/// `run` is NULL or a live handle, and no other call on it is running or
/// will follow: after this call the pointer dangles.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_run_free(run: *mut ringtrack_run) -> ringtrack_status {
    guard(|| {
        if run.is_null() {
            return Ok(());
        }
        args::check_ptr(run, "run")?;
        // SAFETY: not NULL and aligned (checked), live by the caller's
        // promise.
        let borrowed = unsafe { &*run };
        // In a forked child no other thread of the parent exists, so a call
        // still "inside" the handle is one that fork() cut short.
        let idle = borrowed.check_idle();
        let (inherited, was_idle) = (borrowed.inherited(), idle.is_ok());
        if !inherited {
            idle?;
        }
        // SAFETY: the pointer came from `Box::into_raw` in `ringtrack_init`
        // and the caller gives up its ownership here; no call is inside it
        // (checked just above, or in a child, none can run any more) and
        // none may follow.
        let handle = unsafe { Box::from_raw(run) };
        if inherited {
            let slot = handle.into_slot();
            if was_idle {
                // The parent's ring has one writer, the parent: dropping
                // the run would publish a finish record into it.
                slot.run.abandon();
            } else {
                // fork() stopped a call half-way: the copy may be
                // inconsistent, so it is not dropped at all.
                std::mem::forget(slot);
            }
            return Ok(());
        }
        let timeout = handle.finish_timeout;
        let mut slot = handle.into_slot();
        if slot.finished {
            return Ok(());
        }
        slot.finished = true;
        slot.run.end(0, timeout)?;
        Ok(())
    })
}

/// The run id, such as "20261204-133000-a1b2c3" ("" for a disabled run),
/// valid until the handle is freed; NULL when `run` is NULL.
///
/// # Safety
///
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_run_id(run: *const ringtrack_run) -> *const c_char {
    // SAFETY: passed on from the caller.
    unsafe { run_text(run, |h| h.id.as_ptr()) }
}

/// The run directory ("" for a disabled run), valid until the handle is
/// freed; NULL when `run` is NULL.
///
/// # Safety
///
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ringtrack_run_dir(run: *const ringtrack_run) -> *const c_char {
    // SAFETY: passed on from the caller.
    unsafe { run_text(run, |h| h.dir.as_ptr()) }
}

/// Reads an immutable string of the handle; these may be read in a forked
/// child and from any thread.
///
/// # Safety
///
/// `run` is NULL or a live handle.
unsafe fn run_text(
    run: *const ringtrack_run,
    text: impl FnOnce(&ringtrack_run) -> *const c_char,
) -> *const c_char {
    let mut out = std::ptr::null();
    let status = guard(|| {
        args::check_ptr(run, "run")?;
        // SAFETY: not NULL and aligned (checked), live by the caller's
        // promise; the strings are never changed after init.
        out = text(unsafe { &*run });
        Ok(())
    });
    if status == ringtrack_status::RINGTRACK_OK {
        out
    } else {
        std::ptr::null()
    }
}
