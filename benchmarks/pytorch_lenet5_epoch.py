"""PyTorch peer for benchmarks/train_throughput.sh: one epoch of LeNet-5 on Fashion-MNIST with
the same recipe as `lathe train` (batch 128, SGD momentum 0.9, weight decay 5e-4, lr 0.05,
seeded shuffling, loss and accuracy tracked every step). Prints `images_per_second=<float>`
(the whole epoch) and `median_step_seconds=<float>` (the median full-batch step, timed as
`lathe train` times its steps: from taking the batch to the bookkeeping after the update).

Usage: python3 pytorch_lenet5_epoch.py THREADS [DATA_DIR]
"""
import sys

import torch

from pytorch_epoch import one_epoch, setup, training_set

x, y = training_set(setup(sys.argv))
nn = torch.nn
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
)
one_epoch(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4), x, y)
