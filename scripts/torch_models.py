#!/usr/bin/env python3
"""Writes PyTorch models as ONNX files, with a sample input and PyTorch's output, for the
import tests (Tests/LatheCLITests/ImportCommandTests.swift) and `lathe import` examples.

    /usr/bin/python3 scripts/torch_models.py OUT_DIR [resnet20 mobilenetv2 mlp vit ...]

Models: resnet20, mobilenetv2 (batch norm folded), mobilenetv2_bn (batch norm kept), mlp, vit.
Each model NAME gives OUT_DIR/NAME.onnx, NAME.input.bin (float32 [4, 1, 28, 28], seed 0) and
NAME.output.bin (float32 [4, 10]: the model's logits in eval mode). Weights are PyTorch's
default initialisation at seed 0, with batch-norm statistics made non-trivial so that their
import is tested. Debian's python3-torch (1.13) exports opset 17.
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class ResNet20(nn.Module):
    """He et al. 2016's CIFAR ResNet-20 (16-32-64, three blocks per stage), 1×1 projection shortcuts."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, c = [], 16
        for out, stride in [(16, 1), (32, 2), (64, 2)]:
            blocks = []
            for b in range(3):
                blocks.append(BasicBlock(c, out, stride if b == 0 else 1))
                c = out
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(x.view(x.size(0), -1))  # exported as Shape/Gather/Concat/Reshape


class InvertedResidual(nn.Module):
    def __init__(self, c_in, c_out, stride, expand):
        super().__init__()
        hidden = c_in * expand
        self.use_residual = stride == 1 and c_in == c_out
        self.block = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_residual else y


class MobileNetV2(nn.Module):
    """A MobileNetV2-style stack (Sandler 2018): inverted residuals with depthwise convs."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        plan = [(16, 1, 1), (24, 2, 4), (24, 1, 4), (32, 2, 4), (32, 1, 4)]
        blocks, c = [], 16
        for out, stride, expand in plan:
            blocks.append(InvertedResidual(c, out, stride, expand))
            c = out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(c, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU6())
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class MLP(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, classes)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc1(x)))
        return self.fc3(torch.sigmoid(self.fc2(x)))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.head_dim ** -0.5
        y = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, d)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, dim, heads, ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * ratio), nn.GELU(), nn.Linear(dim * ratio, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """The zoo's vit-tiny architecture written as PyTorch users write ViTs (timm style)."""

    def __init__(self, classes=10, dim=64, depth=4, heads=4, ratio=2, patch=4):
        super().__init__()
        self.patch = nn.Conv2d(1, dim, patch, patch)
        tokens = (28 // patch) ** 2
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


MODELS = {"resnet20": ResNet20, "mobilenetv2": MobileNetV2, "mobilenetv2_bn": MobileNetV2, "mlp": MLP, "vit": ViT}
# Exported with their batch norms as nodes (the others have them folded into the convs, as
# torch.onnx.export does in eval mode): what a model that is to be trained further needs.
KEEP_BATCH_NORM = {"resnet20", "mobilenetv2_bn"}


def main():
    out, names = sys.argv[1], sys.argv[2:] or list(MODELS)
    for name in names:
        torch.manual_seed(0)
        model = MODELS[name]()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
        model.eval()
        x = torch.randn(4, 1, 28, 28)
        with torch.no_grad():
            y = model(x)
        mode = torch.onnx.TrainingMode.PRESERVE if name in KEEP_BATCH_NORM else torch.onnx.TrainingMode.EVAL
        torch.onnx.export(model, x, f"{out}/{name}.onnx", input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=17, training=mode)
        x.numpy().astype("<f4").tofile(f"{out}/{name}.input.bin")
        y.numpy().astype("<f4").tofile(f"{out}/{name}.output.bin")
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters -> {out}/{name}.onnx")


if __name__ == "__main__":
    main()
