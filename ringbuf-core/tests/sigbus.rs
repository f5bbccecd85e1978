//! The SIGBUS guard for real: ring files truncated under a live mapping,
//! real faults, a process that lives on. This binary installs the guard,
//! as the node service does.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use ringbuf_core::guard::install_sigbus_guard;
use ringbuf_core::layout::HEADER_SIZE;
use ringbuf_core::{Batch, RingError, RingFile, RingOptions, RingReader, RingWriter};

fn ring_with_records(dir: &Path) -> PathBuf {
    let path = dir.join("ring");
    let mut writer = RingWriter::new(
        RingFile::create(&path, RingOptions::with_capacity(1 << 16)).unwrap(),
    );
    for n in 0..200u8 {
        let mut slot = writer.reserve(300).unwrap();
        slot.payload().fill(n);
        slot.commit(2);
    }
    path
}

fn truncate(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn is_truncated(err: &RingError, path: &Path) -> bool {
    matches!(err, RingError::Truncated { path: p } if p == path)
        && err.to_string().contains("truncated while mapped")
}

#[test]
fn a_fault_in_the_header_page_is_caught_and_named() {
    install_sigbus_guard().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = ring_with_records(dir.path());
    let file = RingFile::open(&path).unwrap();
    truncate(&path, 0);
    // The reader's first loads touch the header page, which is gone.
    let err = RingReader::new(file).unwrap_err();
    assert!(is_truncated(&err, &path), "{err}");
}

#[test]
fn a_fault_in_the_data_pages_is_caught_mid_read() {
    install_sigbus_guard().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = ring_with_records(dir.path());
    let mut reader = RingReader::new(RingFile::open(&path).unwrap()).unwrap();
    // Keep the header, lose the records: `skip_to` reads no length first,
    // so the copy itself meets the missing pages.
    truncate(&path, HEADER_SIZE as u64);
    let err = reader.skip_to(8).and_then(|()| {
        let mut batch = Batch::default();
        reader.read_batch(usize::MAX, &mut batch)
    });
    let err = err.unwrap_err();
    // The length check may see the change first; either way the process
    // lives and the error names the file.
    assert!(
        is_truncated(&err, &path) || err.to_string().contains("changed size"),
        "{err}"
    );
    assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
}

#[test]
fn a_truncation_after_the_length_check_is_caught_by_the_guard() {
    install_sigbus_guard().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = ring_with_records(dir.path());
    let mut reader = RingReader::new(RingFile::open(&path).unwrap()).unwrap();
    truncate(&path, 0);
    // `commit_read` stores the read position into the (gone) header page
    // without a length check first: only the guard stands between this
    // store and a dead process.
    let err = reader.commit_read(0).unwrap_err();
    assert!(is_truncated(&err, &path), "{err}");
}

#[test]
fn a_sigbus_outside_any_ring_still_kills() {
    use std::os::unix::ffi::OsStrExt;
    install_sigbus_guard().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path =
        std::ffi::CString::new(dir.path().join("plain").as_os_str().as_bytes()).unwrap();
    // SAFETY: the child makes only async-signal-safe calls (open, ftruncate,
    // mmap, a load, _exit) before it dies or exits; the parent waits for it.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: plain system calls on memory and descriptors the child owns;
        // the load from the truncated page is the fault under test.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CREAT, 0o600);
            libc::ftruncate(fd, 8192);
            let p = libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                0,
            );
            libc::ftruncate(fd, 0);
            let v = std::ptr::read_volatile(p.cast::<u8>().add(4096));
            libc::_exit(i32::from(v) + 10);
        }
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGBUS,
        "the child died of SIGBUS (status {status:#x})"
    );
}
