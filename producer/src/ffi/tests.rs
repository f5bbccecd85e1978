//! The C ABI called from Rust the way C calls it, on disabled runs (no
//! service needed). Real runs through a real service, and C programs, are
//! in `tests/tests/ffi.rs`.

use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};

use super::*;
use ringtrack_status::*;

fn last_error() -> String {
    // SAFETY: ringtrack_last_error never returns NULL and the text is
    // NUL-terminated.
    unsafe { CStr::from_ptr(ringtrack_last_error()) }
        .to_str()
        .unwrap()
        .to_owned()
}

fn disabled_settings() -> ringtrack_settings {
    let mut settings = std::mem::MaybeUninit::uninit();
    // SAFETY: a writable struct.
    let got = unsafe { ringtrack_settings_default(settings.as_mut_ptr()) };
    assert_eq!(got, RINGTRACK_OK);
    // SAFETY: filled just above.
    let mut settings = unsafe { settings.assume_init() };
    settings.project = c"unit".as_ptr();
    settings.mode = c"disabled".as_ptr();
    settings
}

fn disabled_run() -> *mut ringtrack_run {
    let settings = disabled_settings();
    let mut run = null_mut();
    // SAFETY: valid settings and out pointer.
    assert_eq!(unsafe { ringtrack_init(&settings, &mut run) }, RINGTRACK_OK);
    assert!(!run.is_null());
    run
}

fn resolve(run: *mut ringtrack_run, name: &CStr) -> ringtrack_metric {
    let mut metric = ringtrack_metric::default();
    // SAFETY: a live run, a NUL-terminated name, a writable out pointer.
    let status = unsafe { ringtrack_resolve_metric(run, name.as_ptr(), &mut metric) };
    assert_eq!(status, RINGTRACK_OK, "{}", last_error());
    metric
}

#[test]
fn a_disabled_run_goes_through_its_whole_life() {
    let run = disabled_run();
    // SAFETY: a live run.
    let id = unsafe { CStr::from_ptr(ringtrack_run_id(run)) };
    assert_eq!(id.to_bytes(), b"", "a disabled run has no id");
    let loss = resolve(run, c"loss");
    let acc = resolve(run, c"acc");
    let (metrics, values) = ([loss, acc], [0.5, 0.9]);
    let mut step = u64::MAX;
    // SAFETY: two-element arrays with matching counts.
    let status =
        unsafe { ringtrack_log(run, metrics.as_ptr(), 2, values.as_ptr(), 2, &mut step) };
    assert_eq!((status, step), (RINGTRACK_OK, 0));
    // SAFETY: as above.
    let status =
        unsafe { ringtrack_log_at(run, 10, metrics.as_ptr(), 2, values.as_ptr(), 2) };
    assert_eq!(status, RINGTRACK_OK);
    // SAFETY: as above.
    let status =
        unsafe { ringtrack_log(run, metrics.as_ptr(), 2, values.as_ptr(), 2, &mut step) };
    assert_eq!(
        (status, step),
        (RINGTRACK_OK, 11),
        "auto step follows log_at"
    );

    let names: [*const c_char; 2] = [c"epoch".as_ptr(), c"phase".as_ptr()];
    let named = [
        ringtrack_value {
            kind: RINGTRACK_VALUE_I64,
            f64: 0.0,
            i64: 3,
            text: null(),
        },
        ringtrack_value {
            kind: RINGTRACK_VALUE_TEXT,
            f64: 0.0,
            i64: 0,
            text: c"warmup".as_ptr(),
        },
    ];
    // SAFETY: two names and two values.
    let status = unsafe {
        ringtrack_log_named(run, names.as_ptr(), 2, named.as_ptr(), 2, &mut step)
    };
    assert_eq!((status, step), (RINGTRACK_OK, 12));
    // SAFETY: a live run and NUL-terminated strings.
    unsafe {
        assert_eq!(
            ringtrack_summary_f64(run, c"best".as_ptr(), 0.1),
            RINGTRACK_OK
        );
        assert_eq!(
            ringtrack_summary(run, c"phase".as_ptr(), &named[1]),
            RINGTRACK_OK
        );
        assert_eq!(
            ringtrack_config_json(run, c"{\"lr\": 0.1}".as_ptr()),
            RINGTRACK_OK
        );
    }
    let mut counters = ringtrack_counters::default();
    // SAFETY: a live run and a writable out pointer.
    let got = unsafe { ringtrack_run_counters(run, &mut counters) };
    assert_eq!(got, RINGTRACK_OK);
    assert_eq!(
        counters,
        ringtrack_counters::default(),
        "disabled: all zero"
    );

    let mut report = ringtrack_finish_report::default();
    // SAFETY: a live run and a writable report.
    let got = unsafe { ringtrack_finish(run, 3, 0, &mut report) };
    assert_eq!(got, RINGTRACK_OK);
    assert_eq!(report.exit_code, 3);
    // SAFETY: a live, finished run.
    assert_eq!(unsafe { ringtrack_run_free(run) }, RINGTRACK_OK);
}

