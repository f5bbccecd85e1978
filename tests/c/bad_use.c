/*
 * Bad use of the C ABI, call by call: each must return its documented
 * status with a clear message, never crash, and lose no row logged before
 * or after it. Built and run by tests/tests/ffi.rs, and by
 * scripts/ffi-sanitize under AddressSanitizer and UBSan.
 *
 * Usage: bad_use SCENARIO, one of args, names, finish, fork, threads. The
 * run directories come from the RINGTRACK_* environment.
 *
 * Output: `ok ...` for each check that held, `FAIL ...` for each that did
 * not, and for every run it made, `run LABEL ID` and `rows LABEL N`: the
 * run holds exactly the rows at steps 0..N-1, each with the value of its
 * step (threads: any value). The exit code is the number of failures
 * (capped at 100).
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ringtrack.h"

static int failures = 0;

static void expect_status(int line, const char *what, ringtrack_status got,
                          ringtrack_status want, const char *needle) {
    const char *message = ringtrack_last_error();
    if (got != want) {
        printf("FAIL line %d: %s returned %s, expected %s (last error: %s)\n",
               line, what, ringtrack_status_name((int)got),
               ringtrack_status_name((int)want), message);
        failures++;
    } else if (needle != NULL && strstr(message, needle) == NULL) {
        printf("FAIL line %d: %s: message \"%s\" does not say \"%s\"\n", line,
               what, message, needle);
        failures++;
    } else {
        printf("ok %s -> %s%s%s\n", what, ringtrack_status_name((int)got),
               want == RINGTRACK_OK ? "" : ": ",
               want == RINGTRACK_OK ? "" : message);
    }
}

#define EXPECT(call, want, needle) \
    expect_status(__LINE__, #call, (call), (want), (needle))

static void check(int line, const char *what, int holds) {
    if (holds) {
        printf("ok %s\n", what);
    } else {
        printf("FAIL line %d: %s\n", line, what);
        failures++;
    }
}

#define CHECK(cond) check(__LINE__, #cond, (cond))

static ringtrack_settings settings_for(const char *project) {
    ringtrack_settings s;
    ringtrack_settings_default(&s);
    s.project = project;
    s.ring_capacity = 1 << 20;
    return s;
}

static ringtrack_run *start(const char *label, uint32_t flags) {
    ringtrack_settings s = settings_for(label);
    s.flags = flags;
    ringtrack_run *run = NULL;
    ringtrack_status status = ringtrack_init(&s, &run);
    if (status != RINGTRACK_OK) {
        printf("FAIL cannot start run %s: %s: %s\n", label,
               ringtrack_status_name((int)status), ringtrack_last_error());
        exit(100);
    }
    printf("run %s %s\n", label, ringtrack_run_id(run));
    return run;
}

static ringtrack_metric resolve(ringtrack_run *run, const char *name) {
    ringtrack_metric m = {0, 0};
    EXPECT(ringtrack_resolve_metric(run, name, &m), RINGTRACK_OK, NULL);
    return m;
}

/* Logs the next good row: value = step. */
static void good_row(ringtrack_run *run, ringtrack_metric m, uint64_t *rows) {
    double value = (double)*rows;
    uint64_t step = UINT64_MAX;
    ringtrack_status got = ringtrack_log(run, &m, 1, &value, 1, &step);
    if (got != RINGTRACK_OK || step != *rows) {
        printf("FAIL good row %llu: %s, step %llu: %s\n",
               (unsigned long long)*rows, ringtrack_status_name((int)got),
               (unsigned long long)step, ringtrack_last_error());
        failures++;
        return;
    }
    (*rows)++;
}

static void finish_run(ringtrack_run *run, const char *label, uint64_t rows) {
    ringtrack_finish_report report;
    EXPECT(ringtrack_finish(run, 0, 20000, &report), RINGTRACK_OK, NULL);
    CHECK(report.rows == rows);
    EXPECT(ringtrack_run_free(run), RINGTRACK_OK, NULL);
    printf("rows %s %llu\n", label, (unsigned long long)rows);
}

