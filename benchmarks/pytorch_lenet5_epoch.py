"""PyTorch peer for benchmarks/train_throughput.sh: one epoch of LeNet-5 on Fashion-MNIST with
the same recipe as `lathe train` (batch 128, SGD momentum 0.9, weight decay 5e-4, lr 0.05,
seeded shuffling, loss and accuracy tracked every step). Prints `images_per_second=<float>`
(the whole epoch) and `median_step_seconds=<float>` (the median full-batch step, timed as
`lathe train` times its steps: from taking the batch to the bookkeeping after the update).

Usage: python3 pytorch_lenet5_epoch.py THREADS [DATA_DIR]
"""
import gzip
import struct
import sys
import time

import numpy as np
import torch

threads = int(sys.argv[1])
root = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
torch.set_num_threads(threads)


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


x = torch.tensor(idx(f"{root}/train-images-idx3-ubyte.gz"), dtype=torch.float32).div(255).sub(0.2860).div(0.3530).unsqueeze(1)
y = torch.tensor(idx(f"{root}/train-labels-idx1-ubyte.gz"), dtype=torch.long)
nn = torch.nn
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
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
    loss = nn.functional.cross_entropy(logits, yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    loss_sum += loss.item() * len(index)
    with torch.no_grad():
        correct += (logits.argmax(1) == yb).double().sum().item()
    if len(index) == batch:
        step_seconds.append(time.perf_counter() - step_start)
elapsed = time.perf_counter() - start
print(f"images_per_second={len(x) / elapsed:.1f}")
print(f"median_step_seconds={float(np.median(step_seconds)):.9f}")
print(f"train_loss={loss_sum / len(x):.4f} train_accuracy={correct / len(x):.4f}", file=sys.stderr)