#[test]
fn a_finished_handle_refuses_everything_but_free() {
    let run = disabled_run();
    let loss = resolve(run, c"loss");
    // SAFETY: a live run; a NULL report is allowed.
    let got = unsafe { ringtrack_finish(run, 0, 0, null_mut()) };
    assert_eq!(got, RINGTRACK_OK);
    // SAFETY: the handle is finished but not freed, so still live.
    unsafe {
        assert_eq!(
            ringtrack_finish(run, 0, 0, null_mut()),
            RINGTRACK_ERR_FINISHED
        );
        assert!(
            last_error().contains("already finished"),
            "{}",
            last_error()
        );
        assert_eq!(
            ringtrack_log(run, &loss, 1, &1.0, 1, null_mut()),
            RINGTRACK_ERR_FINISHED
        );
        assert_eq!(
            ringtrack_log_at(run, 1, &loss, 1, &1.0, 1),
            RINGTRACK_ERR_FINISHED
        );
        let mut m = ringtrack_metric::default();
        assert_eq!(
            ringtrack_resolve_metric(run, c"x".as_ptr(), &mut m),
            RINGTRACK_ERR_FINISHED
        );
        assert_eq!(
            ringtrack_summary_f64(run, c"x".as_ptr(), 1.0),
            RINGTRACK_ERR_FINISHED
        );
        assert_eq!(
            ringtrack_config_json(run, c"{}".as_ptr()),
            RINGTRACK_ERR_FINISHED
        );
        let mut c = ringtrack_counters::default();
        assert_eq!(ringtrack_run_counters(run, &mut c), RINGTRACK_ERR_FINISHED);
        assert_eq!(ringtrack_run_free(run), RINGTRACK_OK);
    }
}

#[test]
fn null_and_mismatched_arguments_are_reported() {
    let run = disabled_run();
    let loss = resolve(run, c"loss");
    // SAFETY: every pointer is NULL or valid for the count given.
    unsafe {
        assert_eq!(
            ringtrack_log(null_mut(), &loss, 1, &1.0, 1, null_mut()),
            RINGTRACK_ERR_NULL_POINTER
        );
        assert_eq!(last_error(), "run is NULL");
        assert_eq!(
            ringtrack_log(run, null(), 1, &1.0, 1, null_mut()),
            RINGTRACK_ERR_NULL_POINTER
        );
        assert_eq!(last_error(), "metrics is NULL");
        assert_eq!(
            ringtrack_log(run, &loss, 1, null(), 1, null_mut()),
            RINGTRACK_ERR_NULL_POINTER
        );
        assert_eq!(last_error(), "values is NULL");
        assert_eq!(
            ringtrack_log(run, &loss, 1, &1.0, 2, null_mut()),
            RINGTRACK_ERR_LENGTH_MISMATCH
        );
        assert!(
            last_error().contains("metric_count is 1 but value_count is 2"),
            "{}",
            last_error()
        );
        assert_eq!(
            ringtrack_log(run, null(), 0, null(), 0, null_mut()),
            RINGTRACK_OK,
            "an empty row"
        );
        let mut m = ringtrack_metric::default();
        assert_eq!(
            ringtrack_resolve_metric(run, null(), &mut m),
            RINGTRACK_ERR_NULL_POINTER
        );
        assert_eq!(
            ringtrack_resolve_metric(run, c"x".as_ptr(), null_mut()),
            RINGTRACK_ERR_NULL_POINTER
        );
        assert_eq!(
            ringtrack_resolve_metric(run, c"".as_ptr(), &mut m),
            RINGTRACK_ERR_METRIC_NAME
        );
        assert_eq!(
            ringtrack_summary(run, c"x".as_ptr(), null()),
            RINGTRACK_ERR_NULL_POINTER
        );
        let odd = ringtrack_value {
            kind: 9,
            f64: 0.0,
            i64: 0,
            text: null(),
        };
        assert_eq!(
            ringtrack_summary(run, c"x".as_ptr(), &odd),
            RINGTRACK_ERR_BAD_VALUE
        );
        assert!(last_error().contains("value.kind is 9"), "{}", last_error());
        assert_eq!(
            ringtrack_config_json(run, c"[1]".as_ptr()),
            RINGTRACK_ERR_CONFIG
        );
        assert_eq!(
            ringtrack_config_json(run, c"{\"\": 1}".as_ptr()),
            RINGTRACK_ERR_CONFIG
        );
        assert_eq!(
            ringtrack_run_counters(run, null_mut()),
            RINGTRACK_ERR_NULL_POINTER
        );
        assert!(ringtrack_run_id(null()).is_null());
        assert_eq!(
            ringtrack_run_free(null_mut()),
            RINGTRACK_OK,
            "free(NULL) is a no-op"
        );
        assert_eq!(ringtrack_run_free(run), RINGTRACK_OK);
    }
}