static int scenario_args(void) {
    ringtrack_run *run = NULL;
    ringtrack_settings s = settings_for("args");

    EXPECT(ringtrack_settings_default(NULL), RINGTRACK_ERR_NULL_POINTER,
           "settings is NULL");
    EXPECT(ringtrack_init(NULL, &run), RINGTRACK_ERR_NULL_POINTER,
           "settings is NULL");
    CHECK(run == NULL);
    EXPECT(ringtrack_init(&s, NULL), RINGTRACK_ERR_NULL_POINTER,
           "run (the out pointer) is NULL");
    s.struct_size = 0;
    EXPECT(ringtrack_init(&s, &run), RINGTRACK_ERR_SETTINGS,
           "ringtrack_settings_default");
    s = settings_for(NULL);
    EXPECT(ringtrack_init(&s, &run), RINGTRACK_ERR_NULL_POINTER,
           "settings.project is NULL");
    s = settings_for("args");
    s.mode = "sometimes";
    EXPECT(ringtrack_init(&s, &run), RINGTRACK_ERR_SETTINGS, "\"sometimes\"");
    s = settings_for("args");
    s.flags = 8;
    EXPECT(ringtrack_init(&s, &run), RINGTRACK_ERR_SETTINGS, "unknown bits");
    s = settings_for("args");
    s.ring_capacity = 1000;
    EXPECT(ringtrack_init(&s, &run), RINGTRACK_ERR_SETTINGS, "capacity 1000");
    s = settings_for("args");
    s.config_json = "{\"lr\": ";
    EXPECT(ringtrack_init(&s, &run), RINGTRACK_ERR_CONFIG, "not valid JSON");
    s.config_json = "[1, 2]";
    EXPECT(ringtrack_init(&s, &run), RINGTRACK_ERR_CONFIG, "must be an object");
    CHECK(run == NULL);

    run = start("args", 0);
    uint64_t rows = 0;
    ringtrack_metric loss = resolve(run, "loss");
    ringtrack_metric acc = resolve(run, "acc");
    good_row(run, loss, &rows);

    double values[2] = {1.0, 2.0};
    ringtrack_metric pair[2] = {loss, acc};
    EXPECT(ringtrack_log(NULL, pair, 2, values, 2, NULL),
           RINGTRACK_ERR_NULL_POINTER, "run is NULL");
    EXPECT(ringtrack_log(run, NULL, 2, values, 2, NULL),
           RINGTRACK_ERR_NULL_POINTER, "metrics is NULL");
    EXPECT(ringtrack_log(run, pair, 2, NULL, 2, NULL),
           RINGTRACK_ERR_NULL_POINTER, "values is NULL");
    EXPECT(ringtrack_log(run, pair, 2, values, 1, NULL),
           RINGTRACK_ERR_LENGTH_MISMATCH, "metric_count is 2 but value_count is 1");
    EXPECT(ringtrack_log_at(run, 7, pair, 1, values, 2),
           RINGTRACK_ERR_LENGTH_MISMATCH, "metric_count is 1 but value_count is 2");
    ringtrack_metric twice[2] = {loss, loss};
    EXPECT(ringtrack_log(run, twice, 2, values, 2, NULL),
           RINGTRACK_ERR_DUPLICATE_METRIC, "\"loss\" appears twice");
    ringtrack_metric made_up[1] = {{999, 1}};
    EXPECT(ringtrack_log(run, made_up, 1, values, 1, NULL),
           RINGTRACK_ERR_FOREIGN_METRIC, "does not belong to this run");
    ringtrack_metric zeroed[1] = {{0, 0}};
    EXPECT(ringtrack_log(run, zeroed, 1, values, 1, NULL),
           RINGTRACK_ERR_FOREIGN_METRIC, "does not belong to this run");
    good_row(run, loss, &rows);

    const char *names[2] = {"loss", "acc"};
    ringtrack_value named[2] = {{RINGTRACK_VALUE_F64, 1.0, 0, NULL},
                                {RINGTRACK_VALUE_I64, 0.0, 2, NULL}};
    EXPECT(ringtrack_log_named(run, NULL, 2, named, 2, NULL),
           RINGTRACK_ERR_NULL_POINTER, "names is NULL");
    EXPECT(ringtrack_log_named(run, names, 2, NULL, 2, NULL),
           RINGTRACK_ERR_NULL_POINTER, "values is NULL");
    EXPECT(ringtrack_log_named(run, names, 1, named, 2, NULL),
           RINGTRACK_ERR_LENGTH_MISMATCH, "name_count is 1 but value_count is 2");
    const char *null_name[1] = {NULL};
    EXPECT(ringtrack_log_named(run, null_name, 1, named, 1, NULL),
           RINGTRACK_ERR_NULL_POINTER, "names[0] is NULL");
    ringtrack_value odd[2] = {{RINGTRACK_VALUE_F64, 1.0, 0, NULL},
                              {7, 0.0, 0, NULL}};
    EXPECT(ringtrack_log_named(run, names, 2, odd, 2, NULL),
           RINGTRACK_ERR_BAD_VALUE, "values[1].kind is 7");
    ringtrack_value no_text[1] = {{RINGTRACK_VALUE_TEXT, 0.0, 0, NULL}};
    EXPECT(ringtrack_log_named(run, names, 1, no_text, 1, NULL),
           RINGTRACK_ERR_NULL_POINTER, "values[0].text is NULL");
    good_row(run, loss, &rows);

    ringtrack_value v = {RINGTRACK_VALUE_F64, 0.5, 0, NULL};
    EXPECT(ringtrack_summary(run, NULL, &v), RINGTRACK_ERR_NULL_POINTER,
           "summary key is NULL");
    EXPECT(ringtrack_summary(run, "best", NULL), RINGTRACK_ERR_NULL_POINTER,
           "value is NULL");
    EXPECT(ringtrack_summary(NULL, "best", &v), RINGTRACK_ERR_NULL_POINTER,
           "run is NULL");
    EXPECT(ringtrack_summary(run, "best", &v), RINGTRACK_OK, NULL);
    EXPECT(ringtrack_config_json(run, NULL), RINGTRACK_ERR_NULL_POINTER,
           "config JSON is NULL");
    EXPECT(ringtrack_config_json(run, "{\"a\": 1, \"\": 2}"),
           RINGTRACK_ERR_CONFIG, "empty");
    EXPECT(ringtrack_config_json(run, "{\"a\": 1}"), RINGTRACK_OK, NULL);
    EXPECT(ringtrack_run_counters(run, NULL), RINGTRACK_ERR_NULL_POINTER,
           "counters is NULL");
    ringtrack_counters c;
    EXPECT(ringtrack_run_counters(run, &c), RINGTRACK_OK, NULL);
    CHECK(c.rows == rows && c.dropped == 0);
    CHECK(ringtrack_run_id(NULL) == NULL);
    CHECK(strcmp(ringtrack_last_error(), "run is NULL") == 0);
    CHECK(strcmp(ringtrack_status_name(12345), "RINGTRACK_UNKNOWN_STATUS") == 0);
    CHECK(strcmp(ringtrack_status_name(RINGTRACK_ERR_BUSY), "RINGTRACK_ERR_BUSY") == 0);
    EXPECT(ringtrack_finish(NULL, 0, 0, NULL), RINGTRACK_ERR_NULL_POINTER,
           "run is NULL");
    EXPECT(ringtrack_run_free(NULL), RINGTRACK_OK, NULL);
    good_row(run, loss, &rows);
    finish_run(run, "args", rows);
    return failures;
}

