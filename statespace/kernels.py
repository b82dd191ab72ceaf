r"""Convolution kernels of discretized state space models.

Three paths compute the same object, the length-``L`` kernel

.. math:: K_l = C \bar A^l \bar B, \qquad l = 0, \dots, L-1,

of a discretized system :math:`(\bar A, \bar B, C)`:

* :func:`kernel_dense`: the reference for any dense ``(A, B, C)`` and any
  discretization, by repeated squaring of :math:`\bar A` (Krylov doubling),
  :math:`O(N^2 L)` work;
* :func:`kernel_dplr`: the S4 algorithm (Gu, Goel & Ré 2022, Algorithm 1) for
  diagonal plus low-rank ``A = diag(Lambda) - P^H P`` under the bilinear
  transform: truncated generating function at roots of unity, Cauchy sums,
  Woodbury identity, inverse FFT; :math:`O((N + L) \log L)`-type work per channel;
* :func:`kernel_diag`: the S4D Vandermonde kernel for diagonal ``A``.

The numerically stable form of Algorithm 1 used here
-----------------------------------------------------
With :math:`\bar A = (I - \tfrac{\Delta}{2}A)^{-1}(I + \tfrac{\Delta}{2}A)` and
:math:`\bar B = (I - \tfrac{\Delta}{2}A)^{-1}\Delta B`, the truncated generating
function at a node :math:`\omega` with :math:`\omega^L = \rho` is

.. math::

    \hat K(\omega) = \sum_{l<L} K_l \omega^l
    = \tilde C\,\big((1-\omega) I - \tfrac{\Delta}{2}(1+\omega) A\big)^{-1} \Delta B,
    \qquad \tilde C = C (I - \rho \bar A^L).

For ``A = diag(Lambda) - P^H P`` the diagonal part of the bracket factors per mode
as :math:`(1 - \tfrac{\Delta}{2}\lambda_n)(1 - \omega \bar\lambda_n)` with the
*discrete* pole :math:`\bar\lambda_n = (1 + \Delta\lambda_n/2)/(1 - \Delta\lambda_n/2)`.
Writing :math:`z = \omega^{-1} = \bar\omega` (on the unit circle), every Cauchy term
becomes

.. math:: \frac{z\, s_n\, x_n y_n}{z - \bar\lambda_n}, \qquad s_n = \frac{1}{1 - \Delta\lambda_n/2},

so all denominators are :math:`O(1)`: :math:`|z| = 1` and
:math:`|\bar\lambda_n| \le 1` for stable modes. Nothing is evaluated through
:math:`g(\omega) = \tfrac{2}{\Delta}\tfrac{1-\omega}{1+\omega}`, which blows up at
:math:`\omega = -1`. The Woodbury identity with :math:`\sigma = \tfrac{\Delta}{2}(1 + z)`
gives

.. math::

    \hat K = \Delta z \left[k_{cb} - \sigma\, k_{cp} (I + \sigma k_{pp})^{-1} k_{pb}\right],
    \qquad k_{xy}(z) = \sum_n \frac{s_n x_n y_n}{z - \bar\lambda_n},

with numerators :math:`\tilde c_n b_n`, :math:`\tilde c_n \bar p_{rn}`,
:math:`p_{rn} b_n` and :math:`p_{rn}\bar p_{r'n}` that share one set of poles.
The nodes are computed from ``cos``/``sin`` of exact angles in float64.

Two node sets are used:

* ``tilde=False`` (``C`` given, the exact kernel): half-shifted nodes off the unit
  circle, :math:`\omega_k = \rho\, e^{-i\pi(2k+1)/L}` with :math:`\rho = e^{-1/L}`
  (so :math:`\omega^L = -\rho^L`). The correction
  :math:`\tilde C = C(I + \rho^L \bar A^L)` is computed here in complex128 by binary
  powering of :math:`\bar A - I` (formed through the Woodbury identity, so a
  transition close to the identity loses no digits), and
  :math:`K_l = \rho^{-l} e^{i\pi l/L}\,\mathrm{ifft}(\hat K)_l`. These nodes never
  include :math:`\omega = 1`, where a zero eigenvalue (the Fourier measures) makes a
  denominator vanish, and every node stays about :math:`1/L` away from the poles
  on the unit circle of the purely oscillatory modes (LegT, LagT, FouT), at the
  cost of a factor :math:`\le e` on the inverse transform's rounding.
* ``tilde=True`` (``C`` holds :math:`\tilde C = C(I - \bar A^L)`, as trained S4
  parameterisations do): the roots of unity :math:`\omega_k = e^{-2\pi i k/L}`
  (:math:`\rho = 1`), :math:`K = \mathrm{ifft}(\hat K)`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import array_api_compat

from . import _array, _router
from . import reductions as _red
from ._compensated import cauchy_compensated
from .discretize import DenseSystem, DiagSystem, _diag_terms, _resolve_method, discretize
from .reductions import vandermonde

__all__ = ["kernel_dense", "kernel_dplr", "kernel_diag"]

# Elements of complex workspace per channel chunk (the per-chunk Cauchy sums, the
# spectrum and the inverse FFT); keeps peak memory at a small multiple of the output.
_CHUNK_ELEMS = 1 << 20

# The exact path evaluates the generating function on the circle |z| = exp(_RADIUS / L)
# (|omega| = rho = exp(-_RADIUS / L)): every node then stays >= ~_RADIUS / L away from
# any stable discrete pole (|lambda_d| <= 1), including the purely oscillatory modes of
# LegT/LagT/FouT that sit on the unit circle, at the price of amplifying the inverse
# transform's rounding by at most rho^{-L} = e^{_RADIUS}.
_RADIUS = 1.0

# kernel_diag's methods: two discretizations and DSS's normalised ZOH kernel
_DIAG_METHODS = ("zoh", "bilinear", "dss")


# --------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------
def _nodes(xp, L, count, shifted, cdtype, device, growth=0.0):
    """``z_k = exp(growth / L) exp(i theta_k)``, theta_k = pi (2k+1)/L (shifted) or 2 pi k/L.

    The angle is reduced exactly, in integers, to the nearest quarter turn plus a
    residual of at most pi/4: the nodes at 1, i, -1 and -i are exact (``sin(pi)`` is
    0, not 1.2e-16), and the others as accurate as their residual's sine and cosine.
    """
    k = xp.arange(count, dtype=xp.int64, device=device)
    re, im = _cis_quarter(xp, 2 * (2 * k + 1) if shifted else 4 * k, L)
    mod = math.exp(growth / L)
    return xp.astype(_array._complex(xp, mod * re, mod * im), cdtype)


def _cis_quarter(xp, n2, L):
    """``(cos, sin)`` of ``(pi / 2) n2 / L`` for an int64 array ``n2`` (float64), with the
    angle reduced exactly to the nearest quarter turn plus a residual of at most pi/4."""
    q = (2 * n2 + L) // (2 * L)  # nearest quarter turn
    phi = (math.pi / 2 / L) * xp.astype(n2 - q * L, xp.float64)
    c, sn = xp.cos(phi), xp.sin(phi)
    q = q % 4
    re = xp.where(q == 0, c, xp.where(q == 1, -sn, xp.where(q == 2, -c, sn)))
    im = xp.where(q == 0, sn, xp.where(q == 1, c, xp.where(q == 2, -sn, -c)))
    return re, im


class _ShiftedNodes(NamedTuple):
    """The nodes as ``z - 1`` or ``z + 1``, whichever is away from cancellation.

    ``segments`` lists ``(k0, k1, sign)``: nodes ``k0 <= k < k1`` are carried as
    ``z_k - sign`` (``sign = 1`` where ``Re z_k >= 0``, ``-1`` elsewhere), in ``values``.
    """

    values: Any
    segments: tuple


def _shifted_nodes(xp, z, L, shifted):
    r"""``z - 1`` on the nodes ``z`` (complex128, from :func:`_nodes`) with ``Re z >= 0``
    and ``z + 1`` on the others, as a :class:`_ShiftedNodes`.

    Both are exact for the rounded nodes (Sterbenz), so the sums see the very nodes
    the rest of the algorithm uses; what the shift buys is the poles' side, which is
    formed as :math:`\bar\lambda \mp 1` without cancellation.
    """
    count = z.shape[-1]
    theta0, step = (math.pi / L, 2 * math.pi / L) if shifted else (0.0, 2 * math.pi / L)
    # theta_k = theta0 + k step increases with k: Re z_k < 0 on one run of indices
    lo = min(count, max(0, math.floor((math.pi / 2 - theta0) / step) + 1))
    hi = min(count, max(lo, math.ceil((3 * math.pi / 2 - theta0) / step)))
    segments = tuple((a, b, sign) for a, b, sign in ((0, lo, 1), (lo, hi, -1), (hi, count, 1))
                     if b > a)
    k = xp.arange(count, device=_array.device_of(z))
    near_one = xp.logical_or(k < lo, k >= hi)
    return _ShiftedNodes(xp.where(near_one, z - 1, z + 1), segments)


def _cauchy_shifted(xp, v, nodes, lam_d1, s, conj):
    """The Cauchy sums ``sum_n v_n / (z_k - lam_d,n)`` of :func:`kernel_dplr` with every
    difference formed without cancellation, as ``(z_k - 1) - (lam_d - 1)`` near
    ``z = 1`` and ``(z_k + 1) - (lam_d + 1)`` near ``z = -1`` (``lam_d + 1 = 2 s``).

    ``v`` (m, 1+r, 1+r, N) in the working dtype, ``nodes`` a :class:`_ShiftedNodes`,
    ``lam_d1`` and ``s`` (m, N) complex128. Returns (m, 1+r, 1+r, count).
    """
    parts = []
    for k0, k1, sign in nodes.segments:
        poles = lam_d1 if sign == 1 else 2 * s
        parts.append(_reduction(
            "kernel_dplr", _NODE_ON_POLE, cauchy_compensated, v, nodes.values[k0:k1],
            poles[:, None, None, :], conj=conj))
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=-1)


def _woodbury1_fused(xp, v, nodes, z, lam_d1, s, h, conj):
    """The rank-1 generating function ``G`` (m, count), complex128, by the fused
    one-pass kernel (:func:`statespace._router.cauchy_woodbury1`) on each segment of
    :class:`_ShiftedNodes` (differences as in :func:`_cauchy_shifted`, the Woodbury
    step on the nodes ``z`` with steps ``h = dt / c``); None where it does not apply.

    ``v`` (m, 4, N) in the working dtype, scaled by ``c`` as in :func:`kernel_dplr`.
    """
    parts = []
    for k0, k1, sign in nodes.segments:
        poles = lam_d1 if sign == 1 else 2 * s
        G = _router.cauchy_woodbury1(xp, v, nodes.values[k0:k1], poles, h, conj=conj,
                                     z_woodbury=z[k0:k1])
        if G is None:
            return None
        parts.append(G)
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=-1)


def _to(xp, x, dtype, device, name, min_ndim=1):
    """Array of ``xp`` with ``dtype`` (complex promotion allowed), no copy when possible.

    Integer arrays are converted; booleans, masked arrays and non-numeric input raise
    ``TypeError`` (:func:`statespace._array.check_array`).
    """
    x = _array.check_array(xp, x, name, device=device, min_ndim=min_ndim)
    if x.dtype != dtype:
        if _array.is_complex(xp, x) and not xp.isdtype(dtype, "complex floating"):
            dtype = _array.complex_dtype(xp, dtype)
        x = xp.astype(x, dtype)
    return x


def _check_state_size(arrays, names):
    sizes = {n: a.shape[-1] for a, n in zip(arrays, names, strict=True) if a is not None}
    if len(set(sizes.values())) > 1:
        desc = ", ".join(f"{n}: {s}" for n, s in sizes.items())
        raise ValueError(f"state sizes (last axis) disagree: {desc}")
    for n, size in sizes.items():
        if size < 1:
            raise ValueError(f"{n} must have a state size (last axis) N >= 1, got 0")


def _dt_batch(xp, dt, batch, real_dt, device, batch_name="the system"):
    """Validated ``dt`` (real ``real_dt`` array) and the batch shape with it broadcast in.

    The one ``dt`` rule of the library (:func:`statespace._array.broadcast_dt`): ``dt``
    broadcasts against the batch shape and may add axes.
    """
    dt = _array.check_dt(xp, dt, dtype=real_dt, device=device)
    return dt, _array.broadcast_dt(batch, dt, batch_name)


def _check_bilinear(xp, Lambda, dt, what):
    """``ValueError`` if some ``1 - dt*Lambda/2`` is zero (the bilinear transform of the
    mode is singular: a pole at infinity). ``dt`` broadcasts against the batch of
    ``Lambda`` (batch + (N,)). Skipped while tracing."""
    if _array.compiling():
        return
    den = 1 - (xp.astype(dt, Lambda.dtype) if _array.is_complex(xp, Lambda) else dt)[
        ..., None] / 2 * Lambda
    if _array.flagged(xp.any(den == 0)):
        raise ValueError(
            f"{what}: the bilinear transform is singular, 1 - dt*Lambda/2 has a zero entry "
            "(a pole at infinity)"
        )


def _reduction(what, cause, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` (a Cauchy or Vandermonde reduction) with its value errors
    restated for the caller ``what``: the inputs were validated, so a failure means the
    sums overflowed or a node met a pole, for the reason ``cause``."""
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        raise ValueError(f"{what}: {cause} ({exc})") from exc


