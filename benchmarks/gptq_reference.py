#!/usr/bin/python3
"""GPTQ in PyTorch (Debian python3-torch), written from the paper (Frantar et al., ICLR 2023,
Algorithm 1) as the peer of the calib/gptq plugin: the same layer weights and input Gram
matrices that `lathe solve --save-statistics FILE` saved, the same damping, grid and block
size. Times each layer's solve (the Cholesky of the damped inverse H and the column loop) on one
thread, and compares the result with the plugin's (the solved checkpoint).

usage: benchmarks/gptq_reference.py STATISTICS.safetensors SOLVED.safetensors --bits B [--group-size G]
"""
import argparse
import json
import struct
import sys
import time

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, t = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:t], dtype="<f4").copy()).reshape(e["shape"])
    return out, header.get("__metadata__", {})


def grid(x, bits, symmetric):
    """Per-row grid of x [rows, n] as uniform/affine (min-max, range holding 0) or symmetric restricted."""
    if symmetric:
        qmax = 2 ** (bits - 1) - 1
        scale = (x.abs().amax(dim=1) / qmax).float().double()
        scale[scale == 0] = 1
        return scale, torch.zeros_like(scale), -qmax, qmax
    qmax = 2 ** bits - 1
    lo = torch.clamp(x.amin(dim=1), max=0)
    hi = torch.clamp(x.amax(dim=1), min=0)
    scale = ((hi - lo) / qmax).float().double()
    zero = torch.round(-lo / scale).clamp(0, qmax)
    zero[scale == 0] = 0
    scale[scale == 0] = 1
    return scale, zero, 0, qmax


def quantize(x, g):
    scale, zero, qmin, qmax = g
    q = torch.clamp(torch.round(x / scale) + zero, qmin, qmax)
    return ((q - zero) * scale).float().double()


def gptq(w, h, bits, group_size=0, symmetric=False, damp=0.01, block=128, dtype=torch.float64):
    w = w.to(dtype).clone()
    h = h.to(dtype).clone()
    rows, d = w.shape
    dead = torch.diag(h) <= 0
    h[dead, :] = 0
    h[:, dead] = 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += damp * torch.mean(torch.diag(h)) * torch.eye(d, dtype=dtype)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    g = grid(w, bits, symmetric) if group_size == 0 else None
    for i1 in range(0, d, block):
        i2 = min(i1 + block, d)
        w1 = w[:, i1:i2].clone()
        err = torch.zeros_like(w1)
        u1 = u[i1:i2, i1:i2]
        for i in range(i2 - i1):
            if group_size > 0 and (i1 + i) % group_size == 0:
                g = grid(w[:, i1 + i:i1 + i + group_size] if i == 0 else torch.cat([w1[:, i:], w[:, i2:]], 1)[:, :group_size],
                         bits, symmetric)
            col = w1[:, i]
            qc = quantize(col.double(), g).to(dtype)
            q[:, i1 + i] = qc
            e = (col - qc) / u1[i, i]
            w1[:, i:] -= e.unsqueeze(1) @ u1[i, i:].unsqueeze(0)
            err[:, i] = e
        w[:, i2:] -= err @ u[i1:i2, i2:]
    return q


def main():
    p = argparse.ArgumentParser()
    p.add_argument("statistics")
    p.add_argument("solved")
    p.add_argument("--bits", type=int, required=True)
    p.add_argument("--group-size", type=int, default=0)
    p.add_argument("--symmetric", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    stats, meta = read_safetensors(args.statistics)
    solved, _ = read_safetensors(args.solved)
    layers = meta.get("lathe.solve.layers", "").split(",")
    total = {torch.float64: 0.0, torch.float32: 0.0}
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    for name in layers:
        w = stats[f"{name}.weight"]
        h = stats[f"{name}.gram"]
        if h.shape[0] != 1:
            print(f"{name}: grouped conv ({h.shape[0]} groups), skipped")
            continue
        w2 = w.reshape(w.shape[0], -1).double()
        line = [f"{name} [{w2.shape[0]}x{w2.shape[1]}]"]
        for dtype in (torch.float64, torch.float32):
            start = time.perf_counter()
            q = gptq(w2, h[0].double(), args.bits, args.group_size, args.symmetric, dtype=dtype)
            seconds = time.perf_counter() - start
            total[dtype] += seconds
            diff = (q.double() - solved[f"{name}.weight"].reshape(q.shape).double()).abs().max().item()
            line.append(f"{str(dtype)[6:]} {seconds:.3f} s (max |W'_torch - W'_lathe| {diff:.2e})")
        print("  ".join(line))
    print(f"total: float64 {total[torch.float64]:.3f} s, float32 {total[torch.float32]:.3f} s")


if __name__ == "__main__":
    sys.exit(main())