#[test]
fn settings_are_checked_before_anything_starts() {
    let mut run = null_mut();
    // SAFETY: NULL settings are refused before any read.
    let got = unsafe { ringtrack_init(null(), &mut run) };
    assert_eq!(got, RINGTRACK_ERR_NULL_POINTER);
    let mut settings = disabled_settings();
    settings.struct_size = 8;
    // SAFETY: valid pointers; the size field is wrong on purpose.
    let got = unsafe { ringtrack_init(&settings, &mut run) };
    assert_eq!(got, RINGTRACK_ERR_SETTINGS);
    assert!(
        last_error().contains("ringtrack_settings_default"),
        "{}",
        last_error()
    );
    assert!(run.is_null());

    type Case = (fn(&mut ringtrack_settings), ringtrack_status, &'static str);
    let cases: [Case; 5] = [
        (
            |s| s.project = null(),
            RINGTRACK_ERR_NULL_POINTER,
            "settings.project is NULL",
        ),
        (
            |s| s.project = c"a/b".as_ptr(),
            RINGTRACK_ERR_SETTINGS,
            "project \"a/b\"",
        ),
        (
            |s| s.mode = c"sometimes".as_ptr(),
            RINGTRACK_ERR_SETTINGS,
            "\"sometimes\"",
        ),
        (|s| s.flags = 6, RINGTRACK_ERR_SETTINGS, "unknown bits 0x6"),
        (
            |s| s.config_json = c"{".as_ptr(),
            RINGTRACK_ERR_CONFIG,
            "not valid JSON",
        ),
    ];
    for (spoil, status, message) in cases {
        let mut settings = disabled_settings();
        spoil(&mut settings);
        // SAFETY: valid pointers; every string is NULL or NUL-terminated.
        let got = unsafe { ringtrack_init(&settings, &mut run) };
        assert_eq!(got, status, "{message}");
        assert!(
            last_error().contains(message),
            "{message}: {}",
            last_error()
        );
        assert!(run.is_null());
    }
}

#[test]
fn a_call_inside_a_call_on_one_handle_is_busy() {
    let run = disabled_run();
    let loss = resolve(run, c"loss");
    // SAFETY: a live run.
    let handle = unsafe { handle::handle(run) }.unwrap();
    let inner = handle
        .with(|_| {
            // SAFETY: a live run and one-element arrays.
            let status = unsafe { ringtrack_log(run, &loss, 1, &1.0, 1, null_mut()) };
            // SAFETY: as above.
            let free = unsafe { ringtrack_run_free(run) };
            Ok((status, free))
        })
        .unwrap();
    assert_eq!(inner, (RINGTRACK_ERR_BUSY, RINGTRACK_ERR_BUSY));
    assert!(
        last_error().contains("RINGTRACK_SHARED"),
        "{}",
        last_error()
    );
    // SAFETY: the handle is idle again.
    unsafe {
        assert_eq!(
            ringtrack_log(run, &loss, 1, &1.0, 1, null_mut()),
            RINGTRACK_OK
        );
        assert_eq!(ringtrack_run_free(run), RINGTRACK_OK);
    }
}

#[test]
fn a_shared_handle_takes_calls_from_many_threads() {
    let mut settings = disabled_settings();
    settings.flags = RINGTRACK_SHARED;
    let mut run = null_mut();
    // SAFETY: valid settings and out pointer.
    assert_eq!(unsafe { ringtrack_init(&settings, &mut run) }, RINGTRACK_OK);
    let loss = resolve(run, c"loss");
    struct Shared(*mut ringtrack_run);
    // SAFETY: the handle was made with RINGTRACK_SHARED, which allows calls
    // from any thread at once.
    unsafe impl Sync for Shared {}
    impl Shared {
        fn get(&self) -> *mut ringtrack_run {
            self.0
        }
    }
    let shared = Shared(run);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..1000 {
                    let run = shared.get();
                    // SAFETY: a live shared run and one-element arrays.
                    let status =
                        unsafe { ringtrack_log(run, &loss, 1, &1.0, 1, null_mut()) };
                    assert_eq!(status, RINGTRACK_OK);
                }
            });
        }
    });
    let mut step = 0;
    // SAFETY: all threads are done.
    unsafe {
        assert_eq!(
            ringtrack_log(run, &loss, 1, &1.0, 1, &mut step),
            RINGTRACK_OK
        );
        assert_eq!(step, 4000, "every call got its own step");
        assert_eq!(ringtrack_run_free(run), RINGTRACK_OK);
    }
}

#[test]
fn a_panic_stops_at_the_boundary() {
    let status = guard(|| panic!("boom {}", 7));
    assert_eq!(status, RINGTRACK_ERR_PANIC);
    assert!(last_error().contains("boom 7"), "{}", last_error());
    assert!(last_error().contains("internal error"), "{}", last_error());
}

#[test]
fn the_last_error_belongs_to_its_thread() {
    // SAFETY: a misaligned pointer is refused before any read.
    let got = unsafe { ringtrack_run_free(std::ptr::without_provenance_mut(1)) };
    assert_eq!(got, RINGTRACK_ERR_NULL_POINTER);
    let here = last_error();
    assert!(here.contains("aligned"), "{here}");
    let there = std::thread::spawn(last_error).join().unwrap();
    assert_eq!(there, "", "a new thread has no error yet");
    assert_eq!(last_error(), here, "a successful call keeps the message");
}
