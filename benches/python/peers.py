"""Python peers of ringtrack: wandb.log in offline mode and tensorboardX
add_scalar, each doing the same work as the Rust benches (a row of four
floats with a step), call by call.

Run through scripts/bench-python, which makes the venv with pinned
versions and sets WANDB_MODE=offline, WANDB_DISABLE_GIT, WANDB_SILENT.
Prints one `RESULT {json}` line per peer: per-call (per-row) p50/p99/p99.9
in ns with the cost of an empty perf_counter_ns pair subtracted, and rows
per second until the peer's own flush/close returned.
"""

import json
import os
import statistics
import sys
import tempfile
import time

ROWS = int(os.environ.get("RINGTRACK_PY_ROWS", "20000"))


def timer_pair_ns():
    samples = []
    for _ in range(200_000):
        a = time.perf_counter_ns()
        b = time.perf_counter_ns()
        samples.append(b - a)
    return statistics.median(samples)


def percentile(sorted_samples, q):
    if not sorted_samples:
        return 0
    i = min(len(sorted_samples) - 1, int(q * len(sorted_samples)))
    return sorted_samples[i]


def report(case, what, samples, rows, secs, version, pair):
    samples.sort()
    fields = {
        "group": "python_peers",
        "case": case,
        "what": what,
        "version": version,
        "p50": percentile(samples, 0.5),
        "p99": percentile(samples, 0.99),
        "p999": percentile(samples, 0.999),
        "max": samples[-1] if samples else 0,
        "mean": sum(samples) / max(1, len(samples)),
        "count": len(samples),
        "rows_per_s": rows / secs,
        "timer_pair_ns": pair,
    }
    print(
        f"{case:<12} p50 {fields['p50'] / 1e3:9.1f} us  p99 {fields['p99'] / 1e3:9.1f} us"
        f"  {fields['rows_per_s']:10.0f} rows/s  ({version})",
        file=sys.stderr,
    )
    print("RESULT " + json.dumps(fields), flush=True)


def bench_wandb(pair, tmp):
    for var in ("WANDB_MODE", "WANDB_DISABLE_GIT", "WANDB_SILENT"):
        if not os.environ.get(var):
            sys.exit(f"{var} must be set (scripts/bench-python sets it)")
    if os.environ["WANDB_MODE"] != "offline":
        sys.exit("WANDB_MODE must be offline")
    import wandb

    run = wandb.init(
        project="ringtrack-bench",
        mode="offline",
        dir=tmp,
        settings=wandb.Settings(
            mode="offline",
            console="off",
            save_code=False,
            disable_git=True,
            x_disable_stats=True,
            x_disable_meta=True,
        ),
    )
    samples = []
    start = time.perf_counter()
    for step in range(ROWS):
        s = step * 0.5
        row = {"a": s, "b": s + 1.0, "c": s + 2.0, "d": s + 3.0}
        t0 = time.perf_counter_ns()
        run.log(row, step=step)
        t1 = time.perf_counter_ns()
        samples.append(max(0, t1 - t0 - pair))
    run.finish()
    secs = time.perf_counter() - start
    report("wandb", "wandb.log offline, 4 keys, explicit step; until finish()",
           samples, ROWS, secs, wandb.__version__, pair)


def bench_tensorboardx(pair, tmp):
    import tensorboardX
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(logdir=os.path.join(tmp, "tb"))
    samples = []
    start = time.perf_counter()
    for step in range(ROWS):
        s = step * 0.5
        t0 = time.perf_counter_ns()
        writer.add_scalar("a", s, step)
        writer.add_scalar("b", s + 1.0, step)
        writer.add_scalar("c", s + 2.0, step)
        writer.add_scalar("d", s + 3.0, step)
        t1 = time.perf_counter_ns()
        samples.append(max(0, t1 - t0 - pair))
    writer.close()
    secs = time.perf_counter() - start
    report("tensorboardX", "4 x add_scalar per row; until close()",
           samples, ROWS, secs, tensorboardX.__version__, pair)


def main():
    pair = timer_pair_ns()
    with tempfile.TemporaryDirectory() as tmp:
        bench_tensorboardx(pair, tmp)
        bench_wandb(pair, tmp)


if __name__ == "__main__":
    main()