static int scenario_names(void) {
    char long_name[300];
    memset(long_name, 'n', sizeof long_name);
    long_name[255] = '\0';

    /* 256 bytes and no NUL at all: the scan must stop at the limit (the
     * sanitizers would catch a read past the buffer). */
    char *unterminated = malloc(256);
    memset(unterminated, 'u', 256);

    ringtrack_settings s = settings_for("names");
    s.project = unterminated;
    ringtrack_run *run = NULL;
    EXPECT(ringtrack_init(&s, &run), RINGTRACK_ERR_BAD_STRING,
           "settings.project is longer than 255 bytes");

    run = start("names", 0);
    uint64_t rows = 0;
    ringtrack_metric m = resolve(run, "loss");
    good_row(run, m, &rows);

    ringtrack_metric out;
    EXPECT(ringtrack_resolve_metric(run, long_name, &out), RINGTRACK_OK, NULL);
    long_name[255] = 'n';
    long_name[256] = '\0';
    EXPECT(ringtrack_resolve_metric(run, long_name, &out),
           RINGTRACK_ERR_BAD_STRING, "longer than 255 bytes");
    EXPECT(ringtrack_resolve_metric(run, unterminated, &out),
           RINGTRACK_ERR_BAD_STRING, "no NUL within its first 256 bytes");
    EXPECT(ringtrack_resolve_metric(run, "\xff\xfeloss", &out),
           RINGTRACK_ERR_BAD_STRING, "not valid UTF-8");
    EXPECT(ringtrack_resolve_metric(run, "ok\xc3", &out),
           RINGTRACK_ERR_BAD_STRING, "not valid UTF-8");
    EXPECT(ringtrack_resolve_metric(run, "", &out), RINGTRACK_ERR_METRIC_NAME,
           "may not be empty");
    EXPECT(ringtrack_resolve_metric(run, "a\tb", &out),
           RINGTRACK_ERR_METRIC_NAME, "control character");
    EXPECT(ringtrack_resolve_metric(run, "\xce\xbb/loss", &out), RINGTRACK_OK,
           NULL);
    good_row(run, m, &rows);

    const char *bad_names[1] = {unterminated};
    ringtrack_value one[1] = {{RINGTRACK_VALUE_F64, 1.0, 0, NULL}};
    EXPECT(ringtrack_log_named(run, bad_names, 1, one, 1, NULL),
           RINGTRACK_ERR_BAD_STRING, "names[0] is longer than 255 bytes");
    bad_names[0] = "\x80";
    EXPECT(ringtrack_log_named(run, bad_names, 1, one, 1, NULL),
           RINGTRACK_ERR_BAD_STRING, "names[0] is not valid UTF-8");
    EXPECT(ringtrack_summary_f64(run, unterminated, 1.0),
           RINGTRACK_ERR_BAD_STRING, "summary key is longer than 255 bytes");

    /* A text value may be long, but not past the record limit. */
    size_t text_len = RINGTRACK_MAX_TEXT_LEN + 1;
    char *text = malloc(text_len);
    memset(text, 'x', text_len);
    ringtrack_value long_text = {RINGTRACK_VALUE_TEXT, 0.0, 0, text};
    EXPECT(ringtrack_summary(run, "note", &long_text), RINGTRACK_ERR_BAD_STRING,
           "value.text is longer than 1048576 bytes");
    EXPECT(ringtrack_config_json(run, text), RINGTRACK_ERR_BAD_STRING,
           "config JSON is longer than 1048576 bytes");
    text[100] = '\0';
    EXPECT(ringtrack_summary(run, "note", &long_text), RINGTRACK_OK, NULL);
    free(text);
    free(unterminated);

    good_row(run, m, &rows);
    finish_run(run, "names", rows);
    return failures;
}

