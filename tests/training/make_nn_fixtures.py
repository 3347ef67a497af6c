#!/usr/bin/python3
"""Writes tests/data/pytorch_nn.safetensors: PyTorch 1.13 reference results for the nl::nn
layers and losses, which tests/training/test_nn.cpp replays.

Run with Debian's python3 (python3-torch 1.13):  /usr/bin/python3 tests/training/make_nn_fixtures.py

Each case <c> holds (float32 unless the input is an index tensor):
  <c>.in<k>          the inputs
  <c>.state.<key>    the module's whole state_dict before the forward pass (layer cases only);
                     the C++ side loads it with strict=True, which also checks that Netloom's
                     parameter and buffer names and shapes equal PyTorch's
  <c>.out, <c>.gout  the output and an upstream gradient G
  <c>.grad_in<k>     d sum(out * G) / d input k (float inputs)
  <c>.grad.<key>     d sum(out * G) / d parameter <key> (zeros where out does not depend on it)
  <c>.after.<key>    buffers after the forward pass (BatchNorm running statistics)
Cases marked train run in training mode, the others in eval; test_nn.cpp repeats the
layer configurations, so keep both in step.
"""
import json
import math
import os
import struct

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fixture_writer  # tests/fixture_writer.py
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "pytorch_nn.safetensors")
DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.bool: "BOOL"}
CASES = {}
gen = torch.Generator().manual_seed(1234)


def normal(*shape, scale=1.0):
    return torch.randn(shape, generator=gen) * scale


def distinct(*shape):
    n = math.prod(shape)
    return (torch.randperm(n, generator=gen).float() / n * 4 - 2).reshape(shape)


def randomise_state(module):
    # Default init leaves norm weights at 1 and biases at 0, which would hide mistakes.
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) * 1.5 + 0.5)
            else:
                t.copy_(normal(*t.shape, scale=0.5))


def record(name, fn, inputs, module=None, constant=()):
    """constant: indices of float inputs PyTorch does not differentiate (class weights)."""
    entry = {}
    if module is not None:
        for key, t in module.state_dict().items():
            entry["state." + key] = t.detach().clone()
    ins = []
    for k, x in enumerate(inputs):
        entry[f"in{k}"] = x.clone()
        x = x.clone()
        if x.is_floating_point() and k not in constant:
            x.requires_grad_(True)
        ins.append(x)
    out = fn(*ins)
    g = normal(*out.shape)
    (out * g).sum().backward()
    entry["out"] = out.detach()
    entry["gout"] = g
    for k, x in enumerate(ins):
        if x.requires_grad:
            entry[f"grad_in{k}"] = x.grad if x.grad is not None else torch.zeros_like(x)
    if module is not None:
        for key, p in module.named_parameters():
            # A parameter the output does not depend on gets no gradient: zeros.
            entry["grad." + key] = p.grad if p.grad is not None else torch.zeros_like(p)
        for key, b in module.named_buffers():
            entry["after." + key] = b.detach().clone()
    assert name not in CASES, name
    CASES[name] = entry


def layer(name, module, *inputs, train=False):
    randomise_state(module)
    module.train(train)
    record(name, module, list(inputs), module)


