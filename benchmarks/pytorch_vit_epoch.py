"""PyTorch peer for benchmarks/vit_epoch_vs_pytorch.sh: one epoch of Lathe's `vit-tiny` on
Fashion-MNIST with the same recipe as the script's `lathe train` (batch 128, AdamW lr 1e-3 with
decoupled weight decay 0.05 on every parameter, constant rate, label smoothing 0.1, seeded
shuffling, loss and accuracy tracked every step).

The model is issue 14's `vit-tiny`, written with the same primitives as Lathe's
layers (no fused nn.MultiheadAttention path): patch 4 convolution to 49 tokens of width 64,
class token and learned position embedding (1 + 49 tokens), 4 pre-norm blocks (LayerNorm,
fused qkv Linear with rows [Q | K | V], 4 heads of 16, softmax(QK^T/sqrt(16))V, output Linear;
LayerNorm, Linear 64->128, exact GELU, Linear 128->64), final LayerNorm, Linear head on the
class token. Linear weights, class token and position embedding start from a truncated normal
(std 0.02, biases zero), the patch convolution from PyTorch's default, as Lathe's zoo does.

Prints `parameters=<int>`, `seconds_per_epoch=<float>`, `images_per_second=<float>` and
`median_step_seconds=<float>` (the median full-batch step, timed as `lathe train` times its
steps: from taking the batch to the bookkeeping after the update).

Usage: python3 pytorch_vit_epoch.py THREADS [DATA_DIR]
"""
import gzip
import math
import struct
import sys
import time

import numpy as np
import torch

threads = int(sys.argv[1])
root = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
torch.set_num_threads(threads)
nn = torch.nn
F = nn.functional


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        n, t, _ = x.shape
        h, d = self.heads, self.head_dim
        q, k, v = self.qkv(x).reshape(n, t, 3, h, d).permute(2, 0, 3, 1, 4)
        p = (q @ k.transpose(2, 3) * (1 / math.sqrt(d))).softmax(3)
        return self.proj((p @ v).transpose(1, 2).reshape(n, t, h * d))


class Block(nn.Module):
    def __init__(self, dim, heads, ratio):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, ratio * dim), nn.GELU(), nn.Linear(ratio * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, channels=1, size=28, classes=10, patch=4, dim=64, depth=4, heads=4, ratio=2):
        super().__init__()
        tokens = (size // patch) ** 2
        self.patch = nn.Conv2d(channels, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 1 + tokens, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, ratio) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, classes)
        for p in (self.cls, self.pos):
            nn.init.trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], 1, t.shape[2]), t], 1) + self.pos
        return self.head(self.norm(self.blocks(t))[:, 0])


x = torch.tensor(idx(f"{root}/train-images-idx3-ubyte.gz"), dtype=torch.float32).div(255).sub(0.2860).div(0.3530).unsqueeze(1)
y = torch.tensor(idx(f"{root}/train-labels-idx1-ubyte.gz"), dtype=torch.long)
torch.manual_seed(0)
model = ViT()
print(f"parameters={sum(p.numel() for p in model.parameters())}")
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
batch = 128
perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
model.train()
start = time.perf_counter()
loss_sum, correct = 0.0, 0.0
step_seconds = []
for i in range(0, len(x), batch):
    step_start = time.perf_counter()
    index = perm[i : i + batch]
    xb, yb = x[index], y[index]
    logits = model(xb)
    loss = F.cross_entropy(logits, yb, label_smoothing=0.1)
    opt.zero_grad()
    loss.backward()
    opt.step()
    loss_sum += loss.item() * len(index)
    with torch.no_grad():
        correct += (logits.argmax(1) == yb).double().sum().item()
    if len(index) == batch:
        step_seconds.append(time.perf_counter() - step_start)
elapsed = time.perf_counter() - start
print(f"seconds_per_epoch={elapsed:.3f}")
print(f"images_per_second={len(x) / elapsed:.1f}")
print(f"median_step_seconds={float(np.median(step_seconds)):.9f}")
print(f"train_loss={loss_sum / len(x):.4f} train_accuracy={correct / len(x):.4f}", file=sys.stderr)