static int scenario_finish(void) {
    ringtrack_run *run = start("finish", 0);
    uint64_t rows = 0;
    ringtrack_metric m = resolve(run, "loss");
    good_row(run, m, &rows);
    good_row(run, m, &rows);

    ringtrack_finish_report report = {0, 0, 0};
    EXPECT(ringtrack_finish(run, 3, 20000, &report), RINGTRACK_OK, NULL);
    CHECK(report.rows == 2 && report.exit_code == 3);

    double v = 1.0;
    ringtrack_metric out;
    ringtrack_counters c;
    ringtrack_value value = {RINGTRACK_VALUE_F64, 1.0, 0, NULL};
    const char *names[1] = {"loss"};
    EXPECT(ringtrack_finish(run, 0, 0, &report), RINGTRACK_ERR_FINISHED,
           "already finished");
    EXPECT(ringtrack_log(run, &m, 1, &v, 1, NULL), RINGTRACK_ERR_FINISHED,
           "only ringtrack_run_free may follow");
    EXPECT(ringtrack_log_at(run, 9, &m, 1, &v, 1), RINGTRACK_ERR_FINISHED, NULL);
    EXPECT(ringtrack_log_named(run, names, 1, &value, 1, NULL),
           RINGTRACK_ERR_FINISHED, NULL);
    EXPECT(ringtrack_resolve_metric(run, "late", &out), RINGTRACK_ERR_FINISHED,
           NULL);
    EXPECT(ringtrack_summary(run, "late", &value), RINGTRACK_ERR_FINISHED, NULL);
    EXPECT(ringtrack_config_json(run, "{}"), RINGTRACK_ERR_FINISHED, NULL);
    EXPECT(ringtrack_run_counters(run, &c), RINGTRACK_ERR_FINISHED, NULL);
    CHECK(ringtrack_run_id(run) != NULL && strlen(ringtrack_run_id(run)) > 0);
    EXPECT(ringtrack_run_free(run), RINGTRACK_OK, NULL);
    printf("rows finish %llu\n", (unsigned long long)rows);

    /* Freed without finishing: finished with exit code 0 on the way. */
    run = start("unfinished", 0);
    rows = 0;
    m = resolve(run, "loss");
    good_row(run, m, &rows);
    EXPECT(ringtrack_run_free(run), RINGTRACK_OK, NULL);
    printf("rows unfinished %llu\n", (unsigned long long)rows);
    return failures;
}