class ResBlock(nn.Module):
    """conv-bn-relu-conv-bn plus a shortcut (1x1 conv + bn when the shape changes)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


def tiny_resnet():
    return nn.Sequential(nn.Conv2d(3, 4, 3, 1, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Sequential(ResBlock(4, 4, 1), ResBlock(4, 6, 2)),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))


def layer_cases():
    layer("linear", nn.Linear(5, 3), normal(4, 5))
    layer("linear_nobias_3d", nn.Linear(5, 3, bias=False), normal(2, 3, 5))
    layer("conv2d_stride2_pad1", nn.Conv2d(3, 4, 3, stride=2, padding=1), normal(2, 3, 7, 7))
    layer("conv2d_same_dilated", nn.Conv2d(2, 3, (4, 3), padding="same", dilation=(1, 2)), normal(1, 2, 6, 7))
    layer("conv2d_groups_nobias", nn.Conv2d(4, 6, 3, groups=2, bias=False), normal(2, 4, 5, 5))
    layer("conv1d_stride2_pad1", nn.Conv1d(3, 4, 3, stride=2, padding=1), normal(2, 3, 9))
    layer("conv1d_same_dilated", nn.Conv1d(2, 3, 4, padding="same", dilation=2), normal(2, 2, 8))
    layer("convtranspose2d_stride2_outpad", nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
          normal(2, 3, 4, 4))
    layer("convtranspose2d_groups_dilated", nn.ConvTranspose2d(4, 6, (2, 3), stride=(1, 2), padding=(0, 1), dilation=2,
                                                               groups=2, bias=False), normal(1, 4, 3, 5))
    layer("convtranspose2d_big_padding", nn.ConvTranspose2d(2, 2, 3, padding=2), normal(1, 2, 5, 5))
    layer("batchnorm1d_train", nn.BatchNorm1d(4), normal(6, 4) + 1, train=True)
    layer("batchnorm1d_3d_eval", nn.BatchNorm1d(3), normal(2, 3, 5))
    layer("batchnorm2d_train", nn.BatchNorm2d(3, momentum=0.3), normal(2, 3, 4, 4), train=True)
    layer("batchnorm2d_eval", nn.BatchNorm2d(3), normal(2, 3, 4, 4))
    cumulative = nn.BatchNorm2d(2, momentum=None)
    randomise_state(cumulative)
    cumulative.num_batches_tracked.fill_(3)  # momentum becomes 1/4
    cumulative.train()
    record("batchnorm2d_cumulative_train", cumulative, [normal(3, 2, 3, 3)], cumulative)
    layer("batchnorm2d_no_stats_eval", nn.BatchNorm2d(3, track_running_stats=False), normal(2, 3, 3, 3))
    layer("batchnorm1d_no_affine_train", nn.BatchNorm1d(3, affine=False, eps=1e-3), normal(5, 3), train=True)
    layer("layernorm_no_affine", nn.LayerNorm(6, elementwise_affine=False, eps=1e-3), normal(4, 6))
    layer("groupnorm_no_affine_3d", nn.GroupNorm(3, 3, affine=False), normal(2, 3, 7))
    layer("layernorm", nn.LayerNorm([4, 5]), normal(2, 3, 4, 5))
    layer("groupnorm", nn.GroupNorm(2, 6), normal(2, 6, 3, 3) * 2 + 1)
    layer("maxpool2d_k3s2p1", nn.MaxPool2d(3, 2, 1), distinct(1, 2, 7, 7))
    layer("avgpool2d_k2", nn.AvgPool2d(2), normal(2, 3, 6, 6))
    layer("adaptive_avg_1x1", nn.AdaptiveAvgPool2d(1), normal(2, 3, 5, 4))
    layer("adaptive_avg_3x3_of_6x6", nn.AdaptiveAvgPool2d(3), normal(1, 2, 6, 6))
    layer("adaptive_avg_2x3_of_5x7", nn.AdaptiveAvgPool2d((2, 3)), normal(2, 2, 5, 7))
    layer("flatten", nn.Flatten(), normal(2, 3, 2, 2))
    layer("embedding", nn.Embedding(10, 4), torch.randint(0, 10, (3, 5), generator=gen))
    layer("embedding_padding_idx", nn.Embedding(6, 3, padding_idx=-2), torch.tensor([[0, 4, 1], [4, 4, 5]]))
    layer("relu", nn.ReLU(), normal(3, 4))
    layer("leaky_relu", nn.LeakyReLU(0.2), normal(3, 4))
    layer("gelu", nn.GELU(), normal(3, 4))
    layer("gelu_tanh", nn.GELU(approximate="tanh"), normal(3, 4))
    layer("silu", nn.SiLU(), normal(3, 4))
    layer("sigmoid", nn.Sigmoid(), normal(3, 4))
    layer("tanh", nn.Tanh(), normal(3, 4))
    layer("softmax_dim1", nn.Softmax(dim=1), normal(2, 5, 3))
    record("add_broadcast", lambda a, b: a + b, [normal(2, 3, 4), normal(3, 4)])
    record("concat_channels", lambda a, b: torch.cat([a, b], 1), [normal(2, 3, 4), normal(2, 2, 4)])
    torch.manual_seed(0)
    layer("tiny_resnet_train", tiny_resnet(), normal(2, 3, 8, 8), train=True)
    layer("tiny_resnet_eval", tiny_resnet(), normal(2, 3, 8, 8))


def module_call(name, module, fn, inputs, train=False):
    """A layer case whose output is fn(module, *inputs) rather than module(input)."""
    randomise_state(module)
    module.train(train)
    record(name, lambda *xs: fn(module, *xs), inputs, module)


def sequence_cases():
    module_call("lstm_2layer_batch_first", nn.LSTM(3, 4, num_layers=2, batch_first=True), lambda m, x: m(x)[0],
                [normal(2, 5, 3)])

    def lstm_states(m, x, h, c):
        out, (hn, cn) = m(x, (h, c))
        return torch.cat([out[-1:], hn, cn], 0)
    module_call("lstm_states", nn.LSTM(3, 4), lstm_states, [normal(5, 2, 3), normal(1, 2, 4), normal(1, 2, 4)])

    def gru_states(m, x, h):
        out, hn = m(x, h)
        return torch.cat([out, hn], 0)
    module_call("gru_2layer_states", nn.GRU(3, 4, num_layers=2), gru_states, [normal(5, 2, 3), normal(2, 2, 4)])
    def lstm_all_flat(m, x, h, c):
        out, (hn, cn) = m(x, (h, c))
        return torch.cat([out.flatten(), hn.flatten(), cn.flatten()])
    module_call("lstm_bidirectional_2layer_states", nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
                lstm_all_flat, [normal(2, 5, 3), normal(4, 2, 4), normal(4, 2, 4)])
    module_call("gru_bidirectional", nn.GRU(3, 4, bidirectional=True), lambda m, x: m(x)[0], [normal(5, 2, 3)])
    module_call("gru_batch_first_nobias", nn.GRU(3, 4, bias=False, batch_first=True), lambda m, x: m(x)[0],
                [normal(2, 4, 3)])
    module_call("mha_self_batch_first", nn.MultiheadAttention(8, 2, batch_first=True), lambda m, x: m(x, x, x)[0],
                [normal(2, 5, 8)])
    module_call("mha_cross", nn.MultiheadAttention(8, 4), lambda m, q, k, v: m(q, k, v)[0],
                [normal(3, 2, 8), normal(6, 2, 8), normal(6, 2, 8)])
    module_call("mha_cross_weights", nn.MultiheadAttention(8, 4), lambda m, q, k, v: m(q, k, v)[1],
                [normal(3, 2, 8), normal(6, 2, 8), normal(6, 2, 8)])
    causal = torch.ones(4, 4, dtype=torch.bool).triu(1)
    padding = torch.tensor([[False, False, False, False], [False, False, True, True]])
    module_call("mha_causal_padding", nn.MultiheadAttention(8, 2, batch_first=True),
                lambda m, x, am, kpm: m(x, x, x, key_padding_mask=kpm, attn_mask=am)[0], [normal(2, 4, 8), causal, padding])
    layer("transformer_encoder_post", nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True),
          normal(2, 5, 8))
    layer("transformer_encoder_prenorm_gelu",
          nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation="gelu", norm_first=True), normal(5, 2, 8))

    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 4, dim_feedforward=12, batch_first=True), 2,
                                    norm=nn.LayerNorm(8), enable_nested_tensor=False)
    causal4 = torch.ones(4, 4, dtype=torch.bool).triu(1)
    module_call("transformer_encoder_stack_causal", encoder, lambda m, x, am: m(x, mask=am), [normal(2, 4, 8), causal4])


def loss_cases():
    logits = normal(5, 4)
    target = torch.tensor([1, 0, 3, -100, 2])
    record("nll_mean_ignore", lambda x, t: F.nll_loss(F.log_softmax(x, 1), t), [logits, target])
    record("nll_weight_mean", lambda x, t, w: F.nll_loss(F.log_softmax(x, 1), t, w, ignore_index=-100),
           [normal(5, 4), torch.tensor([1, 0, 3, 3, 2]), torch.rand(4, generator=gen) + 0.5], constant=(2,))
    record("nll_sum_spatial", lambda x, t: F.nll_loss(F.log_softmax(x, 1), t, reduction="sum"),
           [normal(2, 3, 4), torch.randint(0, 3, (2, 4), generator=gen)])
    record("nll_none", lambda x, t: F.nll_loss(F.log_softmax(x, 1), t, reduction="none"),
           [normal(4, 3), torch.tensor([2, -100, 0, 1])])
    for reduction in ["mean", "sum", "none"]:
        a, b = normal(3, 4), normal(3, 4)
        record(f"mse_{reduction}", lambda x, y, r=reduction: F.mse_loss(x, y, reduction=r), [a, b])
        record(f"l1_{reduction}", lambda x, y, r=reduction: F.l1_loss(x, y, reduction=r), [normal(3, 4), normal(3, 4)])
        record(f"smooth_l1_beta05_{reduction}", lambda x, y, r=reduction: F.smooth_l1_loss(x, y, reduction=r, beta=0.5),
               [normal(3, 4), normal(3, 4)])
        record(f"huber_delta07_{reduction}", lambda x, y, r=reduction: F.huber_loss(x, y, reduction=r, delta=0.7),
               [normal(3, 4), normal(3, 4)])
        record(f"bce_logits_{reduction}", lambda x, y, r=reduction: F.binary_cross_entropy_with_logits(x, y, reduction=r),
               [normal(3, 4, scale=3), torch.rand(3, 4, generator=gen)])
    # Extreme logits: the naive log(sigmoid(x)) would give inf here.
    record("bce_logits_extreme", lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="sum"),
           [torch.tensor([[-40.0, -20.0, 0.0, 20.0, 40.0]]), torch.tensor([[1.0, 0.0, 0.5, 1.0, 0.0]])])
    record("bce_logits_weights", lambda x, y, w, pw: F.binary_cross_entropy_with_logits(x, y, w, pos_weight=pw),
           [normal(4, 3, scale=2), torch.rand(4, 3, generator=gen), torch.rand(4, 1, generator=gen) + 0.5,
            torch.rand(3, generator=gen) * 2 + 0.5], constant=(2, 3))


def write_safetensors(path, tensors):
    fixture_writer.write_safetensors(path, tensors, {"generator": "tests/training/make_nn_fixtures.py",
                                                     "torch": torch.__version__.split("+")[0]})


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    layer_cases()
    sequence_cases()
    loss_cases()
    flat = {f"{case}.{field}": t for case, entry in CASES.items() for field, t in entry.items()}
    write_safetensors(OUT, flat)
    print(f"{os.path.relpath(OUT)}: {len(CASES)} cases, {len(flat)} tensors, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