def _names(*names):
    return list(names) + ["dt"]


def _flatten(xp, x, batch, trailing):
    """Broadcast ``x`` to ``batch + trailing`` and merge the batch axes."""
    x = xp.broadcast_to(x, tuple(batch) + tuple(trailing))
    m = math.prod(batch)
    return xp.reshape(x, (m,) + tuple(trailing))


def _chunks(m, per_item):
    step = max(1, _CHUNK_ELEMS // max(1, per_item))
    return [(i, min(m, i + step)) for i in range(0, m, step)]


def _power_minus_identity(xp, X, L):
    """``(I + X)**L - I`` for a batch of matrices, keeping the deviation from I exact.

    Squaring carries ``X_k = (I + X)**(2**k) - I`` as ``X_{k+1} = 2 X_k + X_k X_k`` and
    the product as ``Y <- Y + X_k + Y X_k``, so a transition close to the identity
    (small ``dt``) loses no digits to the rounding of ``I + X``.
    """
    Y = None
    e = L
    while True:
        if e & 1:
            Y = X if Y is None else Y + X + xp.matmul(Y, X)
        e >>= 1
        if not e:
            break
        X = 2 * X + xp.matmul(X, X)
    return Y


# --------------------------------------------------------------------------------------
# dense reference
# --------------------------------------------------------------------------------------
def kernel_dense(A, B, C, dt, L, method="bilinear", *, alpha=None):
    r"""Reference kernel :math:`K_l = C \bar A^l \bar B` of a dense system.

    Parameters
    ----------
    A : array, shape (..., N, N)
        State matrix (real or complex); any stability.
    B : array, shape (..., N)
        Input vector.
    C : array, shape (..., N)
        Output vector.
    dt : float or array
        Step size(s) ``> 0``; an array broadcasts against the batch shape.
    L : int
        Kernel length, ``>= 1``.
    method : {"bilinear", "zoh", "gbt", "forward_euler", "backward_euler"}
        Discretization (see :mod:`statespace.discretize`).
    alpha : float, optional
        GBT parameter, required for ``method="gbt"``.

    Returns
    -------
    K : array, shape (..., L)
        Real for real inputs, complex otherwise.

    Raises
    ------
    TypeError
        Bad types (see :ref:`validation`): a non-numeric, boolean or masked array,
        ``dt`` not a real number or array, ``L`` not an integer.
    ValueError
        NaN/inf inputs, ``dt <= 0``, ``L < 1``, mismatched state sizes or batch
        shapes (``dt`` included), a singular :math:`I - \alpha\Delta A`, or a
        kernel that overflows (an unstable system over ``L`` steps).

    Notes
    -----
    The Krylov sequence :math:`[\bar B, \bar A\bar B, \dots, \bar A^{L-1}\bar B]` is
    built by doubling: with :math:`X_m` its first :math:`m` columns,
    :math:`X_{2m} = [X_m, \bar A^m X_m]` and :math:`\bar A^{2m} = (\bar A^m)^2`, so
    the cost is :math:`O(N^2 L + N^3 \log L)` per channel and memory
    :math:`O(N L)`. Rounding accumulates roughly like :math:`L\,\epsilon` relative
    to the kernel's scale (each doubling level adds the error of one product).
    This is the baseline all faster paths are tested against.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> A, B = ss.hippo.transition("legs", 4)
    >>> C = np.ones(4)
    >>> K = ss.kernel_dense(A, B, C, 0.1, 5)
    >>> K.shape
    (5,)
    >>> bool(np.allclose(K[0], C @ np.linalg.solve(np.eye(4) - 0.05 * A, 0.1 * B)))
    True
    """
    L = _array.check_length(L)
    if method in ("foh", "impulse"):
        raise ValueError(
            f"kernel_dense supports method bilinear, zoh, gbt, forward_euler or "
            f"backward_euler, got {method!r} (its feedthrough term: see "
            "statespace.discretize.DenseDiscreteIO)"
        )
    a = _resolve_method(DenseSystem, method, alpha)  # the GBT alpha, None for ZOH
    xp = _array.namespace(A, B, C, dt if _array.is_array_api_obj(dt) else None,
                          names=_names("A", "B", "C"))
    dev = _array.device_of(A, B, C)
    A = _array.check_array(xp, A, "A", device=dev, min_ndim=2)
    B = _array.check_array(xp, B, "B", device=dev, min_ndim=1)
    C = _array.check_array(xp, C, "C", device=dev, min_ndim=1)
    if A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must have shape (..., N, N), got {tuple(A.shape)}")
    _check_state_size([A, B, C], ["A", "B", "C"])
    _array.check_finite(xp, C, "C")
    work = _array.result_float_dtype(xp, A, B, C)
    A, B, C = (_array.in_precision(xp, t, work) for t in (A, B, C))
    Ad, Bd = discretize(DenseSystem(A, B), dt, method, alpha=alpha)
    # the discretization broadcast A, B and dt; C must broadcast against that batch
    _array.broadcast_shapes([tuple(Ad.shape[:-2]), tuple(C.shape[:-1])],
                            ["A, B and dt", "C"])
    if _array.is_complex(xp, Ad) or _array.is_complex(xp, C):
        cdt = _array.complex_dtype(xp, Ad.dtype if _array.is_complex(xp, Ad) else C.dtype)
        Ad, Bd, C = (xp.astype(t, cdt) for t in (Ad, Bd, C))
    else:
        wdt = _array.result_float_dtype(xp, Ad, C)
        Ad, Bd, C = (xp.astype(t, wdt) for t in (Ad, Bd, C))
    eye = xp.eye(Ad.shape[-1], dtype=Ad.dtype, device=dev)
    if a is None:  # ZOH
        D = Ad - eye
    else:
        # Ad - I = (I - a dt A)^{-1} dt A, formed directly: for small dt, Ad = I + O(dt)
        # cannot carry its deviation from I to full relative precision, and powers of
        # the rounded Ad would accumulate ~L eps / dt instead of ~L eps.
        dtA = _array.check_dt(xp, dt, dtype=Ad.dtype if not _array.is_complex(xp, Ad)
                              else _array.real_dtype(xp, Ad.dtype), device=dev)
        dtA = xp.astype(dtA, Ad.dtype)[..., None, None] * xp.astype(A, Ad.dtype)
        D = _array.solve(xp, eye - a * dtA, dtA, what="I - alpha*dt*A")
    # Krylov doubling on the deviation: X_{2m} = [X_m, X_m + D_m X_m] with
    # D_m = Ad^m - I and D_{2m} = 2 D_m + D_m D_m.
    X = Bd[..., :, None]
    while X.shape[-1] < L:
        X = xp.concat([X, X + xp.matmul(D, X)], axis=-1)
        if X.shape[-1] < L:
            D = 2 * D + xp.matmul(D, D)
    X = X[..., :L]
    K = xp.sum(C[..., :, None] * X, axis=-2)
    _array.check_result(
        xp, K, "kernel_dense",
        "C Ad^l Bd exceeds the floating-point range for some l < L (the discrete system "
        "grows: |eigenvalue of Ad| > 1 over L steps)",
    )
    return K


# --------------------------------------------------------------------------------------
# S4: diagonal plus low rank, bilinear
# --------------------------------------------------------------------------------------
def kernel_dplr(Lambda, P, B, C, dt, L, *, halved=False, tilde=False):
    r"""S4 convolution kernel of a diagonal-plus-low-rank system (Algorithm 1).

    Computes :math:`K_l = C \bar A^l \bar B` for ``A = diag(Lambda) - P^H P``
    discretized by the bilinear transform, exactly (up to rounding) for
    :math:`l = 0..L-1`.

    Parameters
    ----------
    Lambda : array, shape (..., N)
        Diagonal part (complex or real).
    P : array, shape (..., r, N)
        Low-rank factor (``r >= 0``); ``A = diag(Lambda) - P^H P``.
    B : array, shape (..., N)
        Input vector.
    C : array, shape (..., N)
        Output vector, or :math:`\tilde C = C(I - \bar A^L)` when ``tilde=True``.
    dt : float or array
        Step size(s) ``> 0``, broadcasting against the batch shape (e.g. ``(H,)``).
    L : int
        Kernel length ``>= 1``.
    halved : bool, default False
        ``True``: each of the ``N`` modes stands for a conjugate pair (the full
        system is ``[Lambda, conj(Lambda)]``, ``[P, conj(P)]``, ...) and the
        kernel is real, :math:`2\,\mathrm{Re}` of the half sum. ``False``: the
        system as given (complex kernel for complex inputs).
    tilde : bool, default False
        ``True``: ``C`` already holds :math:`\tilde C = C(I - \bar A^L)` (training
        parameterisations learn :math:`\tilde C` directly and skip the
        :math:`O(N^3 \log L)` correction). ``False``: the correction is computed
        here, once per call, in float64/complex128 by binary powering of the dense
        discrete transition. The Cauchy sums are formed on :math:`z - 1` and
        :math:`\bar\lambda - 1 = \Delta\lambda / (1 - \Delta\lambda/2)`, so small
        steps, which put every discrete pole within :math:`O(\Delta)` of the node
        :math:`z = 1`, cost no accuracy: measured in float64 on LegS, N = 16, L = 64,
        ``tilde=True`` on :math:`\tilde C` from :func:`statespace.boundary.c_tilde_dplr`
        agrees with ``tilde=False`` to 2e-15 at ``dt = 1e-3`` and 4e-15 at
        ``dt = 1e-7``.

    Returns
    -------
    K : array, shape (..., L)
        Real when ``halved=True`` or all inputs are real; complex otherwise.
        dtype float32/complex64 for single-precision inputs, else 64-bit.

    Warns
    -----
    RuntimeWarning
        When some ``Re(Lambda) > 0``: the system may be unstable and the truncation
        correction :math:`I \pm \bar A^L` is then ill-posed (use
        :func:`kernel_dense` for unstable systems). Not checked while
        ``torch.compile`` traces the call (a host synchronisation).

    Raises
    ------
    TypeError
        Bad types (see :ref:`validation`): a non-numeric, boolean or masked array,
        ``dt`` not a real number or array, ``halved``/``tilde`` not a bool, ``L``
        not an integer.
    ValueError
        NaN/inf inputs, ``dt <= 0``, ``L < 1``, mismatched state sizes or batch
        shapes (``dt`` included), a zero :math:`1 - \Delta\lambda_n/2`, or a kernel
        that overflows.

    Notes
    -----
    See the module documentation for the stable discrete-pole form of the
    generating function used here. Rank 1 and 2 use closed-form inverses of
    :math:`I + \sigma k_{pp}`; higher ranks a batched ``solve``. The four (in
    general :math:`(1+r)^2`) Cauchy sums share their denominators. Channels are
    processed in chunks so the workspace stays a small multiple of the output.

    Accuracy. The denominators :math:`z - \bar\lambda_n` are formed as
    :math:`(z \mp 1) - (\bar\lambda_n \mp 1)` with the poles' side computed
    without cancellation, so steps from :math:`10^{-9}` to :math:`10^{300}` keep full
    precision (poles crowd :math:`z = 1` for small steps and :math:`z = -1` for large
    ones); the sums are scaled by :math:`\max(\Delta, 1)` so the Woodbury products
    stay in range. Two regimes are accurate only in absolute terms, both inherent to
    the normal-plus-low-rank form: a pole of :math:`\mathrm{diag}(\Lambda)` (not
    of :math:`A`) within :math:`\delta` of a node adds :math:`|v_n|/\delta` to every
    sum, which the Woodbury step cancels, leaving an error of about
    :math:`\epsilon |v_n| / \delta`; and when
    :math:`w = \tfrac{\Delta}{2}\lVert P\rVert^2 / |1 - \Delta\lambda/2|` is
    large the low-rank correction cancels about :math:`\log_{10} w` digits (see
    :class:`statespace.discretize.DPLRDiscrete`). A pole exactly on a node raises
    ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> d = ss.nplr("legs", 8)
    >>> C = np.ones(8)
    >>> K = ss.kernel_dplr(d.Lambda, d.P, d.B, C @ d.V, 0.1, 16)
    >>> A, B = ss.hippo.transition("legs", 8)
    >>> Kd = ss.kernel_dense(A, B, C, 0.1, 16)
    >>> bool(np.allclose(K, Kd, rtol=0, atol=1e-12))
    True
    """
    L = _array.check_length(L)
    halved = _array.check_flag(halved, "halved")
    tilde = _array.check_flag(tilde, "tilde")
    xp = _array.namespace(Lambda, P, B, C, dt if _array.is_array_api_obj(dt) else None,
                          names=_names("Lambda", "P", "B", "C"))
    dev = _array.device_of(Lambda, P, B, C)
    real_dt = _array.result_float_dtype(xp, Lambda, P, B, C)
    cdt = _array.complex_dtype(xp, real_dt)
    Lambda = _to(xp, Lambda, real_dt, dev, "Lambda")
    P = _to(xp, P, real_dt, dev, "P", min_ndim=2)
    B = _to(xp, B, real_dt, dev, "B")
    C = _to(xp, C, real_dt, dev, "C")
    _check_state_size([Lambda, P, B, C], ["Lambda", "P", "B", "C"])
    for x, n in ((Lambda, "Lambda"), (P, "P"), (B, "B"), (C, "C")):
        _array.check_finite(xp, x, n)
    real_out = halved or not any(_array.is_complex(xp, x) for x in (Lambda, P, B, C))
    N, r = Lambda.shape[-1], P.shape[-2]
    batch = _array.broadcast_shapes(
        [Lambda.shape[:-1], P.shape[:-2], B.shape[:-1], C.shape[:-1]],
        ["Lambda", "P", "B", "C"],
    )
    dt, batch = _dt_batch(xp, dt, batch, xp.float64, dev, "Lambda, P, B and C")
    _check_bilinear(xp, Lambda, dt, "kernel_dplr")
    # Re(Lambda) = 0 up to rounding (the skew normal parts of LegT, LagT, FouT) is stable;
    # a host sync, skipped while tracing like the other value checks
    if not _array.compiling():
        lam_abs = xp.abs(Lambda)
        lam_tol = 64 * _array.eps(xp, real_dt) * xp.where(lam_abs > 1, lam_abs, 1.0)
        if _array.flagged(xp.any(_array.real(xp, Lambda) > xp.max(lam_tol))):
            warnings.warn(
                "some Re(Lambda) > 0: the system may be unstable and the truncation "
                "correction of kernel_dplr is ill-posed; use kernel_dense for unstable "
                "systems",
                RuntimeWarning,
                stacklevel=2,
            )

    # Flatten the broadcast batch; work in complex128 for setup quantities.
    c128 = xp.complex128
    Lam = _flatten(xp, xp.astype(Lambda, c128), batch, (N,))
    Pm = _flatten(xp, xp.astype(P, c128), batch, (r, N))
    Bm = _flatten(xp, xp.astype(B, c128), batch, (N,))
    Cm = _flatten(xp, xp.astype(C, c128), batch, (N,))
    dtm = _flatten(xp, dt, batch, ())
    m = Lam.shape[0]

    shifted = not tilde
    count = (L + 1) // 2 if shifted else L // 2 + 1
    if not real_out:
        count = L
    growth = _RADIUS if shifted else 0.0
    # nodes and discrete poles stay complex128 until the reduction: in single precision
    # their rounding, not the sums, dominates the error near the unit circle, and
    # cauchy_compensated carries both as hi + lo complex64 pairs (docs/float32.md)
    # The Cauchy sums run on z - 1 and lam_d - 1 (nodes with Re z >= 0) or z + 1 and
    # lam_d + 1 (the others): the same differences z - lam_d, with the poles' side
    # formed without cancellation. Small steps put the discrete poles at lam_d = 1 + O(dt), large
    # ones at -1 + O(1 / dt); rounding lam_d itself would cost eps / (dt |lambda|) or
    # eps dt |lambda| relative accuracy in the differences at the nodes there.
    z = _nodes(xp, L, count, shifted, c128, dev, growth)
    znodes = _shifted_nodes(xp, z, L, shifted)
    twist = None
    if shifted:  # rho^{-l} exp(i pi l / L) with rho^{-L} = e^{growth}
        ell = xp.arange(L, dtype=xp.float64, device=dev)
        mod = xp.exp((growth / L) * ell)
        ang = (math.pi / L) * ell
        twist = xp.astype(_array._complex(xp, mod * xp.cos(ang), mod * xp.sin(ang)), cdt)

    out_dtype = real_dt if real_out else cdt
    out = None
    near = None
    if cdt != c128 and not shifted:
        # single precision, roots of unity: the exact sums at the node nearest to each
        # pole, for all channels at once (O(r^2 N^2) per channel; see _near_nodes)
        # (the quantities of the loop below, for every channel)
        s_all = 1 / (1 - dtm[:, None] / 2 * Lam)
        lam_d1_all = (dtm[:, None] * s_all) * Lam
        c_all = xp.where(dtm > 1, dtm, xp.ones_like(dtm))
        U = xp.concat([Cm[:, None, :], Pm], axis=1)
        W = xp.concat([Bm[:, None, :], xp.conj(Pm)], axis=1)
        v_all = U[:, :, None, :] * W[:, None, :, :] * (c_all[:, None] * s_all)[:, None, None, :]
        near = _near_nodes(xp, v_all, 1 + lam_d1_all, lam_d1_all, s_all,
                           xp.astype(dtm / c_all, c128)[:, None], L, count, halved, r)
    nf = 2 * N if halved else N
    for i0, i1 in _chunks(m, (1 + r) ** 2 * count + 4 * L + nf * nf):
        sl = (slice(i0, i1), ...)
        lam, pp, bb, cc, dd = Lam[sl], Pm[sl], Bm[sl], Cm[sl], dtm[sl]
        if not tilde:
            cc = _c_tilde_shifted(xp, lam, pp, cc, dd, L, halved, math.exp(-_RADIUS))
        half = dd[:, None] / 2
        s = 1 / (1 - half * lam)
        lam_d1 = (dd[:, None] * s) * lam  # lam_d - 1 = dt lambda / (1 - dt lambda / 2)
        # The sums are taken on the numerators scaled by c = max(dt, 1) per channel and
        # the Woodbury step on sigma / c: the same G, but for large steps (s ~ 2 / (dt
        # lambda)) the sums stay O(1 / lambda) instead of O(1 / dt), whose products in
        # the Woodbury step would underflow (dt = 1e300) or leave complex64's range.
        c = xp.where(dd > 1, dd, xp.ones_like(dd))
        U = xp.concat([cc[:, None, :], pp], axis=1)  # (m, 1+r, N)
        W = xp.concat([bb[:, None, :], xp.conj(pp)], axis=1)  # (m, 1+r, N)
        v = U[:, :, None, :] * W[:, None, :, :] * (c[:, None] * s)[:, None, None, :]
        dd_c = xp.astype(dd / c, c128)[:, None]  # dt / c
        G = None
        if r == 1:
            # rank 1 on the fused CPU kernel: the four sums (on the shifted nodes and
            # poles, as _cauchy_shifted) and the complex128 Woodbury step in one pass
            # over the nodes; None where it does not apply
            G = _woodbury1_fused(xp, xp.reshape(xp.astype(v, cdt), (v.shape[0], 4, N)),
                                 znodes, z, lam_d1, s, dd / c, halved)
        if G is None:
            kk = _cauchy_shifted(xp, xp.astype(v, cdt), znodes, lam_d1, s, halved)
            # single precision: the O(r^2 L) Woodbury combination runs in complex128 on
            # the complex64 sums; near a pole it cancels the pole's terms, which
            # complex64 arithmetic would leave at eps32 |k| (docs/float32.md)
            kk = xp.astype(kk, c128)
            G = dd_c * z * _woodbury(xp, kk, dd_c / 2 * (1 + z), r)  # (m, count)
        if near is not None:
            G = _near_nodes_exact(xp, G, *(a[sl] for a in near))
        G = xp.astype(G, cdt)
        Kc = xp.astype(_inverse(xp, G, L, shifted, real_out, twist), out_dtype)
        if i0 == 0 and i1 == m:
            out = Kc
        else:
            # written chunk by chunk into one buffer: peak memory ~ output + one chunk
            if out is None:
                out = xp.empty((m, L), dtype=out_dtype, device=dev)
            out[sl] = Kc
    K = xp.reshape(out, tuple(batch) + (L,))
    _array.check_result(
        xp, K, "kernel_dplr",
        "the kernel or its truncation correction C (I - Ad^L) exceeds the floating-point "
        "range (an unstable system, Re(Lambda) > 0, over L steps)",
    )
    return K


_NODE_ON_POLE = (
    "a discrete pole lies on an evaluation node or the sums overflow (an unstable or "
    "undamped mode; with tilde=True the nodes are the roots of unity, which a pole of a "
    "zero eigenvalue meets)"
)


def _near_nodes(xp, v, lam_d, lam_d1, s, dd_c, L, count, halved, r):
    r"""The generating function at the root of unity nearest to each discrete pole,
    in complex128: ``(j, Gn, mult)``, the node indices (m, P), the values (m, P) and
    how many poles share each node (m, P), for :func:`_near_nodes_exact`.

    ``v`` (m, 1+r, 1+r, N) the complex128 numerators, ``lam_d`` (m, N) the discrete
    poles and ``lam_d1`` the same minus one and ``2 s`` the same plus one (both to
    full relative precision), ``dd_c`` (m, 1) the steps divided by the scale of the
    numerators (see :func:`kernel_dplr`); ``count`` nodes are evaluated. At a node
    :math:`z` within :math:`\delta \ll 2\pi/L` of a pole :math:`\bar\lambda_n`
    every sum :math:`k_{xy}` carries the term :math:`v_{xy,n}/(z - \bar\lambda_n)` of
    size :math:`|v|/\delta`, and the Woodbury combination cancels it (the numerators
    of one mode form a rank-one matrix); the complex64 sums keep the rest only to
    :math:`\epsilon_{32}|v|/\delta` (up to :math:`10^{-2}` relative for trained
    modes with :math:`\mathrm{Re}\,\lambda \approx -10^{-4}`). Only the nearest
    node of each pole can be that close; the next is at least :math:`\pi/L` away,
    like every node of a generic system. These ``O(N)`` nodes per channel are
    recomputed here from the definition (``O(r^2 N^2)`` complex128 work), once for
    all channels, and written into each chunk's ``G`` by :func:`_near_nodes_exact`.
    """
    poles = xp.concat([lam_d, xp.conj(lam_d)], axis=-1) if halved else lam_d
    # index of the nearest root of unity exp(2 pi i j / L); past the evaluated half
    # (real kernels), the last node is recomputed instead, which is harmless
    ang = xp.atan2(xp.imag(poles), xp.real(poles))
    # (operators only: array_api_compat's remainder/minimum with a Python scalar break
    # a torch.compile graph)
    j = xp.round(ang * (L / (2 * math.pi)))
    j = j - L * xp.floor(j / L)
    j = j - xp.astype(j > count - 1, j.dtype) * (j - (count - 1))
    re, im = _cis_quarter(xp, 4 * xp.astype(j, xp.int64), L)  # _nodes' values, bit for bit
    zn = xp.astype(_array._complex(xp, re, im), xp.complex128)
    cauchy = _red.cauchy_conj if halved else _red.cauchy
    # the differences as in _cauchy_shifted: both shifts, each node keeping the one
    # away from cancellation (O(r^2 N^2) work each)
    kn = [_reduction("kernel_dplr", _NODE_ON_POLE, cauchy, v, (zn - sign)[:, None, None, :],
                     poles[:, None, None, :])
          for sign, poles in ((1, lam_d1), (-1, 2 * s))]
    kn = xp.where((re >= 0)[:, None, None, :], kn[0], kn[1])
    Gn = dd_c * zn * _woodbury(xp, kn, dd_c / 2 * (1 + zn), r)
    ji = xp.astype(j, xp.int64)
    mult = xp.sum(xp.astype(ji[:, :, None] == ji[:, None, :], xp.float64), axis=-1)
    return ji, Gn, xp.astype(mult, xp.complex128)


def _near_nodes_exact(xp, G, ji, Gn, mult):
    """``G`` (m, count) with the values ``Gn`` of :func:`_near_nodes` written at the
    nodes ``ji``: several poles may share a node, each adds its share ``1 / mult`` of
    the (identical) change."""
    delta = (Gn - xp.take_along_axis(G, ji, axis=-1)) / mult
    return _scatter_add(xp, G, ji, delta)


def _scatter_add(xp, x, idx, vals):
    """``x`` (m, n) with ``vals[i, k]`` added at ``[i, idx[i, k]]`` (repeats accumulate)."""
    if array_api_compat.is_torch_namespace(xp):
        return x.scatter_add(-1, idx, vals)
    if array_api_compat.is_numpy_namespace(xp):
        import numpy as np

        out = np.array(x, copy=True)
        np.add.at(out, (np.arange(x.shape[0])[:, None], idx), vals)
        return out
    # any other namespace: the changes as a product with the one-hot rows of idx
    # (O(m n len(idx)) work; these nodes are O(N) per channel)
    cols = xp.arange(x.shape[-1], dtype=idx.dtype, device=_array.device_of(x))
    onehot = xp.astype(idx[:, :, None] == cols, vals.dtype)
    return x + xp.matmul(vals[:, None, :], onehot)[:, 0, :]


def _c_tilde_shifted(xp, lam, pp, cc, dd, L, halved, rho_L):
    """``C (I + rho^L Ad^L)`` in complex128 from the dense discrete transition (full system)."""
    cc_full = xp.concat([cc, xp.conj(cc)], axis=-1) if halved else cc
    Y = _power_minus_identity(xp, _bilinear_deviation(xp, lam, pp, dd, halved), L)  # Ad^L - I
    # C (I + rho^L Ad^L) = (1 + rho^L) C + rho^L C (Ad^L - I)
    ct = (1 + rho_L) * cc_full + rho_L * xp.matmul(cc_full[:, None, :], Y)[:, 0, :]
    return ct[:, : cc.shape[-1]]


def _bilinear_deviation(xp, lam, pp, dd, halved):
    """``Ad - I`` (dense, full system) of the bilinear DPLR transition, batch ``(m,)``.

    ``lam`` (m, N), ``pp`` (m, r, N), ``dd`` (m,) real steps; the result has shape
    (m, n, n), ``n = 2N`` when ``halved``, in the dtype of ``lam``.
    """
    if halved:
        lam = xp.concat([lam, xp.conj(lam)], axis=-1)
        pp = xp.concat([pp, xp.conj(pp)], axis=-1)
    n, r = lam.shape[-1], pp.shape[-2]
    dev = _array.device_of(lam)
    eye = xp.eye(n, dtype=lam.dtype, device=dev)
    # (I - h A)^{-1} = E^{-1} - E^{-1} P^H S^{-1} P E^{-1} (Woodbury, E = diag(1 - h Lambda),
    # S = I/h + P E^{-1} P^H) keeps the diagonal part exact, and
    # Ad = (I - hA)^{-1}(I + hA) = 2 (I - hA)^{-1} - I needs no second product.
    h = xp.astype(dd, lam.dtype)[:, None] / 2
    einv = 1 / (1 - h * lam)  # (m, n)
    pe = pp * einv[:, None, :]  # P E^{-1}, (m, r, n)
    ph = xp.conj(xp.matrix_transpose(pp))  # P^H, (m, n, r)
    small = xp.eye(r, dtype=lam.dtype, device=dev) / h[:, :, None] + xp.matmul(pe, ph)
    low = xp.matmul(einv[:, :, None] * ph, _array.solve(
        xp, small, pe, what="I/h + P E^-1 P^H (the Woodbury matrix of I - dt/2 A)"))
    # Ad - I = 2 ((I - hA)^{-1} - I) = 2 (diag(h Lambda E^{-1}) - E^{-1} P^H S^{-1} P E^{-1})
    return 2 * (eye * (h * lam * einv)[:, None, :] - low)


def _woodbury(xp, kk, sigma, r):
    """``k_cb - sigma k_cp (I + sigma k_pp)^{-1} k_pb`` per node; kk is (m, 1+r, 1+r, L)."""
    k00 = kk[:, 0, 0, :]
    if r == 0:
        return k00
    if r == 1:
        return k00 - sigma * kk[:, 0, 1, :] * kk[:, 1, 0, :] / (1 + sigma * kk[:, 1, 1, :])
    if r == 2:
        a = 1 + sigma * kk[:, 1, 1, :]
        b = sigma * kk[:, 1, 2, :]
        c = sigma * kk[:, 2, 1, :]
        d = 1 + sigma * kk[:, 2, 2, :]
        det = a * d - b * c
        x1, x2 = kk[:, 1, 0, :], kk[:, 2, 0, :]
        y1 = (d * x1 - b * x2) / det
        y2 = (a * x2 - c * x1) / det
        return k00 - sigma * (kk[:, 0, 1, :] * y1 + kk[:, 0, 2, :] * y2)
    # general rank: batched small solve, nodes moved to the batch axis
    kpp = xp.permute_dims(kk[:, 1:, 1:, :], (0, 3, 1, 2))  # (m, L, r, r)
    eye = xp.eye(r, dtype=kk.dtype, device=_array.device_of(kk))
    M = eye + sigma[:, :, None, None] * kpp
    rhs = xp.permute_dims(kk[:, 1:, 0:1, :], (0, 3, 1, 2))  # (m, L, r, 1)
    y = _array.solve(xp, M, rhs, what="I + sigma k_pp (the Woodbury matrix at a node)")[..., 0]
    kcp = xp.permute_dims(kk[:, 0, 1:, :], (0, 2, 1))  # (m, L, r)
    return k00 - sigma * xp.sum(kcp * y, axis=-1)


def _inverse(xp, G, L, shifted, real_out, twist):
    """Kernel from the generating function at the nodes (see module notes)."""
    if not shifted:
        if real_out:
            return _array.fft(xp, "irfft", G, L)
        return _array.fft(xp, "ifft", G)
    if real_out:
        h = G.shape[-1]
        mirror = xp.conj(xp.flip(G[:, : L - h], axis=-1))
        G = xp.concat([G, mirror], axis=-1)
    k = _array.fft(xp, "ifft", G) * twist
    return xp.real(k) if real_out else k


# --------------------------------------------------------------------------------------
# S4D: diagonal
# --------------------------------------------------------------------------------------
def kernel_diag(Lambda, B, C, dt, L, method="zoh", *, halved=False):
    r"""S4D convolution kernel of a diagonal system (Vandermonde reduction).

    Parameters
    ----------
    Lambda : array, shape (..., N)
        Eigenvalues (complex or real).
    B : array, shape (..., N)
        Input vector.
    C : array, shape (..., N)
        Output vector.
    dt : float or array
        Step size(s) ``> 0``, broadcasting against the batch shape.
    L : int
        Kernel length ``>= 1``.
    method : {"zoh", "bilinear", "dss"}
        ``"zoh"``: :math:`\bar\lambda = e^{\Delta\lambda}`,
        :math:`\bar b = (e^{\Delta\lambda}-1)/\lambda\; b`.
        ``"bilinear"``: :math:`\bar\lambda = (1+\Delta\lambda/2)/(1-\Delta\lambda/2)`,
        :math:`\bar b = \Delta b/(1-\Delta\lambda/2)`.
        ``"dss"`` (Gupta et al., DSS): the ZOH kernel with ``C`` normalised by
        :math:`e^{L\Delta\lambda} - 1`, i.e.
        :math:`K_l = \sum_n c_n b_n \frac{e^{\Delta\lambda_n}-1}
        {\lambda_n (e^{L\Delta\lambda_n}-1)} e^{l\Delta\lambda_n}`,
        evaluated with the exponent shifted by :math:`L-1` for modes with
        :math:`\mathrm{Re}\,\lambda > 0` so nothing overflows.
    halved : bool, default False
        ``True``: conjugate-pair-halved modes, real kernel :math:`2\,\mathrm{Re}(\cdot)`.

    Returns
    -------
    K : array, shape (..., L)

    Raises
    ------
    TypeError
        Bad types (see :ref:`validation`): a non-numeric, boolean or masked array,
        ``dt`` not a real number or array, ``halved`` not a bool, ``method`` not a
        string, ``L`` not an integer.
    ValueError
        NaN/inf inputs, ``dt <= 0``, ``L < 1``, an unknown ``method``, mismatched
        state sizes or batch shapes (``dt`` included), a zero
        :math:`1 - \Delta\lambda_n/2` (bilinear), or a kernel that overflows
        (:math:`\mathrm{Re}(\Delta\lambda) L` too large).

    Notes
    -----
    :math:`K_l = \sum_n c_n \bar b_n \bar\lambda_n^{\,l}` is evaluated as
    :math:`\sum_n v_n e^{x_n l}` with :math:`x_n = \log\bar\lambda_n` (for the
    bilinear transform :math:`x_n = 2\,\mathrm{artanh}(\Delta\lambda_n/2)`, exact
    and accurate for small :math:`\Delta\lambda`), never by repeated powering.
    ZOH uses :math:`\varphi_1(z) = (e^z-1)/z` with a complex-safe ``expm1`` so
    :math:`\lambda \to 0` is exact.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> lam = np.array([-0.5 + 1j, -0.5 - 1j])
    >>> K = ss.kernel_diag(lam, np.ones(2), np.ones(2), 0.1, 4)
    >>> bool(np.allclose(K.imag, 0))
    True
    """
    L = _array.check_length(L)
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    if method not in _DIAG_METHODS:
        raise ValueError(f"method must be one of {_DIAG_METHODS}, got {method!r}")
    halved = _array.check_flag(halved, "halved")
    xp = _array.namespace(Lambda, B, C, dt if _array.is_array_api_obj(dt) else None,
                          names=_names("Lambda", "B", "C"))
    dev = _array.device_of(Lambda, B, C)
    real_dt = _array.result_float_dtype(xp, Lambda, B, C)
    cdt = _array.complex_dtype(xp, real_dt)
    Lambda = _to(xp, Lambda, real_dt, dev, "Lambda")
    B = _to(xp, B, real_dt, dev, "B")
    C = _to(xp, C, real_dt, dev, "C")
    _check_state_size([Lambda, B, C], ["Lambda", "B", "C"])
    for x, n in ((Lambda, "Lambda"), (B, "B"), (C, "C")):
        _array.check_finite(xp, x, n)
    real_out = halved or not any(_array.is_complex(xp, x) for x in (Lambda, B, C))
    batch = _array.broadcast_shapes(
        [Lambda.shape[:-1], B.shape[:-1], C.shape[:-1]], ["Lambda", "B", "C"]
    )
    dt, _ = _dt_batch(xp, dt, batch, real_dt, dev, "Lambda, B and C")
    dtc = xp.astype(dt, cdt)[..., None]
    lam = xp.astype(Lambda, cdt)
    cb = xp.astype(C, cdt) * xp.astype(B, cdt)
    z = dtc * lam
    # log of the discrete poles, formed from dt * Lambda (exact for ZOH; 2 artanh(z/2)
    # for bilinear), and C * Bd: DSS is the ZOH kernel with C normalised below
    alpha = _resolve_method(DiagSystem, "zoh" if method == "dss" else method, None)
    if alpha is not None and _array.flagged(xp.any(1 - alpha * z == 0)):
        raise ValueError(
            "kernel_diag: the bilinear transform is singular, 1 - dt*Lambda/2 has a zero "
            "entry (a pole at infinity)"
        )
    x, v = _diag_terms(xp, z, cb * dtc, alpha, log=True)
    _array.check_result(
        xp, v, "kernel_diag",
        "C * Bd exceeds the floating-point range: exp(dt*Lambda) overflows (Re(dt*Lambda) "
        "too large)" if alpha is None else
        "C * Bd exceeds the floating-point range (1 - dt*Lambda/2 nearly zero)",
    )
    _array.check_result(
        xp, x, "kernel_diag",
        "log of the discrete poles is not finite (the bilinear transform of dt*Lambda = 2)",
    )
    overflow = ("exp(l * log Lambda_d) exceeds the floating-point range for some l < L "
                "(an unstable mode: Re(log Lambda_d) * L too large)")
    if method != "dss":
        K = _reduction("kernel_diag", overflow, vandermonde, v, x, L)
    else:
        grow = _array.real(xp, z) > 0
        zero = xp.zeros_like(z)
        z_dec = xp.where(grow, zero, z)
        z_gro = xp.where(grow, z, zero)
        # decaying modes: v / (e^{L z} - 1) * e^{z l}
        denom = _array.expm1(xp, L * z_dec)
        singular = xp.logical_and(denom == 0, xp.logical_not(grow))
        if _array.flagged(xp.any(singular)):
            raise ValueError("method='dss' needs exp(L dt Lambda) != 1 (Lambda = 0?)")
        denom = xp.where(grow, xp.ones_like(z), denom)
        v_dec = xp.where(grow, zero, v / denom)
        # growing modes (Re z > 0), written with non-positive exponents only:
        # e^{z l} / (e^{L z} - 1) = e^{-z (L-1-l)} / (e^{z} - e^{-z (L-1)})
        g_den = xp.exp(z_gro) - xp.exp(-(L - 1) * z_gro)
        g_den = xp.where(grow, g_den, xp.ones_like(z))
        v_gro = xp.where(grow, v / g_den, zero)
        K = (_reduction("kernel_diag", overflow, vandermonde, v_dec, z_dec, L)
             + xp.flip(_reduction("kernel_diag", overflow, vandermonde, v_gro, -z_gro, L),
                       axis=-1))
    if halved:
        K = 2 * xp.real(K)
    elif real_out:
        K = xp.real(K)
    _array.check_result(xp, K, "kernel_diag", overflow)
    return xp.astype(K, real_dt) if real_out else xp.astype(K, cdt)

