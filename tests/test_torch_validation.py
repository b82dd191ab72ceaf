"""statespace.torch: reduced precision, empty inputs, argument validation, stale step state.

Oracles: the same module in float32 (float16/bfloat16 modules hold parameter values that
float32 represents exactly, and compute the SSM part in float32 or float64), the
convolution (forward) against the recurrence (step), and the definition of an empty
result (the shapes and dtypes a non-empty input would give, with no entries).
"""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from util import relative_error  # noqa: E402

from statespace.torch import (  # noqa: E402
    S4Block,
    S4Kernel,
    S4Layer,
    S4Model,
    param_groups,
)

# small tensors: one intra-op thread avoids OpenMP contention on shared CPUs
pytestmark = pytest.mark.usefixtures("torch_one_thread")


F16, BF16, F32, F64 = torch.float16, torch.bfloat16, torch.float32, torch.float64
HALF = [F16, BF16]
HALF_IDS = ["f16", "bf16"]
MODES = [("s4", None), ("s4d", "zoh"), ("s4d", "dss")]
MODE_IDS = ["s4", "s4d-zoh", "s4d-dss"]
# float32 step (recurrence) vs convolution, relative to max|y| (test_torch_modules.py)
STEP_TOL_F32 = 1e-5


def rel(a, b):
    """Max-norm relative error of two tensors of any floating dtype (bfloat16 too)."""
    return relative_error(a.detach().double(), b.detach().double())


def run_steps(mod, x, state=None):
    """Step ``mod`` over x (batch, L, d) from ``state``; outputs stacked on axis 1."""
    mod.setup_step()
    s = mod.default_state(x.shape[0]) if state is None else state
    ys = []
    for t in range(x.shape[1]):
        y, s = mod.step(x[:, t], s)
        ys.append(y)
    return torch.stack(ys, 1), s


# ------------------------------------------------------------------------------------
# float16 / bfloat16
# ------------------------------------------------------------------------------------
def _make(kind, mode, disc):
    if kind == "layer":
        return S4Layer(4, 8, mode, disc=disc, activation=None, l_max=32)
    if kind == "block":
        return S4Block(4, 8, mode, disc=disc, l_max=32)
    return S4Model(4, 3, d_model=8, n_layers=2, d_state=8, mode=mode, disc=disc, pool=None,
                   l_max=32)


# Bounds on max|y_half - y_32| / max|y_32| in units of the half dtype's eps, where y_32
# is the same module converted to float32 (the same parameter values).
# * layer (no activation): both compute the same float32/float64 values from the same
#   numbers; the half module rounds them once to nearest: |fl(y) - y| <= eps/2 |y|.
# * block: the half module also rounds the LayerNorm output, the layer's input to the
#   GELU and its output, the Linear and GLU outputs and the residual sum (each <= eps/2
#   of the value rounded) and propagates earlier roundings through gains of order one
#   at initialisation: a few eps (measured <= 0.6 eps).
# * model (encoder, two blocks, norm, decoder): twice the block's roundings plus four
#   more (measured <= 1.7 eps).
HALF_BOUND = {"layer": 0.5, "block": 4.0, "model": 8.0}


