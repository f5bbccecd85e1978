//! Checking what C hands in: pointers, arrays and strings.
//!
//! Nothing here can tell a dangling pointer from a live one; what can be
//! checked (NULL, alignment, a count that cannot be an array, a missing NUL
//! within the limit, UTF-8) is, and each failure names the argument.

use std::ffi::{c_char, OsStr};
use std::fmt::Display;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use ringbuf_core::record::MAX_NAME_LEN;

use super::error::{ringtrack_status, Failure};

/// Longest metric, summary, project or run name, in bytes (without the
/// NUL). A name's NUL must come within `RINGTRACK_MAX_NAME_LEN + 1` bytes.
pub const RINGTRACK_MAX_NAME_LEN: usize = 255;
const _: () = assert!(RINGTRACK_MAX_NAME_LEN == MAX_NAME_LEN);
/// Longest path setting, in bytes (without the NUL).
pub const RINGTRACK_MAX_PATH_LEN: usize = 4095;
/// Longest text value or config JSON, in bytes (without the NUL): the
/// largest ring record.
pub const RINGTRACK_MAX_TEXT_LEN: usize = 1 << 20;

#[cold]
fn null(what: impl Display) -> Failure {
    Failure::new(
        ringtrack_status::RINGTRACK_ERR_NULL_POINTER,
        format!("{what} is NULL"),
    )
}

#[cold]
fn misaligned(what: impl Display, align: usize) -> Failure {
    Failure::new(
        ringtrack_status::RINGTRACK_ERR_NULL_POINTER,
        format!("{what} is not aligned to {align} bytes"),
    )
}

/// Checks that `ptr` may be read or written as one `T`.
#[inline]
pub(crate) fn check_ptr<T>(ptr: *const T, what: impl Display) -> Result<(), Failure> {
    if ptr.is_null() {
        return Err(null(what));
    }
    if !ptr.is_aligned() {
        return Err(misaligned(what, align_of::<T>()));
    }
    Ok(())
}

/// Writes `value` through an optional out pointer (NULL: not wanted).
///
/// # Safety
///
/// `ptr` is NULL or valid for writing one `T` (alignment is checked).
#[inline]
pub(crate) unsafe fn write_optional<T>(
    ptr: *mut T,
    value: T,
    what: impl Display,
) -> Result<(), Failure> {
    if ptr.is_null() {
        return Ok(());
    }
    if !ptr.is_aligned() {
        return Err(misaligned(what, align_of::<T>()));
    }
    // SAFETY: not NULL, aligned, and valid for a write by the caller's
    // promise; `write` does not read or drop what was there.
    unsafe { ptr.write(value) };
    Ok(())
}

/// Borrows a C array of `len` elements; `ptr` may be NULL when `len` is 0.
///
/// # Safety
///
/// When `len > 0` and `ptr` is not NULL, `ptr` points to `len` initialised
/// `T`s that stay unchanged for `'a`.
#[inline]
pub(crate) unsafe fn slice<'a, T>(
    ptr: *const T,
    len: usize,
    what: impl Display,
) -> Result<&'a [T], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    check_ptr(ptr, &what)?;
    if len > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(Failure::new(
            ringtrack_status::RINGTRACK_ERR_TOO_LARGE,
            format!("{what}: a count of {len} cannot be an array"),
        ));
    }
    // SAFETY: not NULL and aligned (checked), the byte size fits an isize
    // (checked), and the caller promises `len` initialised elements.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The bytes of a C string up to its NUL, which must come within `limit`
/// bytes of text (so within `limit + 1` bytes in all).
///
/// # Safety
///
/// `ptr` is NULL or readable up to its NUL or `limit + 1` bytes, whichever
/// comes first, and unchanged for `'a`.
pub(crate) unsafe fn c_bytes<'a>(
    ptr: *const c_char,
    what: impl Display,
    limit: usize,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(null(what));
    }
    // SAFETY: strnlen reads at most `limit + 1` bytes and stops at the
    // first NUL, which the caller promises are readable.
    let len = unsafe { libc::strnlen(ptr, limit + 1) };
    if len > limit {
        return Err(Failure::new(
            ringtrack_status::RINGTRACK_ERR_BAD_STRING,
            format!(
                "{what} is longer than {limit} bytes: no NUL within its first {} bytes",
                limit + 1
            ),
        ));
    }
    // SAFETY: the `len` bytes before the NUL were just read by strnlen, so
    // they are readable, and the caller keeps them unchanged for `'a`.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// A C string as UTF-8 text, NUL within `limit` bytes of text.