static int scenario_fork(void) {
    ringtrack_run *run = start("parent", 0);
    uint64_t rows = 0;
    ringtrack_metric m = resolve(run, "loss");
    for (int i = 0; i < 10; i++) {
        good_row(run, m, &rows);
    }

    fflush(stdout); /* or the child would print the parent's buffer again */
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 100;
    }
    if (child == 0) {
        double v = 99.0;
        ringtrack_metric out;
        ringtrack_counters c;
        ringtrack_value value = {RINGTRACK_VALUE_F64, 99.0, 0, NULL};
        const char *names[1] = {"loss"};
        EXPECT(ringtrack_log(run, &m, 1, &v, 1, NULL), RINGTRACK_ERR_FORKED,
               "fork()");
        EXPECT(ringtrack_log_at(run, 99, &m, 1, &v, 1), RINGTRACK_ERR_FORKED,
               NULL);
        EXPECT(ringtrack_log_named(run, names, 1, &value, 1, NULL),
               RINGTRACK_ERR_FORKED, NULL);
        EXPECT(ringtrack_resolve_metric(run, "child", &out),
               RINGTRACK_ERR_FORKED, NULL);
        EXPECT(ringtrack_summary(run, "child", &value), RINGTRACK_ERR_FORKED,
               NULL);
        EXPECT(ringtrack_config_json(run, "{}"), RINGTRACK_ERR_FORKED, NULL);
        EXPECT(ringtrack_run_counters(run, &c), RINGTRACK_ERR_FORKED, NULL);
        EXPECT(ringtrack_finish(run, 1, 0, NULL), RINGTRACK_ERR_FORKED, NULL);
        CHECK(ringtrack_run_id(run) != NULL);
        /* Releases the child's copy; the parent's run is left alone. */
        EXPECT(ringtrack_run_free(run), RINGTRACK_OK, NULL);

        /* A child may start a run of its own. */
        ringtrack_run *own = start("child", 0);
        uint64_t own_rows = 0;
        ringtrack_metric own_m = resolve(own, "loss");
        for (int i = 0; i < 3; i++) {
            good_row(own, own_m, &own_rows);
        }
        finish_run(own, "child", own_rows);
        fflush(stdout);
        _exit(failures > 100 ? 100 : failures);
    }

    int wstatus = 0;
    CHECK(waitpid(child, &wstatus, 0) == child);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        printf("FAIL the child failed (%d)\n", wstatus);
    }
    for (int i = 0; i < 10; i++) {
        good_row(run, m, &rows);
    }
    finish_run(run, "parent", rows);
    return failures;
}

struct worker {
    ringtrack_run *run;
    ringtrack_metric metric;
    double value;
    int calls;
    int ok;
    int busy;
    int other;
};

static void *work(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < w->calls; i++) {
        ringtrack_status got =
            ringtrack_log(w->run, &w->metric, 1, &w->value, 1, NULL);
        if (got == RINGTRACK_OK) {
            w->ok++;
        } else if (got == RINGTRACK_ERR_BUSY) {
            w->busy++;
        } else {
            w->other++;
        }
    }
    return NULL;
}

/* Two threads on one handle; returns the rows logged. */
static uint64_t race(ringtrack_run *run, ringtrack_metric m, int calls,
                     int *busy, int *other) {
    struct worker w[2] = {{run, m, 0.0, calls, 0, 0, 0},
                          {run, m, 1.0, calls, 0, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    *busy = w[0].busy + w[1].busy;
    *other = w[0].other + w[1].other;
    return (uint64_t)(w[0].ok + w[1].ok);
}

static int scenario_threads(void) {
    int busy = 0, other = 0;

    ringtrack_run *shared = start("shared", RINGTRACK_SHARED);
    ringtrack_metric m = resolve(shared, "worker");
    uint64_t rows = race(shared, m, 5000, &busy, &other);
    CHECK(rows == 10000 && busy == 0 && other == 0);
    finish_run(shared, "shared", rows);

    /* Not shared: overlapping calls are refused, never interleaved. */
    ringtrack_run *single = start("single", 0);
    m = resolve(single, "worker");
    rows = race(single, m, 5000, &busy, &other);
    CHECK(other == 0);
    CHECK(rows + (uint64_t)busy == 10000);
    printf("busy calls refused: %d\n", busy);
    finish_run(single, "single", rows);
    return failures;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *scenario = argc > 1 ? argv[1] : "";
    int failed;
    if (strcmp(scenario, "args") == 0) {
        failed = scenario_args();
    } else if (strcmp(scenario, "names") == 0) {
        failed = scenario_names();
    } else if (strcmp(scenario, "finish") == 0) {
        failed = scenario_finish();
    } else if (strcmp(scenario, "fork") == 0) {
        failed = scenario_fork();
    } else if (strcmp(scenario, "threads") == 0) {
        failed = scenario_threads();
    } else {
        fprintf(stderr, "usage: bad_use args|names|finish|fork|threads\n");
        return 2;
    }
    return failed > 100 ? 100 : failed;
}