@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
@pytest.mark.parametrize("mode,disc", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("kind", ["layer", "block", "model"])
def test_half_modules_track_float32(kind, mode, disc, dtype):
    torch.manual_seed(20)
    mod = _make(kind, mode, disc).to(dtype).eval()
    ref = copy.deepcopy(mod).float()
    eps = torch.finfo(dtype).eps
    bound = HALF_BOUND[kind] * eps
    x = torch.randn(2, 32, 4).to(dtype)
    with torch.no_grad():
        y, y32 = mod(x), ref(x.float())
        ys, s = run_steps(mod, x)
        ys32, s32 = run_steps(ref, x.float())
    assert y.dtype == dtype and ys.dtype == dtype
    states = s if isinstance(s, list) else [s]
    assert all(t.dtype == torch.complex64 for t in states)
    assert rel(y, y32) <= bound
    assert rel(ys, ys32) <= bound
    # step vs forward: float32's agreement, then each side within the bound of float32
    assert rel(ys, y) <= STEP_TOL_F32 + 2 * bound
    if kind == "layer":  # the states are computed in float32 either way
        torch.testing.assert_close(s, s32, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
@pytest.mark.parametrize("mode,disc", [("s4", None), ("s4d", "zoh")], ids=["s4", "s4d"])
def test_half_layer_chunked_state_and_lengths(mode, disc, dtype):
    """forward(x, state) and lengths in half precision: the float32 layer's values, rounded."""
    torch.manual_seed(21)
    layer = S4Layer(3, 8, mode, disc=disc, activation=None, l_max=16).to(dtype)
    ref = copy.deepcopy(layer).float()
    x = torch.randn(2, 20, 3).to(dtype)
    s0 = layer.default_state(2) + 0.5
    lengths = torch.tensor([20, 7])
    y, s = layer(x, s0, lengths=lengths)
    y32, s32 = ref(x.float(), s0, lengths=lengths)
    assert y.dtype == dtype and s.dtype == torch.complex64
    assert rel(y, y32) <= 0.5 * torch.finfo(dtype).eps  # one rounding (see HALF_BOUND)
    torch.testing.assert_close(s, s32, rtol=0, atol=0)
    assert bool((y[1, 7:] == 0).all())


@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
@pytest.mark.parametrize("mode", ["s4", "s4d"])
def test_half_model_gradients(mode, dtype):
    """Training a half model: gradients in the parameters' dtype, close to float32's.

    Bound 16 eps relative to each parameter's largest gradient: the backward pass
    rounds the forward activations and every intermediate gradient of the half
    layers (norms, projections, gates), and the reductions over the batch and the
    sequence cancel (measured <= 5 eps).
    """
    torch.manual_seed(22)
    m = S4Model(3, 2, d_model=8, n_layers=2, d_state=8, mode=mode, pool="mean").to(dtype)
    ref = copy.deepcopy(m).float()
    x = torch.randn(4, 24, 3)
    m(x.to(dtype)).float().square().sum().backward()
    ref(x).square().sum().backward()
    eps = torch.finfo(dtype).eps
    for (name, p), q in zip(m.named_parameters(), ref.parameters(), strict=True):
        assert p.grad is not None and p.grad.dtype == dtype, name
        assert rel(p.grad, q.grad) <= 16 * eps, name
    # (SGD: Adam's default eps = 1e-8 rounds to zero in float16; see docs/torch.md)
    torch.optim.SGD(param_groups(m, lr=1e-2)).step()
    assert all(bool(torch.isfinite(p).all()) for p in m.parameters())


@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
@pytest.mark.parametrize("mode,disc", MODES, ids=MODE_IDS)
def test_half_kernel(mode, disc, dtype):
    torch.manual_seed(23)
    k = S4Kernel(3, 8, mode, disc=disc, l_max=16).to(dtype)
    k64 = copy.deepcopy(k).double()
    K = k(16)
    assert K.dtype == dtype
    # computed in float64 (kernel_dtype) from the same numbers, rounded once
    assert rel(K, k64(16)) <= 0.5 * torch.finfo(dtype).eps
    for kd in (None, F32):  # float32 arithmetic for half parameters
        kk = S4Kernel(3, 8, mode, disc=disc, l_max=16, kernel_dtype=kd, dtype=dtype)
        kk.load_state_dict(k.state_dict())
        assert kk(16).dtype == dtype
        assert rel(kk(16), k64(16)) <= 0.5 * torch.finfo(dtype).eps + 1e-5
    assert k.default_state(2).dtype == torch.complex64
    assert k.Lambda().dtype == torch.complex64 and k.dt().dtype == F32
    s = k.default_state(1) + 1
    assert k.state_output(s, 5).dtype == dtype
    k.setup_step()
    y, s1 = k.step(torch.ones(1, 3, dtype=dtype), s)
    assert y.dtype == dtype and s1.dtype == torch.complex64


@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
def test_autocast(dtype):
    """Float32 modules under torch.autocast take the autocast dtype's activations.

    The encoder and projections return ``dtype`` and the SSM part runs in float32;
    bound as for the half model (HALF_BOUND), in forward and step mode.
    """
    torch.manual_seed(29)
    m = S4Model(3, 2, d_model=8, n_layers=2, d_state=8, mode="s4d", pool=None).eval()
    x = torch.randn(2, 16, 3)
    with torch.no_grad():
        y32 = m(x)
        with torch.autocast("cpu", dtype=dtype):
            y = m(x)
            ys, _ = run_steps(m, x)
            h = torch.randn(2, 16, 8, dtype=dtype)
            assert m.blocks[0].layer(h).dtype == F32  # the parameters' dtype
    assert y.dtype == dtype and ys.dtype == dtype
    eps = torch.finfo(dtype).eps
    assert rel(y, y32) <= HALF_BOUND["model"] * eps
    assert rel(ys, y32) <= STEP_TOL_F32 + HALF_BOUND["model"] * eps
    with torch.autocast("cpu", dtype=dtype):
        m(x).float().square().sum().backward()
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all())
               for p in m.parameters())
    with pytest.raises(TypeError, match="dtype"):  # outside autocast: refused
        m.blocks[0].layer(h)


