//! The run handle behind `ringtrack_run*`, and the checks every call on it
//! makes first: not NULL, not inherited through `fork()`, not in use by
//! another thread.
//!
//! A handle made without `RINGTRACK_SHARED` keeps its run in an
//! `UnsafeCell` guarded by a `busy` flag: a call swaps the flag to true on
//! the way in and stores false on the way out, so two overlapping calls
//! cannot both reach the run; the second returns `RINGTRACK_ERR_BUSY`.
//! That is one uncontended atomic swap per call, no waiting and no syscall.
//! A shared handle keeps its run behind a mutex instead.

use std::cell::UnsafeCell;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, Once, TryLockError};
use std::time::Duration;

use super::error::{ringtrack_status, Failure};
use crate::metrics::Metric;
use crate::run::Run;

/// How many times this process is a forked child of a process that had
/// ringtrack loaded: bumped by the `pthread_atfork` child handler.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn forked_child() {
    // Runs in the child right after fork(), on its only thread; an atomic
    // add is async-signal-safe.
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Registers the fork handler once per process (a child inherits it).
pub(crate) fn watch_forks() -> Result<(), Failure> {
    static REGISTER: Once = Once::new();
    static RESULT: AtomicU64 = AtomicU64::new(0);
    REGISTER.call_once(|| {
        // SAFETY: `forked_child` is a plain function that lives as long as
        // the process (the library is never unloaded while handles exist).
        let rc = unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
        RESULT.store(rc as u64, Ordering::Relaxed);
    });
    match RESULT.load(Ordering::Relaxed) {
        0 => Ok(()),
        rc => Err(Failure::new(
            ringtrack_status::RINGTRACK_ERR_INTERNAL,
            format!("pthread_atfork failed with error {rc}"),
        )),
    }
}

/// What a call reaches through a handle.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) run: Run,
    /// Reused to turn the C arrays into the SDK's row, so steady-state
    /// logging allocates nothing.
    pub(crate) scratch: Vec<(Metric, f64)>,
    pub(crate) finished: bool,
}

#[derive(Debug)]
enum Access {
    Exclusive {
        busy: AtomicBool,
        slot: UnsafeCell<Slot>,
    },
    Shared(Mutex<Slot>),
}

/// A run, as C holds it: opaque, made by `ringtrack_init`, freed by
/// `ringtrack_run_free`.
#[derive(Debug)]
pub struct ringtrack_run {
    generation: u64,
    pub(crate) id: CString,
    pub(crate) dir: CString,
    pub(crate) finish_timeout: Duration,
    access: Access,
}

impl ringtrack_run {
    pub(crate) fn new(
        run: Run,
        shared: bool,
        finish_timeout: Duration,
    ) -> Result<ringtrack_run, Failure> {
        let text = |s: &[u8], what: &str| {
            CString::new(s).map_err(|_| {
                Failure::new(
                    ringtrack_status::RINGTRACK_ERR_RUN_DIR,
                    format!("the run {what} holds a NUL byte"),
                )
            })
        };
        let id = text(run.id().as_bytes(), "id")?;
        let dir = text(
            std::os::unix::ffi::OsStrExt::as_bytes(run.dir().as_os_str()),
            "directory",
        )?;
        let slot = Slot {
            run,
            scratch: Vec::with_capacity(16),
            finished: false,
        };
        let access = if shared {
            Access::Shared(Mutex::new(slot))
        } else {
            Access::Exclusive {
                busy: AtomicBool::new(false),
                slot: UnsafeCell::new(slot),
            }
        };
        Ok(ringtrack_run {
            generation: FORK_GENERATION.load(Ordering::Relaxed),
            id,
            dir,
            finish_timeout,
            access,
        })
    }

    /// Whether this process is a fork of the one that made the handle.
    #[inline]
    pub(crate) fn inherited(&self) -> bool {
        FORK_GENERATION.load(Ordering::Relaxed) != self.generation
    }

    /// Gives the run to `f`, or fails when another thread is using it.
    #[inline]
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&mut Slot) -> Result<R, Failure>,
    ) -> Result<R, Failure> {
        match &self.access {
            Access::Exclusive { busy, slot } => {
                // Acquire pairs with the Release store in `Release::drop`
                // by the previous call, so its writes to the slot are seen.
                if busy.swap(true, Ordering::Acquire) {
                    return Err(busy_failure());
                }
                let _release = Release(busy);
                // SAFETY: the swap above saw `false`, so no other call is
                // inside this block until `_release` stores `false` again:
                // this is the only reference to the slot.
                f(unsafe { &mut *slot.get() })
            }
            Access::Shared(mutex) => {
                // A call that panicked left the run consistent (see
                // `crate::shared`), so a poisoned lock is taken anyway.
                let mut slot = mutex.lock().unwrap_or_else(|p| p.into_inner());
                f(&mut slot)
            }
        }
    }

    /// Fails when a call is still inside the handle, which then must not be
    /// freed.
    pub(crate) fn check_idle(&self) -> Result<(), Failure> {
        match &self.access {
            Access::Exclusive { busy, .. } => {
                if busy.load(Ordering::Acquire) {
                    return Err(busy_failure());
                }
            }
            Access::Shared(mutex) => match mutex.try_lock() {
                Ok(_) | Err(TryLockError::Poisoned(_)) => {}
                Err(TryLockError::WouldBlock) => return Err(busy_failure()),
            },
        }
        Ok(())
    }

    /// The slot of a handle being freed.
    pub(crate) fn into_slot(self) -> Slot {
        match self.access {
            Access::Exclusive { slot, .. } => slot.into_inner(),
            Access::Shared(mutex) => {
                mutex.into_inner().unwrap_or_else(|p| p.into_inner())
            }
        }
    }
}

/// Clears the busy flag when a call leaves, also by a panic.
struct Release<'a>(&'a AtomicBool);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        // Release pairs with the Acquire swap of the next call.
        self.0.store(false, Ordering::Release);
    }
}

#[cold]
fn busy_failure() -> Failure {
    Failure::new(
        ringtrack_status::RINGTRACK_ERR_BUSY,
        "another thread is in a call on this run handle; a handle made without \
         RINGTRACK_SHARED must not be used by two threads at once",
    )
}

#[cold]
pub(crate) fn forked_failure() -> Failure {
    Failure::new(
        ringtrack_status::RINGTRACK_ERR_FORKED,
        "this run handle was made by the parent process before fork(); a forked \
         child cannot log to it (start a run of its own with ringtrack_init)",
    )
}

/// Borrows the handle behind `run` after the NULL and fork checks.
///
/// # Safety
///
/// `run` is NULL or a handle from `ringtrack_init` not yet freed.
#[inline]
pub(crate) unsafe fn handle<'a>(
    run: *const ringtrack_run,
) -> Result<&'a ringtrack_run, Failure> {
    super::args::check_ptr(run, "run")?;
    // SAFETY: not NULL and aligned (checked); live by the caller's promise.
    // Only a shared reference is made: the run inside is reached through
    // `with`, which keeps calls from overlapping.
    let handle = unsafe { &*run };
    if handle.inherited() {
        return Err(forked_failure());
    }
    Ok(handle)
}
