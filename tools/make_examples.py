#!/usr/bin/env python3
"""Writes the example projects in resources/examples/ (run from the repo root).

Each example is a small model laid out left to right, with training settings that reach a
good accuracy quickly on the built-in synthetic data (or on CIFAR-10 files for the ResNet).
The files are plain project JSON (format version 2); this script only saves typing.
"""
import json
import os

OUT = "resources/examples"


class Graph:
    """Places nodes left to right in rows of `per_row`, so a whole model fits a window."""

    def __init__(self, per_row=6):
        self.nodes, self.edges, self.x, self.row_y, self.per_row = [], [], 0.0, 0.0, per_row
        self.group, self.collapsed = "", False  # the block new nodes join (Ctrl+G in the editor)

    def new_row(self):
        if self.x > 0.0:
            self.x, self.row_y = 0.0, self.row_y + 200.0

    def add(self, type_, name, y=0.0, **attrs):
        if self.x >= 200.0 * self.per_row:
            self.x, self.row_y = 0.0, self.row_y + 200.0
        node = {"id": len(self.nodes) + 1, "type": type_, "name": name, "attrs": attrs,
                "ui": {"x": self.x, "y": self.row_y + y, "color": "", "collapsed": self.collapsed,
                       "group": self.group}}
        self.nodes.append(node)
        self.x += 200.0
        return node["id"]

    def link(self, a, b, out=0, inp=0):
        self.edges.append({"from": [a, out], "to": [b, inp]})

    def chain(self, *ids):
        for a, b in zip(ids, ids[1:]):
            self.link(a, b)
        return ids[-1]

    def json(self):
        return {"nodes": self.nodes, "edges": self.edges}


def project(name, description, graph, training):
    return {"format": "netloom-project", "version": 2, "name": name, "description": description,
            "graph": graph.json(), "training": training, "weights": None}


def spirals_mlp():
    g = Graph()
    x = g.add("Input", "x", shape=[-1, 2])
    h = g.chain(x, g.add("Linear", "fc1", out_features=64), g.add("Tanh", "tanh1"),
                g.add("Linear", "fc2", out_features=64), g.add("Tanh", "tanh2"),
                g.add("Linear", "fc3", out_features=2))
    g.link(h, g.add("Output", "logits", y=-80.0))
    g.x -= 200.0
    g.link(h, g.add("Loss", "loss", y=80.0, loss="cross_entropy"))
    return project("Spirals MLP", "A small multilayer perceptron that untangles two interleaved spirals.", g, {
        "dataset": {"kind": "spirals", "samples": 1000, "num_classes": 2, "validation_split": 0.2},
        "batch_size": 32, "epochs": 60, "seed": 1,
        "optimizer": {"kind": "adam", "lr": 0.01},
        "schedule": {"kind": "cosine"}})


def conv_bn_relu(g, prefix, channels, stride=1):
    c = g.add("Conv2d", prefix + "_conv", out_channels=channels, stride=[stride, stride], bias=False)
    b = g.add("BatchNorm2d", prefix + "_bn")
    r = g.add("ReLU", prefix + "_relu")
    return g.chain(c, b, r), c


def shapes_cnn():
    g = Graph()
    x = g.add("Input", "image", shape=[-1, 1, 28, 28])
    r1, c1 = conv_bn_relu(g, "block1", 16)
    p1 = g.add("MaxPool2d", "pool1")
    r2, c2 = conv_bn_relu(g, "block2", 32)
    p2 = g.add("MaxPool2d", "pool2")
    g.link(x, c1)
    g.link(r1, p1)
    g.link(p1, c2)
    g.link(r2, p2)
    head = g.chain(p2, g.add("Flatten", "flatten"), g.add("Linear", "fc1", out_features=64),
                   g.add("ReLU", "fc1_relu"), g.add("Dropout", "dropout", p=0.25),
                   g.add("Linear", "fc2", out_features=4))
    g.link(head, g.add("Output", "logits"))
    return project("Shapes CNN", "A convolutional network that tells circles, squares, triangles and crosses apart.", g, {
        "dataset": {"kind": "shapes", "samples": 3000, "num_classes": 4, "image_size": 28, "channels": 1,
                    "validation_split": 0.2},
        "batch_size": 64, "epochs": 6, "seed": 1,
        "optimizer": {"kind": "adam", "lr": 0.002}})


def residual_block(g, prev, prefix, channels, collapsed=False):
    """conv-BN-ReLU-conv-BN + skip, ReLU: a block of its own on a row of its own."""
    g.new_row()
    g.group, g.collapsed = prefix, collapsed
    r1, c1 = conv_bn_relu(g, prefix + "a", channels)
    c2 = g.add("Conv2d", prefix + "b_conv", out_channels=channels, bias=False)
    b2 = g.add("BatchNorm2d", prefix + "b_bn")
    add = g.add("Add", prefix + "_add")
    out = g.add("ReLU", prefix + "_relu")
    g.link(prev, c1)
    g.chain(r1, c2, b2)
    g.link(b2, add, 0, 0)
    g.link(prev, add, 0, 1)
    g.link(add, out)
    g.group, g.collapsed = "", False
    g.new_row()
    return out


def cifar_resnet():
    g = Graph(per_row=7)
    x = g.add("Input", "image", shape=[-1, 3, 32, 32])
    r, c = conv_bn_relu(g, "stem", 32)
    g.link(x, c)
    r = residual_block(g, r, "res1", 32)
    r2, c2 = conv_bn_relu(g, "down", 64, stride=2)
    g.link(r, c2)
    r = residual_block(g, r2, "res2", 64, collapsed=True)
    head = g.chain(r, g.add("GlobalAvgPool2d", "pool"), g.add("Linear", "fc", out_features=10))
    g.link(head, g.add("Output", "logits"))
    return project("CIFAR-10 ResNet", "A small residual network for CIFAR-10. Download the binary version "
                   "(cifar-10-batches-bin) and point the dataset path at it, or pass --data.", g, {
        "dataset": {"kind": "cifar10", "path": "data/cifar-10-batches-bin", "validation_split": 0.1},
        "batch_size": 64, "epochs": 15, "seed": 1,
        "optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True},
        "schedule": {"kind": "onecycle"}})


def sequence_lstm():
    g = Graph()
    x = g.add("Input", "sequence", shape=[-1, 32, 1])
    head = g.chain(x, g.add("LSTM", "lstm", hidden_size=32, return_sequences=False),
                   g.add("Linear", "classifier", out_features=4))
    g.link(head, g.add("Output", "logits"))
    return project("Sequence LSTM", "An LSTM that classifies short waveforms by their pattern.", g, {
        "dataset": {"kind": "sequences", "samples": 2000, "num_classes": 4, "sequence_length": 32,
                    "sequence_features": 1, "validation_split": 0.2},
        "batch_size": 64, "epochs": 15, "seed": 1,
        "optimizer": {"kind": "adam", "lr": 0.01}})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, make in [("spirals_mlp", spirals_mlp), ("shapes_cnn", shapes_cnn), ("cifar_resnet", cifar_resnet),
                       ("sequence_lstm", sequence_lstm)]:
        with open(os.path.join(OUT, name + ".netloom"), "w") as f:
            json.dump(make(), f, indent=2)
            f.write("\n")
        print("wrote", os.path.join(OUT, name + ".netloom"))