def test_float16_overflow_raises():
    layer = S4Layer(2, 4, "s4d", activation=None).half()
    with torch.no_grad():
        layer.D.fill_(1000.0)
    x = torch.full((1, 5, 2), 100.0, dtype=F16)  # D x = 1e5 > 65504
    with pytest.raises(ValueError, match="overflows float16"):
        layer(x)
    layer.setup_step()
    with pytest.raises(ValueError, match="overflows float16"):
        layer.step(x[:, 0], layer.default_state(1))
    # bfloat16 has float32's range
    lb = copy.deepcopy(layer).bfloat16()
    assert bool(torch.isfinite(lb(x.bfloat16())).all())


def test_unsupported_conversion_refused():
    torch.manual_seed(24)
    m = S4Model(2, 2, d_model=4, n_layers=1, d_state=4, mode="s4d", pool=None)
    x = torch.randn(1, 5, 2)
    y = m(x)
    with pytest.warns(UserWarning, match="[Cc]omplex"), \
            pytest.raises(TypeError, match="complex64"):
        m.to(torch.complex64)
    with pytest.raises(TypeError, match="float8"):
        m.to(torch.float8_e4m3fn)
    # refused before any parameter was converted
    assert all(p.dtype == F32 for p in m.parameters())
    torch.testing.assert_close(m(x), y)
    with pytest.raises(TypeError, match="dtype"):
        S4Kernel(2, 4, "s4d", dtype=torch.complex64)
    with pytest.raises(TypeError, match="kernel_dtype"):
        S4Kernel(2, 4, "s4d", kernel_dtype=F16)
    assert S4Layer(2, 4, "s4d", dtype=F16)(torch.randn(1, 3, 2, dtype=F16)).dtype == F16


# ------------------------------------------------------------------------------------
# empty batches and zero-length sequences
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [F32, F64, BF16], ids=["f32", "f64", "bf16"])
@pytest.mark.parametrize("mode,disc", MODES, ids=MODE_IDS)
def test_empty_inputs_give_empty_outputs(mode, disc, dtype):
    torch.manual_seed(25)
    cdt = torch.complex128 if dtype == F64 else torch.complex64
    for B, L in ((0, 6), (2, 0), (0, 0)):
        layer = S4Layer(3, 4, mode, disc=disc).to(dtype)
        x = torch.randn(B, L, 3).to(dtype)
        y = layer(x)
        assert y.shape == (B, L, 3) and y.dtype == dtype
        assert layer.kernel.l_kernel is None  # an empty input fixes no kernel length
        s0 = layer.default_state(B) + 1
        y, s = layer(x, s0, lengths=torch.zeros(B, dtype=torch.long))
        assert y.shape == (B, L, 3) and s.shape == (B, 3, 2) and s.dtype == cdt
        torch.testing.assert_close(s, s0, rtol=0, atol=0)  # no step: the state as given
        assert S4Layer(3, 4, mode, disc=disc, transposed=True).to(dtype)(
            x.transpose(1, 2)).shape == (B, 3, L)
        assert S4Layer(3, 4, mode, disc=disc, bidirectional=True).to(dtype)(x).shape \
            == (B, L, 3)
        blk = S4Block(3, 4, mode, disc=disc).to(dtype)
        y, s = blk(x, blk.default_state(B))
        assert y.shape == (B, L, 3) and y.dtype == dtype and s.shape == (B, 3, 2)
        m = S4Model(3, 2, d_model=4, n_layers=2, d_state=4, mode=mode, disc=disc,
                    pool=None).to(dtype)
        y, ss_ = m(x, m.default_state(B))
        assert y.shape == (B, L, 2) and y.dtype == dtype and len(ss_) == 2
        if B == 0:  # pooling an empty batch gives no rows
            pooled = S4Model(3, 2, d_model=4, n_layers=1, d_state=4, mode=mode,
                             disc=disc).to(dtype)
            assert pooled(x).shape == (0, 2)
    # an empty output still belongs to the graph (a loss over an empty batch backpropagates)
    layer = S4Layer(3, 4, mode, disc=disc).to(dtype)
    layer(torch.randn(0, 6, 3).to(dtype)).sum().backward()
    assert layer.D.grad is not None and bool((layer.D.grad == 0).all())


