# The models of train_workloads.h in torch.nn, for the PyTorch side of the training
# benchmarks: bench_train_pytorch.py (CPU) and tests/gpu/bench_gpu_train_pytorch.py (GPU).
#
#   import train_workloads
#   m = train_workloads.model("resnet_cifar")   # "mlp", "cnn" or "resnet_cifar"
import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    """train_workloads.h's BasicBlock: same channels, stride 1."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + x)


def model(arch):
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                             nn.Linear(512, 10))
    if arch == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    if arch == "resnet_cifar":
        return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                             BasicBlock(32), nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False),
                             nn.BatchNorm2d(64), nn.ReLU(), BasicBlock(64), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(64, 10))
    raise ValueError(f"unknown architecture {arch}")
