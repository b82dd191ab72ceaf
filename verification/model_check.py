r"""Check a trained model's numerics: ``statespace verify --model PATH``.

:func:`check_model` reads the SSM layers of a model (a :mod:`statespace.torch`
module, its ``state_dict``, a whole saved module, a plain ``.npz`` of systems or a
checkpoint of the S4/S4D reference implementation, see :func:`load_systems`) and
checks, per layer and channel, at the model's own parameters and length:

``kernel``
    The convolution kernel computed in the serving precision against the same
    kernel computed in float64 from the same parameters (every channel), and a
    stated sample of channels against an arb (python-flint) ground truth.
``stability``
    The smallest distance :math:`d = 1 - |z|` of a discrete pole to the unit
    circle (and the largest continuous :math:`\mathrm{Re}\,\lambda`).
``C~ -> C``
    The condition number of :math:`I - \bar A^{L_k}`, which the recovery of
    :math:`C` from the trained :math:`\tilde C` divides by when the model runs
    at another length or rate (length-dependent parameterisations only).
``step drift``
    The step recurrence in the serving precision against the float64 convolution
    over the generation length.

Every finding is a :class:`~statespace.verification.report.Row` (the rows of
``statespace verify``): failing rows come first, their parameters say which layer,
channel and parameter values make them fail, and their note says why.

Bounds
------
Each row's tolerance is a function of the working dtype's unit roundoff
:math:`u = \varepsilon/2`, the state size ``N`` (full, both members of each
conjugate pair) and the length ``L``, with the reason stated here:

* kernel: :math:`\tau_K = c_K\,N \log_2(L)\,\varepsilon` (plus the bfloat16 output
  rounding :math:`2^{-8}` for ``dtype="bfloat16"``), :data:`KERNEL_CONSTANT`
  :math:`c_K = 4`. An ``N``-term Cauchy (or Vandermonde) sum evaluated at ``L``
  nodes and inverted by a length-``L`` FFT (``log2 L`` stages) loses at most
  :math:`N \log_2 L` roundings on a well-conditioned channel; on the default
  LegS/S4D initialisations (``N`` 8-64, ``L`` 64-4096, ``dt`` 1e-3-1e-1) the
  worst measured float32 error is below :math:`\tau_K/10`
  (``tests/test_model_check.py::test_kernel_budget_on_initialisations``). A channel
  above it has lost digits to its parameters (poles at the unit circle make the
  kernel ill-conditioned), not to the algorithm. This is the budget a serving
  precision must meet, the model check's rigorous bound; no expected bound is
  calibrated for it.
* stability: :math:`u / d \le 1`. Rounding a pole to the working precision moves
  its modulus by up to :math:`u|z|`; a pole closer than that to the circle may
  land on or outside it, and the step recurrence then does not decay (or grows).
* C~ -> C: :math:`\kappa(I - \bar A^{L_k})\,\varepsilon_{64} \le \tau_K`. The
  modules recover :math:`C` by a float64 solve (relative error
  :math:`\kappa\,\varepsilon_{64}`); it must stay within the kernel budget of the
  serving precision, or the kernel at another length or rate is wrong in digits
  the serving precision holds.
* step drift: :math:`\tau_S = c_S\,(N + L)\,\varepsilon`, :data:`STEP_CONSTANT`
  :math:`c_S = 4`: one rounding of the ``N``-term state update per step,
  accumulated over ``L`` steps of a contracting recurrence (the project's rigorous
  recurrence bound :data:`statespace.verification.bounds.RECURRENCE` without its
  worst case :math:`N L`, which would hide exactly the drift this row looks for).

Examples
--------
>>> import torch
>>> from statespace.torch import S4Kernel
>>> from statespace.verification.model_check import check_model
>>> _ = torch.manual_seed(0)
>>> res = check_model(S4Kernel(4, d_state=8, l_max=64), sample=1)
>>> res.passed, len(res.failing_channels())
(True, 0)
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

import statespace as ss
from statespace import boundary as _bnd
from statespace import discretize as _disc

__all__ = [
    "LayerSystems",
    "ModelCheck",
    "ModelFileError",
    "check_model",
    "run",
    "load_systems",
    "kernel_tolerance",
    "step_tolerance",
    "REFERENCE_REAL_TRANSFORMS",
    "KERNEL_CONSTANT",
    "STEP_CONSTANT",
    "DTYPES",
    "EXPERIMENT",
]

#: Serving precisions accepted by :func:`check_model`.
DTYPES = ("float32", "bfloat16", "float64")
#: Constant :math:`c_K` of the kernel budget (module docstring).
KERNEL_CONSTANT = 4.0
#: Constant :math:`c_S` of the step-drift budget (module docstring).
STEP_CONSTANT = 4.0
#: Experiment name of the rows.
EXPERIMENT = "Model check"
#: Unit roundoff of bfloat16 (8 significand bits).
_BF16_U = 2.0 ** -8

#: Real-part transforms of the reference implementation's ``inv_A_real``:
#: ``Re(Lambda) = -f(raw)``.
REFERENCE_REAL_TRANSFORMS = {
    "exp": lambda a: np.exp(a),
    "none": lambda a: a,
    "relu": lambda a: np.maximum(a, 0.0) + 1e-4,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "softplus": lambda a: np.logaddexp(0.0, a),
}
_REF_REAL = ("inv_A_real", "log_A_real", "log_w_real", "A_real")
_REF_IMAG = ("A_imag", "w_imag")
_OURS = ("log_dt", "lambda_re", "lambda_im", "B", "C")


class ModelFileError(ValueError):
    """The model file could not be read or holds no SSM layer (exit status 2)."""


@dataclass
class LayerSystems:
    r"""The systems of one layer, in float64, as the check reads them.

    Attributes
    ----------
    name : str
        Layer name (the module path or key prefix).
    Lambda : numpy.ndarray, complex128, shape (H, n)
        Diagonal part (``n = N // 2`` conjugate-pair modes when ``halved``).
    P : numpy.ndarray or None, complex128, shape (H, r, n)
        Low-rank factor, :math:`A = \mathrm{diag}(\Lambda) - P^H P`; None: diagonal.
    B : numpy.ndarray, complex128, shape (H, n)
    C : numpy.ndarray, complex128, shape (c, H, n)
        Output vectors (``c`` per channel), :math:`\tilde C` when ``tilde``.
    dt : numpy.ndarray, float64, shape (H,)
    method : str
        ``"bilinear"`` (always for DPLR) or ``"zoh"``.
    halved : bool
    tilde : bool
        ``C`` holds :math:`\tilde C = C(I - \bar A^{L_k})` with ``L_k = l_kernel``.
    l_kernel : int or None
        Length the parameters were trained at (that :math:`\tilde C` refers to).
    source : str
        Where the layer came from.
    """

    name: str
    Lambda: np.ndarray
    P: np.ndarray | None
    B: np.ndarray
    C: np.ndarray
    dt: np.ndarray
    method: str
    halved: bool
    tilde: bool
    l_kernel: int | None
    source: str = ""

    @property
    def H(self):
        """Number of channels."""
        return self.Lambda.shape[0]

    @property
    def N(self):
        """Full state size (both members of each pair when halved)."""
        return self.Lambda.shape[-1] * (2 if self.halved else 1)


@dataclass
class ModelCheck:
    """Result of :func:`check_model`.

    Attributes
    ----------
    rows : list of Row
        Failing rows first (worst error/tolerance ratio first), then the rest.
    layers : list of LayerSystems
        The systems checked.
    dtype : str
        Serving precision.
    length : int
        Length the kernels and the step drift were checked at.
    sample : dict
        ``{layer name: [channels checked against arb]}``.
    elapsed : float
        Seconds.
    """

    rows: list
    layers: list
    dtype: str
    length: int
    sample: dict = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def passed(self):
        """True when there is a row and every row passed."""
        return bool(self.rows) and all(r.passed for r in self.rows)

    def failing_channels(self):
        """``[(layer, channel, [quantity, ...]), ...]`` of the failing channels, in
        the order of their worst row."""
        out, index = [], {}
        for r in self.rows:
            if r.passed:
                continue
            key = (r.params.get("layer"), r.params.get("channel"))
            if key not in index:
                index[key] = len(out)
                out.append((key[0], key[1], []))
            out[index[key]][2].append(r.params.get("check", r.quantity))
        return out

    def summary(self, limit=20):
        """A few lines of text: counts, then the failing channels and why."""
        n = len(self.rows)
        bad = [r for r in self.rows if not r.passed]
        chans = sum(layer.H for layer in self.layers)
        lines = [f"model check ({self.dtype}, L={self.length}): {n - len(bad)}/{n} rows "
                 f"passed over {len(self.layers)} layers, {chans} channels, "
                 f"{self.elapsed:.1f} s"]
        for r in bad[:limit]:
            p = r.params
            lines.append(f"  FAIL {p.get('layer')}[{p.get('channel')}] {p.get('check')}: "
                         f"{r.error:.3e} > {r.tolerance:.3e} ({r.note})")
        if len(bad) > limit:
            lines.append(f"  ... and {len(bad) - limit} more failing rows")
        return "\n".join(lines)


# --------------------------------------------------------------------------- loading


def _np(t):
    """A torch tensor or array as a float64/complex128 numpy array (exact)."""
    if hasattr(t, "detach"):
        torch = _torch()
        t = t.detach().cpu()
        return t.to(torch.complex128 if t.is_complex() else torch.float64).numpy()
    a = np.asarray(t)
    return a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)


def _torch():
    import torch

    return torch


def _complex(a, name):
    """Real ``(..., 2)`` storage (``view_as_real``) or complex -> complex128."""
    a = _np(a)
    if np.iscomplexobj(a):
        return a
    if a.shape[-1:] != (2,):
        raise ModelFileError(f"{name}: expected a complex tensor or a real one with a "
                             f"trailing axis of size 2, got shape {a.shape}")
    return a[..., 0] + 1j * a[..., 1]


def _from_kernel_module(name, k):
    """LayerSystems of a :class:`statespace.torch.S4Kernel` (exact float64 values)."""
    torch = _torch()
    with torch.no_grad():
        lam = _np(k.Lambda(torch.float64))
        B = _np(k._c("B", torch.float64))
        C = _np(k._c("C", torch.float64))
        dt = _np(k.dt(torch.float64))
        P = _np(k._c("P", torch.float64)) if k.mode == "s4" else None
        if k.disc == "dss":  # fold the length normalisation into C (a ZOH system)
            k._require_l_kernel()
            C = _np(k._true_C(torch.float64))
    method = "bilinear" if k.mode == "s4" else ("zoh" if k.disc == "dss" else k.disc)
    return LayerSystems(name or "kernel", lam, P, B, C, dt, method, True, k.mode == "s4",
                        k.l_kernel, source=f"statespace.torch.S4Kernel({k.extra_repr()})")


def _from_module(module):
    from statespace.torch import S4Kernel

    layers = [_from_kernel_module(n, m) for n, m in module.named_modules()
              if isinstance(m, S4Kernel)]
    if not layers:
        raise ModelFileError(f"{type(module).__name__} holds no statespace.torch.S4Kernel")
    return layers


def _groups(sd):
    groups = {}
    for key, v in sd.items():
        prefix, _, leaf = str(key).rpartition(".")
        groups.setdefault(prefix, {})[leaf] = v
    return groups


def _from_our_state_dict(prefix, g, opts):
    """Rebuild an S4Kernel from its state_dict entries and read it."""
    from statespace.torch import S4Kernel

    torch = _torch()
    lam_re = g["lambda_re"]
    H, n = lam_re.shape
    mode = "s4" if "P" in g else "s4d"
    disc = None if mode == "s4" else opts.get("disc") or "zoh"
    k = S4Kernel(H, 2 * n, mode, disc=disc, channels=g["C"].shape[0],
                 lambda_real=opts.get("lambda_real", "softplus"),
                 real_min=opts.get("real_min", 1e-4), dtype=lam_re.dtype
                 if lam_re.dtype in (torch.float32, torch.float64, torch.float16,
                                     torch.bfloat16) else torch.float64)
    if "P" in g:
        k.P = torch.nn.Parameter(torch.zeros_like(g["P"]))
    try:
        k.load_state_dict(dict(g), strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ModelFileError(f"layer {prefix!r}: not a statespace S4Kernel state: {exc}") \
            from None
    return _from_kernel_module(prefix, k)


def _tile(a, H, name, axis=0):
    """Repeat the ``n_ssm`` leading copies of the reference implementation to ``H``."""
    m = a.shape[axis]
    if m == H:
        return a
    if m < 1 or H % m:
        raise ModelFileError(f"{name}: {m} copies do not divide d_model={H}")
    reps = [1] * a.ndim
    reps[axis] = H // m
    return np.tile(a, reps)  # einops '(v t)': copy v of system t sits at v * m + t


def _from_reference(prefix, g, opts):
    r"""Map the reference implementation's parameters to ours (see the docs).

    ``Re(Lambda) = -f(raw)`` (``f`` from ``real_transform``, ``exp`` by default; the
    names ``log_A_real``/``log_w_real`` always mean ``exp``), ``Im(Lambda) =
    imag_sign * A_imag``; ``P`` conjugated (theirs is :math:`A = \Lambda - P P^H` with
    ``P`` a column, ours :math:`\Lambda - P^H P` with ``P`` a row); ``dt =
    exp(log_dt)``; ``C`` holds :math:`\tilde C` for S4 (DPLR), the plain ``C``
    for S4D (diagonal, ``disc`` zoh by default).
    """
    real_key = next(k for k in _REF_REAL if k in g)
    imag_key = next(k for k in _REF_IMAG if k in g)
    raw = _np(g[real_key])
    transform = "exp" if real_key in ("log_A_real", "log_w_real") else \
        opts.get("real_transform", "exp")
    if transform not in REFERENCE_REAL_TRANSFORMS:
        raise ValueError(f"real_transform must be one of {sorted(REFERENCE_REAL_TRANSFORMS)}, "
                         f"got {transform!r}")
    log_dt = _np(g["log_dt"]).reshape(-1)
    H = log_dt.shape[0]
    re = -REFERENCE_REAL_TRANSFORMS[transform](raw)
    lam = _tile(re + 1j * opts.get("imag_sign", 1) * _np(g[imag_key]), H, real_key)
    B = _complex(g["B"], "B")
    B = _tile(B.reshape(-1, B.shape[-1]), H, "B")
    C = _complex(g["C"], "C")
    C = C.reshape((-1,) + C.shape[-2:]) if C.ndim >= 3 else C[None]
    P = None
    if "P" in g:
        P = np.conj(_complex(g["P"], "P"))  # (r, n_ssm, n)
        P = _tile(np.moveaxis(P.reshape((-1,) + P.shape[-2:]), 0, 1), H, "P")
    lk = g.get("l_kernel", opts.get("l_kernel"))
    lk = int(lk) if lk is not None and int(lk) > 0 else None
    method = "bilinear" if P is not None else opts.get("disc") or "zoh"
    if method not in ("zoh", "bilinear"):
        raise ValueError(f"disc must be 'zoh' or 'bilinear' for reference S4D layers, "
                         f"got {method!r}")
    return LayerSystems(prefix or "kernel", lam, P, B, C, np.exp(log_dt), method, True,
                        P is not None, lk, source=f"reference implementation ({real_key}: "
                        f"-{transform}, imag sign {opts.get('imag_sign', 1):+d})")


def _from_state_dict(sd, opts):
    layers = []
    for prefix, g in _groups(sd).items():
        if all(k in g for k in _OURS):
            layers.append(_from_our_state_dict(prefix, g, opts))
        elif ("log_dt" in g and "B" in g and "C" in g and any(k in g for k in _REF_REAL)
              and any(k in g for k in _REF_IMAG)):
            layers.append(_from_reference(prefix, g, opts))
    if not layers:
        raise ModelFileError("no SSM layer found: expected keys log_dt, lambda_re, lambda_im, "
                             "B, C (statespace.torch) or log_dt, inv_A_real, A_imag, B, C "
                             "(reference implementation)")
    return layers


def _from_npz(path):
    try:
        data = np.load(path, allow_pickle=False)
        arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from None
    groups = {}
    for key, v in arrays.items():
        prefix, _, leaf = key.rpartition("/")
        groups.setdefault(prefix, {})[leaf] = v
    layers = []
    for prefix, g in sorted(groups.items()):
        missing = [k for k in ("Lambda", "B", "C", "dt", "halved") if k not in g]
        if missing:
            raise ModelFileError(f"{path}: layer {prefix or '(top level)'!r} lacks "
                                 f"{', '.join(missing)}")
        lam = np.atleast_2d(g["Lambda"]).astype(np.complex128)
        H, n = lam.shape
        B = np.broadcast_to(g["B"].astype(np.complex128), (H, n)).copy()
        C = g["C"].astype(np.complex128)
        C = np.broadcast_to(C if C.ndim == 3 else C.reshape((1,) + C.shape[-2:] if C.ndim
                            == 2 else (1, 1, n)), (max(1, C.shape[0]) if C.ndim == 3 else 1,
                                                   H, n)).copy()
        P = None
        if "P" in g and g["P"].size:
            P = g["P"].astype(np.complex128)
            P = np.broadcast_to(P if P.ndim == 3 else P[None], (H,) + P.shape[-2:]).copy()
        dt = np.broadcast_to(np.asarray(g["dt"], np.float64).reshape(-1), (H,)).copy()
        tilde = bool(g["tilde"]) if "tilde" in g else False
        lk = int(g["length"]) if "length" in g else None
        method = str(g["method"]) if "method" in g else ("bilinear" if P is not None else "zoh")
        if P is not None and method != "bilinear":
            raise ModelFileError(f"{path}: DPLR layers are bilinear, got method={method!r}")
        if tilde and lk is None:
            raise ModelFileError(f"{path}: layer {prefix!r} has tilde=True but no 'length'")
        layers.append(LayerSystems(prefix or "layer", lam, P, B, C, dt, method,
                                   bool(g["halved"]), tilde, lk, source=f"npz {path}"))
    if not layers:
        raise ModelFileError(f"{path}: no arrays")
    return layers


def load_systems(source, **options):
    r"""Read the SSM layers of a model as :class:`LayerSystems`.

    Parameters
    ----------
    source : torch.nn.Module, dict or path
        * a module holding :class:`statespace.torch.S4Kernel` submodules
          (``S4Kernel``, ``S4Layer``, ``S4Block``, ``S4Model`` or any model);
        * a ``state_dict`` (of our modules or of the reference implementation),
          also wrapped as ``{"state_dict": ...}`` or ``{"model": ...}``;
        * a path: ``.npz`` (keys below) or a file of :func:`torch.save` holding any
          of the above. A state_dict is read with ``weights_only=True``; a whole
          saved module needs full unpickling, which runs code from the file:
          load only files you trust.
    **options
        For state_dicts, whose parameters do not record every setting:
        ``lambda_real`` (``"softplus"``, the default, or ``"exp"``) and
        ``real_min`` (1e-4) of our modules; ``disc`` of diagonal layers
        (``"zoh"``); for the reference implementation ``real_transform``
        (:data:`REFERENCE_REAL_TRANSFORMS`, default ``"exp"``), ``imag_sign``
        (+1: :math:`\mathrm{Im}\,\Lambda` = ``A_imag``; -1 for checkpoints storing
        its negative) and ``l_kernel`` when no ``l_kernel`` buffer is stored.

    Returns
    -------
    list of LayerSystems

    Raises
    ------
    ModelFileError
        Unreadable file, or no SSM layer in it.

    Notes
    -----
    ``.npz`` keys, per layer (prefix ``NAME/`` for several layers, none for one):
    ``Lambda`` (H, n) complex; ``B`` (H, n); ``C`` (c, H, n) or (H, n); ``dt``
    (H,) or scalar; ``halved`` (bool, required: each mode stands for a conjugate
    pair and the kernel is :math:`2\,\mathrm{Re}`); optional ``P`` (H, r, n) or
    (r, n) for :math:`A = \mathrm{diag}(\Lambda) - P^H P` (bilinear), ``method``
    (``"zoh"`` or ``"bilinear"`` for diagonal layers, default zoh), ``tilde``
    (bool: ``C`` holds :math:`\tilde C`) and ``length`` (the training length).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from statespace.verification.model_check import load_systems
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> np.savez(path, Lambda=np.array([[-0.5 + 1j]]), B=np.ones((1, 1)),
    ...          C=np.ones((1, 1)), dt=0.1, halved=True)
    >>> [(s.name, s.H, s.N, s.method) for s in load_systems(path)]
    [('layer', 1, 2, 'zoh')]
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise ModelFileError(f"no such file: {path}")
        if path.endswith(".npz"):
            return _from_npz(path)
        try:
            torch = _torch()
        except ImportError:
            raise ModelFileError(f"{path}: reading torch files needs torch") from None
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - retried with full unpickling below
            try:
                obj = torch.load(path, map_location="cpu", weights_only=False)
            except Exception as exc:  # noqa: BLE001 - any failure means unreadable
                raise ModelFileError(f"cannot read {path}: {type(exc).__name__}: {exc}") \
                    from None
        source = obj
    if hasattr(source, "named_modules"):
        return _from_module(source)
    if isinstance(source, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(source.get(key), dict):
                source = source[key]
                break
        return _from_state_dict(source, options)
    raise ModelFileError(f"cannot read a model from {type(source).__name__}")


# --------------------------------------------------------------------------- numerics


def _eps(dtype):
    return 2.0 ** -52 if dtype == "float64" else 2.0 ** -23


def kernel_tolerance(dtype, N, L):
    r"""The kernel budget :math:`\tau_K` (module docstring).

    Parameters
    ----------
    dtype : {"float32", "bfloat16", "float64"}
        Serving precision.
    N : int
        Full state size.
    L : int
        Kernel length.

    Returns
    -------
    float

    Examples
    --------
    >>> from statespace.verification.model_check import kernel_tolerance
    >>> kernel_tolerance("float32", 64, 1024) == 4 * 64 * 10 * 2.0 ** -23
    True
    """
    tol = KERNEL_CONSTANT * N * max(1.0, math.log2(max(L, 2))) * _eps(dtype)
    return tol + (_BF16_U if dtype == "bfloat16" else 0.0)


def step_tolerance(dtype, N, L):
    r"""The step-drift budget :math:`\tau_S = c_S (N + L) \varepsilon` (module docstring).

    Parameters
    ----------
    dtype : {"float32", "bfloat16", "float64"}
        Serving precision.
    N : int
        Full state size.
    L : int
        Number of steps.

    Returns
    -------
    float

    Examples
    --------
    >>> from statespace.verification.model_check import step_tolerance
    >>> step_tolerance("float64", 64, 1024) == 4 * 1088 * 2.0 ** -52
    True
    """
    tol = STEP_CONSTANT * (N + L) * _eps(dtype)
    return tol + (_BF16_U if dtype == "bfloat16" else 0.0)


def _round_bf16(x):
    """Round float32 values to bfloat16 (nearest, ties to even), kept as float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    b = x.view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000
    return b.astype(np.uint32).view(np.float32)


def _work(a, dtype):
    """Round to the working precision (complex64/float32 unless float64)."""
    if dtype == "float64":
        return a
    return a.astype(np.complex64 if np.iscomplexobj(a) else np.float32)


def _true_C(s):
    """``C`` (float64) and the condition number of ``I - Ad^Lk`` per channel."""
    if not s.tilde:
        return s.C, np.ones(s.H)
    if s.P is not None:
        C, cond = _bnd.c_from_tilde_dplr(s.Lambda, s.P, s.C, s.dt, s.l_kernel, halved=True,
                                         max_cond=math.inf, return_cond=True)
        return C, np.broadcast_to(np.asarray(cond, np.float64), (s.H,))
    C = _bnd.c_from_tilde_diag(s.Lambda, s.C, s.dt, s.l_kernel, s.method)
    z = np.exp(s.Lambda * s.dt[:, None]) if s.method == "zoh" else \
        (1 + s.Lambda * s.dt[:, None] / 2) / (1 - s.Lambda * s.dt[:, None] / 2)
    d = np.abs(1 - z ** s.l_kernel)
    return C, d.max(-1) / d.min(-1)


def _kernel(s, L, dtype, C_true):
    """Kernel ``(c, H, L)`` of every channel computed in ``dtype``'s working precision,
    from the parameters rounded to it (as the modules serve), rounded to ``dtype``."""
    lam, B, dt = _work(s.Lambda, dtype), _work(s.B, dtype), _work(s.dt, dtype)
    if s.P is not None:
        P = _work(s.P, dtype)
        if s.tilde and L <= s.l_kernel:
            K = ss.kernel_dplr(lam, P, B, _work(s.C, dtype), dt, s.l_kernel, halved=True,
                               tilde=True)[..., :L]
        else:
            K = ss.kernel_dplr(lam, P, B, _work(C_true, dtype), dt, L, halved=True)
    else:
        K = ss.kernel_diag(lam, B, _work(C_true, dtype), dt, L, s.method, halved=s.halved)
    K = np.asarray(K)
    if dtype == "bfloat16":
        K = _round_bf16(K) if not np.iscomplexobj(K) else \
            _round_bf16(K.real) + 1j * _round_bf16(K.imag)
    return K.astype(np.float64) if not np.iscomplexobj(K) else K.astype(np.complex128)


def _kernel_independent64(s, L, C_true):
    """An independent float64 path (for float64 serving): DPLR layers by the dense
    transition and explicit powers (:func:`statespace.kernel_dense`), diagonal ones
    by NumPy powers of the discrete poles."""
    Bf = np.concatenate([s.B, np.conj(s.B)], -1) if s.halved else s.B
    Cf = np.concatenate([C_true, np.conj(C_true)], -1) if s.halved else C_true
    if s.P is not None:
        A = _disc.dplr_to_dense(s.Lambda, s.P, halved=True)
        K = np.asarray(ss.kernel_dense(A, Bf, Cf, s.dt, L))
    else:
        lam = np.concatenate([s.Lambda, np.conj(s.Lambda)], -1) if s.halved else s.Lambda
        w = lam * s.dt[:, None]
        if s.method == "zoh":
            z, Bd = np.exp(w), np.expm1(w) / lam * Bf
        else:
            z, Bd = (1 + w / 2) / (1 - w / 2), s.dt[:, None] / (1 - w / 2) * Bf
        powers = z[..., None] ** np.arange(L)  # (H, N, L)
        K = np.sum((Cf * Bd)[..., None] * powers, axis=-2)
    return np.real(K) if s.halved else K


def _rel(K, Kref):
    """Max over output vectors of ``max_l |K - Kref| / max_l |Kref|``, per channel."""
    num = np.max(np.abs(K - Kref), axis=-1)
    den = np.max(np.abs(Kref), axis=-1)
    r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num > 0, np.inf, 0.0))
    r = np.where(np.isfinite(r), r, np.inf)
    return np.max(r.reshape(-1, r.shape[-1]), axis=0)


def _poles(s):
    """Continuous eigenvalues ``(H, N)`` and the distances ``1 - |z|`` of their poles."""
    if s.P is not None:
        A = np.asarray(_disc.dplr_to_dense(s.Lambda, s.P, halved=True))
        lam = np.linalg.eigvals(A)
    else:
        lam = np.concatenate([s.Lambda, np.conj(s.Lambda)], -1) if s.halved else s.Lambda
    w = lam * s.dt[:, None]
    if s.method == "zoh":
        dist = -np.expm1(np.real(w))
    else:  # |z|^2 = |1 + w/2|^2 / |1 - w/2|^2, without cancellation
        num = -2.0 * np.real(w)
        den = np.abs(1 - w / 2) ** 2
        z2 = np.abs(1 + w / 2) ** 2 / den
        dist = (num / den) / (1 + np.sqrt(z2))
    return lam, dist


def _step_output(s, u, dtype, C_true):
    """Step recurrence in the working precision, ``(c, H, L)``."""
    lam, B, dt = _work(s.Lambda, dtype), _work(s.B, dtype), _work(s.dt, dtype)
    if s.P is not None:
        system = _disc.DPLRSystem(lam, _work(s.P, dtype), B, halved=True)
    else:
        system = _disc.DiagSystem(lam, B)
    sys = _disc.discretize(system, dt, s.method)
    uu = _work(u, dtype)
    y, _ = ss.scan(sys, np.broadcast_to(uu, (s.H, u.shape[-1])), C=_work(C_true, dtype),
                   halved=s.halved)
    y = np.asarray(y)
    if np.iscomplexobj(y):  # a complex (not halved) system
        return y.astype(np.complex128)
    if dtype == "bfloat16":
        y = _round_bf16(y)
    return y.astype(np.float64)


# --------------------------------------------------------------------------- arb sample


def _arb_kernel(s, h, L, dps):
    """Ground-truth kernel ``(c, L)`` of channel ``h`` in arb at ``dps`` digits.

    From the definitions, sharing no code with the core: the full ``N``-mode system
    (conjugate pairs unfolded), bilinear/ZOH discretization by an arb solve or
    exponential, :math:`C = \\tilde C (I - \\bar A^{L_k})^{-1}` by an arb power and
    solve, then :math:`K_l = C \\bar A^l \\bar B` by repeated products.
    """
    import flint

    old = flint.ctx.dps
    flint.ctx.dps = dps
    try:
        lam, B = s.Lambda[h], s.B[h]
        Cs = s.C[:, h]
        if s.halved:
            lam = np.concatenate([lam, np.conj(lam)])
            B = np.concatenate([B, np.conj(B)])
            Cs = np.concatenate([Cs, np.conj(Cs)], -1)
        n = lam.shape[0]

        def acb(z):
            return flint.acb(float(np.real(z)), float(np.imag(z)))

        dt = flint.acb(float(s.dt[h]))
        A = flint.acb_mat(n, n)
        for i in range(n):
            A[i, i] = acb(lam[i])
        if s.P is not None:
            P = s.P[h]
            if s.halved:
                P = np.concatenate([P, np.conj(P)], -1)
            Pm = flint.acb_mat([[acb(v) for v in row] for row in P])
            A = A - Pm.conjugate().transpose() * Pm
        Bm = flint.acb_mat([[acb(v)] for v in B])
        eye = flint.acb_mat(n, n)
        for i in range(n):
            eye[i, i] = 1
        if s.method == "bilinear":
            M = eye - A * (dt / 2)
            Ad = M.solve(eye + A * (dt / 2))
            Bd = M.solve(Bm * dt)
        else:  # zoh of a diagonal system
            Ad = flint.acb_mat(n, n)
            Bd = flint.acb_mat(n, 1)
            for i in range(n):
                e = (dt * acb(lam[i])).exp()
                Ad[i, i] = e
                Bd[i, 0] = (e - 1) / acb(lam[i]) * Bm[i, 0]
        Cm = flint.acb_mat([[acb(v) for v in row] for row in Cs])
        if s.tilde:  # C (I - Ad^Lk) = C~  <=>  (I - Ad^Lk)^T C^T = C~^T
            Y = eye - Ad ** int(s.l_kernel)
            Cm = Y.transpose().solve(Cm.transpose()).transpose()
        Ad, x, Cm = Ad.mid(), Bd.mid(), Cm.mid()
        out = np.empty((Cm.nrows(), L), dtype=np.complex128)
        for l in range(L):
            y = Cm * x
            for c in range(Cm.nrows()):
                out[c, l] = complex(y[c, 0].mid())
            x = (Ad * x).mid()
        # the full system's kernel is real for halved (conjugate-pair) systems
        return out.real if s.halved else out
    finally:
        flint.ctx.dps = old


# --------------------------------------------------------------------------- the check


def _f(x):
    x = float(x)
    return x if not math.isinf(x) else math.copysign(math.inf, x)


def _row(check, layer, h, dtype, error, tol, quantity, params, note):
    from statespace.verification.report import Row

    p = {"check": check, "layer": layer, "channel": int(h)}
    p.update(params)
    return Row(EXPERIMENT, quantity, p, dtype, _f(error), float(tol), note=note,
               metric=f"model_check/{check}", direction="upper", expected=math.nan,
               expected_model="none: the bound is the serving budget (model_check)")


def check_model(source, *, length=None, dtype="float32", sample=2, dps=30, seed=0,
                escalate=16, **options):
    r"""Check a model's kernels, stability, C~ -> C recovery and step mode per channel.

    Parameters
    ----------
    source : torch.nn.Module, dict or path
        What :func:`load_systems` reads (a module, a state_dict, a ``.npz`` or a
        :func:`torch.save` file).
    length : int, optional
        Length to check kernels and the step drift at (the generation length);
        default: the length each layer was trained at (``l_kernel``), required
        when a layer does not store it.
    dtype : {"float32", "bfloat16", "float64"}, default "float32"
        Serving precision: the parameters are rounded to its working precision
        (float32 for bfloat16) and the kernel, step outputs are rounded to it.
    sample : int, default 2
        Channels per layer checked against the arb ground truth: the channel of the
        largest kernel error, then the one of the pole nearest the unit circle,
        then random ones (``seed``); 0 skips the arb check.
    dps : int, default 30
        Decimal digits of the arb ground truth.
    seed : int, default 0
        Seed of the sample and of the step-drift input.
    escalate : int, default 16
        Per layer, up to this many channels whose kernel exceeds its budget against
        the float64 reference are re-measured against arb, and the arb error
        decides their row (the float64 comparison bounds the sum of two errors).
    **options
        Passed to :func:`load_systems`.

    Returns
    -------
    ModelCheck
        ``.rows`` (failing first), ``.passed``, ``.failing_channels()``, ``.summary()``.

    Raises
    ------
    ModelFileError
        The source could not be read (no SSM layer, unreadable file).
    ValueError
        ``dtype`` unknown, ``length < 1``, or no length known for a layer.

    Notes
    -----
    Per layer the work is batched over channels: two kernel computations
    (serving precision and float64, :math:`O(H N L)` by
    :func:`statespace.kernel_dplr`/:func:`statespace.kernel_diag`), a dense
    eigenvalue problem per channel (:math:`O(H N^3)`), and the step recurrence
    (:math:`O(H N L)`); only the ``sample`` channels run in arb
    (:math:`O(N^2 L)` each at ``dps`` digits). For ``dtype="float64"`` the
    every-channel reference is an independent float64 path (dense transition,
    :func:`statespace.kernel_dense`) for DPLR layers, the arb sample alone for
    diagonal ones. Bounds: see the module documentation.

    Examples
    --------
    >>> import torch
    >>> from statespace.torch import S4Kernel
    >>> from statespace.verification.model_check import check_model
    >>> _ = torch.manual_seed(0)
    >>> k = S4Kernel(3, d_state=8, mode="s4d", l_max=32)
    >>> res = check_model(k, sample=0)
    >>> res.passed, sorted({r.params["check"] for r in res.rows})
    (True, ['kernel', 'stability', 'step_drift'])
    """
    import time

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if length is not None:
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise ValueError(f"length must be an integer >= 1, got {length!r}")
    t0 = time.perf_counter()
    layers = load_systems(source, **options)
    rng = np.random.default_rng(seed)
    rows, samples, lengths = [], {}, []
    for s in layers:
        L = int(length) if length is not None else s.l_kernel
        if s.tilde and s.l_kernel is None and L is not None:
            s.l_kernel = L  # never run: its first forward call would fix this length
        if L is None:
            raise ValueError(f"layer {s.name!r} does not store its training length: pass "
                             "length (--length)")
        lengths.append(L)
        rows += _check_layer(s, L, dtype, sample, dps, rng, samples, escalate)
    rows.sort(key=lambda r: (r.passed, -(r.error / r.tolerance if r.tolerance > 0
                                          else math.inf)))
    return ModelCheck(rows, layers, dtype, max(lengths), samples,
                      time.perf_counter() - t0)


def _fmt_modes(lam, dt):
    return f"Re lambda in [{np.min(lam.real):.3g}, {np.max(lam.real):.3g}], dt={dt:.3g}"


def _check_layer(s, L, dtype, sample, dps, rng, samples, escalate):
    N, H = s.N, s.H
    tolK, tolS = kernel_tolerance(dtype, N, L), step_tolerance(dtype, N, L)
    C_true, cond = _true_C(s)
    K64 = _kernel(s, L, "float64", C_true)
    if dtype == "float64":
        errK = _rel(K64, _kernel_independent64(s, L, C_true))
        Ks = K64
    else:
        Ks = _kernel(s, L, dtype, C_true)
        errK = _rel(Ks, K64)
    lam, dist = _poles(s)
    dmins = dist.min(-1)
    # the arb sample: worst kernel, nearest pole, then random channels
    picks = []
    if sample > 0:
        for cand in (int(np.argmax(np.where(np.isnan(errK), np.inf, errK))),
                     int(np.argmin(dmins))):
            if cand not in picks:
                picks.append(cand)
        picks += [int(h) for h in rng.permutation(H) if int(h) not in picks]
        picks = picks[:sample]
    # channels whose every-channel comparison fails are re-measured against arb (the
    # float64 comparison bounds the sum of two errors; arb says whose it is)
    suspects = [int(h) for h in np.flatnonzero(~(errK <= tolK))][:escalate]
    arb = {h: _arb_kernel(s, h, L, dps) for h in dict.fromkeys(picks + suspects)}
    samples[s.name] = list(arb)
    u = rng.standard_normal(L)
    y_ref = np.asarray(ss.causal_conv(u, K64))
    drift = _rel(_step_output(s, u, dtype, C_true), y_ref)
    uw = _eps("float32" if dtype == "bfloat16" else dtype) / 2
    common = {"N": N, "L": L, "tilde": s.tilde, "method": s.method}
    vs = "independent float64 (dense powers)" if dtype == "float64" else "float64"
    rows = []
    for h in range(H):
        dmin = float(dmins[h])
        j = int(np.argmin(dist[h]))
        pv = {**common, "dt": float(s.dt[h]), "max_re_lambda": float(np.max(lam[h].real)),
              "min_pole_distance": dmin, "nearest_lambda": str(complex(lam[h][j]))}
        why = _fmt_modes(lam[h], float(s.dt[h]))
        note = f"budget {KERNEL_CONSTANT:g} N log2(L) eps; " + why
        err, quantity = errK[h], f"kernel in {dtype} vs {vs}, rel. max error"
        if h in arb and h in suspects:
            err = _rel(Ks[:, h][:, None], arb[h][:, None])[0]
            quantity = f"kernel in {dtype} vs arb ground truth ({dps} digits), rel. max error"
            note = (f"the {vs} comparison gave {errK[h]:.3g} > budget; re-measured against "
                    f"arb: {err:.3g}; " + note)
        rows.append(_row("kernel", s.name, h, dtype, err, tolK, quantity, pv, note))
        stab = uw / dmin if dmin > 0 else math.inf
        rows.append(_row(
            "stability", s.name, h, dtype, stab, 1.0,
            "unit roundoff / min distance of a discrete pole to the unit circle", pv,
            f"nearest pole 1-|z|={dmin:.3g} at lambda={complex(lam[h][j]):.4g}, "
            f"dt={s.dt[h]:.3g}" + ("; UNSTABLE (Re lambda >= 0)" if dmin <= 0 else
                                   "; closer than the unit roundoff" if stab > 1 else "")))
        if s.tilde:
            rows.append(_row(
                "c_recovery", s.name, h, dtype, cond[h] * 2.0 ** -52, tolK,
                "C~ -> C recovery: cond(I - Ad^Lk) * eps64 (other length or rate)",
                {**pv, "cond": _f(cond[h]), "l_kernel": s.l_kernel},
                f"cond(I - Ad^{s.l_kernel}) = {cond[h]:.3g}; " + why))
        rows.append(_row(
            "step_drift", s.name, h, dtype, drift[h], tolS,
            f"step recurrence in {dtype} vs float64 convolution over L steps, rel. max error",
            pv, f"budget {STEP_CONSTANT:g} (N + L) eps; " + why))
    for h in picks:
        pv = {**common, "dt": float(s.dt[h]), "max_re_lambda": float(np.max(lam[h].real)),
              "min_pole_distance": float(dmins[h]), "dps": dps}
        rows.append(_row(
            "kernel_arb", s.name, h, dtype, _rel(Ks[:, h][:, None], arb[h][:, None])[0], tolK,
            f"kernel in {dtype} vs arb ground truth ({dps} digits), rel. max error", pv,
            "sampled channel"))
        rows.append(_row(
            "reference_arb", s.name, h, "float64", _rel(K64[:, h][:, None], arb[h][:, None])[0],
            max(tolK / 10, kernel_tolerance("float64", N, L)),
            "float64 kernel vs arb ground truth (the every-channel reference; 10x inside "
            "the budget)", pv, "sampled channel"))
    return rows


# --------------------------------------------------------------------------- command line


def _markdown_summary(res, path):
    lines = ["## Model check", "",
             f"Model `{path}`, serving precision {res.dtype}, length {res.length}: "
             f"{len(res.layers)} layers, {sum(s.H for s in res.layers)} channels, "
             f"{res.elapsed:.1f} s. Channels checked against arb: " +
             ("; ".join(f"{k}: {v}" for k, v in res.sample.items()) or "none") + ".", ""]
    bad = res.failing_channels()
    if not bad:
        lines.append("Every channel is within its bounds.")
        return "\n".join(lines)
    lines += [f"{len(bad)} failing channels (worst first):", "",
              "| layer | channel | failing checks | dt | max Re lambda | min 1-abs(z) |",
              "|---|---|---|---|---|---|"]
    first = {}
    for r in res.rows:
        first.setdefault((r.params.get("layer"), r.params.get("channel")), r.params)
    for layer, h, checks in bad:
        p = first[(layer, h)]
        lines.append(f"| {layer} | {h} | {', '.join(checks)} | {p.get('dt', math.nan):.3g} | "
                     f"{p.get('max_re_lambda', math.nan):.3g} | "
                     f"{p.get('min_pole_distance', math.nan):.3g} |")
    return "\n".join(lines)


def run(path, *, out="report", length=None, dtype="float32", sample=2, **options):
    """``statespace verify --model PATH``: check a model and write its report.

    Parameters
    ----------
    path : str or path
        Model file (see :func:`load_systems`).
    out : str or path, default "report"
        Report folder (``report.md``, ``report.json``), as ``statespace verify``.
    length : int, optional
        Length to check at (default: the stored training length).
    dtype : {"float32", "bfloat16", "float64"}, default "float32"
        Serving precision.
    sample : int, default 2
        Channels per layer checked against arb.
    **options
        Passed to :func:`check_model`.

    Returns
    -------
    int
        0 when every row passed, 1 when a channel exceeds a bound (the failing
        channels and why are printed and head the report), 2 when the check could
        not run (unreadable file, no SSM layer, no length, unusable ``--out``).

    Examples
    --------
    >>> import tempfile
    >>> from statespace.verification.model_check import run
    >>> run("no/such/model.pt", out=tempfile.mkdtemp())
    2
    """
    import sys

    from statespace.verification import report

    def not_run(msg):
        print(f"statespace verify --model: could not run: {msg}", file=sys.stderr)
        return 2

    try:
        out = report.check_out_dir(out)
    except report.ReportError as exc:
        return not_run(f"--out: {exc}")
    try:
        res = check_model(path, length=length, dtype=dtype, sample=sample, **options)
    except (ModelFileError, ValueError, ImportError) as exc:
        return not_run(str(exc))
    try:
        with report.ReportLock(out):
            report.recover_out_dir(out)
            meta = {"mode": "model", "model": str(path), "dtypes": [dtype],
                    "length": res.length, "sample": res.sample,
                    "elapsed_s": round(res.elapsed, 3),
                    "layers": [{"name": s.name, "H": s.H, "N": s.N, "method": s.method,
                                "tilde": s.tilde, "l_kernel": s.l_kernel,
                                "source": s.source} for s in res.layers]}
            written = report.write_report(res.rows, out, meta=meta,
                                          summary=_markdown_summary(res, path))
    except (report.ReportError, OSError) as exc:
        return not_run(f"{type(exc).__name__}: {exc}")
    print(res.summary())
    print(f"report: {written['markdown']}")
    return 0 if res.passed else 1