@pytest.mark.parametrize("mode,disc", MODES, ids=MODE_IDS)
def test_step_with_empty_batch(mode, disc):
    torch.manual_seed(26)
    m = S4Model(3, 2, d_model=4, n_layers=2, d_state=4, mode=mode, disc=disc, pool=None,
                l_max=8).eval()
    m.setup_step()
    y, s = m.step(torch.randn(0, 3), m.default_state(0))
    assert y.shape == (0, 2) and [t.shape for t in s] == [(0, 4, 2)] * 2
    k = m.blocks[0].layer.kernel
    y, s = k.step(torch.randn(0, 4), k.default_state(0))
    assert y.shape == (0, 4) and s.shape == (0, 4, 2)


def test_empty_kernel_and_state_output():
    k = S4Kernel(3, 4, "s4")
    assert k(0).shape == (1, 3, 0)
    assert k.l_kernel is None  # L = 0 fixes no kernel length
    assert k.state_output(k.default_state(2), 0).shape == (2, 3, 0)
    k(5)
    assert k.l_kernel == 5
    assert k.state_output(k.default_state(0), 5).shape == (0, 3, 5)
    u = torch.randn(2, 3, 0)
    s = k.default_state(2) + 1
    torch.testing.assert_close(k.forward_state(u, s), s, rtol=0, atol=0)


def test_pooling_needs_nonempty_sequences():
    m = S4Model(2, 3, d_model=4, n_layers=1, d_state=4, mode="s4d", pool="last")
    with pytest.raises(ValueError, match="length >= 1"):
        m(torch.randn(2, 0, 2))
    x = torch.randn(2, 5, 2)
    for pool in ("mean", "last"):
        m.pool = pool
        with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\]"):
            m(x, lengths=torch.tensor([5, 0]))



def test_model_without_blocks_still_validates():
    # n_layers=0: no block checks x or the block options, the model does
    with pytest.raises(TypeError, match="pool must be None or a string"):
        S4Model(1, 1, d_model=2, n_layers=0, pool=["mean"])
    with pytest.raises(ValueError, match="norm"):
        S4Model(1, 1, d_model=2, n_layers=0, d_state=4, norm="batch")
    with pytest.raises(ValueError, match="d_state"):
        S4Model(1, 1, d_model=2, n_layers=0, d_state=3)
    m = S4Model(1, 3, d_model=2, n_layers=0, d_state=4, dtype=torch.float64)
    x = torch.randn(1, 5, 1, dtype=torch.float64)
    x[0, 4, 0] = float("nan")
    with pytest.raises(ValueError, match="x contains NaN"):
        m(x)
    # the padding past `lengths` may hold anything, as everywhere
    y = m(x, lengths=torch.tensor([3]))
    assert bool(torch.isfinite(y).all())

# ------------------------------------------------------------------------------------
# states
# ------------------------------------------------------------------------------------
def test_model_state_list_validation():
    m = S4Model(3, 2, d_model=4, n_layers=2, d_state=4, mode="s4d", pool=None).eval()
    m.setup_step()
    x, xt = torch.randn(2, 5, 3), torch.randn(2, 3)
    good = m.default_state(2)
    for call in (lambda s: m(x, s), lambda s: m.step(xt, s)):
        with pytest.raises(ValueError, match=r"one state per block \(2.*got 1"):
            call(good[:1])
        with pytest.raises(ValueError, match=r"one state per block \(2.*got 3"):
            call(good + good[:1])
        with pytest.raises(TypeError, match="state must be a list"):
            call(good[0])
        with pytest.raises(ValueError, match=r"state\[1\] must have shape \(2, 4, 2\)"):
            call([good[0], torch.zeros(2, 4, 3, dtype=torch.complex64)])
        with pytest.raises(ValueError, match=r"state\[1\] must have shape \(2, 4, 2\)"):
            call([good[0], m.default_state(3)[1]])  # wrong batch
        with pytest.raises(TypeError, match=r"state\[0\] must have dtype torch.complex64"):
            call([good[0].to(torch.complex128), good[1]])
        with pytest.raises(TypeError, match=r"state\[0\] must be a torch.Tensor"):
            call([None, good[1]])
    y, s = m.step(xt, tuple(good))  # a tuple is fine
    assert y.shape == (2, 2) and len(s) == 2


