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
import math
import sys

import torch

from pytorch_epoch import one_epoch, setup, training_set

root = setup(sys.argv)
nn = torch.nn
F = nn.functional


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


x, y = training_set(root)
torch.manual_seed(0)
model = ViT()
print(f"parameters={sum(p.numel() for p in model.parameters())}")
one_epoch(model, torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05), x, y, label_smoothing=0.1)
