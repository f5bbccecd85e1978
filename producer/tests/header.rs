//! `include/ringtrack.h` is what cbindgen makes from `src/ffi/` with
//! `cbindgen.toml`, byte for byte. The check runs cbindgen as a library, so
//! it needs no `cargo install`. `scripts/gen-header` rewrites the header by
//! running this test with `RINGTRACK_BLESS_HEADER=1`.

use std::path::Path;

fn generate(crate_dir: &Path, out: &Path) {
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("producer/cbindgen.toml parses");
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header")
        .write_to_file(out);
}

#[test]
fn committed_header_matches_the_source() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = crate_dir.join("include/ringtrack.h");
    let tmp = tempfile::tempdir().expect("temp dir");
    let fresh = tmp.path().join("ringtrack.h");
    generate(crate_dir, &fresh);
    let fresh = std::fs::read(&fresh).expect("generated header");

    if std::env::var_os("RINGTRACK_BLESS_HEADER").is_some() {
        std::fs::write(&committed, &fresh).expect("write include/ringtrack.h");
        return;
    }
    let old = std::fs::read(&committed).unwrap_or_default();
    if old != fresh {
        let (old, new) = (
            String::from_utf8_lossy(&old),
            String::from_utf8_lossy(&fresh),
        );
        let first = old
            .lines()
            .zip(new.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| old.lines().count().min(new.lines().count()));
        panic!(
            "producer/include/ringtrack.h does not match src/ffi/ (first difference at \
             line {}: committed {:?}, generated {:?}).\nRegenerate it with \
             scripts/gen-header and commit the result.",
            first + 1,
            old.lines().nth(first).unwrap_or("<end of file>"),
            new.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

const C_TU: &str = r#"
#include "ringtrack.h"
#include <stdio.h>

int header_smoke(void);
int header_smoke(void) {
    ringtrack_settings s;
    ringtrack_run *run = NULL;
    ringtrack_metric m = {0, 0};
    double v = 1.0;
    uint64_t step = 0;
    ringtrack_value text = {RINGTRACK_VALUE_TEXT, 0.0, 0, "t"};
    ringtrack_counters c;
    ringtrack_finish_report r;
    if (ringtrack_settings_default(&s) != RINGTRACK_OK) return 1;
    s.project = "p";
    s.flags = RINGTRACK_SHARED;
    if (ringtrack_init(&s, &run) != RINGTRACK_OK) {
        fprintf(stderr, "%s: %s\n", ringtrack_status_name(RINGTRACK_ERR_SETTINGS),
                ringtrack_last_error());
        return 1;
    }
    (void)ringtrack_resolve_metric(run, "loss", &m);
    (void)ringtrack_log(run, &m, 1, &v, 1, &step);
    (void)ringtrack_log_at(run, step, &m, 1, &v, 1);
    (void)ringtrack_summary(run, "k", &text);
    (void)ringtrack_summary_f64(run, "k", v);
    (void)ringtrack_config_json(run, "{}");
    (void)ringtrack_run_counters(run, &c);
    (void)ringtrack_finish(run, 0, -1, &r);
    printf("%s %s %s\n", ringtrack_run_id(run), ringtrack_run_dir(run), ringtrack_version());
    return ringtrack_run_free(run) == RINGTRACK_OK ? (int)c.rows : 1;
}
"#;

const CPP_TU: &str = r#"
#include "ringtrack.hpp"
#include <cstdio>

int header_smoke();
int header_smoke() {
    try {
        ringtrack::settings s;
        s.project = "p";
        ringtrack::run run(s);
        auto m = run.resolve(std::string_view("loss"));
        run.log({m}, {1.0});
        run.log_at(3, {m}, {2.0});
        run.log_named({{"a", 1.0}, {"b", 2.0}});
        run.summary("f", 0.5);
        run.summary("i", 3);
        run.summary("b", true);
        run.summary("t", "text");
        run.config_json("{\"lr\": 0.1}");
        auto c = run.read_counters();
        auto r = run.finish(0, std::chrono::milliseconds(1000));
        std::printf("%.*s %llu %llu\n", static_cast<int>(run.id().size()), run.id().data(),
                    static_cast<unsigned long long>(c.rows),
                    static_cast<unsigned long long>(r.rows));
        ringtrack::run moved = std::move(run);
        return 0;
    } catch (const ringtrack::error &e) {
        std::fprintf(stderr, "%s: %s\n", e.status_name(), e.what());
        return static_cast<int>(e.status());
    }
}
"#;

/// Compiles `source` with `compiler` and the strict flags; the object file
/// is all that is needed to know the header is clean.
fn compile(compiler: &str, std: &str, ext: &str, source: &str) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join(format!("smoke.{ext}"));
    std::fs::write(&file, source).expect("write the TU");
    let out = std::process::Command::new(compiler)
        .arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-c", "-o"])
        .arg(tmp.path().join("smoke.o"))
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        out.status.success(),
        "{compiler} -std={std} rejects the header:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn header_compiles_as_c11_without_warnings() {
    compile("gcc", "c11", "c", C_TU);
}

#[test]
fn header_and_wrapper_compile_as_cpp17_without_warnings() {
    compile("g++", "c++17", "cpp", CPP_TU);
    compile("g++", "c++17", "cpp", C_TU);
}
