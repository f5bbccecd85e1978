//! Creating and opening ring files.
//!
//! [`RingFile::create`] makes a new ring: it reserves the file's space up
//! front with `posix_fallocate` (so a full file system fails here, with
//! [`RingError::NoSpace`], and never later with a SIGBUS in the hot path),
//! maps it, writes the header and touches every page so the writer's
//! steady state takes no page faults. [`RingFile::open`] maps an existing
//! file and checks its header.
//!
//! # What another process can do to a mapping
//!
//! A mapped file can be changed by any process that can write it. Changed
//! bytes are handled: the reader validates everything it reads, and checks
//! before every batch that the fixed header fields are still the ones it
//! opened. A file that is *truncated* while mapped is different: touching a
//! page past the new end raises SIGBUS. The reader checks the file's length
//! before every batch ([`RingFile::check_len`]), which narrows that window
//! to a truncation racing one batch read. A process that installs the
//! SIGBUS guard ([`crate::guard`], as the node service does) closes it: the
//! fault is caught, the page reads as zeros, and the reader reports
//! [`RingError::Truncated`]. Without the guard (a trainer, a test) a
//! truncation in that window still kills the process. Ring files are
//! created owner-only, so only the user's own processes can do this.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use memmap2::MmapMut;

use crate::error::RingError;
use crate::layout::{self, HeaderInfo, HEADER_SIZE};
use crate::region::Region;

/// How to build a new ring.
#[derive(Debug, Clone, Copy)]
pub struct RingOptions {
    /// Size of the data region in bytes: a power of two, at least 4096.
    pub capacity: u64,
    /// Largest record (header included) the writer may produce; at most half
    /// the capacity. `None` picks a quarter of the capacity, capped at 1 MiB.
    pub max_record: Option<u32>,
}

impl RingOptions {
    /// Options for a ring of `capacity` bytes with the default record limit.
    pub fn with_capacity(capacity: u64) -> Self {
        RingOptions {
            capacity,
            max_record: None,
        }
    }

    fn max_record(&self) -> u32 {
        let default = (self.capacity / 4).min(1 << 20) as u32;
        self.max_record.unwrap_or(default)
    }
}

/// An open, mapped, validated ring file.
#[derive(Debug)]
pub struct RingFile {
    pub(crate) region: Region,
    file: Option<File>,
    path: PathBuf,
    info: HeaderInfo,
}

impl RingFile {
    /// Creates a new ring file at `path` (which must not exist), owner-only.
    pub fn create(path: &Path, options: RingOptions) -> Result<RingFile, RingError> {
        let info = new_header_info(&options)?;
        let total = HEADER_SIZE as u64 + options.capacity;
        let io_err = |op, source| RingError::Io {
            path: path.to_owned(),
            op,
            source,
        };

        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| io_err("create", e))?;
        if let Err(err) = reserve_space(&file, total) {
            let _ = std::fs::remove_file(path);
            return Err(if err.raw_os_error() == Some(libc::ENOSPC) {
                RingError::NoSpace {
                    path: path.to_owned(),
                    bytes: total,
                }
            } else {
                io_err("reserve space", err)
            });
        }
        // SAFETY: the file was just created by us with exclusive access and
        // reserved to its full length; see the module docs for what other
        // processes of the same user could still do to it.
        let region = match unsafe { MmapMut::map_mut(&file) } {
            Ok(map) => Region::from_map(map).map_err(RingError::InvalidOptions),
            Err(e) => Err(io_err("map", e)),
        };
        let region = region.inspect_err(|_| {
            let _ = std::fs::remove_file(path);
        })?;

