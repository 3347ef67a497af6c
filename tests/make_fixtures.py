#!/usr/bin/python3
"""Writes the PyTorch parity fixtures, tests/data/pytorch_<family>.safetensors.

Each named case holds the inputs of one engine op call, PyTorch's output, a random upstream
gradient G of that output and PyTorch's gradients of sum(out * G) with respect to every
float input. tests/engine/test_pytorch_parity*.cpp replays each case through Netloom, so the
engine is checked against PyTorch without PyTorch being installed at test time. The cases of
the network-layer families live in make_fixtures_nn.py.

Tensor names: <case>.in0, .in1 ... (inputs), .out, .out1 ... (outputs), .gout, .gout1 ...
(G for each output that carries a gradient), .grad0, .grad1 ... (gradient of input K, for the
inputs that get one; the test sets requires_grad on exactly those). Float inputs are float32,
index inputs int64, masks bool. Run with Debian's interpreter, which has torch:
    /usr/bin/python3 tests/make_fixtures.py
Re-running reproduces the files byte for byte: each case draws from its own generator seeded
by its name, and the reference runs single-threaded.
"""
import json
import os
import struct
import zlib

import fixture_writer  # tests/fixture_writer.py, beside this script
import torch
import torch.nn.functional as F

from make_fixtures_nn import nn_cases

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
FAMILIES = {}  # family -> {case -> {field -> tensor}}


class Rand:
    """Inputs for one case, from a generator seeded by the case name (adding a case never
    changes the others' data)."""

    def __init__(self, name):
        self.g = torch.Generator().manual_seed(zlib.crc32(name.encode()))

    def normal(self, *shape, scale=1.0):
        return torch.randn(shape, generator=self.g) * scale

    def uniform(self, lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(shape, generator=self.g)

    def away(self, *shape, lo=0.1, hi=2.0):
        """Random sign, magnitude in [lo, hi): keeps relu/abs/sign away from their kink."""
        sign = torch.randint(0, 2, shape, generator=self.g) * 2 - 1
        return sign * self.uniform(lo, hi, *shape)

    def distinct(self, *shape):
        """Values at least 0.2 apart, so max/min/argmax have no ties or near-ties."""
        n = 1
        for s in shape:
            n *= s
        perm = torch.randperm(n, generator=self.g).float()
        return ((perm - n / 2) * 0.25 + self.uniform(0, 0.05, n)).reshape(shape)

    def avoiding(self, x, points, margin=0.05):
        """Pushes values within `margin` of any of `points` (kinks, jumps) out of that band."""
        for p in points:
            near = (x - p).abs() < margin
            x = torch.where(near, x + 2 * margin * torch.where(x >= p, 1.0, -1.0), x)
        return x

    def index(self, high, *shape):
        return torch.randint(0, high, shape, generator=self.g)

    def mask(self, *shape):
        return torch.randint(0, 2, shape, generator=self.g).bool()


def add_case(family, name, fn, inputs, grads=None):
    """Runs fn on float64 copies of `inputs` (float32 values, so both sides see exactly the
    same numbers and the reference carries no float32 rounding of its own) and records it.
    `inputs` is a list, or a function of the case's Rand returning one. grads[k] says whether
    input k gets a .grad fixture; the default is every float input."""
    cases = FAMILIES.setdefault(family, {})
    assert name not in cases and "." not in name, name
    if callable(inputs):
        inputs = inputs(Rand(name))
    rand = Rand(name + "/gout")
    explicit = grads is not None
    if grads is None:  # every float input, unless no output carries a gradient (comparisons)
        grads = [t.is_floating_point() for t in inputs]
    xs = []
    for t, g in zip(inputs, grads):
        xs.append(t.double().requires_grad_(g) if t.is_floating_point() else t.clone())
    outs = fn(*xs)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]

    entry = {}
    for k, t in enumerate(inputs):
        entry[f"in{k}"] = t.float() if t.is_floating_point() else t
    loss = None
    for k, out in enumerate(outs):
        suffix = str(k) if k else ""
        entry["out" + suffix] = out.detach().float() if out.is_floating_point() else out.detach()
        if out.requires_grad:
            gout = rand.normal(*out.shape)
            entry["gout" + suffix] = gout
            term = (out * gout.double()).sum()
            loss = term if loss is None else loss + term
    wanted = [k for k, g in enumerate(grads) if g] if explicit or loss is not None else []
    if wanted:
        assert loss is not None, f"{name}: gradients requested but no output carries one"
        got = torch.autograd.grad(loss, [xs[k] for k in wanted], allow_unused=True)
        for k, g in zip(wanted, got):
            entry[f"grad{k}"] = (torch.zeros_like(xs[k]) if g is None else g).float()
    cases[name] = entry


