"""Network-layer cases for tests/make_fixtures.py: conv2d, pooling, batch/layer norm,
softmax, cross-entropy and indexing. Each function takes make_fixtures' add_case (so the
cases land in its family tables) and mirrors a table in tests/engine/test_pytorch_parity_nn.cpp.
"""
import torch
import torch.nn.functional as F


# ---- Convolution and pooling (NCHW) ---------------------------------------------------------

def conv_cases(add_case):
    fam = "conv"
    specs = {  # name: (x shape, weight shape, bias?, stride, padding, dilation, groups)
        "conv2d": ((2, 3, 6, 6), (4, 3, 3, 3), True, 1, 0, 1, 1),
        "conv2d_nobias": ((2, 3, 6, 6), (4, 3, 3, 3), False, 1, 0, 1, 1),
        "conv2d_stride2": ((2, 3, 7, 7), (4, 3, 3, 3), True, 2, 0, 1, 1),
        "conv2d_pad1": ((1, 3, 5, 5), (2, 3, 3, 3), True, 1, 1, 1, 1),
        "conv2d_stride2_pad1": ((2, 2, 6, 6), (3, 2, 3, 3), True, 2, 1, 1, 1),
        "conv2d_dilation2": ((1, 2, 7, 7), (3, 2, 3, 3), True, 1, 2, 2, 1),
        "conv2d_asymmetric": ((1, 2, 6, 7), (3, 2, 3, 2), True, (2, 1), (0, 1), (1, 2), 1),
        "conv2d_groups2": ((2, 4, 5, 5), (6, 2, 3, 3), True, 1, 1, 1, 2),
        "conv2d_depthwise": ((2, 3, 5, 5), (3, 1, 3, 3), True, 1, 1, 1, 3),
        "conv2d_depthwise_mult": ((1, 3, 5, 5), (6, 1, 3, 3), False, 2, 1, 1, 3),
        "conv2d_1x1": ((2, 4, 3, 3), (5, 4, 1, 1), True, 1, 0, 1, 1),
        "conv2d_rect": ((1, 2, 5, 8), (2, 2, 2, 3), True, (1, 2), (1, 0), 1, 1),
    }
    for name, (sx, sw, has_bias, stride, pad, dil, groups) in specs.items():
        add_case(fam, name, lambda x, w, b=None, s=stride, p=pad, d=dil, g=groups: F.conv2d(x, w, b, s, p, d, g),
                 lambda r, sx=sx, sw=sw, bias=has_bias: [r.normal(*sx), r.normal(*sw, scale=0.5)]
                 + ([r.normal(sw[0])] if bias else []))
    # Weight stored [kH, kW, C, O], viewed as OIHW.
    add_case(fam, "conv2d_weight_permuted", lambda x, w: F.conv2d(x, w.permute(3, 2, 0, 1)),
             lambda r: [r.normal(1, 3, 5, 5), r.normal(3, 3, 3, 4, scale=0.5)])
    # Input stored NHWC, viewed as NCHW.
    add_case(fam, "conv2d_permuted", lambda x, w, b: F.conv2d(x.permute(0, 3, 1, 2), w, b, 1, 1),
             lambda r: [r.normal(2, 5, 5, 3), r.normal(4, 3, 3, 3, scale=0.5), r.normal(4)])


