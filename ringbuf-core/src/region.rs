//! The memory a ring lives in: a shared file mapping, or (for tests and
//! benchmarks of the protocol alone) an aligned heap buffer.
//!
//! A [`Region`] hands out the header's atomics and a raw pointer to the
//! data region. It never hands out a Rust reference to the data region
//! itself, because the other process may be writing there: the halves copy
//! bytes in and out with raw pointer copies instead.
//!
//! In a process with the SIGBUS guard ([`crate::guard`]), a file mapping is
//! registered with it for its whole life, and [`Region::truncated`] says
//! whether the file was found truncated under it.

use std::sync::Arc;

use memmap2::MmapMut;

use crate::guard::GuardSlot;
use crate::layout::HEADER_SIZE;
use crate::sync::AtomicU64;

/// What keeps the memory alive. The fields are never read: owning them is
/// their job.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "the backings are owned only to keep the memory alive"
)]
enum Backing {
    Map(MmapMut),
    Heap(Box<[u64]>),
}

#[derive(Debug)]
struct Inner {
    ptr: *mut u8,
    len: usize,
    /// Declared before the backing so it is dropped (unregistered) before
    /// the mapping is unmapped.
    guard: Option<GuardSlot>,
    _backing: Backing,
}

// SAFETY: the pointer is owned by `Backing`, which lives as long as `Inner`;
// all access to the memory goes through atomics or through the protocol of
// the ring halves, which never let two threads write the same bytes.
unsafe impl Send for Inner {}
// SAFETY: as for `Send`: shared access is mediated by atomics and by the
// single-producer/single-consumer protocol.
unsafe impl Sync for Inner {}

/// A shared handle to the memory of one ring.
#[derive(Debug, Clone)]
pub(crate) struct Region {
    inner: Arc<Inner>,
}

impl Region {
    /// Wraps a writable file mapping, registering it with the SIGBUS guard
    /// when the process has one. The mapping must be at least
    /// [`HEADER_SIZE`] bytes long. Fails only when the guard's table is
    /// full.
    pub(crate) fn from_map(mut map: MmapMut) -> Result<Self, String> {
        let ptr = map.as_mut_ptr();
        let len = map.len();
        assert!(
            len >= HEADER_SIZE,
            "a ring mapping holds at least the header"
        );
        let guard = if crate::guard::is_installed() {
            Some(GuardSlot::register(ptr, len).ok_or_else(|| {
                format!(
                    "the SIGBUS guard already covers {} ring mappings",
                    crate::guard::GUARD_SLOTS
                )
            })?)
        } else {
            None
        };
        Ok(Region {
            inner: Arc::new(Inner {
                ptr,
                len,
                guard,
                _backing: Backing::Map(map),
            }),
        })
    }

    /// Whether the guard caught a fault in this mapping: the file was
    /// truncated under it and some pages now read as zeros.
    pub(crate) fn truncated(&self) -> bool {
        self.inner.guard.as_ref().is_some_and(GuardSlot::hit)
    }

    /// Allocates a zeroed, 8-byte-aligned buffer of `len` bytes.
    pub(crate) fn heap(len: usize) -> Self {
        assert!(len >= HEADER_SIZE && len % 8 == 0, "heap ring length");
        let mut buf = vec![0u64; len / 8].into_boxed_slice();
        let ptr = buf.as_mut_ptr().cast::<u8>();
        Region {
            inner: Arc::new(Inner {
                ptr,
                len,
                guard: None,
                _backing: Backing::Heap(buf),
            }),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.len
    }

    /// The start of the memory.
    pub(crate) fn base(&self) -> *mut u8 {
        self.inner.ptr
    }

    /// The header's `u64` counter at `offset`.
    pub(crate) fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        assert!(
            offset % 8 == 0 && offset + 8 <= HEADER_SIZE,
            "header atomic offset"
        );
        // SAFETY: the memory starts page-aligned (mmap) or u64-aligned (heap),
        // so `base + offset` with an 8-byte-multiple offset is aligned for
        // AtomicU64; it lies within the header (checked above), which is
        // inside the allocation; the reference lives no longer than `self`,
        // which keeps the memory mapped. AtomicU64 has the same layout as u64.
        unsafe { &*self.inner.ptr.add(offset).cast::<AtomicU64>() }
    }

    /// Copies `dst.len()` bytes starting at byte `offset` of the memory.
    pub(crate) fn copy_out(&self, offset: usize, dst: &mut [u8]) {
        assert!(offset <= self.inner.len && dst.len() <= self.inner.len - offset);
        // SAFETY: the source range is inside the mapping (checked above) and
        // cannot overlap `dst`, which is memory of our own. The bytes may be
        // written concurrently only by a misbehaving peer process; a plain
        // byte copy then yields garbage, which the callers validate before
        // use, and never a reference into shared memory.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.inner.ptr.add(offset),
                dst.as_mut_ptr(),
                dst.len(),
            )
        }
    }
}
