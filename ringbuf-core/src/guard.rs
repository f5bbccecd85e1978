//! The SIGBUS guard: a truncated ring file ends its run, not the process.
//!
//! A file mapping outlives the file's length: when another process shrinks
//! a mapped ring file, touching a page past the new end raises SIGBUS,
//! which by default kills the process. [`RingFile::check_len`] before every
//! batch catches most truncations, but a truncation that lands between that
//! check and the copies would still kill a consumer that reads many rings.
//!
//! A process that installs the guard ([`install_sigbus_guard`], which the
//! node service does at start) gets a SIGBUS handler and a fixed table of
//! the ring mappings it holds. When a fault hits an address inside one of
//! them, the handler maps a private zero page over the faulting page
//! (`mmap` with `MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE`), marks that ring
//! truncated and returns: the copy that faulted completes with zeros, and
//! the reader, which checks the mark after every copy from the ring, turns
//! it into a [`RingError::Truncated`](crate::RingError::Truncated) naming
//! the file. A fault anywhere else, or a SIGBUS sent by `kill`, gets the
//! default action as before: the process dies with SIGBUS. Wayland
//! compositors guard their clients' shared-memory pools the same way.
//!
//! The guard replaces any SIGBUS handler installed before it, the standard
//! library's stack-overflow reporter included; that one still sees
//! SIGSEGV, which is what a stack overflow raises on Linux.
//!
//! # What the handler may touch
//!
//! Only async-signal-safe things: atomics in a static table, and the
//! `mmap`, `sigaction` and `raise` system calls. It takes no lock and
//! allocates nothing. Registering and unregistering take a mutex among
//! themselves and publish each slot with a sequence counter (a seqlock), so
//! the handler, which only reads, never acts on a slot caught mid-change.
//!
//! [`RingFile::check_len`]: crate::RingFile::check_len

use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// How many ring mappings the guard can cover at once.
pub const GUARD_SLOTS: usize = 1024;

/// One registered mapping: `[start, start + len)`, and whether a fault in
/// it was caught. `len == 0` marks a free slot.
struct Slot {
    /// Odd while the slot is being changed (see the module docs).
    seq: AtomicUsize,
    start: AtomicUsize,
    len: AtomicUsize,
    hit: AtomicBool,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            seq: AtomicUsize::new(0),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            hit: AtomicBool::new(false),
        }
    }
}

static TABLE: [Slot; GUARD_SLOTS] = [const { Slot::new() }; GUARD_SLOTS];
/// Serialises registering and unregistering; never taken by the handler.
static WRITERS: Mutex<()> = Mutex::new(());
static INSTALLED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);

/// Installs the SIGBUS handler for this process (once; later calls do
/// nothing). From then on every ring mapped by [`crate::RingFile`] is
/// covered. Returns the `sigaction` error if the handler could not be set.
pub fn install_sigbus_guard() -> std::io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        // SAFETY: sysconf has no memory effects.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page > 0 {
            PAGE_SIZE.store(page as usize, Ordering::SeqCst);
        }
        // SAFETY: an all-zero sigaction is a valid starting value (no
        // handler, no flags, empty mask) that the fields below fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `action` is initialised; the handler only does
        // async-signal-safe work (see the module docs).
        let rc = unsafe { libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) };
        if rc == 0 {
            INSTALLED.store(true, Ordering::SeqCst);
        } else {
            result = Err(std::io::Error::last_os_error());
        }
    });
    result
}

/// Whether this process has the guard.
pub fn is_installed() -> bool {
    INSTALLED.load(Ordering::SeqCst)
}

/// A mapping's place in the guard's table; unregisters it when dropped,
/// which must happen before the mapping is unmapped.
#[derive(Debug)]
pub(crate) struct GuardSlot {
    index: usize,
}

impl GuardSlot {
    /// Registers `[start, start + len)`. `None` when the table is full.
    pub(crate) fn register(start: *mut u8, len: usize) -> Option<GuardSlot> {
        let _writers = WRITERS.lock().unwrap_or_else(|p| p.into_inner());
        let index = TABLE
            .iter()
            .position(|slot| slot.len.load(Ordering::Relaxed) == 0)?;
        write_slot(&TABLE[index], start as usize, len);
        Some(GuardSlot { index })
    }

    /// Whether a fault in this mapping was caught (the file was truncated
    /// under it).
    pub(crate) fn hit(&self) -> bool {
        // Acquire pairs with the handler's release store; the handler runs
        // on the faulting thread, which is the reading thread, so this is
        // belt and braces.
        TABLE[self.index].hit.load(Ordering::Acquire)
    }
}

impl Drop for GuardSlot {
    fn drop(&mut self) {
        let _writers = WRITERS.lock().unwrap_or_else(|p| p.into_inner());
        write_slot(&TABLE[self.index], 0, 0);
    }
}

/// Changes a slot under the seqlock: the counter is odd while the fields
/// change. Callers hold `WRITERS`.
fn write_slot(slot: &Slot, start: usize, len: usize) {
    let seq = slot.seq.load(Ordering::Relaxed);
    slot.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
    // Release fence: the odd counter is visible before any field changes,
    // pairing with the handler's acquire fence before its second counter
    // load.
    fence(Ordering::Release);
    slot.start.store(start, Ordering::Relaxed);
    slot.len.store(len, Ordering::Relaxed);
    slot.hit.store(false, Ordering::Relaxed);
    // Release pairs with the handler's acquire load of the counter: the
    // fields are complete before the even counter.
    slot.seq.store(seq.wrapping_add(2), Ordering::Release);
}

/// The slot whose mapping holds `addr`, read consistently.
fn slot_for(addr: usize) -> Option<&'static Slot> {
    TABLE.iter().find(|slot| {
        // Acquire pairs with the release store that ended the last change.
        let before = slot.seq.load(Ordering::Acquire);
        if before % 2 == 1 {
            return false;
        }
        let start = slot.start.load(Ordering::Relaxed);
        let len = slot.len.load(Ordering::Relaxed);
        // Acquire fence pairs with the writer's release fence: if a change
        // began after our first load, the second load sees it.
        fence(Ordering::Acquire);
        let after = slot.seq.load(Ordering::Relaxed);
        before == after && len != 0 && addr >= start && addr - start < len
    })
}

extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler;
    // for SIGBUS with BUS_ADRERR, si_addr is the faulting address.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    if code == libc::BUS_ADRERR {
        if let Some(slot) = slot_for(addr) {
            let page = PAGE_SIZE.load(Ordering::Relaxed);
            let at = addr & !(page - 1);
            // SAFETY: the page lies inside a ring mapping this process
            // registered and still holds (slots are unregistered before
            // their mapping is unmapped), so replacing it touches no memory
            // that Rust code holds references to: the ring's bytes are only
            // ever reached through raw copies and atomics. The file behind
            // it is gone, so its contents were lost anyway. mmap is a plain
            // system call, safe to make from a signal handler on Linux.
            let mapped = unsafe {
                libc::mmap(
                    at as *mut libc::c_void,
                    page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if mapped != libc::MAP_FAILED {
                // Release pairs with the acquire load in `GuardSlot::hit`.
                slot.hit.store(true, Ordering::Release);
                return;
            }
        }
    }
    // Not ours: die of SIGBUS as if no handler were installed.
    // SAFETY: resetting to the default action and raising are
    // async-signal-safe; the raised signal is delivered once this handler
    // returns (SIGBUS is blocked while it runs).
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}