def pool_cases(add_case):
    fam = "pool"
    specs = {  # name: (x shape, kernel, stride, padding, dilation (max only), ceil_mode, count_include_pad)
        "k2": ((2, 3, 6, 6), 2, 2, 0, 1, False, True),
        "k3s2": ((1, 2, 7, 7), 3, 2, 0, 1, False, True),
        "k3s1": ((1, 2, 5, 5), 3, 1, 0, 1, False, True),
        "pad1": ((1, 2, 6, 6), 3, 2, 1, 1, False, True),
        "pad1_nocount": ((1, 2, 6, 6), 3, 2, 1, 1, False, False),
        "ceil": ((1, 2, 5, 5), 2, 2, 0, 1, True, True),
        "ceil_pad_nocount": ((1, 2, 6, 6), 3, 2, 1, 1, True, False),
        "ceil_pad": ((1, 2, 6, 6), 3, 2, 1, 1, True, True),
        "rect": ((1, 2, 6, 7), (2, 3), (1, 2), (1, 1), 1, False, True),
        "dilation2": ((1, 2, 7, 7), 2, 1, 0, 2, False, True),
    }
    for name, (sx, k, s, p, d, ceil, count) in specs.items():
        if count:  # count_include_pad only concerns avg_pool2d
            add_case(fam, "max_pool2d_" + name, lambda x, k=k, s=s, p=p, d=d, c=ceil: F.max_pool2d(x, k, s, p, d, c),
                     lambda r, sx=sx: [r.distinct(*sx)])
        if d == 1:  # avg_pool2d has no dilation
            add_case(fam, "avg_pool2d_" + name, lambda x, k=k, s=s, p=p, c=ceil, n=count: F.avg_pool2d(x, k, s, p, c, n),
                     lambda r, sx=sx: [r.normal(*sx)])
    add_case(fam, "max_pool2d_permuted", lambda x: F.max_pool2d(x.permute(0, 3, 1, 2), 2, 2), lambda r: [r.distinct(2, 4, 4, 3)])
    # Ties inside a window: PyTorch routes the gradient to the first maximum in scan order.
    add_case(fam, "max_pool2d_ties", lambda x: F.max_pool2d(x, 2, 2), lambda r: [r.index(2, 1, 2, 4, 4).float()])
    add_case(fam, "avg_pool2d_permuted", lambda x: F.avg_pool2d(x.permute(0, 3, 1, 2), 2, 2), lambda r: [r.normal(2, 4, 4, 3)])


# ---- Normalisation, softmax, loss, indexing -------------------------------------------------

def norm_cases(add_case):
    fam = "norm"
    nograd = [True, True, True, False, False]  # running statistics are state, not inputs to differentiate

    def bn(training, momentum=0.1, eps=1e-5):
        # Returns the running statistics too, so the test checks their in-place update.
        def fn(x, w, b, rm, rv):
            return F.batch_norm(x, rm, rv, w, b, training, momentum, eps), rm, rv
        return fn

    def bn_inputs(r, sx):
        c = sx[1]
        return [r.normal(*sx, scale=2) + 1, r.uniform(0.5, 1.5, c), r.normal(c), r.normal(c), r.uniform(0.5, 2, c)]

    for name, sx, fn in [("batch_norm_train", (4, 3, 2, 2), bn(True)), ("batch_norm_train_2d", (5, 3), bn(True)),
                         ("batch_norm_train_3d", (3, 2, 4), bn(True)),
                         ("batch_norm_train_momentum", (4, 3, 2, 2), bn(True, 0.3, 1e-3)),
                         ("batch_norm_eval", (4, 3, 2, 2), bn(False)), ("batch_norm_eval_2d", (5, 3), bn(False))]:
        add_case(fam, name, fn, lambda r, sx=sx: bn_inputs(r, sx), grads=nograd)
    # NHWC storage viewed as NCHW.
    add_case(fam, "batch_norm_permuted", lambda x, w, b, rm, rv: bn(True)(x.permute(0, 3, 1, 2), w, b, rm, rv),
             lambda r: [r.normal(2, 3, 3, 4)] + bn_inputs(r, (2, 4))[1:], grads=nograd)
    add_case(fam, "batch_norm_train_noaffine", lambda x, rm, rv: (F.batch_norm(x, rm, rv, None, None, True), rm, rv),
             lambda r: [r.normal(4, 3, 2), r.normal(3), r.uniform(0.5, 2, 3)], grads=[True, False, False])
    add_case(fam, "batch_norm_eval_noaffine", lambda x, rm, rv: (F.batch_norm(x, rm, rv, None, None, False), rm, rv),
             lambda r: [r.normal(4, 3, 2), r.normal(3), r.uniform(0.5, 2, 3)], grads=[True, False, False])
    add_case(fam, "batch_norm_train_nostats", lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
             lambda r: [r.normal(4, 3, 2), r.uniform(0.5, 1.5, 3), r.normal(3)])

    add_case(fam, "layer_norm", lambda x, w, b: F.layer_norm(x, [4], w, b), lambda r: [r.normal(2, 3, 4), r.normal(4), r.normal(4)])
    add_case(fam, "layer_norm_2dims", lambda x, w, b: F.layer_norm(x, [3, 4], w, b),
             lambda r: [r.normal(2, 3, 4, scale=3) + 2, r.normal(3, 4), r.normal(3, 4)])
    add_case(fam, "layer_norm_noaffine", lambda x: F.layer_norm(x, [5]), lambda r: [r.normal(3, 5)])
    add_case(fam, "layer_norm_eps", lambda x, w, b: F.layer_norm(x, [4], w, b, eps=0.1),
             lambda r: [r.normal(3, 4, scale=0.3), r.normal(4), r.normal(4)])
    add_case(fam, "layer_norm_transposed", lambda x, w, b: F.layer_norm(x.t(), [3], w, b),
             lambda r: [r.normal(3, 4), r.normal(3), r.normal(3)])
    # Rows with zero variance: the output is the bias; the gradient leans on eps.
    add_case(fam, "layer_norm_constant_rows", lambda x, w, b: F.layer_norm(x, [4], w, b),
             lambda r: [r.normal(3, 1).expand(3, 4).contiguous(), r.normal(4), r.normal(4)])


