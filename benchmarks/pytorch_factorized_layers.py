"""PyTorch peer of `lathe factorize`'s per-layer latency (benchmarks/factorize_layers.sh).

Reads the factorized checkpoint Lathe wrote (only the safetensors header: the shapes of each
pair's `<layer>.0.weight` and `<layer>.1.weight`) and its metrics.json (each timed layer's input
shape), rebuilds the dense layer and the low-rank pair with the same shapes in PyTorch, and times
them interleaved on zero inputs, one thread (libtorch's and OpenBLAS's), no autograd: the median
of the per-round times and of the per-round dense/pair ratios, at each batch size. A conv pair is
a k×k conv with r filters (stride 1, padding k//2, as every factorizable conv of the zoo)
followed by a 1×1 conv, timed twice: as `nn.Conv2d` (what a PyTorch user writes), and with the
1×1 conv as one batched matrix product per sample (what Lathe's shim runs for a 1×1 conv).

    python3 benchmarks/pytorch_factorized_layers.py MODEL.safetensors METRICS.json [--rounds N]
"""
import argparse
import json
import os
import statistics
import struct
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # torch.set_num_threads does not reach OpenBLAS
import torch  # noqa: E402


def shapes(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def pair(name, s):
    first, second = s[f"{name}.0.weight"], s[f"{name}.1.weight"]
    if len(first) == 4:
        r, cin, k, _ = first
        out = second[0]
        dense = torch.nn.Conv2d(cin, out, k, padding=k // 2)
        first, second = torch.nn.Conv2d(cin, r, k, padding=k // 2, bias=False), torch.nn.Conv2d(r, out, 1)
        low = torch.nn.Sequential(first, second)

        def bmm(x):
            h = first(x)
            n, _, height, width = h.shape
            w = second.weight.reshape(1, out, r).expand(n, out, r)
            y = torch.baddbmm(second.bias.reshape(1, out, 1).expand(n, out, height * width), w, h.reshape(n, r, -1))
            return y.view(n, out, height, width)

        return dense.eval(), {"pair": low.eval(), "pair (1x1 as bmm)": bmm}, r
    else:
        r, cin = first
        out = second[0]
        dense = torch.nn.Linear(cin, out)
        low = torch.nn.Sequential(torch.nn.Linear(cin, r, bias=False), torch.nn.Linear(r, out))
    return dense.eval(), {"pair": low.eval()}, r


def block(f, x, passes):
    start = time.perf_counter()
    for _ in range(passes):
        f(x)
    return (time.perf_counter() - start) / passes * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("metrics")
    p.add_argument("--rounds", type=int, default=60)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    s = shapes(a.checkpoint)
    timed = json.load(open(a.metrics))["factorize"].get("layerLatency") or []
    with torch.no_grad():
        for entry in timed:
            name, sample = entry["layer"], entry["input"]
            dense, variants, r = pair(name, s)
            for batch in [lat["batchSize"] for lat in entry["reference"]]:
                x = torch.zeros([batch] + sample)
                for f in [dense, *variants.values()] * 2:
                    f(x)
                once = block(dense, x, 1) / 1e3
                passes = max(1, min(10000, int(0.01 / max(once, 1e-9)) + 1))
                d, low = [], {k: ([], []) for k in variants}
                for _ in range(a.rounds):
                    td = block(dense, x, passes)
                    d.append(td)
                    for k, f in variants.items():
                        tl = block(f, x, passes)
                        low[k][0].append(tl)
                        low[k][1].append(td / tl)
                for k, (times, ratios) in low.items():
                    print(f"{name} {sample} rank {r}: b{batch} {statistics.median(d):.3f} ms -> {statistics.median(times):.3f} ms, "
                          f"{statistics.median(ratios):.2f}x  [{k}]")


if __name__ == "__main__":
    main()
