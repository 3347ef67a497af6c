#!/usr/bin/python3
"""Exports a few real architectures with PyTorch's own ONNX exporter (random weights) and
their outputs on a fixed input, for tests/importers/test_onnx_torch_models.cpp.

    /usr/bin/python3 tests/importers/make_torch_models.py [OUT_DIR]     # default tests/data/torch_models

Needs Debian's python3-torch and python3-torchvision (1.13 / 0.14). Each model goes to
OUT_DIR/<name>/model.onnx with input.npy and output.npy (batch 3); the files are committed,
so the tests run without PyTorch. Models are kept small (a few hundred KB each).
Also writes resnet18.onnx (full size, not committed) when given --resnet18 DIR, for the
benchmark in tests/benchmarks/bench_onnx_run.sh.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock


class SmallCnn(nn.Module):
    """Conv/BN/ReLU/pools and the x.view(x.size(0), -1) flatten of older PyTorch code, whose
    export is a Shape → Gather → Unsqueeze → Concat → Reshape chain."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            nn.AvgPool2d(2), nn.Conv2d(16, 16, 3, stride=2, padding=(0, 1)), nn.LeakyReLU(0.1))
        self.head = nn.Sequential(nn.Linear(16 * 2 * 4, 32), nn.GELU(), nn.Dropout(0.2), nn.Linear(32, 5))

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return torch.softmax(self.head(x), dim=1)


class TinyResNet(nn.Module):
    """torchvision's BasicBlock in a narrow four-stage ResNet (ResNet-18's shape, 1 block per
    stage, widths 8…64), with its stem and adaptive average pool."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, inplanes = [], 8
        for planes, stride in [(8, 1), (16, 2), (32, 2), (64, 2)]:
            down = None
            if stride != 1 or inplanes != planes:
                down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            layers.append(BasicBlock(inplanes, planes, stride, down))
            inplanes = planes
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(self.layers(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


def tanh_gelu(x):
    return nn.functional.gelu(x, approximate="tanh")


class TinyTransformer(nn.Module):
    """Token embedding + learned positions, a 2-layer TransformerEncoder (batch-first, tanh GELU)
    and a mean-pooled classifier: attention as MatMul/Softmax, LayerNorm, GELU."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.pos = nn.Parameter(torch.randn(1, 12, 16) * 0.1)
        # A callable activation (tanh-approximated GELU) also keeps eval mode off PyTorch's fused
        # fast path, which its exporter cannot write.
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, activation=tanh_gelu, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 3)

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos[:, : tokens.size(1)]
        x = self.norm(self.encoder(x))
        return self.head(x.mean(dim=1))


class SequenceLstm(nn.Module):
    """A stacked bidirectional LSTM and a GRU over a batch-first sequence; the last step feeds
    a classifier. PyTorch's export: ONNX LSTM/GRU nodes with Transpose/Squeeze/Slice around."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 8, num_layers=2, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(16, 6, batch_first=True)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        y, _ = self.lstm(x)
        z, _ = self.gru(y)
        return self.head(z[:, -1])


def export(model, example, name, out_dir, opset, input_name="x"):
    model.eval()
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    torch.onnx.export(model, (example,), path, opset_version=opset, input_names=[input_name], output_names=["y"],
                      dynamic_axes={input_name: {0: "batch"}, "y": {0: "batch"}})
    with torch.no_grad():
        expected = model(example)
    np.save(os.path.join(folder, "input.npy"), example.numpy())
    np.save(os.path.join(folder, "output.npy"), expected.numpy())
    print(f"{name}: {os.path.getsize(path)} bytes, opset {opset}, output {tuple(expected.shape)}")


def randomize_batch_norm(model, gen):
    # Trained-looking statistics, so folding or mapping them wrongly shows in the outputs.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def main():
    args = sys.argv[1:]
    if args[:1] == ["--resnet18"]:
        torch.manual_seed(0)
        m = torchvision.models.resnet18(num_classes=1000).eval()
        torch.onnx.export(m, (torch.randn(1, 3, 224, 224),), os.path.join(args[1], "resnet18.onnx"), opset_version=13,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        return
    out_dir = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "data", "torch_models")
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(99)
    with torch.no_grad():
        cnn = SmallCnn()
        randomize_batch_norm(cnn, gen)
        export(cnn, torch.randn(3, 3, 24, 32), "small_cnn", out_dir, 11)
        resnet = TinyResNet()
        randomize_batch_norm(resnet, gen)
        export(resnet, torch.randn(3, 3, 64, 64), "tiny_resnet", out_dir, 13)
        mobilenet = torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.25)
        randomize_batch_norm(mobilenet, gen)
        export(mobilenet, torch.randn(3, 3, 64, 64), "mobilenet_v2_w025", out_dir, 13)
        export(TinyTransformer(), torch.randint(0, 50, (3, 12)), "tiny_transformer", out_dir, 17, "tokens")
        export(SequenceLstm(), torch.randn(3, 7, 4), "sequence_lstm_torch", out_dir, 14)


if __name__ == "__main__":
    main()
