#!/usr/bin/python3
"""Generates the small TorchScript test models committed beside this script.

Run with Debian's python3-torch (1.13):  /usr/bin/python3 tests/models/gen_torchscript.py
Deterministic (seed 0). The files are tiny; tests load them to check the generic
TorchScript path (layer tree, weights, weight-only quantization, errors) and the
graph instrumentation (activation taps, fake-quant, ops that are not instrumented).
"""
import os
import torch
import torch.nn as nn

torch.manual_seed(0)
here = os.path.dirname(os.path.abspath(__file__))


class SmallCnn(nn.Module):
    """A Fashion-MNIST-shaped CNN: input [N,1,28,28], 10 logits."""
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, stride=2)
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 14 * 14, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.bn(self.conv2(x)))
        return self.fc(x.flatten(1))


class TransformerBlock(nn.Module):
    """Pre-LN transformer block on [N, T, 32]."""
    def __init__(self, d=32, heads=4):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.heads = heads

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax(q @ k.transpose(-2, -1) / float(d // self.heads) ** 0.5, dim=-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm2(x))))


class BranchLoop(nn.Module):
    """Data-dependent branch and a loop, on [N, 16]."""
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(16, 16)
        self.b = nn.Linear(16, 16)
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        if bool(x.mean() > 0):
            x = self.a(x)
        else:
            x = self.b(x)
        for _ in range(3):
            x = torch.tanh(self.a(x))
        return self.out(x)


class TinyLinear(nn.Module):
    """One Linear(4, 3) on [N, 4]: the hand-checked activation fake-quant case."""
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)


class Uninstrumented(nn.Module):
    """Compute the instrumentation does not tap (bmm, einsum) next to one Linear, on [N, 8, 8]."""
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 8) * 0.1)
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        y = torch.bmm(x, x.transpose(1, 2))
        y = torch.einsum("btc,cd->btd", y, self.w)
        return self.fc(y)


for name, model, example in [
    ("cnn.pt", SmallCnn(), torch.randn(2, 1, 28, 28)),
    ("transformer_block.pt", TransformerBlock(), torch.randn(2, 10, 32)),
    ("branch_loop.pt", BranchLoop(), torch.randn(2, 16)),
    ("tiny_linear.pt", TinyLinear(), torch.randn(2, 4)),
    ("uninstrumented.pt", Uninstrumented(), torch.randn(2, 8, 8)),
]:
    model.eval()
    scripted = torch.jit.script(model)
    scripted.save(os.path.join(here, name))
    print("wrote", name, sum(p.numel() for p in model.parameters()), "parameters")
