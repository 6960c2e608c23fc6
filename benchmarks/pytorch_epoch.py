"""Shared by the PyTorch peers of the training benchmarks (pytorch_lenet5_epoch.py,
pytorch_vit_epoch.py): Fashion-MNIST from the Debian package's IDX files, normalised as
`lathe train` does, and one timed epoch with the bookkeeping `lathe train` does every step.
"""
import gzip
import struct
import sys
import time

import numpy as np
import torch


def setup(argv):
    """THREADS [DATA_DIR] from the command line: sets torch's threads, returns the data folder."""
    torch.set_num_threads(int(argv[1]))
    return argv[2] if len(argv) > 2 else "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def training_set(root):
    """The training images (N, 1, 28, 28), normalised with Fashion-MNIST's mean and std, and labels."""
    x = torch.tensor(idx(f"{root}/train-images-idx3-ubyte.gz"), dtype=torch.float32).div(255).sub(0.2860).div(0.3530).unsqueeze(1)
    y = torch.tensor(idx(f"{root}/train-labels-idx1-ubyte.gz"), dtype=torch.long)
    return x, y


def one_epoch(model, opt, x, y, batch=128, label_smoothing=0.0):
    """Trains one epoch in seeded shuffled order (loss and accuracy tracked every step, as
    `lathe train` does); prints seconds_per_epoch, images_per_second and median_step_seconds
    (the median full-batch step, from taking the batch to the bookkeeping after the update)."""
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
        loss = torch.nn.functional.cross_entropy(logits, yb, label_smoothing=label_smoothing)
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