def test_layer_state_validation():
    layer = S4Layer(3, 4, "s4d")
    x = torch.randn(2, 5, 3)
    with pytest.raises(TypeError, match="complex64"):
        layer(x, layer.default_state(2).real.contiguous())
    with pytest.raises(TypeError, match="complex64"):
        layer(x, layer.default_state(2).to(torch.complex128))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 2\)"):
        layer(x, layer.default_state(1))
    layer.setup_step()
    with pytest.raises(ValueError, match=r"shape \(2, 3, 2\)"):
        layer.step(x[:, 0], layer.default_state(1))  # no silent broadcasting
    with pytest.raises(ValueError, match=r"shape \(2, 3, 2\)"):
        layer.kernel.step(x[:, 0], layer.default_state(3))
    with pytest.raises(ValueError, match="on meta"):
        layer(x, layer.default_state(2).to("meta"))
    with pytest.raises(ValueError, match="on meta"):
        layer(x.to("meta"))
    with pytest.raises(ValueError, match="no recurrent state"):
        S4Layer(3, 4, "s4d", bidirectional=True)(x, layer.default_state(2))
    with pytest.raises(ValueError, match="batch_shape"):
        layer.default_state(-1)
    with pytest.raises(TypeError, match="batch_shape"):
        layer.default_state(2.0)


def test_step_cache_goes_stale():
    torch.manual_seed(27)
    m = S4Model(2, 2, d_model=4, n_layers=1, d_state=4, mode="s4", pool=None, l_max=8).eval()
    x, s = torch.randn(1, 2), m.default_state(1)
    m.setup_step()
    m.step(x, s)
    # an optimizer step changes the parameters in place
    loss = m(torch.randn(1, 8, 2)).square().sum()
    loss.backward()
    torch.optim.SGD(m.parameters(), lr=0.1).step()
    with pytest.raises(RuntimeError, match="changed since setup_step"):
        m.step(x, s)
    m.setup_step()
    m.step(x, s)
    # load_state_dict copies into the parameters in place
    m.load_state_dict(copy.deepcopy(m).state_dict())
    with pytest.raises(RuntimeError, match="setup_step"):
        m.step(x, s)
    m.setup_step()
    with torch.no_grad():  # an in-place write
        m.blocks[0].layer.kernel.log_dt.add_(0.1)
    with pytest.raises(RuntimeError, match="changed since setup_step"):
        m.step(x, s)
    m.setup_step()
    sd = copy.deepcopy(m.state_dict())  # new parameter tensors, the extra state left out
    del sd["blocks.0.layer.kernel._extra_state"]
    m.load_state_dict(sd, strict=False, assign=True)
    with pytest.raises(RuntimeError, match="changed since setup_step"):
        m.step(x, s)
    m.setup_step()
    m.to("cpu")  # no change: the step system stays valid
    m.step(x, s)
    m.double()
    with pytest.raises(RuntimeError, match="setup_step"):
        m.step(x.double(), m.default_state(1))
    m.setup_step()
    y, _ = m.step(x.double(), m.default_state(1))
    assert y.dtype == F64
    # a failed setup_step leaves no system of an earlier rate behind
    k = S4Kernel(2, 8, "s4", l_max=16)
    k.setup_step(rate=2.0)
    with pytest.raises(ValueError, match="rate"):
        k.setup_step(rate=1e-300)  # dt / rate overflows the float32 step system
    with pytest.raises(RuntimeError, match="setup_step"):
        k.step(torch.ones(1, 2), k.default_state(1))
    # modules made under inference_mode (tensors without version counters) step too
    with torch.inference_mode():
        k = S4Kernel(2, 8, "s4d")
        k.setup_step()
        assert k.step(torch.ones(1, 2), k.default_state(1))[0].shape == (1, 2)