def softmax_cases(add_case):
    fam = "softmax"
    for op, fn in [("softmax", F.softmax), ("log_softmax", F.log_softmax)]:
        for dim in [0, 1, 2, -1]:
            name = f"{op}_d{dim}" if dim >= 0 else f"{op}_neg1"
            add_case(fam, name, lambda x, fn=fn, d=dim: fn(x, d), lambda r: [r.normal(2, 3, 4, scale=2)])
        # Exp would overflow without the max shift.
        add_case(fam, op + "_large", lambda x, fn=fn: fn(x, 1), lambda r: [r.normal(3, 4, scale=30) + 80])
        add_case(fam, op + "_size1", lambda x, fn=fn: fn(x, 1), lambda r: [r.normal(3, 1)])
        add_case(fam, op + "_1d", lambda x, fn=fn: fn(x, 0), lambda r: [r.normal(6)])
        add_case(fam, op + "_transposed", lambda x, fn=fn: fn(x.t(), 1), lambda r: [r.normal(5, 3)])
        # Masked entries (-inf, as in attention), never a whole row.
        add_case(fam, op + "_masked", lambda x, fn=fn: fn(x, 1), [torch.tensor(
            [[0.5, -float("inf"), 1.5, -0.25], [-float("inf"), 2.0, 0.0, -float("inf")]])])


