/*
 * Latency of one C log call, measured call by call: the C twin of
 * benches/benches/log_latency.rs, for the same cases and the same table.
 *
 * Each call is timed with a pair of clock_gettime(CLOCK_MONOTONIC) reads;
 * the median cost of an empty pair (measured first, the same way) is
 * subtracted from every sample, so the figures are the call's own cost.
 * The node service runs as its own process and drains the ring while the
 * calls are made. Run it with scripts/bench-c, which builds the optimised
 * library and the service, starts the service and runs this program.
 *
 * Usage: bench_log [CALLS] (default 2,000,000 per case, or
 * RINGTRACK_BENCH_CALLS).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringtrack.h"

static inline uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The median cost of two back-to-back clock reads, in ns. */
static uint64_t timer_cost_ns(void) {
    enum { N = 200000 };
    static uint64_t samples[N];
    for (int i = 0; i < N; i++) {
        uint64_t start = now_ns();
        samples[i] = now_ns() - start;
    }
    qsort(samples, N, sizeof samples[0], by_value);
    return samples[N / 2];
}

/* The sample at quantile q of a sorted array, as hdrhistogram reads it. */
static uint64_t at_quantile(const uint64_t *sorted, size_t n, double q) {
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank == 0) {
        rank = 1;
    }
    return sorted[(rank > n ? n : rank) - 1];
}

static void report(const char *label, uint64_t *samples, size_t n) {
    qsort(samples, n, sizeof samples[0], by_value);
    printf("%-28s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9" PRIu64
           " %10" PRIu64 "\n",
           label, at_quantile(samples, n, 0.5), at_quantile(samples, n, 0.99),
           at_quantile(samples, n, 0.999), at_quantile(samples, n, 0.9999),
           samples[n - 1]);
}

static void fail(const char *what, ringtrack_status status) {
    fprintf(stderr, "bench_log: %s: %s: %s\n", what,
            ringtrack_status_name((int)status), ringtrack_last_error());
    exit(1);
}

static ringtrack_run *new_run(void) {
    ringtrack_settings s;
    ringtrack_settings_default(&s);
    s.project = "bench-c";
    s.ring_capacity = 64u << 20;
    ringtrack_run *run = NULL;
    ringtrack_status status = ringtrack_init(&s, &run);
    if (status != RINGTRACK_OK) {
        fail("init", status);
    }
    return run;
}

static void finish(ringtrack_run *run) {
    ringtrack_status status = ringtrack_finish(run, 0, 120000, NULL);
    if (status != RINGTRACK_OK) {
        fail("finish", status);
    }
    ringtrack_run_free(run);
}

static void handle_api(size_t metrics, size_t calls, uint64_t timer,
                       uint64_t *samples) {
    ringtrack_run *run = new_run();
    ringtrack_metric handles[64];
    double values[64];
    for (size_t i = 0; i < metrics; i++) {
        char name[24];
        snprintf(name, sizeof name, "m%zu", i);
        ringtrack_status status =
            ringtrack_resolve_metric(run, name, &handles[i]);
        if (status != RINGTRACK_OK) {
            fail("resolve", status);
        }
    }
    for (size_t step = 0; step < calls; step++) {
        for (size_t i = 0; i < metrics; i++) {
            values[i] = (double)(step + i);
        }
        uint64_t start = now_ns();
        ringtrack_status status =
            ringtrack_log(run, handles, metrics, values, metrics, NULL);
        uint64_t took = now_ns() - start;
        if (status != RINGTRACK_OK) {
            fail("log", status);
        }
        samples[step] = took > timer ? took - timer : 0;
    }
    finish(run);
    char label[64];
    snprintf(label, sizeof label, "C handle API, %zu metrics", metrics);
    report(label, samples, calls);
}

static void name_api(size_t metrics, size_t calls, uint64_t timer,
                     uint64_t *samples) {
    ringtrack_run *run = new_run();
    char names[4][24];
    const char *name_ptrs[4];
    ringtrack_value values[4];
    for (size_t i = 0; i < metrics; i++) {
        snprintf(names[i], sizeof names[i], "m%zu", i);
        name_ptrs[i] = names[i];
    }
    for (size_t step = 0; step < calls; step++) {
        for (size_t i = 0; i < metrics; i++) {
            values[i].kind = RINGTRACK_VALUE_F64;
            values[i].f64 = (double)(step + i);
        }
        uint64_t start = now_ns();
        ringtrack_status status = ringtrack_log_named(
            run, name_ptrs, metrics, values, metrics, NULL);
        uint64_t took = now_ns() - start;
        if (status != RINGTRACK_OK) {
            fail("log_named", status);
        }
        samples[step] = took > timer ? took - timer : 0;
    }
    finish(run);
    report("C name API, 4 metrics", samples, calls);
}

int main(int argc, char **argv) {
    const char *arg = argc > 1 ? argv[1] : getenv("RINGTRACK_BENCH_CALLS");
    size_t calls = arg != NULL ? (size_t)strtoull(arg, NULL, 10) : 2000000;
    if (calls == 0) {
        fprintf(stderr, "bench_log: calls must be at least 1\n");
        return 2;
    }
    uint64_t *samples = malloc(calls * sizeof *samples);
    if (samples == NULL) {
        fprintf(stderr, "bench_log: cannot allocate %zu samples\n", calls);
        return 1;
    }
    uint64_t timer = timer_cost_ns();
    printf("timer pair cost %" PRIu64 " ns (subtracted); %zu calls per case\n",
           timer, calls);
    printf("%-28s %8s %8s %8s %9s %10s\n", "case", "p50 ns", "p99", "p99.9",
           "p99.99", "max");
    const size_t widths[4] = {1, 4, 16, 64};
    for (int i = 0; i < 4; i++) {
        handle_api(widths[i], calls, timer, samples);
    }
    name_api(4, calls / 4 > 0 ? calls / 4 : 1, timer, samples);
    free(samples);
    return 0;
}
