/*
 * Fits a straight line y = w*x + b by full-batch gradient descent on mean
 * squared error, logging every step through ringtrack.h, the plain C ABI.
 *
 * The data is generated, not read: 256 points with x uniform in [-1, 1)
 * and y = 3x - 2 plus noise uniform in [-0.1, 0.1), both from a fixed
 * 64-bit linear congruential generator, so every run computes the same
 * numbers. The fit should end near w = 3, b = -2.
 *
 * Build (from the repository root, after `cargo build -p ringtrack`):
 *
 *   gcc -std=c11 -O2 -Wall -Wextra -Iproducer/include \
 *       producer/examples/c/train_linreg.c -o train_linreg \
 *       -Ltarget/debug -lringtrack -Wl,-rpath,$PWD/target/debug -lm
 *
 * Run: `./train_linreg [steps]` (default 200). The SDK reads RINGTRACK_DIR
 * and the other RINGTRACK_* variables as usual.
 *
 * Output: one `row STEP loss w b grad_norm` line per step (17 significant
 * digits, which round-trip a double exactly), then `run ID DIR` and
 * `final w b`. Exit code 1 when a ringtrack call fails, 2 for a bad
 * argument.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ringtrack.h"

#define POINTS 256
#define LR 0.1

static uint64_t lcg_state = 0x2545F4914F6CDD1DULL;

/* A uniform double in [0, 1) from the top 53 bits of the generator. */
static double uniform(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) / 9007199254740992.0;
}

/* Reports a failed call and returns 1, for `return fail(...)`. */
static int fail(const char *what, ringtrack_status status) {
    fprintf(stderr, "train_linreg: %s: %s: %s\n", what,
            ringtrack_status_name((int)status), ringtrack_last_error());
    return 1;
}

int main(int argc, char **argv) {
    long steps = 200;
    if (argc > 1) {
        char *end = NULL;
        steps = strtol(argv[1], &end, 10);
        if (*end != '\0' || steps < 1) {
            fprintf(stderr, "train_linreg: steps \"%s\" is not >= 1\n",
                    argv[1]);
            return 2;
        }
    }

    static double xs[POINTS], ys[POINTS];
    for (int i = 0; i < POINTS; i++) {
        xs[i] = 2.0 * uniform() - 1.0;
        ys[i] = 3.0 * xs[i] - 2.0 + (0.2 * uniform() - 0.1);
    }

    ringtrack_settings settings;
    ringtrack_status status = ringtrack_settings_default(&settings);
    if (status != RINGTRACK_OK) {
        return fail("settings", status);
    }
    settings.project = "linreg-c";
    settings.run_name = "linreg-gd-c";
    settings.config_json =
        "{\"model\": \"linear\", \"lr\": 0.1, \"points\": 256, "
        "\"language\": \"c\"}";
    ringtrack_run *run = NULL;
    status = ringtrack_init(&settings, &run);
    if (status != RINGTRACK_OK) {
        return fail("init", status);
    }

    /* Handles are resolved once; the loop only logs values. */
    const char *names[4] = {"train/mse", "w", "b", "grad_norm"};
    ringtrack_metric metrics[4];
    for (int i = 0; i < 4; i++) {
        status = ringtrack_resolve_metric(run, names[i], &metrics[i]);
        if (status != RINGTRACK_OK) {
            ringtrack_run_free(run);
            return fail(names[i], status);
        }
    }

    double w = 0.0, b = 0.0;
    for (long i = 0; i < steps; i++) {
        double mse = 0.0, gw = 0.0, gb = 0.0;
        for (int p = 0; p < POINTS; p++) {
            double err = w * xs[p] + b - ys[p];
            mse += err * err / POINTS;
            gw += 2.0 * err * xs[p] / POINTS;
            gb += 2.0 * err / POINTS;
        }
        double values[4] = {mse, w, b, sqrt(gw * gw + gb * gb)};
        uint64_t step = 0;
        status = ringtrack_log(run, metrics, 4, values, 4, &step);
        if (status != RINGTRACK_OK) {
            ringtrack_finish(run, 1, -1, NULL);
            ringtrack_run_free(run);
            return fail("log", status);
        }
        printf("row %" PRIu64 " %.17g %.17g %.17g %.17g\n", step, values[0],
               values[1], values[2], values[3]);
        w -= LR * gw;
        b -= LR * gb;
    }

    status = ringtrack_summary_f64(run, "final/w", w);
    if (status == RINGTRACK_OK) {
        status = ringtrack_summary_f64(run, "final/b", b);
    }
    if (status != RINGTRACK_OK) {
        ringtrack_run_free(run);
        return fail("summary", status);
    }
    printf("run %s %s\n", ringtrack_run_id(run), ringtrack_run_dir(run));
    printf("final %.17g %.17g\n", w, b);

    ringtrack_finish_report report;
    status = ringtrack_finish(run, 0, -1, &report);
    ringtrack_run_free(run);
    if (status != RINGTRACK_OK) {
        return fail("finish", status);
    }
    printf("finished: %" PRIu64 " rows durable\n", report.rows);
    return 0;
}