///
/// # Safety
///
/// As for [`c_bytes`].
pub(crate) unsafe fn c_str<'a>(
    ptr: *const c_char,
    what: impl Display,
    limit: usize,
) -> Result<&'a str, Failure> {
    // SAFETY: passed on from the caller.
    let bytes = unsafe { c_bytes(ptr, &what, limit) }?;
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            ringtrack_status::RINGTRACK_ERR_BAD_STRING,
            format!(
                "{what} is not valid UTF-8: byte {} of {:?} starts a bad sequence",
                e.valid_up_to(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(64)])
            ),
        )
    })
}

/// A name (metric, summary key, project, run name): UTF-8, NUL within
/// `RINGTRACK_MAX_NAME_LEN + 1` bytes.
///
/// # Safety
///
/// As for [`c_bytes`] with the name limit.
#[inline]
pub(crate) unsafe fn c_name<'a>(
    ptr: *const c_char,
    what: impl Display,
) -> Result<&'a str, Failure> {
    // SAFETY: passed on from the caller.
    unsafe { c_str(ptr, what, RINGTRACK_MAX_NAME_LEN) }
}

/// An optional name: `None` for NULL.
///
/// # Safety
///
/// As for [`c_name`].
pub(crate) unsafe fn opt_name<'a>(
    ptr: *const c_char,
    what: impl Display,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: passed on from the caller.
    unsafe { c_name(ptr, what) }.map(Some)
}

/// An optional path: any bytes but NUL (paths need not be UTF-8), NUL
/// within `RINGTRACK_MAX_PATH_LEN + 1` bytes; `None` for NULL or "".
///
/// # Safety
///
/// As for [`c_bytes`] with the path limit.
pub(crate) unsafe fn opt_path<'a>(
    ptr: *const c_char,
    what: impl Display,
) -> Result<Option<&'a Path>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: passed on from the caller.
    let bytes = unsafe { c_bytes(ptr, what, RINGTRACK_MAX_PATH_LEN) }?;
    Ok((!bytes.is_empty()).then(|| Path::new(OsStr::from_bytes(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_bounded_and_checked() {
        let ok = c"train/loss";
        // SAFETY: a NUL-terminated literal.
        let got = unsafe { c_name(ok.as_ptr(), "name") }.unwrap();
        assert_eq!(got, "train/loss");

        let exact = [b'n'; 255]
            .iter()
            .chain(&[0u8])
            .copied()
            .collect::<Vec<_>>();
        // SAFETY: 256 readable bytes ending in a NUL.
        let name = unsafe { c_name(exact.as_ptr().cast(), "name") }.unwrap();
        assert_eq!(name.len(), 255);

        // 256 bytes without a NUL: the scan stops at the limit, no further.
        let unterminated = [b'n'; 256];
        // SAFETY: the scan reads at most 256 bytes, all readable.
        let err =
            unsafe { c_name(unterminated.as_ptr().cast(), "metric name") }.unwrap_err();
        assert_eq!(err.status, ringtrack_status::RINGTRACK_ERR_BAD_STRING);
        assert!(
            err.message.contains("longer than 255 bytes"),
            "{}",
            err.message
        );

        let bad = [b'a', 0xff, b'b', 0];
        // SAFETY: NUL-terminated.
        let err = unsafe { c_name(bad.as_ptr().cast(), "metric name") }.unwrap_err();
        assert_eq!(err.status, ringtrack_status::RINGTRACK_ERR_BAD_STRING);
        assert!(err.message.contains("byte 1"), "{}", err.message);

        // SAFETY: NULL is checked before any read.
        let err = unsafe { c_name(std::ptr::null(), "metric name") }.unwrap_err();
        assert_eq!(err.status, ringtrack_status::RINGTRACK_ERR_NULL_POINTER);
    }

    #[test]
    fn arrays_are_checked() {
        // SAFETY: a zero count reads nothing.
        assert!(unsafe { slice::<f64>(std::ptr::null(), 0, "values") }
            .unwrap()
            .is_empty());
        // SAFETY: NULL is refused before any read.
        let err = unsafe { slice::<f64>(std::ptr::null(), 3, "values") }.unwrap_err();
        assert_eq!(err.message, "values is NULL");
        let buf = [0u64; 2];
        let odd = buf.as_ptr().cast::<u8>().wrapping_add(1).cast::<f64>();
        // SAFETY: the misaligned pointer is refused before any read.
        let err = unsafe { slice(odd, 1, "values") }.unwrap_err();
        assert!(err.message.contains("aligned to 8"), "{}", err.message);
        // SAFETY: an impossible count is refused before any read.
        let err = unsafe { slice(buf.as_ptr(), usize::MAX, "values") }.unwrap_err();
        assert_eq!(err.status, ringtrack_status::RINGTRACK_ERR_TOO_LARGE);
    }
}
