"""``statespace verify --model`` / ``check_model``: a trained model's numerics per channel.

Nothing is trained: the modules get hand-set parameters, some placed where float32
fails (Re lambda = -1e-6 puts the discrete poles on the unit circle within float32's
rounding, at dt = 1e-2 and at both ends of DT_BOUNDS), and the check must flag exactly
those channels.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import statespace as ss  # noqa: E402
from statespace.cli import main  # noqa: E402
from statespace.torch import DT_BOUNDS, S4Kernel, S4Model  # noqa: E402
from statespace.verification import model_check as mc  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

L = 512
#: Channels of the planted layers: Re lambda = -1e-6 on every mode (no low-rank term)
#: at these steps. Channel 3 (dt = 1e-6) and 5 (dt = 1e3) keep the initial
#: Re lambda: controls at the ends of the dt range.
BAD = {1: 1e-2, 4: 1e-6, 6: 1e3}


def planted(mode):
    torch.manual_seed(0)
    k = S4Kernel(8, d_state=16, mode=mode, l_max=L, real_min=1e-7, dtype=torch.float32)
    with torch.no_grad():
        k.log_dt[:] = torch.linspace(math.log(1e-3), math.log(1e-1), 8)
        y = torch.tensor(1e-6 - 1e-7, dtype=torch.float64)  # softplus(raw) + real_min = 1e-6
        raw = (y + torch.log(-torch.expm1(-y))).float()
        for h, dt in BAD.items():
            k.lambda_re[h] = raw
            if mode == "s4":
                k.P[h] = 0
            k.log_dt[h] = math.log(dt)
        k.log_dt[3] = math.log(1e-6)
        k.log_dt[5] = math.log(1e3)
    return k


class Planted(nn.Module):
    def __init__(self):
        super().__init__()
        self.dplr = planted("s4")
        self.diag = planted("s4d")


@pytest.fixture(scope="module")
def model():
    return Planted()


def flagged(res):
    return {(layer, h) for layer, h, _ in res.failing_channels()}


# Which channels fail, and why:
# * float32 (and bfloat16, whose arithmetic is float32): every Re lambda = -1e-6
#   channel whose poles lie within float32's unit roundoff of the circle: bilinear
#   (DPLR) at dt = 1e-2, 1e-6 and 1e3 (|z| ~ 1 - dt 1e-6, resp. z ~ -1), ZOH (diag)
#   at dt = 1e-2 and 1e-6. The ZOH channel at dt = 1e3 has |z| = exp(-1e-3): no
#   precision problem, not flagged. The dt-extreme controls (3, 5) pass: their
#   float32 kernels stay within budget.
FLOAT32 = {("dplr", 1), ("dplr", 4), ("dplr", 6), ("diag", 1), ("diag", 4)}
# * float64: the bilinear DPLR kernel from C~ at dt = 1e3 (channels 5-6): every
#   discrete pole sits at -1 + O(1/dt), so Ad^L ~ I for the even L = 512 and
#   C = C~ (I - Ad^L)^{-1} is ill-conditioned beyond the float64 budget (confirmed
#   against arb); every pole is resolved by float64. (At dt = 1e-6, channels 3-4,
#   kernel_dplr's shifted Cauchy denominators keep full precision.)
FLOAT64 = {("dplr", 5), ("dplr", 6)}


@pytest.mark.parametrize("dtype, expected", [("float32", FLOAT32), ("bfloat16", FLOAT32),
                                             ("float64", FLOAT64)])
def test_flags_exactly_the_planted_channels(model, dtype, expected):
    res = mc.check_model(model, dtype=dtype)
    assert flagged(res) == expected
    assert not res.passed
    # failing rows come first and say which parameter values make them fail
    n_bad = sum(not r.passed for r in res.rows)
    assert all(not r.passed for r in res.rows[:n_bad])
    for r in res.rows[:n_bad]:
        assert {"layer", "channel", "dt", "max_re_lambda", "min_pole_distance"} <= set(r.params)
        assert r.note
    if dtype != "float64":
        for r in res.rows[:n_bad]:
            assert r.params["check"] == "stability"
            assert r.params["max_re_lambda"] == pytest.approx(-1e-6, rel=1e-6)
            assert math.isclose(r.params["dt"], BAD[r.params["channel"]], rel_tol=1e-6)
    # the arb sample passed for every sampled channel of the float32 check
    assert set(res.sample) == {"dplr", "diag"}


def test_stability_margin_against_mpmath(model):
    """The reported distance of the nearest pole to the circle, recomputed in mpmath."""
    res = mc.check_model(model, sample=0)
    k = model.diag
    for r in res.rows:
        if r.params["check"] != "stability" or r.params["layer"] != "diag":
            continue
        h = r.params["channel"]
        with mpmath.workdps(40):
            lam = k.Lambda(torch.float64)[h].detach().numpy()
            # dt = exp(log_dt) clamped to DT_BOUNDS, as the module defines it
            log_dt = min(mpmath.mpf(float(k.log_dt[h].detach())), mpmath.log(DT_BOUNDS[1]))
            dt = mpmath.exp(log_dt)
            d = min(1 - abs(mpmath.exp(dt * mpmath.mpc(complex(v)))) for v in lam)
        # the check's value is a float64 expression without cancellation (-expm1):
        # a few ulps
        assert r.params["min_pole_distance"] == pytest.approx(float(d), rel=64 * 2.0 ** -52)


def test_healthy_model_passes_every_row():
    torch.manual_seed(1)
    m = S4Model(1, 2, d_model=6, n_layers=2, d_state=16, l_max=256)
    res = mc.check_model(m, sample=1)
    assert res.passed, res.summary()
    checks = {r.params["check"] for r in res.rows}
    assert checks == {"kernel", "stability", "c_recovery", "step_drift", "kernel_arb",
                      "reference_arb"}
    assert len([r for r in res.rows if r.params["check"] == "kernel"]) == 12
    # float64 serving: the every-channel comparison with the independent float64 path
    # passes on its own (no channel re-measured against arb)
    res = mc.check_model(m, dtype="float64", sample=0, escalate=0)
    assert res.passed, res.summary()
    assert res.sample == {"blocks.0.layer.kernel": [], "blocks.1.layer.kernel": []}
    torch.manual_seed(1)
    d = S4Model(1, 2, d_model=6, n_layers=1, d_state=16, mode="s4d", l_max=256)
    assert mc.check_model(d, dtype="float64", sample=0, escalate=0).passed


@pytest.mark.parametrize("mode, init", [("s4", "legs"), ("s4d", "diag-lin"), ("s4d", "legs")])
@pytest.mark.parametrize("N, Lk", [(8, 64), (64, 4096)])
def test_kernel_budget_on_initialisations(mode, init, N, Lk):
    """The kernel and step budgets sit 10x above what default initialisations reach
    (dt log-uniform in [1e-3, 1e-1]) in float32: the margin the docs state."""
    torch.manual_seed(2)
    k = S4Kernel(8, d_state=N, mode=mode, init=init, l_max=Lk)
    res = mc.check_model(k, sample=0)
    worst = 0.0
    for r in res.rows:
        if r.params["check"] in ("kernel", "step_drift"):
            assert r.error <= r.tolerance / 10, (r.params, r.error, r.tolerance)
            worst = max(worst, r.error)
    # the rows measure float32 arithmetic: rounding the L taps alone leaves a relative
    # error of order eps32 / 2 in the worst of 8 channels
    assert worst >= 2.0 ** -23 / 16


# --------------------------------------------------------------------------- reference


def reference_layer(k, transform="exp"):
    """A module with the reference implementation's parameter names and conventions,
    holding the same systems as our S4Kernel ``k``."""
    lam = k.Lambda(torch.float64).detach()
    inv = {"exp": torch.log, "softplus": lambda y: y + torch.log(-torch.expm1(-y))}[transform]

    class Ref(nn.Module):
        def __init__(self):
            super().__init__()
            self.log_dt = nn.Parameter(k.log_dt.detach().double().clone())
            self.inv_A_real = nn.Parameter(inv(-lam.real).clone())
            self.A_imag = nn.Parameter(lam.imag.clone())
            self.B = nn.Parameter(torch.view_as_real(k._c("B", torch.float64)).clone())
            self.C = nn.Parameter(torch.view_as_real(k._c("C", torch.float64)).clone())
            P = k._c("P", torch.float64).detach()  # (H, r, n) -> theirs (r, H, n), conjugated
            self.P = nn.Parameter(torch.view_as_real(P.conj().resolve_conj()
                                                     .permute(1, 0, 2)).clone())
            self.register_buffer("l_kernel", torch.tensor(k.l_kernel))

    return Ref()


def reference_kernel_numpy(ref, h, L, transform="exp"):
    """Kernel of channel ``h`` under the reference implementation's own conventions,
    by dense float64 algebra (no statespace code): A = diag(L) - p p^H with ``p`` the
    column ``P``, Re L = -f(inv_A_real), dt = exp(log_dt), C holding C~."""
    f = {"exp": np.exp, "softplus": lambda a: np.logaddexp(0, a)}[transform]
    d = {n: p.detach().numpy() for n, p in ref.named_parameters()}
    lam = -f(d["inv_A_real"][h]) + 1j * d["A_imag"][h]
    c2 = lambda a: a[..., 0] + 1j * a[..., 1]  # noqa: E731
    B, Ct, P = c2(d["B"])[h], c2(d["C"])[0, h], c2(d["P"])[:, h]
    full = lambda v: np.concatenate([v, np.conj(v)], -1)  # noqa: E731
    p = full(P)  # (r, N) rows are the columns of the rank-r factor
    A = np.diag(full(lam)) - sum(np.outer(pr, np.conj(pr)) for pr in p)
    dt = math.exp(d["log_dt"][h])
    n = A.shape[0]
    M = np.eye(n) - dt / 2 * A
    Ad = np.linalg.solve(M, np.eye(n) + dt / 2 * A)
    Bd = np.linalg.solve(M, dt * full(B))
    Lk = int(ref.l_kernel)
    C = np.linalg.solve((np.eye(n) - np.linalg.matrix_power(Ad, Lk)).T, full(Ct))
    K, x = [], Bd
    for _ in range(L):
        K.append(np.real(C @ x))
        x = Ad @ x
    return np.array(K), np.linalg.cond(np.eye(n) - np.linalg.matrix_power(Ad, Lk))


@pytest.mark.parametrize("transform", ["exp", "softplus"])
def test_reference_checkpoint_mapping(tmp_path, transform):
    torch.manual_seed(3)
    k = S4Kernel(3, d_state=8, mode="s4", l_max=64, dtype=torch.float64)
    with torch.no_grad():  # complex P and a spread of dt, so a lost conjugate shows
        k.P.add_(0.3 * torch.randn_like(k.P))
        k.log_dt[:] = torch.tensor([math.log(1e-2), math.log(1e-1), math.log(0.5)])
    ref = reference_layer(k, transform)
    path = tmp_path / "ref.pt"
    torch.save({"state_dict": {f"model.layer.kernel.{n}": v
                               for n, v in ref.state_dict().items()}}, path)
    (s,) = mc.load_systems(path, real_transform=transform)
    assert (s.name, s.tilde, s.l_kernel, s.method) == ("model.layer.kernel", True, 64,
                                                       "bilinear")
    K = np.asarray(ss.kernel_dplr(s.Lambda, s.P, s.B, s.C[0], s.dt, 64, halved=True,
                                  tilde=True))
    for h in range(3):
        Kref, cond = reference_kernel_numpy(ref, h, 64, transform)
        # both sides round O(N L) times, amplified by the conditioning of C~
        tol = cond * 8 * 64 * 2.0 ** -52 * np.max(np.abs(Kref))
        np.testing.assert_allclose(K[h], Kref, rtol=0, atol=tol)
    assert mc.check_model(path, real_transform=transform, sample=1).passed


def test_reference_s4d_shared_copies(tmp_path):
    """S4D names (no P): one copy of (A, B) shared by H channels (n_ssm = 1), ZOH."""
    H, n = 4, 3
    sd = {"log_dt": torch.log(torch.tensor([1e-3, 1e-2, 1e-1, 1.0], dtype=torch.float64)),
          "inv_A_real": torch.log(torch.full((1, n), 0.5, dtype=torch.float64)),
          "A_imag": torch.pi * torch.arange(n, dtype=torch.float64)[None],
          "B": torch.ones(1, n, 2, dtype=torch.float64),
          "C": torch.randn(1, H, n, 2, dtype=torch.float64)}
    path = tmp_path / "s4d.pt"
    torch.save(sd, path)
    (s,) = mc.load_systems(path)
    assert s.P is None and not s.tilde and s.method == "zoh"
    np.testing.assert_array_equal(s.Lambda[2], -0.5 + 1j * np.pi * np.arange(n))
    np.testing.assert_allclose(s.dt, [1e-3, 1e-2, 1e-1, 1.0], rtol=4 * 2.0 ** -52)  # exp(log)
    # ZOH kernel by hand: 2 Re sum C B (e^{dt lam} - 1)/lam e^{l dt lam}
    res = mc.check_model(path, length=32, sample=1)
    assert res.passed
    K = np.asarray(ss.kernel_diag(s.Lambda, s.B, s.C[0], s.dt, 32, "zoh", halved=True))
    w = s.Lambda * s.dt[:, None]
    C = sd["C"].numpy()[0, :, :, 0] + 1j * sd["C"].numpy()[0, :, :, 1]
    Bc = 1 + 1j  # B stored as (1, 1) pairs
    hand = 2 * np.real(np.sum((C * Bc * np.expm1(w) / s.Lambda)[..., None]
                              * np.exp(w[..., None] * np.arange(32)), axis=-2))
    np.testing.assert_allclose(K, hand, rtol=0, atol=64 * n * 2.0 ** -52 * np.abs(hand).max())


# --------------------------------------------------------------------------- inputs


def test_npz_input_and_halved(tmp_path):
    """An .npz of one diagonal layer; the halved=False twin holding both members of
    each pair explicitly gives the same rows."""
    lam = np.array([[-0.3 + 2j, -1e-6 + 1j], [-0.5 + 0.5j, -0.2 + 3j]])
    B = np.ones((2, 2), complex)
    C = np.array([[1 + 1j, 0.5 - 1j], [2.0, 1j]])
    dt = np.array([0.01, 0.05])
    a, b = tmp_path / "half.npz", tmp_path / "full.npz"
    np.savez(a, Lambda=lam, B=B, C=C, dt=dt, halved=True)
    full = lambda v: np.concatenate([v, np.conj(v)], -1)  # noqa: E731
    np.savez(b, Lambda=full(lam), B=full(B), C=full(C), dt=dt, halved=False)
    ra = mc.check_model(a, length=128, sample=2)
    rb = mc.check_model(b, length=128, sample=2)
    assert flagged(ra) == flagged(rb) == {("layer", 0)}  # Re = -1e-6 at dt = 0.01: 1-|z| = 1e-8
    sa = {(r.params["check"], r.params["channel"]): r for r in ra.rows}
    for r in rb.rows:
        if r.params["check"] == "stability":
            assert r.error == pytest.approx(sa[("stability", r.params["channel"])].error,
                                            rel=1e-12)


def test_state_dict_and_whole_module_files(tmp_path):
    torch.manual_seed(4)
    m = S4Model(1, 2, d_model=4, n_layers=1, d_state=8, mode="s4d", l_max=64)
    torch.save(m.state_dict(), tmp_path / "sd.pt")
    torch.save(m, tmp_path / "full.pt")
    a = mc.load_systems(tmp_path / "sd.pt")
    b = mc.load_systems(tmp_path / "full.pt")
    c = mc.load_systems(m)
    for x, y in ((a, c), (b, c)):
        assert [s.name for s in x] == [s.name for s in y] == ["blocks.0.layer.kernel"]
        for f in ("Lambda", "B", "C", "dt"):
            np.testing.assert_array_equal(getattr(x[0], f), getattr(y[0], f))


def test_bad_inputs(tmp_path):
    with pytest.raises(mc.ModelFileError, match="no such file"):
        mc.check_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(mc.ModelFileError, match="cannot read"):
        mc.check_model(tmp_path / "junk.pt")
    with pytest.raises(mc.ModelFileError, match="no SSM layer"):
        mc.check_model({"w": torch.zeros(3)})
    with pytest.raises(ValueError, match="dtype must be one of"):
        mc.check_model(S4Kernel(2, 4, l_max=8), dtype="float16")
    with pytest.raises(ValueError, match="length"):
        mc.check_model(S4Kernel(2, 4, mode="s4d"))  # no length stored, none given
    np.savez(tmp_path / "x.npz", Lambda=np.ones((1, 1)))
    with pytest.raises(mc.ModelFileError, match="lacks"):
        mc.check_model(tmp_path / "x.npz")


# --------------------------------------------------------------------------- command line


def test_cli_exit_codes(tmp_path, model, capsys):
    torch.save(model, tmp_path / "planted.pt")
    torch.save(S4Kernel(3, 8, l_max=32).state_dict(), tmp_path / "ok.pt")
    out = tmp_path / "rep"
    assert main(["verify", "--model", str(tmp_path / "ok.pt"), "--out", str(out)]) == 0
    assert main(["verify", "--model", str(tmp_path / "planted.pt"), "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "FAIL dplr[1] stability" in text and "closer than the unit roundoff" in text
    md = (out / "report.md").read_text()
    assert "## Model check" in md and "| dplr | 6 | stability |" in md
    assert main(["verify", "--model", str(tmp_path / "planted.pt"), "--out", str(out),
                 "--dtype", "float64", "--length", "256"]) == 1
    assert main(["verify", "--model", str(tmp_path / "nope.pt"), "--out", str(out)]) == 2
    assert main(["verify", "--model", str(tmp_path / "ok.pt"), "--dtype", "both",
                 "--out", str(out)]) == 2
    assert main(["verify", "--length", "8", "--out", str(out)]) == 2


def test_package_entry_point_and_unrun_module():
    """``statespace.verification.check_model`` is the same function; a module never run
    (no stored length) is checked at the given length, which its C~ then refers to."""
    from statespace import verification

    assert verification.check_model is mc.check_model
    torch.manual_seed(5)
    k = S4Kernel(2, 8, mode="s4")
    res = verification.check_model(k, length=64, sample=1)
    assert res.passed and res.length == 64
    assert {r.params["L"] for r in res.rows} == {64}