def test_extra_state_validation():
    layer = S4Layer(2, 4, "s4", l_max=8)
    sd = layer.state_dict()
    for bad, err in ((0, ValueError), ("8", TypeError), (None, None)):
        sd["kernel._extra_state"] = {"l_kernel": bad}
        if err is None:
            layer.load_state_dict(sd)
            assert layer.kernel.l_kernel is None
        else:
            with pytest.raises(err, match="l_kernel"):
                layer.load_state_dict(sd)
    sd["kernel._extra_state"] = {}
    with pytest.raises(ValueError, match="l_kernel"):
        layer.load_state_dict(sd)


# ------------------------------------------------------------------------------------
# lengths
# ------------------------------------------------------------------------------------
def test_lengths_validation():
    torch.manual_seed(28)
    layer = S4Layer(3, 4, "s4d", dtype=F64)
    x = torch.randn(2, 6, 3, dtype=F64)
    for bad, err, msg in (
        (torch.tensor([3.0, 2.0]), TypeError, "integers"),
        (torch.tensor([True, False]), TypeError, "integers"),
        ([3, 2.5], TypeError, "integers"),
        ("ab", TypeError, "lengths"),
        (torch.tensor([3]), ValueError, r"shape \(2,\)"),
        (torch.tensor([[3, 2]]), ValueError, r"shape \(2,\)"),
        (torch.tensor(3), ValueError, r"shape \(2,\)"),
        (torch.tensor([3, -1]), ValueError, r"\[0, 6\]"),
        (torch.tensor([7, 1]), ValueError, r"\[0, 6\]"),
    ):
        with pytest.raises(err, match=msg):
            layer(x, lengths=bad)
    # a list of ints, a zero length: its outputs are zero and its state is unchanged
    s0 = layer.default_state(2) + 1
    y, s = layer(x, s0, lengths=[6, 0])
    assert bool((y[1] == 0).all())
    torch.testing.assert_close(s[1], s0[1], rtol=0, atol=0)
    y0, s1 = layer(x[:1], s0[:1])
    torch.testing.assert_close(y[:1], y0)
    torch.testing.assert_close(s[:1], s1)
    # an empty batch takes an empty lengths tensor
    assert layer(x[:0], lengths=torch.zeros(0, dtype=torch.long)).shape == (0, 6, 3)


# ------------------------------------------------------------------------------------
# param_groups and constructors
# ------------------------------------------------------------------------------------
def test_param_groups_validation():
    import numpy as np

    m = S4Model(2, 3, d_model=4, n_layers=1, d_state=4, mode="s4d")
    nan, inf = float("nan"), float("inf")
    for kwargs, err in (
        ({"lr": nan}, ValueError), ({"lr": inf}, ValueError), ({"lr": 0.0}, ValueError),
        ({"lr": -1e-3}, ValueError), ({"lr": True}, TypeError), ({"lr": "0.1"}, TypeError),
        ({"lr": None}, TypeError),
        ({"lr": 1e-2, "ssm_lr": nan}, ValueError), ({"lr": 1e-2, "ssm_lr": -1.0}, ValueError),
        ({"lr": 1e-2, "ssm_lr": inf}, ValueError), ({"lr": 1e-2, "ssm_lr": True}, TypeError),
        ({"lr": 1e-2, "weight_decay": nan}, ValueError),
        ({"lr": 1e-2, "weight_decay": -0.1}, ValueError),
        ({"lr": 1e-2, "weight_decay": inf}, ValueError),
        ({"lr": 1e-2, "weight_decay": False}, TypeError),
    ):
        name = [k for k in kwargs if k != "lr"] or ["lr"]
        with pytest.raises(err, match=name[-1]):
            param_groups(m, **kwargs)
    with pytest.raises(TypeError, match="model"):
        param_groups(list(m.parameters()), lr=1e-2)
    groups = param_groups(m, lr=np.float32(0.01), ssm_lr=0, weight_decay=np.float64(0.1))
    assert groups[0]["lr"] == 0.0 and isinstance(groups[1]["lr"], float)


def test_constructor_validation():
    with pytest.raises(TypeError, match="dt_min"):
        S4Kernel(2, 4, "s4d", dt_min=True)
    with pytest.raises(ValueError, match="d_model"):
        S4Model(2, 3, d_model=0, n_layers=0)
    with pytest.raises(TypeError, match="d_model"):
        S4Model(2, 3, d_model=4.0, n_layers=0)