        let mut header = vec![0u8; HEADER_SIZE];
        layout::write_header(&mut header, &info);
        write_bytes(&region, 0, &header);
        prefault(&region);
        Ok(RingFile {
            region,
            file: Some(file),
            path: path.to_owned(),
            info,
        })
    }

    /// Opens and validates an existing ring file.
    pub fn open(path: &Path) -> Result<RingFile, RingError> {
        let io_err = |op, source| RingError::Io {
            path: path.to_owned(),
            op,
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| io_err("open", e))?;
        let meta = file.metadata().map_err(|e| io_err("stat", e))?;
        let bad = |reason: String| RingError::BadHeader {
            path: path.to_owned(),
            reason,
        };
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        if meta.len() < HEADER_SIZE as u64
            || meta.len() > HEADER_SIZE as u64 + layout::MAX_CAPACITY
        {
            return Err(bad(format!(
                "file is {} bytes, not a ring's size",
                meta.len()
            )));
        }
        // SAFETY: the length was checked above; the reader re-checks it before
        // every batch (see the module docs on truncation).
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| io_err("map", e))?;
        let region = Region::from_map(map).map_err(bad)?;
        let mut header = vec![0u8; HEADER_SIZE];
        region.copy_out(0, &mut header);
        if region.truncated() {
            return Err(RingError::Truncated {
                path: path.to_owned(),
            });
        }
        let info = layout::check_header(&header, meta.len()).map_err(bad)?;
        Ok(RingFile {
            region,
            file: Some(file),
            path: path.to_owned(),
            info,
        })
    }

    /// A ring in private memory, for tests and benchmarks of the protocol.
    /// Use [`RingFile::share`] to get the second half's handle.
    pub fn in_memory(options: RingOptions) -> Result<RingFile, RingError> {
        let info = new_header_info(&options)?;
        let region = Region::heap(HEADER_SIZE + options.capacity as usize);
        let mut header = vec![0u8; HEADER_SIZE];
        layout::write_header(&mut header, &info);
        write_bytes(&region, 0, &header);
        Ok(RingFile {
            region,
            file: None,
            path: PathBuf::from("<memory>"),
            info,
        })
    }

    /// Another handle to the same memory (for a reader and a writer in one
    /// process).
    pub fn share(&self) -> RingFile {
        RingFile {
            region: self.region.clone(),
            file: self.file.as_ref().and_then(|f| f.try_clone().ok()),
            path: self.path.clone(),
            info: self.info,
        }
    }

    /// The file's path (`<memory>` for an in-memory ring).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header facts, as checked when the file was opened.
    pub fn info(&self) -> &HeaderInfo {
        &self.info
    }

    /// Checks that the file still has the length it had when mapped, so the
    /// next reads stay inside the file.
    pub fn check_len(&self) -> Result<(), RingError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let len = file
            .metadata()
            .map_err(|source| RingError::Io {
                path: self.path.clone(),
                op: "stat",
                source,
            })?
            .len();
        if len != self.region.len() as u64 {
            return Err(RingError::BadHeader {
                path: self.path.clone(),
                reason: format!(
                    "file changed size under the mapping: {} bytes, mapped {}",
                    len,
                    self.region.len()
                ),
            });
        }
        Ok(())
    }
}

fn new_header_info(options: &RingOptions) -> Result<HeaderInfo, RingError> {
    layout::check_capacity(options.capacity).map_err(RingError::InvalidOptions)?;
    let max_record = options.max_record();
    if (max_record as usize) < layout::record_size(0)
        || u64::from(max_record) > options.capacity / 2
        || max_record % 8 != 0
    {
        return Err(RingError::InvalidOptions(format!(
            "max record {max_record} must be an 8-byte multiple of at most half the capacity"
        )));
    }
    Ok(HeaderInfo {
        capacity: options.capacity,
        ring_id: random_u64(),
        max_record,
        creator_pid: std::process::id(),
        created_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    })
}

/// Reserves `len` bytes of storage for the file. Falls back to writing
/// zeros on file systems without `fallocate`.
fn reserve_space(file: &File, len: u64) -> io::Result<()> {
    // SAFETY: plain syscall on a file descriptor we own.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    match rc {
        0 => Ok(()),
        libc::EOPNOTSUPP | libc::EINVAL => write_zeros(file, len),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

fn write_zeros(file: &File, len: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let chunk = vec![0u8; 1 << 16];
    let mut at = 0u64;
    while at < len {
        let n = chunk.len().min((len - at) as usize);
        file.write_all_at(&chunk[..n], at)?;
        at += n as u64;
    }
    file.sync_data()
}

fn write_bytes(region: &Region, offset: usize, bytes: &[u8]) {
    assert!(offset + bytes.len() <= region.len());
    // SAFETY: the range is inside the region (checked above) and nobody else
    // has the ring yet: it is being created.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            region.base().add(offset),
            bytes.len(),
        )
    }
}

/// Touches every page of the mapping with a write so the writer's hot path
/// finds each page present and writable.
fn prefault(region: &Region) {
    let page = 4096;
    let mut at = HEADER_SIZE;
    while at < region.len() {
        // SAFETY: `at` is inside the region; the data region is all zero at
        // creation and nobody else has the ring yet, so writing a zero back
        // changes nothing but the page's presence.
        unsafe { std::ptr::write_volatile(region.base().add(at), 0u8) };
        at += page;
    }
}

fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n == 8 {
        u64::from_le_bytes(buf)
    } else {
        // Without a random source, time and pid still tell rings apart.
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64);
        t.unwrap_or(0) ^ (u64::from(std::process::id()) << 40)
    }
}
