"""Times ONNX models in ONNX Runtime (CPU execution provider) and says which kernels ran.

    ort_bench.py NAME=MODEL.onnx [NAME=MODEL.onnx ...] [--batches 1,256] [--threads 1]
                 [--runs 200,20] [--warmup 10] [--json OUT.json]

For each batch size the models are timed in interleaved rounds (one run of each model per
round, so that a background load slows all of them alike): milliseconds per session.run on a
fixed random input, median with the 25th-75th percentile spread and the minimum. Each model's
operators after ONNX Runtime's graph optimizations (all levels) are read from a one-run
profile, so a QDQ model shows whether its Q/DQ pairs were fused into integer kernels
(QLinearConv, QGemm, QLinearMatMul, MatMulIntegerToFloat) or left as float ops around them.
Prints one line per model and batch; --json also writes the figures.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter

import numpy as np
import onnxruntime as ort


def session(path, threads, profile_dir=None):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if profile_dir:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(profile_dir, "profile")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def kernels(path, threads, x):
    """Operator types that ran (node events of a one-run profile), with counts."""
    with tempfile.TemporaryDirectory() as d:
        s = session(path, threads, d)
        s.run(None, {s.get_inputs()[0].name: x})
        trace = s.end_profiling()
        with open(trace) as f:
            events = json.load(f)
    ops = Counter(e["args"]["op_name"] for e in events
                  if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and "op_name" in e.get("args", {}))
    return dict(sorted(ops.items()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+", help="NAME=MODEL.onnx")
    p.add_argument("--batches", default="1,256")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", default="200,20", help="timed rounds per batch size, in --batches order")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--json")
    a = p.parse_args()
    named = []
    for item in a.models:
        name, sep, path = item.partition("=")
        if not sep or not os.path.isfile(path):
            sys.exit(f"{item}: expected NAME=MODEL.onnx naming an existing file")
        named.append((name, path))
    batches = [int(b) for b in a.batches.split(",")]
    runs = [int(r) for r in a.runs.split(",")]
    if len(runs) != len(batches):
        sys.exit(f"--runs {a.runs}: expected one count per batch size ({a.batches})")
    sessions = {name: session(path, a.threads) for name, path in named}
    shape = [d if isinstance(d, int) else 1 for d in next(iter(sessions.values())).get_inputs()[0].shape]
    rng = np.random.default_rng(0)
    results = {"ort_version": ort.__version__, "threads": a.threads, "models": {}}
    for name, path in named:
        x = rng.standard_normal([1] + shape[1:], dtype=np.float32)
        results["models"][name] = {"path": path, "kernels": kernels(path, a.threads, x), "latency": []}
        print(f"{name}: kernels {results['models'][name]['kernels']}")
    for batch, count in zip(batches, runs):
        x = rng.standard_normal([batch] + shape[1:], dtype=np.float32)
        feeds = {name: {s.get_inputs()[0].name: x} for name, s in sessions.items()}
        for _ in range(a.warmup):
            for name, s in sessions.items():
                s.run(None, feeds[name])
        times = {name: [] for name in sessions}
        for _ in range(count):
            for name, s in sessions.items():
                start = time.perf_counter()
                s.run(None, feeds[name])
                times[name].append(1000 * (time.perf_counter() - start))
        for name, t in times.items():
            q25, median, q75 = np.percentile(t, [25, 50, 75])
            row = {"batch": batch, "runs": count, "median_ms": median, "p25_ms": q25, "p75_ms": q75, "min_ms": min(t)}
            results["models"][name]["latency"].append(row)
            print(f"{name} b{batch}: median {median:.4f} ms (p25-p75 {q25:.4f}-{q75:.4f}, min {min(t):.4f}; {count} runs)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