# ---- Elementwise ---------------------------------------------------------------------------

def elementwise_cases():
    fam = "elementwise"
    half_integers = [k / 2 for k in range(-8, 9)]
    unary = {  # name: (torch fn, input maker)
        "neg": (torch.neg, lambda r: r.normal(3, 5)),
        "exp": (torch.exp, lambda r: r.normal(3, 5)),
        "log": (torch.log, lambda r: r.uniform(0.2, 3, 3, 5)),
        "sqrt": (torch.sqrt, lambda r: r.uniform(0.2, 3, 3, 5)),
        "rsqrt": (torch.rsqrt, lambda r: r.uniform(0.2, 3, 3, 5)),
        "abs": (torch.abs, lambda r: r.away(3, 5)),
        "relu": (torch.relu, lambda r: r.away(3, 5)),
        "leaky_relu": (F.leaky_relu, lambda r: r.away(3, 5)),
        "leaky_relu_slope": (lambda x: F.leaky_relu(x, 0.2), lambda r: r.away(3, 5)),
        "sigmoid": (torch.sigmoid, lambda r: r.normal(3, 5, scale=2)),
        "tanh": (torch.tanh, lambda r: r.normal(3, 5, scale=2)),
        "gelu": (F.gelu, lambda r: r.normal(3, 5, scale=2)),
        "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda r: r.normal(3, 5, scale=2)),
        "silu": (F.silu, lambda r: r.normal(3, 5, scale=2)),
        "softplus": (F.softplus, lambda r: r.normal(3, 5, scale=2)),
        # Beyond PyTorch's threshold of 20, where softplus(x) = x, and deep in the left tail.
        "softplus_wide": (F.softplus, lambda r: r.uniform(-30, 30, 3, 5)),
        "erf": (torch.erf, lambda r: r.normal(3, 5)),
        "reciprocal": (torch.reciprocal, lambda r: r.away(3, 5, lo=0.3)),
        "square": (torch.square, lambda r: r.normal(3, 5)),
        "sin": (torch.sin, lambda r: r.normal(3, 5, scale=3)),
        "cos": (torch.cos, lambda r: r.normal(3, 5, scale=3)),
        "sign": (torch.sign, lambda r: r.away(3, 5)),
        "floor": (torch.floor, lambda r: r.avoiding(r.uniform(-3, 3, 3, 5), half_integers)),
        "ceil": (torch.ceil, lambda r: r.avoiding(r.uniform(-3, 3, 3, 5), half_integers)),
        "round": (torch.round, lambda r: r.avoiding(r.uniform(-3, 3, 3, 5), half_integers)),
        "pow_2": (lambda x: torch.pow(x, 2.0), lambda r: r.normal(3, 5)),
        "pow_3": (lambda x: torch.pow(x, 3.0), lambda r: r.normal(3, 5)),
        "pow_0_5": (lambda x: torch.pow(x, 0.5), lambda r: r.uniform(0.2, 3, 3, 5)),
        "pow_2_5": (lambda x: torch.pow(x, 2.5), lambda r: r.uniform(0.2, 3, 3, 5)),
        "pow_neg1_5": (lambda x: torch.pow(x, -1.5), lambda r: r.uniform(0.2, 3, 3, 5)),
        "clamp": (lambda x: torch.clamp(x, -0.5, 0.7), lambda r: r.avoiding(r.normal(3, 5), [-0.5, 0.7])),
        "clamp_lo": (lambda x: torch.clamp(x, min=-0.3), lambda r: r.avoiding(r.normal(3, 5), [-0.3])),
        "clamp_hi": (lambda x: torch.clamp(x, max=0.4), lambda r: r.avoiding(r.normal(3, 5), [0.4])),
        "add_scalar": (lambda x: x + 1.5, lambda r: r.normal(3, 5)),
        "sub_scalar": (lambda x: x - 0.75, lambda r: r.normal(3, 5)),
        "mul_scalar": (lambda x: x * -2.5, lambda r: r.normal(3, 5)),
        "div_scalar": (lambda x: x / 4.0, lambda r: r.normal(3, 5)),
        "rsub_scalar": (lambda x: 2.0 - x, lambda r: r.normal(3, 5)),
        # Far into the saturated tails, where a naive exp overflows.
        "sigmoid_wide": (torch.sigmoid, lambda r: r.uniform(-60, 60, 3, 5)),
        "tanh_wide": (torch.tanh, lambda r: r.uniform(-30, 30, 3, 5)),
        "silu_wide": (F.silu, lambda r: r.uniform(-60, 60, 3, 5)),
        "gelu_wide": (F.gelu, lambda r: r.uniform(-12, 12, 3, 5)),
    }
    for name, (fn, make) in unary.items():
        add_case(fam, name, fn, lambda r: [make(r)])
    # Non-contiguous inputs: the same op on a transposed, permuted or strided view.
    for name in ["neg", "exp", "sigmoid", "gelu", "abs", "clamp", "pow_2_5", "mul_scalar"]:
        fn, make = unary[name]
        add_case(fam, name + "_transposed", lambda x, fn=fn: fn(x.t()), lambda r: [make(r).t().contiguous()])
    add_case(fam, "tanh_permuted", lambda x: torch.tanh(x.permute(2, 0, 1)), lambda r: [r.normal(2, 3, 4)])
    add_case(fam, "sin_strided", lambda x: torch.sin(x[::2, 1::2]), lambda r: [r.normal(6, 5)])

    def pos(r, *s):
        return r.uniform(0.3, 2.5, *s)

    binary = {  # name: (torch fn, maker of the second operand)
        "add": (torch.add, lambda r, *s: r.normal(*s)),
        "sub": (torch.sub, lambda r, *s: r.normal(*s)),
        "mul": (torch.mul, lambda r, *s: r.normal(*s)),
        "div": (torch.div, lambda r, *s: r.away(*s, lo=0.4)),
        # Operands differ by at least 0.1 (second = first + offset) so no element ties.
        "maximum": (torch.maximum, None),
        "minimum": (torch.minimum, None),
        "pow": (torch.pow, lambda r, *s: r.uniform(-1.5, 2, *s)),
    }
    layouts = {  # suffix: (shape a, shape b, view of a applied inside the op)
        "": ((3, 4), (3, 4), None),
        "_bcast_row": ((2, 3, 4), (4,), None),
        "_bcast_both": ((3, 1), (1, 4), None),
        "_bcast_scalar": ((3, 4), (), None),
        "_bcast_lhs": ((4,), (2, 3, 4), None),
        "_transposed": ((4, 3), (3, 4), "t"),
    }
    for name, (fn, make_b) in binary.items():
        for suffix, (sa, sb, view) in layouts.items():
            case = name + suffix
            r = Rand(case)
            a = pos(r, *sa) if name == "pow" else r.normal(*sa)
            if make_b is None:  # maximum/minimum: a on odd tenths, b on even tenths, never tied
                a = (r.index(21, *sa) - 10) * 0.2 + 0.1
                b = (r.index(21, *sb) - 10) * 0.2
            else:
                b = make_b(r, *sb)
            if view:
                add_case(fam, case, lambda x, y, fn=fn: fn(x.t(), y), [a, b])
            else:
                add_case(fam, case, fn, [a, b])

    # Integer operands promote to float32 (as in PyTorch); only the float input gets a gradient.
    add_case(fam, "add_int64", torch.add, lambda r: [r.index(5, 3, 4) - 2, r.normal(3, 4)])
    add_case(fam, "mul_int64", torch.mul, lambda r: [r.normal(3, 4), r.index(5, 4) - 2])
    add_case(fam, "div_int64", torch.div, lambda r: [r.index(9, 3, 4) - 4, r.index(4, 3, 4) + 1])

    add_case(fam, "where", torch.where, lambda r: [r.mask(3, 4), r.normal(3, 4), r.normal(3, 4)])
    add_case(fam, "where_broadcast", torch.where, lambda r: [r.mask(3, 1), r.normal(1, 4), r.normal()])
    add_case(fam, "where_transposed", lambda c, a, b: torch.where(c, a.t(), b),
             lambda r: [r.mask(3, 4), r.normal(4, 3), r.normal(3, 4)])

    # Comparisons: forward only. Values on a 0.5 grid so equal pairs occur and are exact.
    compare = {"eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le, "gt": torch.gt, "ge": torch.ge}
    for name, fn in compare.items():
        add_case(fam, name, fn, lambda r: [r.index(5, 3, 4) * 0.5, r.index(5, 3, 4) * 0.5])
        add_case(fam, name + "_broadcast", fn, lambda r: [r.index(5, 3, 1) * 0.5, r.index(5, 4) * 0.5])
    for name in ["eq", "lt", "gt", "ge"]:
        add_case(fam, name + "_scalar", lambda x, fn=compare[name]: fn(x, 1.0), lambda r: [r.index(5, 3, 4) * 0.5])
    add_case(fam, "lt_transposed", lambda a, b: a.t() < b, lambda r: [r.index(5, 4, 3) * 0.5, r.index(5, 3, 4) * 0.5])
    add_case(fam, "logical_and", torch.logical_and, lambda r: [r.mask(3, 4), r.mask(3, 4)])
    add_case(fam, "logical_or", torch.logical_or, lambda r: [r.mask(3, 4), r.mask(4)])
    add_case(fam, "logical_not", torch.logical_not, lambda r: [r.mask(3, 4)])
    r = Rand("isnan")
    x = r.normal(3, 4)
    x[r.mask(3, 4)] = float("nan")
    add_case(fam, "isnan", torch.isnan, [x])

    # Nl::sum_to(x, [3, 1]): the reduction that undoes broadcasting.
    add_case(fam, "sum_to", lambda x: x.sum(0).sum(1, keepdim=True), lambda r: [r.normal(2, 3, 4)])
    # One input used twice: autograd must add both contributions.
    add_case(fam, "mul_self", lambda x: x * x, lambda r: [r.normal(3, 4)])
    add_case(fam, "add_self_transposed", lambda x: x + x.t(), lambda r: [r.normal(4, 4)])
    # PyTorch's conventions exactly at kinks and ties (the random cases above avoid them):
    # relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = slope, clamp passes the gradient at its
    # bounds, maximum/minimum split it evenly between equal operands.
    kinks = [0.0, -0.5, 0.7, 1.0, -1.0, 0.0]
    for name, fn, values in [("relu_at_zero", torch.relu, [0.0, 1.0, -1.0, 0.0]),
                             ("abs_at_zero", torch.abs, [0.0, 1.0, -1.0, 0.0]),
                             ("leaky_relu_at_zero", F.leaky_relu, [0.0, 1.0, -1.0, 0.0]),
                             ("sign_at_zero", torch.sign, [0.0, 1.0, -1.0, 0.0]),
                             ("clamp_at_bounds", lambda x: torch.clamp(x, -0.5, 0.7), kinks)]:
        add_case(fam, name, fn, [torch.tensor(values)])
    for name, fn in [("maximum_ties", torch.maximum), ("minimum_ties", torch.minimum)]:
        add_case(fam, name, fn, lambda r: [r.index(3, 3, 4) * 0.5, r.index(3, 3, 4) * 0.5])

    # In-place updates (no autograd): the result is the updated tensor.
    add_case(fam, "add_inplace", lambda s, o: s.clone().add_(o, alpha=0.5), lambda r: [r.normal(3, 4), r.normal(4)],
             grads=[False, False])
    add_case(fam, "add_inplace_transposed", lambda s, o: s.clone().t().add_(o),
             lambda r: [r.normal(4, 3), r.normal(3, 4)], grads=[False, False])
    add_case(fam, "mul_inplace_scalar", lambda s: s.clone().mul_(-1.5), lambda r: [r.normal(3, 4)], grads=[False])
    add_case(fam, "mul_inplace", lambda s, o: s.clone().mul_(o), lambda r: [r.normal(3, 4), r.normal(3, 1)],
             grads=[False, False])
    add_case(fam, "copy_inplace", lambda s, o: s.clone().copy_(o), lambda r: [r.normal(3, 4), r.normal(4)],
             grads=[False, False])
    add_case(fam, "fill_inplace", lambda s: s.clone().fill_(2.5), lambda r: [r.normal(3, 4)], grads=[False])
    add_case(fam, "zero_inplace", lambda s: s.clone().zero_(), lambda r: [r.normal(3, 4)], grads=[False])


# ---- Reductions ----------------------------------------------------------------------------

def reduce_cases():
    fam = "reduce"
    specs = [  # (suffix, dims or None for all, keepdim)
        ("all", None, False), ("d0", [0], False), ("d1_keepdim", [1], True), ("d02", [0, 2], False),
        ("d12_keepdim", [1, 2], True), ("neg1", [-1], False),
    ]
    ops = {
        "sum": (lambda x, d, k: x.sum() if d is None else x.sum(d, keepdim=k), "normal"),
        "mean": (lambda x, d, k: x.mean() if d is None else x.mean(d, keepdim=k), "normal"),
        "amax": (lambda x, d, k: torch.amax(x, () if d is None else d, keepdim=k), "distinct"),
        "amin": (lambda x, d, k: torch.amin(x, () if d is None else d, keepdim=k), "distinct"),
        "var": (lambda x, d, k: x.var() if d is None else x.var(d, keepdim=k), "normal"),
        "std": (lambda x, d, k: x.std() if d is None else x.std(d, keepdim=k), "normal"),
        "logsumexp": (lambda x, d, k: torch.logsumexp(x, [0, 1, 2] if d is None else d, keepdim=k), "normal"),
    }
    for op, (fn, kind) in ops.items():
        for suffix, dims, keep in specs:
            case = f"{op}_{suffix}"
            r = Rand(case)
            x = r.distinct(3, 4, 5) if kind == "distinct" else r.normal(3, 4, 5)
            add_case(fam, case, lambda x, fn=fn, dims=dims, keep=keep: fn(x, dims, keep), [x])
        case = f"{op}_transposed"
        r = Rand(case)
        x = r.distinct(5, 4) if kind == "distinct" else r.normal(5, 4)
        add_case(fam, case, lambda x, fn=fn: fn(x.t(), [1], False), [x])
        case = f"{op}_permuted"
        r = Rand(case)
        x = r.distinct(3, 4, 5) if kind == "distinct" else r.normal(3, 4, 5)
        add_case(fam, case, lambda x, fn=fn: fn(x.permute(2, 0, 1), [0, 2], True), [x])
    for corr in [0, 2]:
        add_case(fam, f"var_correction{corr}", lambda x, c=corr: torch.var(x, [1], correction=c), lambda r: [r.normal(3, 4, 5)])
        add_case(fam, f"std_correction{corr}", lambda x, c=corr: torch.std(x, [0, 2], correction=c, keepdim=True),
                 lambda r: [r.normal(3, 4, 5)])
    # Ties: amax/amin split the gradient evenly between equal extremes (as torch.amax).
    for op, fn in [("amax", torch.amax), ("amin", torch.amin)]:
        add_case(fam, op + "_ties", lambda x, fn=fn: fn(x, [1]), lambda r: [r.index(3, 3, 6).float()])
        add_case(fam, op + "_ties_all", lambda x, fn=fn: fn(x, ()), lambda r: [r.index(3, 3, 6).float()])
    # Exp would overflow without the max shift.
    add_case(fam, "logsumexp_large", lambda x: torch.logsumexp(x, [1]), lambda r: [r.normal(3, 4, scale=50) + 100])
    # Integer input promotes to float32.
    add_case(fam, "mean_int64", lambda x: x.float().mean([1]), lambda r: [r.index(10, 3, 4)])
    # Edge cases: a single element with correction 1 (nan, as PyTorch), empty reductions, -inf.
    add_case(fam, "var_single", lambda x: torch.var(x, [1]), lambda r: [r.normal(3, 1)])
    add_case(fam, "sum_empty", lambda x: x.sum([1]), lambda r: [r.normal(3, 0)])
    add_case(fam, "mean_empty", lambda x: x.mean([1]), lambda r: [r.normal(3, 0)])
    add_case(fam, "sum_int64", lambda x: x.sum([0]), lambda r: [r.index(10, 3, 4) - 5])  # stays int64
    # Ties: argmax/argmin return the first extreme index.
    add_case(fam, "argmax_ties", lambda x: torch.argmax(x, 1), lambda r: [r.index(3, 4, 6).float()])
    add_case(fam, "argmin_ties", lambda x: torch.argmin(x, 1), lambda r: [r.index(3, 4, 6).float()])
    add_case(fam, "logsumexp_masked", lambda x: torch.logsumexp(x, [1]), [torch.tensor(
        [[0.5, -float("inf"), 1.5, -0.25], [-float("inf")] * 4, [2.0, 1.0, -float("inf"), -float("inf")]])])
    for op, fn in [("argmax", torch.argmax), ("argmin", torch.argmin)]:
        for suffix, dim, keep in [("d0", 0, False), ("d1_keepdim", 1, True), ("neg1", -1, False)]:
            add_case(fam, f"{op}_{suffix}", lambda x, fn=fn, d=dim, k=keep: fn(x, d, k), lambda r: [r.distinct(3, 4, 5)])
        add_case(fam, op + "_transposed", lambda x, fn=fn: fn(x.t(), 1), lambda r: [r.distinct(5, 4)])


# ---- Matrix products -----------------------------------------------------------------------

def matmul_cases():
    fam = "matmul"
    shapes = {
        "dot": ((5,), (5,)), "vm": ((4,), (4, 3)), "mv": ((3, 4), (4,)), "mm": ((3, 4), (4, 5)),
        "bmm": ((2, 3, 4), (2, 4, 5)), "bcast_3d_2d": ((2, 3, 4), (4, 5)), "bcast_2d_3d": ((3, 4), (2, 4, 5)),
        "bcast_batch": ((2, 1, 3, 4), (3, 4, 5)), "batched_vec": ((2, 3, 4), (4,)),
        "vec_batched": ((4,), (2, 4, 5)), "bmm_1x1": ((2, 1, 4), (2, 4, 1)),
    }
    for name, (sa, sb) in shapes.items():
        add_case(fam, "matmul_" + name, torch.matmul, lambda r: [r.normal(*sa), r.normal(*sb)])
    add_case(fam, "matmul_transposed_a", lambda a, b: a.t() @ b, lambda r: [r.normal(4, 3), r.normal(4, 5)])
    add_case(fam, "matmul_transposed_b", lambda a, b: a @ b.t(), lambda r: [r.normal(3, 4), r.normal(5, 4)])
    add_case(fam, "matmul_transposed_both", lambda a, b: a.t() @ b.t(), lambda r: [r.normal(4, 3), r.normal(5, 4)])
    add_case(fam, "matmul_bmm_transposed", lambda a, b: a.transpose(1, 2) @ b,
             lambda r: [r.normal(2, 4, 3), r.normal(2, 4, 5)])
    # Rows with a step: neither contiguous nor a plain transpose.
    add_case(fam, "matmul_strided", lambda a, b: a[::2] @ b[:, 1:], lambda r: [r.normal(6, 4), r.normal(4, 6)])
    # A stride-0 batch dimension on the right operand.
    add_case(fam, "matmul_expanded", lambda a, b: a @ b.expand(3, 4, 2), lambda r: [r.normal(3, 2, 4), r.normal(1, 4, 2)])
    add_case(fam, "matmul_self_t", lambda x: x @ x.t(), lambda r: [r.normal(3, 4)])
    # Empty inner dimension: the product is all zeros.
    for name, sa, sb in [("empty_k", (2, 0), (0, 3)), ("bmm_empty_k", (2, 3, 0), (2, 0, 4)), ("dot_empty", (0,), (0,))]:
        add_case(fam, "matmul_" + name, torch.matmul, lambda r, sa=sa, sb=sb: [r.normal(*sa), r.normal(*sb)])
    add_case(fam, "linear", F.linear, lambda r: [r.normal(3, 4), r.normal(5, 4), r.normal(5)])
    add_case(fam, "linear_nobias", F.linear, lambda r: [r.normal(3, 4), r.normal(5, 4)])
    add_case(fam, "linear_3d", F.linear, lambda r: [r.normal(2, 3, 4), r.normal(5, 4), r.normal(5)])
    add_case(fam, "linear_1d", F.linear, lambda r: [r.normal(4), r.normal(5, 4), r.normal(5)])
    add_case(fam, "linear_transposed", lambda x, w, b: F.linear(x.t(), w, b),
             lambda r: [r.normal(4, 3), r.normal(5, 4), r.normal(5)])


# ---- Views and conversions -----------------------------------------------------------------

def views_cases():
    fam = "views"
    cases = {  # name: (fn, input shape)
        "reshape": (lambda x: x.reshape(2, 6), (3, 4)),
        "reshape_infer": (lambda x: x.reshape(-1, 4), (2, 3, 4)),
        "reshape_transposed": (lambda x: x.t().reshape(12), (3, 4)),  # needs a copy
        "view": (lambda x: x.view(6, 4), (2, 3, 4)),
        "view_transposed": (lambda x: x.transpose(0, 1).view(3, 2, 2, 2), (2, 3, 4)),  # splits a dim only
        "flatten": (lambda x: x.flatten(), (2, 3, 4)),
        "flatten_1_2": (lambda x: x.flatten(1, 2), (2, 3, 4, 2)),
        "flatten_transposed": (lambda x: x.transpose(0, 2).flatten(1), (2, 3, 4)),
        "transpose": (lambda x: x.transpose(0, 2), (2, 3, 4)),
        "t": (lambda x: x.t(), (3, 4)),
        "permute": (lambda x: x.permute(2, 0, 1), (2, 3, 4)),
        "narrow": (lambda x: x.narrow(1, 1, 2), (3, 4)),
        "narrow_neg_start": (lambda x: x.narrow(0, -2, 2), (4, 3)),
        "slice_step": (lambda x: x[:, 0:5:2], (3, 6)),
        "slice_neg": (lambda x: x[:, -5:-1:2], (3, 6)),
        "slice_transposed": (lambda x: x.t()[1::2], (3, 6)),
        "select": (lambda x: x.select(1, 2), (2, 3, 4)),
        "select_neg": (lambda x: x.select(0, -1), (3, 4)),
        "expand": (lambda x: x.expand(2, 3, 4), (3, 1)),
        "expand_keep": (lambda x: x.expand(2, -1, 4), (3, 1)),
        "squeeze": (lambda x: x.squeeze(), (1, 3, 1, 4)),
        "squeeze_dim": (lambda x: x.squeeze(2), (1, 3, 1, 4)),
        "unsqueeze": (lambda x: x.unsqueeze(1), (3, 4)),
        "unsqueeze_neg": (lambda x: x.unsqueeze(-1), (3, 4)),
        "contiguous_transposed": (lambda x: x.t().contiguous(), (3, 4)),
        "clone": (lambda x: x.clone(), (3, 4)),
        "to_float64_and_back": (lambda x: x.double().float(), (3, 4)),
        "chain": (lambda x: x.permute(1, 0, 2)[1:, :, ::2].reshape(-1).unsqueeze(0), (2, 3, 4)),
    }
    for name, (fn, shape) in cases.items():
        add_case(fam, name, fn, lambda r: [r.normal(*shape)])


# ---- cat, stack, split ---------------------------------------------------------------------

def movement_cases():
    fam = "movement"
    add_case(fam, "cat_d0", lambda *t: torch.cat(t, 0), lambda r: [r.normal(2, 3), r.normal(1, 3), r.normal(3, 3)])
    add_case(fam, "cat_d1", lambda *t: torch.cat(t, 1), lambda r: [r.normal(2, 3, 2), r.normal(2, 1, 2)])
    add_case(fam, "cat_neg1", lambda *t: torch.cat(t, -1), lambda r: [r.normal(2, 3), r.normal(2, 4)])
    add_case(fam, "cat_transposed", lambda a, b: torch.cat([a.t(), b], 0), lambda r: [r.normal(4, 3), r.normal(2, 4)])
    # Mixed dtypes promote; only the float input has a gradient.
    add_case(fam, "cat_int64_float", lambda a, b: torch.cat([a, b], 0), lambda r: [r.index(5, 2, 3), r.normal(1, 3)])
    add_case(fam, "cat_self", lambda x: torch.cat([x, x], 1), lambda r: [r.normal(2, 3)])
    add_case(fam, "cat_with_empty", lambda *t: torch.cat(t, 0), lambda r: [r.normal(2, 3), r.normal(0, 3), r.normal(1, 3)])
    add_case(fam, "stack_d0", lambda *t: torch.stack(t, 0), lambda r: [r.normal(3, 4), r.normal(3, 4), r.normal(3, 4)])
    add_case(fam, "stack_d1", lambda *t: torch.stack(t, 1), lambda r: [r.normal(3, 4), r.normal(3, 4)])
    add_case(fam, "stack_neg1", lambda *t: torch.stack(t, -1), lambda r: [r.normal(3, 4), r.normal(3, 4)])
    add_case(fam, "stack_transposed", lambda a, b: torch.stack([a.t(), b], 0), lambda r: [r.normal(4, 3), r.normal(3, 4)])
    add_case(fam, "split_sizes", lambda x: torch.split(x, [2, 3], 0), lambda r: [r.normal(5, 4)])
    add_case(fam, "split_int", lambda x: torch.split(x, 3, 0), lambda r: [r.normal(7, 3)])
    add_case(fam, "split_d1", lambda x: torch.split(x, [1, 2, 3], 1), lambda r: [r.normal(2, 6)])
    add_case(fam, "split_transposed", lambda x: torch.split(x.t(), 2, 1), lambda r: [r.normal(4, 3)])
    add_case(fam, "chunk", lambda x: torch.chunk(x, 3, 0), lambda r: [r.normal(6, 2)])
    add_case(fam, "chunk_uneven", lambda x: torch.chunk(x, 2, -1), lambda r: [r.normal(3, 5)])


# ---- Dropout (deterministic settings only) -------------------------------------------------

def random_cases():
    fam = "random"
    add_case(fam, "dropout_eval", lambda x: F.dropout(x, 0.5, training=False), lambda r: [r.normal(3, 4)])
    add_case(fam, "dropout_p0", lambda x: F.dropout(x, 0.0, training=True), lambda r: [r.normal(3, 4)])
    add_case(fam, "dropout_p1", lambda x: F.dropout(x, 1.0, training=True), lambda r: [r.normal(3, 4)])


# ---- Writing -------------------------------------------------------------------------------

DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.bool: "BOOL"}


def write_safetensors(path, tensors):
    fixture_writer.write_safetensors(path, tensors, {"generator": "tests/make_fixtures.py",
                                                     "torch": torch.__version__.split("+")[0]})


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for make in [elementwise_cases, reduce_cases, matmul_cases, views_cases, movement_cases, random_cases]:
        make()
    nn_cases(add_case)
    os.makedirs(DATA_DIR, exist_ok=True)
    total = 0
    for family in sorted(FAMILIES):
        flat = {f"{case}.{field}": t for case, entry in FAMILIES[family].items() for field, t in entry.items()}
        path = os.path.join(DATA_DIR, f"pytorch_{family}.safetensors")
        write_safetensors(path, flat)
        size = os.path.getsize(path)
        total += size
        print(f"{os.path.relpath(path)}: {len(FAMILIES[family])} cases, {len(flat)} tensors, {size} bytes")
    print(f"total {sum(len(c) for c in FAMILIES.values())} cases, {total} bytes")


if __name__ == "__main__":
    main()