def loss_cases(add_case):
    fam = "loss"

    def ce(reduction="mean", ignore_index=-100, smoothing=0.0):
        return lambda x, t: F.cross_entropy(x, t, reduction=reduction, ignore_index=ignore_index,
                                            label_smoothing=smoothing)

    specs = {  # name: (logits shape, fn, indices set to the ignore index)
        "cross_entropy": ((4, 5), ce(), None),
        "cross_entropy_sum": ((4, 5), ce("sum"), None),
        "cross_entropy_none": ((4, 5), ce("none"), None),
        "cross_entropy_ignore": ((5, 4), ce(), -100),
        "cross_entropy_ignore_sum": ((5, 4), ce("sum"), -100),
        "cross_entropy_ignore_none": ((5, 4), ce("none"), -100),
        "cross_entropy_ignore_class": ((5, 4), ce(ignore_index=2), 2),
        "cross_entropy_smoothing": ((4, 5), ce(smoothing=0.1), None),
        "cross_entropy_smoothing_sum": ((4, 5), ce("sum", smoothing=0.2), None),
        "cross_entropy_smoothing_none": ((4, 5), ce("none", smoothing=0.1), None),
        "cross_entropy_smoothing_ignore": ((5, 4), ce(smoothing=0.1), -100),
        "cross_entropy_nd": ((2, 4, 3), ce(), None),
        "cross_entropy_nd_none": ((2, 4, 3), ce("none"), None),
        "cross_entropy_nd2": ((2, 3, 2, 2), ce(), None),
        "cross_entropy_nd_ignore_smoothing": ((2, 4, 3), ce(ignore_index=1, smoothing=0.1), 1),
    }
    def logits_and_targets(r, shape, ignore):
        x = r.normal(*shape, scale=2)
        t = r.index(shape[1], shape[0], *shape[2:])
        if ignore is not None:  # two targets ignored (the first and the third)
            t.view(-1)[[0, 2]] = ignore
        return [x, t]

    for name, (shape, fn, ignore) in specs.items():
        add_case(fam, name, fn, lambda r, shape=shape, ignore=ignore: logits_and_targets(r, shape, ignore))
    add_case(fam, "cross_entropy_transposed", lambda x, t: F.cross_entropy(x.t(), t), lambda r: [r.normal(5, 3), r.index(5, 3)])
    add_case(fam, "cross_entropy_smoothing_ignore_none", ce("none", smoothing=0.1),
             lambda r: [r.normal(3, 4), torch.tensor([1, -100, 3])])
    # Every target ignored: PyTorch's mean is 0/0 = nan, and the gradient is zero.
    add_case(fam, "cross_entropy_all_ignored", ce(), lambda r: [r.normal(3, 4), torch.tensor([-100, -100, -100])])


def indexing_cases(add_case):
    fam = "indexing"
    # Repeated indices: their gradients accumulate into one row.
    add_case(fam, "embedding", lambda w, i: F.embedding(i, w), lambda r: [r.normal(6, 3), torch.tensor([1, 4, 1, 0])])
    add_case(fam, "embedding_2d", lambda w, i: F.embedding(i, w), lambda r: [r.normal(5, 4), r.index(5, 2, 3)])
    add_case(fam, "embedding_transposed", lambda w, i: F.embedding(i, w.t()), lambda r: [r.normal(3, 6), r.index(6, 5)])
    for name, dim, sidx in [("gather_d0", 0, (2, 3, 4)), ("gather_d1", 1, (2, 5, 4)), ("gather_d2", 2, (2, 3, 2)),
                            ("gather_neg1", -1, (2, 3, 6)), ("gather_small", 1, (1, 2, 3))]:
        add_case(fam, name, lambda x, i, d=dim: torch.gather(x, d, i),
                 lambda r, d=dim, sidx=sidx: [r.normal(3, 4, 5), r.index((3, 4, 5)[d], *sidx)])
    add_case(fam, "gather_transposed", lambda x, i: torch.gather(x.t(), 1, i), lambda r: [r.normal(5, 3), r.index(5, 3, 4)])
    for name, dim, idx in [("index_select_d0", 0, [2, 0]), ("index_select_d1", 1, [3, 1, 1, 0, 3]),
                           ("index_select_neg1", -1, [4, 2])]:
        add_case(fam, name, lambda x, i, d=dim: torch.index_select(x, d, i), lambda r: [r.normal(3, 4, 5), torch.tensor(idx)])
    add_case(fam, "index_select_transposed", lambda x, i: torch.index_select(x.t(), 0, i),
             lambda r: [r.normal(3, 4), torch.tensor([3, 0, 3])])
    add_case(fam, "index_select_empty", lambda x, i: torch.index_select(x, 1, i),
             lambda r: [r.normal(3, 4), torch.zeros(0, dtype=torch.int64)])


def nn_cases(add_case):
    for make in [conv_cases, pool_cases, norm_cases, softmax_cases, loss_cases, indexing_cases]:
        make(add_case)
