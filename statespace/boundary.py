r"""What crosses the ends of a length-``L`` window: truncation correction and states.

The convolution kernels of :mod:`statespace.kernels` describe a system that starts at
rest and is read for ``L`` steps. Three quantities connect such a window to the
rest of a sequence, for the recurrence of :mod:`statespace.recurrence`

.. math::

    x_l = \bar A x_{l-1} + \bar B u_l, \qquad y_l = C x_l, \qquad l = 0, \dots, L-1,

started from a state :math:`x_{-1}`:

* the **truncation correction** :math:`\tilde C = C (I - \bar A^L)`, which S4 learns
  in place of ``C`` (:func:`c_tilde_dplr`, :func:`c_tilde_diag`) and its inverse
  :math:`C = \tilde C (I - \bar A^L)^{-1}` (:func:`c_from_tilde_dplr`,
  :func:`c_from_tilde_diag`), needed to evaluate a kernel at another length or
  step, or to step the recurrence;
* the **initial response** :math:`y_l = C \bar A^{l+1} x_{-1}`, what a state carried
  in from a previous window adds to the outputs (:func:`initial_response_dplr`,
  :func:`initial_response_diag`);
* the **final state** :math:`x_{L-1} = \bar A^{L} x_{-1} + \sum_{j<L}
  \bar A^{L-1-j} \bar B u_j`, what a window hands to the next one
  (:func:`final_state_dplr`, :func:`final_state_diag`).

With them a long sequence can be processed window by window with FFT convolutions
(:func:`statespace.causal_conv` plus the initial response, then the final state
for the next window) and agrees with :func:`statespace.scan` over the whole
sequence.

Systems and conventions
-----------------------
The ``*_dplr`` functions take :math:`A = \mathrm{diag}(\Lambda) - P^H P` discretized
by the bilinear transform (as :func:`statespace.kernel_dplr`); the ``*_diag``
functions take a diagonal ``A`` discretized by zero-order hold or the bilinear
transform (as :func:`statespace.kernel_diag`). Shapes follow the library: the state
size ``N`` is the last axis, leading axes are batch axes that broadcast (``P`` has
its rank just before ``N``, ``dt`` broadcasts against the batch shape, inputs ``u``
carry time on the last axis). ``halved=True`` means each of the ``N`` modes stands
for a conjugate pair: the full system is :math:`[\Lambda, \bar\Lambda]`,
:math:`[P, \bar P]`, :math:`[B, \bar B]`, :math:`[C, \bar C]`, states are
:math:`[x, \bar x]` of which ``x`` is passed and returned, and outputs are
:math:`2\,\mathrm{Re}(\cdot)`. Single-precision inputs give single-precision results
(float32 / complex64), anything else 64-bit.

Cost
----
The diagonal functions are elementwise or one :math:`O(N L)` reduction. The DPLR
functions need :math:`\bar A^L` itself for the correction, the solve and the state
maps; it is formed densely in complex128 by :math:`\lceil\log_2 L\rceil` squarings
of :math:`\bar A - I` (built through the Woodbury identity, so a transition close to
the identity loses no digits), :math:`O(N^3 \log L)` per system, the same setup
:func:`statespace.kernel_dplr` performs for ``tilde=False``. Everything that
scales with ``L`` is :math:`O(N L)`: the initial response is one call of
:func:`statespace.kernel_dplr`, and the final state evaluates the resolvent
:math:`(I - \omega \bar A)^{-1}\bar B` at ``L`` nodes through Cauchy sums and the
Woodbury identity, never a dense power per time step.
"""

from __future__ import annotations

import math
import numbers

from . import _array
from .discretize import DiagSystem, _diag_terms, _resolve_method
from .kernels import (
    _RADIUS,
    _bilinear_deviation,
    _check_bilinear,
    _check_state_size,
    _dt_batch,
    _flatten,
    _nodes,
    _power_minus_identity,
    _reduction,
    _to,
)
from .reductions import cauchy, cauchy_conj, vandermonde

__all__ = [
    "c_tilde_dplr",
    "c_from_tilde_dplr",
    "c_tilde_diag",
    "c_from_tilde_diag",
    "initial_response_dplr",
    "initial_response_diag",
    "final_state_dplr",
    "final_state_diag",
]

_DIAG_METHODS = ("zoh", "bilinear")


# --------------------------------------------------------------------------------------
# validation and shared pieces
# --------------------------------------------------------------------------------------
def _check_bool(value, name):
    return _array.check_flag(value, name)


def _check_method(method):
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    if method not in _DIAG_METHODS:
        raise ValueError(f"method must be one of {_DIAG_METHODS}, got {method!r}")


def _prepare(named, dt):
    """Namespace, device, real working dtype and the converted, checked arrays.

    ``named`` is ``[(name, value, min_ndim), ...]``; every array must be floating or
    complex, finite and have at least ``min_ndim`` axes.
    """
    values = [v for _, v, _ in named]
    xp = _array.namespace(*values, dt if _array.is_array_api_obj(dt) else None,
                          names=[n for n, _, _ in named] + ["dt"])
    dev = _array.device_of(*values)
    real_dt = _array.result_float_dtype(xp, *values)
    out = []
    for name, v, nd in named:
        a = _to(xp, v, real_dt, dev, name, min_ndim=nd)
        _array.check_finite(xp, a, name)
        out.append(a)
    return xp, dev, real_dt, out


def _system_batch(xp, shapes, names, dt, dev):
    """Broadcast batch of the system arrays and ``dt`` (float64), and ``dt`` itself."""
    batch = _array.broadcast_shapes(list(shapes), list(names))
    dtv, batch = _dt_batch(xp, dt, batch, xp.float64, dev, " and ".join(names))
    return batch, dtv


def _full(xp, a, halved):
    """The full system's vector ``[a, conj(a)]`` along the last axis when ``halved``."""
    return xp.concat([a, xp.conj(a)], axis=-1) if halved else a


def _matvec(xp, M, v):
    """``M @ v`` for batches of matrices and vectors (broadcasting batch axes)."""
    return xp.matmul(M, v[..., None])[..., 0]


def _finish(xp, y, real_out, real_dt, name):
    """Round to the result dtype; non-finite values raise (they mean overflow)."""
    if real_out:
        y = xp.astype(_array.real(xp, y), real_dt)
    else:
        y = xp.astype(y, _array.complex_dtype(xp, real_dt))
    _array.check_result(
        xp, y, name,
        "the system is unstable (Re(Lambda) > 0) or too close to singular for this length",
    )
    return y


def _power_deviation(xp, Lambda, P, dtv, sys_batch, L, halved):
    """``(X, Y)`` with ``X = Ad - I`` and ``Y = Ad^L - I``, complex128, ``sys_batch + (n, n)``."""
    c128 = xp.complex128
    N, r = Lambda.shape[-1], P.shape[-2]
    lam = _flatten(xp, xp.astype(Lambda, c128), sys_batch, (N,))
    pp = _flatten(xp, xp.astype(P, c128), sys_batch, (r, N))
    dd = _flatten(xp, dtv, sys_batch, ())
    X = _bilinear_deviation(xp, lam, pp, dd, halved)
    Y = _power_minus_identity(xp, X, L)
    n = X.shape[-1]
    shape = tuple(sys_batch) + (n, n)
    return xp.reshape(X, shape), xp.reshape(Y, shape)


def _dplr_inputs(Lambda, P, vec, vec_name, dt, halved, what):
    xp, dev, real_dt, (Lambda, P, vec) = _prepare(
        [("Lambda", Lambda, 1), ("P", P, 2), (vec_name, vec, 1)], dt
    )
    _check_state_size([Lambda, P, vec], ["Lambda", "P", vec_name])
    sys_batch, dtv = _system_batch(xp, [Lambda.shape[:-1], P.shape[:-2]], ["Lambda", "P"],
                                   dt, dev)
    _array.broadcast_shapes([sys_batch, tuple(vec.shape[:-1])], ["Lambda, P and dt", vec_name])
    _check_bilinear(xp, Lambda, dtv, what)
    return xp, dev, real_dt, Lambda, P, vec, sys_batch, dtv


def _diag_pole(xp, Lambda, dtv, method, cdt, w=None):
    r"""``(Lambda_d, log Lambda_d, wd)`` in ``cdt`` for the steps ``dtv``.

    ``wd`` is ``w`` scaled as :math:`B_d` is from :math:`\Delta B` (``None`` without
    ``w``); the rules are those of :func:`statespace.discretize.discretize`, through
    its elementwise helper (the logarithm is formed from :math:`\Delta\Lambda`,
    never as :math:`\log\Lambda_d`).
    """
    z = xp.astype(dtv, cdt)[..., None] * xp.astype(Lambda, cdt)
    alpha = _resolve_method(DiagSystem, method, None)
    if alpha is not None and _array.flagged(xp.any(1 - alpha * z == 0)):
        raise ValueError("the bilinear transform is singular: 1 - dt*Lambda/2 has a zero entry")
    lam_d, _ = _diag_terms(xp, z, z, alpha)
    logd, wd = _diag_terms(xp, z, z if w is None else w, alpha, log=True)
    return lam_d, logd, (None if w is None else wd)


def _diag_inputs(Lambda, vec, vec_name, dt, method):
    _check_method(method)
    xp, dev, real_dt, (Lambda, vec) = _prepare([("Lambda", Lambda, 1), (vec_name, vec, 1)], dt)
    _check_state_size([Lambda, vec], ["Lambda", vec_name])
    _, dtv = _system_batch(xp, [Lambda.shape[:-1], vec.shape[:-1]], ["Lambda", vec_name], dt,
                           dev)
    return xp, dev, real_dt, Lambda, vec, dtv


def _one_minus_power(xp, logd, L):
    """``1 - Lambda_d^L = -expm1(L log Lambda_d)``, accurate when ``Lambda_d^L`` is near 1."""
    return -_array.expm1(xp, L * logd)


def _check_lengths(xp, lengths, L, dev):
    """Validated ``lengths`` as an int64 array (``0 <= n <= L``), or ``None``."""
    if lengths is None:
        return None
    if isinstance(lengths, bool) or (
        not _array.is_array_api_obj(lengths) and isinstance(lengths, numbers.Number)
        and not isinstance(lengths, numbers.Integral)
    ):
        raise TypeError(f"lengths must be integers, got {type(lengths).__name__}")
    if _array._is_masked(lengths):
        raise _array._masked_error("lengths")
    n = lengths if _array.is_array_api_obj(lengths) else xp.asarray(lengths, device=dev)
    if not xp.isdtype(n.dtype, "integral"):
        raise TypeError(f"lengths must have an integer dtype, got {n.dtype}")
    n = xp.astype(n, xp.int64)
    if _array.flagged(xp.any(xp.logical_or(n < 0, n > L))):
        raise ValueError(f"lengths must lie in [0, L] = [0, {L}]")
    return n


def _window(xp, u, n):
    """``w_m = u_{n-1-m}`` for ``m < n``, else 0 (time reversed, right-aligned inputs)."""
    L = u.shape[-1]
    if n is None:
        return xp.flip(u, axis=-1)
    dev = _array.device_of(u)
    idx = n[..., None] - 1 - xp.arange(L, dtype=xp.int64, device=dev)
    valid = idx >= 0
    batch = _array.broadcast_shapes([tuple(u.shape[:-1]), tuple(n.shape)], ["u", "lengths"])
    idx = xp.broadcast_to(xp.where(valid, idx, xp.zeros_like(idx)), batch + (L,))
    w = xp.take_along_axis(xp.broadcast_to(u, batch + (L,)), idx, axis=-1)
    return xp.where(valid, w, xp.zeros_like(w))


def _check_inputs_u(xp, u, halved):
    if u.shape[-1] < 1:
        raise ValueError(f"u must have shape batch + (L,) with L >= 1, got {tuple(u.shape)}")
    if halved and _array.is_complex(xp, u):
        raise TypeError(
            f"u must have a real dtype when halved=True (a conjugate-pair system is "
            f"driven by real inputs), got {u.dtype}"
        )


# --------------------------------------------------------------------------------------
# truncation correction
# --------------------------------------------------------------------------------------
def c_tilde_dplr(Lambda, P, C, dt, L, *, halved=False):
    r"""Truncation-corrected output vector :math:`\tilde C = C (I - \bar A^L)` (DPLR).

    Parameters
    ----------
    Lambda : array, shape (..., N)
        Diagonal part of :math:`A = \mathrm{diag}(\Lambda) - P^H P`.
    P : array, shape (..., r, N)
        Low-rank factor (``r >= 0``).
    C : array, shape (..., N)
        Output vector.
    dt : float or array
        Step size(s) ``> 0`` of the bilinear transform, broadcasting against the
        batch shape.
    L : int
        Kernel length ``>= 1``.
    halved : bool, default False
        Conjugate-pair storage: :math:`\tilde C` of the full system
        :math:`[C, \bar C]` is :math:`[\tilde C, \overline{\tilde C}]` and its first
        half is returned.

    Returns
    -------
    Ct : array, shape broadcast batch + (N,)
        Real when ``Lambda``, ``P`` and ``C`` are real, else complex; single precision
        only when every input is.

    Notes
    -----
    .. math::

        \tilde C = C (I - \bar A^L) = -C\,(\bar A^L - I), \qquad
        \bar A = (I - \tfrac{\Delta}{2} A)^{-1} (I + \tfrac{\Delta}{2} A).

    :math:`\bar A^L - I` is formed in complex128 by squaring
    :math:`X = \bar A - I` (:math:`X \mapsto 2X + X^2`), where ``X`` comes from the
    Woodbury identity rather than from a rounded :math:`\bar A`, so small steps lose
    no digits; :math:`O(N^3 \log L)` per system. This is the correction
    :func:`statespace.kernel_dplr` applies itself for ``tilde=False``; passing the
    result with ``tilde=True`` gives the same kernel on the roots of unity.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> d = ss.dplr("legs", 8)
    >>> C = np.ones(4, dtype=complex)
    >>> Ct = ss.c_tilde_dplr(d.Lambda, d.P, C, 0.1, 32, halved=True)
    >>> K1 = ss.kernel_dplr(d.Lambda, d.P, d.B, Ct, 0.1, 32, halved=True, tilde=True)
    >>> K2 = ss.kernel_dplr(d.Lambda, d.P, d.B, C, 0.1, 32, halved=True)
    >>> bool(np.allclose(K1, K2, rtol=0, atol=1e-12))
    True
    """
    L = _array.check_length(L)
    halved = _check_bool(halved, "halved")
    xp, dev, real_dt, Lambda, P, C, sys_batch, dtv = _dplr_inputs(Lambda, P, C, "C", dt, halved,
                                                                   "c_tilde_dplr")
    _, Y = _power_deviation(xp, Lambda, P, dtv, sys_batch, L, halved)
    Cf = _full(xp, xp.astype(C, xp.complex128), halved)
    Ct = -xp.matmul(Cf[..., None, :], Y)[..., 0, :]
    Ct = Ct[..., : C.shape[-1]]
    real_out = not any(_array.is_complex(xp, a) for a in (Lambda, P, C))
    return _finish(xp, Ct, real_out, real_dt, "c_tilde_dplr")


def c_from_tilde_dplr(Lambda, P, Ct, dt, L, *, halved=False, max_cond=None, return_cond=False):
    r"""Output vector :math:`C = \tilde C (I - \bar A^L)^{-1}` from the corrected one (DPLR).

    Parameters
    ----------
    Lambda : array, shape (..., N)
        Diagonal part of :math:`A = \mathrm{diag}(\Lambda) - P^H P`.
    P : array, shape (..., r, N)
        Low-rank factor (``r >= 0``).
    Ct : array, shape (..., N)
        Corrected output vector :math:`\tilde C = C (I - \bar A^L)`.
    dt : float or array
        Step size(s) ``> 0`` of the bilinear transform, broadcasting against the
        batch shape.
    L : int
        Length ``>= 1`` the correction refers to.
    halved : bool, default False
        Conjugate-pair storage (see :func:`c_tilde_dplr`).
    max_cond : float, optional
        Largest admissible 2-norm condition number of :math:`I - \bar A^L`; beyond
        it ``ValueError`` is raised. Default :math:`1 / (n\,\varepsilon_{64})` with
        ``n`` the full state size (``2N`` when halved): the matrix is then
        numerically singular in complex128 and the solution carries no correct
        digit. ``math.inf`` disables the check (and its SVD).
    return_cond : bool, default False
        Also return the condition numbers.

    Returns
    -------
    C : array, shape broadcast batch + (N,)
        Real when ``Lambda``, ``P`` and ``Ct`` are real, else complex; single precision
        only when every input is.
    cond : array, shape system batch
        Only with ``return_cond=True``: :math:`\kappa_2(I - \bar A^L)` per system
        (float64), from its singular values.

    Raises
    ------
    ValueError
        :math:`\kappa_2(I - \bar A^L) >` ``max_cond`` (message names the largest),
        e.g. a zero eigenvalue of ``A`` or a purely oscillatory mode with
        :math:`\bar\lambda^L = 1`; bad shapes, steps or non-finite inputs. The
        condition check is skipped while ``torch.compile`` traces.

    Notes
    -----
    :math:`\bar A^L - I` is formed as in :func:`c_tilde_dplr` and the transposed
    system :math:`(I - \bar A^L)^T C^T = \tilde C^T` is solved by LU in complex128:
    :math:`O(N^3 \log L)` per system, then :math:`O(N^2)` per output vector.
    :math:`I - \bar A^L` has no structure the Woodbury identity could use
    (:math:`\bar A^L` is dense), so the solve is dense. The relative error of ``C`` is
    about :math:`\kappa_2(I - \bar A^L)` times that of :math:`\bar A^L - I`
    (:math:`\approx n \log_2(L)\,\varepsilon_{64}` relative to
    :math:`\lVert \bar A^L\rVert`). For a stable system with slowest decay rate
    :math:`\alpha` the condition number is about
    :math:`\max(1, 1 / (L \Delta\alpha))`: large only when the kernel has barely
    decayed over ``L`` steps.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> d = ss.dplr("legs", 8)
    >>> C = np.arange(1, 5) * (1 + 1j)
    >>> Ct = ss.c_tilde_dplr(d.Lambda, d.P, C, 0.1, 64, halved=True)
    >>> C2, cond = ss.c_from_tilde_dplr(d.Lambda, d.P, Ct, 0.1, 64, halved=True,
    ...                                 return_cond=True)
    >>> bool(np.allclose(C2, C, rtol=1e-13)), bool(cond < 10)
    (True, True)
    """
    L = _array.check_length(L)
    return_cond = _check_bool(return_cond, "return_cond")
    halved = _check_bool(halved, "halved")
    xp, dev, real_dt, Lambda, P, Ct, sys_batch, dtv = _dplr_inputs(
        Lambda, P, Ct, "Ct", dt, halved, "c_from_tilde_dplr")
    _, Y = _power_deviation(xp, Lambda, P, dtv, sys_batch, L, halved)
    n = Y.shape[-1]
    if max_cond is None:
        max_cond = 1.0 / (n * _array.eps(xp, xp.float64))
    if isinstance(max_cond, bool) or not isinstance(max_cond, numbers.Real):
        raise TypeError(f"max_cond must be a real number, got {type(max_cond).__name__}")
    if not max_cond > 0:
        raise ValueError(f"max_cond must be > 0, got {max_cond!r}")
    # the condition check needs the host: skipped while tracing (no SVD is formed for it)
    check = math.isfinite(max_cond) and not _array.tracing(Y)
    cond = None
    if check or return_cond:
        s = xp.linalg.svdvals(Y)  # the singular values of I - Ad^L
        smax, smin = xp.max(s, axis=-1), xp.min(s, axis=-1)
        cond = xp.where(smin > 0, smax / xp.where(smin > 0, smin, xp.ones_like(smin)),
                        xp.full_like(smax, math.inf))
        if check and _array.flagged(xp.logical_not(xp.max(cond) <= max_cond)):
            worst = _array.host_float(xp.max(cond))
            raise ValueError(
                f"I - Ad^L is singular or too ill-conditioned to invert: condition "
                f"number {worst:.3g} > max_cond={max_cond:.3g} (Ad^L has an eigenvalue "
                "at or near 1: a zero or an undamped oscillatory mode whose period "
                "divides L)"
            )
    Ctf = _full(xp, xp.astype(Ct, xp.complex128), halved)
    batch = _array.broadcast_shapes([tuple(Ct.shape[:-1]), tuple(sys_batch)], ["Ct", "system"])
    Mt = xp.broadcast_to(-xp.matrix_transpose(Y), batch + (n, n))
    rhs = xp.broadcast_to(Ctf[..., None], batch + (n, 1))
    C = _array.solve(xp, Mt, rhs, what="I - Ad^L")[..., 0][..., : Ct.shape[-1]]
    real_out = not any(_array.is_complex(xp, a) for a in (Lambda, P, Ct))
    C = _finish(xp, C, real_out, real_dt, "c_from_tilde_dplr")
    return (C, cond) if return_cond else C


def c_tilde_diag(Lambda, C, dt, L, method="zoh"):
    r"""Truncation-corrected output vector :math:`\tilde C = C (I - \bar A^L)` (diagonal).

    Parameters
    ----------
    Lambda : array, shape (..., N)
        Eigenvalues of the diagonal ``A`` (real or complex).
    C : array, shape (..., N)
        Output vector.
    dt : float or array
        Step size(s) ``> 0``, broadcasting against the batch shape.
    L : int
        Length ``>= 1``.
    method : {"zoh", "bilinear"}, default "zoh"
        Discretization: :math:`\bar\lambda = e^{\Delta\lambda}` or
        :math:`(1 + \Delta\lambda/2) / (1 - \Delta\lambda/2)`.

    Returns
    -------
    Ct : array, shape broadcast batch + (N,)
        Real when ``Lambda`` and ``C`` are real, else complex. The map is elementwise,
        so halved (conjugate-pair) and full storage give the same entries.

    Notes
    -----
    .. math::

        \tilde c_n = c_n (1 - \bar\lambda_n^L) = -c_n\,\mathrm{expm1}(L \log\bar\lambda_n),

    with :math:`\log\bar\lambda = \Delta\lambda` (ZOH) or
    :math:`2\,\mathrm{artanh}(\Delta\lambda/2)` (bilinear), so
    :math:`1 - \bar\lambda^L` keeps full relative accuracy when
    :math:`\bar\lambda^L` is close to 1 (small steps, short lengths).

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> lam = np.array([-0.5 + 2j, -1.0 + 0j])
    >>> Ct = ss.c_tilde_diag(lam, np.ones(2), 0.1, 10)
    >>> bool(np.allclose(Ct, 1 - np.exp(0.1 * lam) ** 10))
    True
    """
    L = _array.check_length(L)
    xp, dev, real_dt, Lambda, C, dtv = _diag_inputs(Lambda, C, "C", dt, method)
    cdt = _array.complex_dtype(xp, real_dt)
    _, logd, _ = _diag_pole(xp, Lambda, dtv, method, cdt)
    Ct = xp.astype(C, cdt) * _one_minus_power(xp, logd, L)
    real_out = not any(_array.is_complex(xp, a) for a in (Lambda, C))
    return _finish(xp, Ct, real_out, real_dt, "c_tilde_diag")


def c_from_tilde_diag(Lambda, Ct, dt, L, method="zoh"):
    r"""Output vector :math:`C = \tilde C (I - \bar A^L)^{-1}` from the corrected one (diagonal).

    Parameters
    ----------
    Lambda : array, shape (..., N)
        Eigenvalues of the diagonal ``A`` (real or complex).
    Ct : array, shape (..., N)
        Corrected output vector :math:`\tilde C = C (I - \bar A^L)`.
    dt : float or array
        Step size(s) ``> 0``, broadcasting against the batch shape.
    L : int
        Length ``>= 1`` the correction refers to.
    method : {"zoh", "bilinear"}, default "zoh"
        Discretization (see :func:`c_tilde_diag`).

    Returns
    -------
    C : array, shape broadcast batch + (N,)
        Real when ``Lambda`` and ``Ct`` are real, else complex.

    Raises
    ------
    ValueError
        Some :math:`1 - \bar\lambda_n^L` is exactly zero (a zero eigenvalue, or a
        purely oscillatory mode whose period divides ``L``): the correction is not
        invertible. Also bad shapes, steps or non-finite inputs.

    Notes
    -----
    .. math:: c_n = \tilde c_n / (1 - \bar\lambda_n^L),
              \qquad 1 - \bar\lambda_n^L = -\mathrm{expm1}(L\log\bar\lambda_n).

    Each entry is one division, so its relative error is that of the divisor,
    about :math:`\varepsilon\,(1 + L |\log\bar\lambda_n|\,|\bar\lambda_n^L| /
    |1 - \bar\lambda_n^L|)`, however small the divisor: there is no loss of
    accuracy from ill-conditioning beyond the sensitivity of
    :math:`\bar\lambda_n^L` to the rounding of :math:`\log\bar\lambda_n`. The
    normwise condition number of :math:`I - \bar A^L`,
    :math:`\max_n |1 - \bar\lambda_n^L| / \min_n |1 - \bar\lambda_n^L|`, only says
    how much larger some entries of ``C`` are than those of :math:`\tilde C`.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> lam = np.array([-0.5 + 2j, -1.0 + 0j])
    >>> Ct = ss.c_tilde_diag(lam, np.array([1.0, 2.0]), 0.1, 10, "bilinear")
    >>> ss.c_from_tilde_diag(lam, Ct, 0.1, 10, "bilinear").real.round(12)
    array([1., 2.])
    """
    L = _array.check_length(L)
    xp, dev, real_dt, Lambda, Ct, dtv = _diag_inputs(Lambda, Ct, "Ct", dt, method)
    cdt = _array.complex_dtype(xp, real_dt)
    _, logd, _ = _diag_pole(xp, Lambda, dtv, method, cdt)
    g = _one_minus_power(xp, logd, L)
    if _array.flagged(xp.any(g == 0)):
        raise ValueError(
            "I - Ad^L is singular: Lambda_d^L = 1 for some mode (a zero eigenvalue, or an "
            "undamped oscillation whose period divides L)"
        )
    C = xp.astype(Ct, cdt) / g
    real_out = not any(_array.is_complex(xp, a) for a in (Lambda, Ct))
    return _finish(xp, C, real_out, real_dt, "c_from_tilde_diag")


# --------------------------------------------------------------------------------------
# initial response: y_l = C Ad^{l+1} x_{-1}
# --------------------------------------------------------------------------------------
def initial_response_dplr(Lambda, P, C, x, dt, L, *, halved=False, tilde=False):
    r"""Outputs :math:`y_l = C \bar A^{l+1} x_{-1}` of an initial state with zero input (DPLR).

    Parameters
    ----------
    Lambda : array, shape (..., N)
        Diagonal part of :math:`A = \mathrm{diag}(\Lambda) - P^H P`.
    P : array, shape (..., r, N)
        Low-rank factor (``r >= 0``).
    C : array, shape (..., N)
        Output vector, or :math:`\tilde C = C (I - \bar A^L)` when ``tilde=True``.
    x : array, shape (..., N)
        State :math:`x_{-1}` before the first step (the half state when ``halved``).
    dt : float or array
        Step size(s) ``> 0`` of the bilinear transform, broadcasting against the
        batch shape.
    L : int
        Number of outputs ``>= 1``.
    halved : bool, default False
        Conjugate-pair storage: the state is :math:`[x, \bar x]` and the output
        :math:`2\,\mathrm{Re}(\cdot)`, real.
    tilde : bool, default False
        ``C`` holds :math:`\tilde C` for this ``L`` (as in
        :func:`statespace.kernel_dplr`): the :math:`O(N^3 \log L)` correction is
        skipped and the nodes are the roots of unity, which must not coincide with a
        discrete pole.

    Returns
    -------
    y : array, shape broadcast batch + (L,)
        Real for ``halved=True`` or real inputs, else complex.

    Raises
    ------
    ValueError
        Bad shapes, steps or non-finite inputs; non-finite results (a node on a
        pole, an unstable system).

    Notes
    -----
    With zero input the recurrence gives :math:`y_l = C \bar A^{l} (\bar A x_{-1})`,
    the kernel of a system whose discrete input vector is :math:`\bar A x_{-1}`. Its
    generating function on nodes :math:`\omega_k` with :math:`\omega_k^L = q` is

    .. math::

        \sum_{l<L} y_l \omega^l = C (I - q \bar A^L)(I - \omega\bar A)^{-1}\bar A x_{-1}
        = g(\omega)\,(I + \tfrac{\Delta}{2} A)\, x_{-1}, \qquad
        g(\omega) = C_q \big((1-\omega) I - \tfrac{\Delta}{2}(1+\omega) A\big)^{-1},

    with :math:`C_q = C (I - q\bar A^L)`. The row :math:`g(\omega_k)` is S4's
    Algorithm 1 before the input vector is applied (diagonal part and rank-``r``
    Woodbury correction, the Cauchy sums :math:`k_{cp}, k_{pp}`), computed once per
    system, :math:`O(N L r^2)`; each state then costs one :math:`O(N L)`
    contraction with :math:`(I + \tfrac{\Delta}{2}A)x_{-1}` (:math:`O(N r)`) and an
    inverse FFT. ``tilde=False``: the nodes of the exact path of
    :func:`statespace.kernel_dplr`, :math:`q = -e^{-1}`, at distance
    :math:`\gtrsim 1/L` from every stable pole, and
    :math:`C_q = C(I + e^{-1}\bar A^L)` from the dense powers of
    :math:`\bar A - I` (complex128, once per system). ``tilde=True``: the roots of
    unity (:math:`q = 1`, :math:`C_q = \tilde C`). The total output of a window
    started from :math:`x_{-1}` is this plus the causal convolution of the input
    with the kernel.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> from statespace import discretize as sd
    >>> d = ss.dplr("legs", 8)
    >>> C, x = np.ones(4, dtype=complex), np.linspace(1, 2, 4) + 0j
    >>> y = ss.initial_response_dplr(d.Lambda, d.P, C, x, 0.1, 6, halved=True)
    >>> sys = sd.bilinear_dplr(d.Lambda, d.P, d.B, 0.1, halved=True)
    >>> y_scan, _ = ss.scan(sys, np.zeros(6), x0=x, C=C, halved=True)
    >>> bool(np.allclose(y, y_scan, rtol=1e-12))
    True
    """
    L = _array.check_length(L)
    tilde = _check_bool(tilde, "tilde")
    halved = _check_bool(halved, "halved")
    xp, dev, real_dt, (Lambda, P, C, x) = _prepare(
        [("Lambda", Lambda, 1), ("P", P, 2), ("C", C, 1), ("x", x, 1)], dt
    )
    _check_state_size([Lambda, P, C, x], ["Lambda", "P", "C", "x"])
    N, r = Lambda.shape[-1], P.shape[-2]
    sys_batch, dtv = _system_batch(xp, [Lambda.shape[:-1], P.shape[:-2]], ["Lambda", "P"],
                                   dt, dev)
    _check_bilinear(xp, Lambda, dtv, "initial_response_dplr")
    row_batch = _array.broadcast_shapes([sys_batch, tuple(C.shape[:-1])], ["system", "C"])
    _array.broadcast_shapes([row_batch, tuple(x.shape[:-1])], ["system and C", "x"])
    c128 = xp.complex128
    Cq = xp.astype(C, c128)
    if not tilde:  # C (I + rho^L Ad^L) = (1 + rho^L) C + rho^L C (Ad^L - I)
        rho_L = math.exp(-_RADIUS)
        _, Y = _power_deviation(xp, Lambda, P, dtv, sys_batch, L, halved)
        Cf = _full(xp, Cq, halved)
        Cq = ((1 + rho_L) * Cf + rho_L * xp.matmul(Cf[..., None, :], Y)[..., 0, :])[..., :N]
        _array.check_result(
            xp, Cq, "initial_response_dplr",
            "C (I + rho^L Ad^L) exceeds the floating-point range (an unstable system, "
            "Re(Lambda) > 0, over L steps)",
        )
    lam = _flatten(xp, xp.astype(Lambda, c128), row_batch, (N,))
    pp = _flatten(xp, xp.astype(P, c128), row_batch, (r, N))
    dd = xp.astype(_flatten(xp, dtv, row_batch, ()), c128)
    z = _nodes(xp, L, L, not tilde, c128, dev, 0.0 if tilde else _RADIUS)
    G = _woodbury_resolvent(xp, lam, pp, _flatten(xp, Cq, row_batch, (N,)), dd, z, halved,
                            left=True, what="initial_response_dplr")
    G = xp.reshape(G, tuple(row_batch) + (N, L))
    # (I + h A) x with A x = Lambda x - P^H (P x); P x is 2 Re(P x) for halved systems
    xc = xp.astype(x, c128)
    Pc = xp.astype(P, c128)
    Px = xp.sum(Pc * xc[..., None, :], axis=-1)
    if halved:
        Px = xp.astype(2 * xp.real(Px), c128)
    Ax = xp.astype(Lambda, c128) * xc - xp.sum(xp.conj(Pc) * Px[..., :, None], axis=-2)
    bx = xc + xp.astype(dtv, c128)[..., None] / 2 * Ax
    spec = xp.matmul(bx[..., None, :], G)[..., 0, :]  # sum_n g_n(omega_k) bx_n
    if halved:  # the conjugate half: g at the conjugate node, conjugated
        mirror = xp.flip(spec, axis=-1) if not tilde else xp.roll(xp.flip(spec, axis=-1), 1,
                                                                   axis=-1)
        spec = spec + xp.conj(mirror)
    y = _array.fft(xp, "ifft", spec)
    if not tilde:
        y = y * _twist(xp, L, dev)
    real_out = halved or not any(_array.is_complex(xp, a) for a in (Lambda, P, C, x))
    return _finish(xp, y, real_out, real_dt, "initial_response_dplr")


def initial_response_diag(Lambda, C, x, dt, L, method="zoh", *, halved=False):
    r"""Outputs :math:`y_l = C \bar A^{l+1} x_{-1}` of an initial state with zero input (diagonal).

    Parameters
    ----------
    Lambda : array, shape (..., N)
        Eigenvalues of the diagonal ``A`` (real or complex).
    C : array, shape (..., N)
        Output vector.
    x : array, shape (..., N)
        State :math:`x_{-1}` before the first step.
    dt : float or array
        Step size(s) ``> 0``, broadcasting against the batch shape.
    L : int
        Number of outputs ``>= 1``.
    method : {"zoh", "bilinear"}, default "zoh"
        Discretization (see :func:`statespace.kernel_diag`).
    halved : bool, default False
        Conjugate-pair storage: the output is :math:`2\,\mathrm{Re}(\cdot)`, real.

    Returns
    -------
    y : array, shape broadcast batch + (L,)
        Real for ``halved=True`` or real inputs, else complex.

    Notes
    -----
    .. math::

        y_l = \sum_n c_n \bar\lambda_n^{\,l+1} x_n
            = \sum_n (c_n \bar\lambda_n x_n)\, e^{l \log\bar\lambda_n},

    one :func:`statespace.vandermonde` reduction, :math:`O(N L)`, with the exponent
    :math:`\log\bar\lambda` formed exactly as in :func:`statespace.kernel_diag`
    (:math:`\Delta\lambda`, or :math:`2\,\mathrm{artanh}(\Delta\lambda/2)`), never by
    a logarithm of the rounded pole.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> y = ss.initial_response_diag(np.array([-1.0]), np.ones(1), np.ones(1), np.log(2), 3)
    >>> y.round(12)
    array([0.5  , 0.25 , 0.125])
    """
    L = _array.check_length(L)
    _check_method(method)
    halved = _check_bool(halved, "halved")
    xp, dev, real_dt, (Lambda, C, x) = _prepare(
        [("Lambda", Lambda, 1), ("C", C, 1), ("x", x, 1)], dt
    )
    _check_state_size([Lambda, C, x], ["Lambda", "C", "x"])
    _system_batch(xp, [Lambda.shape[:-1], C.shape[:-1], x.shape[:-1]], ["Lambda", "C", "x"],
                  dt, dev)
    dtv = _array.check_dt(xp, dt, dtype=real_dt, device=dev)
    cdt = _array.complex_dtype(xp, real_dt)
    lam_d, logd, _ = _diag_pole(xp, Lambda, dtv, method, cdt)
    v = xp.astype(C, cdt) * lam_d * xp.astype(x, cdt)
    y = _reduction("initial_response_diag",
                   "Lambda_d^(l+1) x exceeds the floating-point range (an unstable mode)",
                   vandermonde, v, logd, L)
    if halved:
        y = 2 * xp.real(y)
    real_out = halved or not any(_array.is_complex(xp, a) for a in (Lambda, C, x))
    return _finish(xp, y, real_out, real_dt, "initial_response_diag")


# --------------------------------------------------------------------------------------
# final state: x_{n-1} = Ad^n x_{-1} + sum_{j<n} Ad^{n-1-j} Bd u_j
# --------------------------------------------------------------------------------------
def _twist(xp, L, dev):
    """``z_0^l = rho^{-l} e^{i pi l / L}`` (l < L) of the shifted nodes, complex128."""
    ell = xp.arange(L, dtype=xp.float64, device=dev)
    mod = xp.exp((_RADIUS / L) * ell)
    ang = (math.pi / L) * ell
    return _array._complex(xp, mod * xp.cos(ang), mod * xp.sin(ang))


def _woodbury_resolvent(xp, lam, pp, vec, dd, z, halved, left, what):
    r"""Rows or columns of :math:`M(\omega)^{-1}` at the nodes, ``(m, N, L)``, complex128.

    :math:`M(\omega) = (1-\omega) I - \tfrac{\Delta}{2}(1+\omega) A = D + \sigma' P^H P`
    with :math:`D_n = (1 - \tfrac{\Delta}{2}\lambda_n)(1 - \omega\bar\lambda_n)`,
    :math:`\omega = 1/z`, :math:`\sigma' = \tfrac{\Delta}{2}(1+\omega)`. With
    :math:`s_n = 1/(1 - \tfrac{\Delta}{2}\lambda_n)`, :math:`1/D_n = s_n z/(z - \bar\lambda_n)`,
    :math:`\sigma = \sigma' z = \tfrac{\Delta}{2}(1 + z)` and the Cauchy sums
    :math:`k_{xy} = \sum_n s_n x_n y_n / (z - \bar\lambda_n)` (over the full system) the
    Woodbury identity gives, for ``left=False``,
    :math:`(M^{-1} v)_n = s_n \frac{z}{z - \bar\lambda_n} [v_n - \sigma (P^H\eta)_n]`,
    :math:`\eta = (I + \sigma k_{pp})^{-1} k_{pv}`, and for ``left=True``
    :math:`(v M^{-1})_n = s_n \frac{z}{z - \bar\lambda_n} [v_n - \sigma (\xi P)_n]`,
    :math:`\xi (I + \sigma k_{pp}) = k_{vp}` (rows :math:`k_{vp,i} = \sum_n s_n v_n \bar p_{in}
    / (z - \bar\lambda_n)`). Entry ``[:, n, k]`` is the value at node ``z[k]`` for the
    first ``N`` modes; ``lam``, ``pp``, ``vec`` (m, N), (m, r, N), (m, N), ``dd`` (m,).
    """
    r = pp.shape[-2]
    half = dd[:, None] / 2
    s = 1 / (1 - half * lam)
    lam_d = (1 + half * lam) * s
    scale = s[:, :, None] * (z / (z - lam_d[:, :, None]))  # 1 / D_n(omega_k)
    if r == 0:
        return scale * vec[:, :, None]
    sigma = half * (1 + z)  # (m, L)
    pc = xp.conj(pp)
    first = vec[:, None, :] * (pc if left else pp)  # (m, r, N)
    v = xp.concat([first[:, :, None, :], pp[:, :, None, :] * pc[:, None, :, :]], axis=2)
    kk = _reduction(
        what, "a discrete pole lies on an evaluation node (an unstable or undamped "
        "mode; with tilde=True the nodes are the roots of unity)",
        cauchy_conj if halved else cauchy, v * s[:, None, None, :], z, lam_d[:, None, None, :])
    kv, kpp = kk[:, :, 0, :], kk[:, :, 1:, :]  # (m, r, L), (m, r, r, L)
    if r == 1:
        sol = kv / (1 + sigma[:, None, :] * kpp[:, :, 0, :])
    else:
        eye = xp.eye(r, dtype=kk.dtype, device=_array.device_of(kk))
        M = eye + sigma[:, :, None, None] * xp.permute_dims(kpp, (0, 3, 1, 2))  # (m, L, r, r)
        if left:
            M = xp.matrix_transpose(M)
        rhs = xp.permute_dims(kv, (0, 2, 1))[..., None]  # (m, L, r, 1)
        sol = _array.solve(xp, M, rhs, what="I + sigma k_pp (the Woodbury matrix at a node)")
        sol = xp.permute_dims(sol[..., 0], (0, 2, 1))  # (m, r, L)
    corr = xp.matmul(xp.matrix_transpose(pp if left else pc), sol)  # (m, N, L)
    return scale * (vec[:, :, None] - sigma[:, None, :] * corr)


def _apply_power(xp, X, n, y, L):
    """``(I + X)^n y`` per batch entry (``n`` an integer array, ``0 <= n <= L``), by
    binary powering of X. While tracing (``n`` not on the host) the bits of ``L`` bound
    the loop."""
    if _array.tracing(n):
        nmax = L
    else:
        nmax = int(_array.host_float(xp.max(n))) if n.ndim else int(_array.host_float(n))
    for k in range(max(nmax, 1).bit_length()):
        bit = ((n >> k) & 1) == 1
        y = xp.where(bit[..., None], y + _matvec(xp, X, y), y)
        X = 2 * X + xp.matmul(X, X)
    return y


def final_state_dplr(Lambda, P, B, x, u, dt, *, halved=False, lengths=None):
    r"""State after running the recurrence over ``u`` from ``x`` (DPLR, bilinear).

    Parameters
    ----------
    Lambda : array, shape (..., N)
        Diagonal part of :math:`A = \mathrm{diag}(\Lambda) - P^H P`.
    P : array, shape (..., r, N)
        Low-rank factor (``r >= 0``).
    B : array, shape (..., N)
        Input vector.
    x : array, shape (..., N)
        Initial state :math:`x_{-1}` (the half state when ``halved``).
    u : array, shape (..., L)
        Inputs, time on the last axis; real when ``halved``.
    dt : float or array
        Step size(s) ``> 0`` of the bilinear transform, broadcasting against the
        batch shape.
    halved : bool, default False
        Conjugate-pair storage: the state is :math:`[x, \bar x]`; ``x`` is passed
        and returned.
    lengths : array of int, optional
        Number of steps ``0 <= n <= L`` per batch entry (the valid lengths of a padded
        batch; an integer array of the inputs' library or a sequence), broadcasting
        against the batch shape (e.g. shape ``(b, 1)`` for inputs of shape
        ``(b, H, L)``); inputs at positions ``>= n`` are ignored. Default ``L``.

    Returns
    -------
    x_final : array, shape broadcast batch + (N,)
        :math:`x_{n-1}`; complex, or real for a real system, state and input with
        ``halved=False``.

    Raises
    ------
    ValueError
        Bad shapes, steps, ``lengths`` or non-finite inputs; complex ``u`` with
        ``halved=True``; non-finite results (a pole on the circle of the nodes, an
        unstable system).

    Notes
    -----
    .. math::

        x_{n-1} = \bar A^{n} x_{-1} + \sum_{j<n} \bar A^{\,n-1-j} \bar B u_j
                = \bar A^{n} x_{-1} + \sum_{m<L} \bar A^m \bar B\, w_m,

    with :math:`w_m = u_{n-1-m}` for :math:`m < n` and 0 otherwise. On the ``L`` nodes
    :math:`\omega_k = \rho\, e^{-i\pi(2k+1)/L}`, :math:`\rho = e^{-1/L}`
    (:math:`\omega_k^L = -\rho^L`), :math:`w_m = \frac1L \sum_k W_k \omega_k^m` with
    :math:`W_k = \sum_m w_m \omega_k^{-m}` (an inverse FFT), and the geometric sum
    :math:`\sum_{m<L} (\omega\bar A)^m = (I + \rho^L\bar A^L)(I - \omega\bar A)^{-1}`
    give

    .. math::

        \sum_{m<L} \bar A^m \bar B\, w_m = (I + \rho^L \bar A^L)\,
        \frac1L \sum_k W_k\, (I - \omega_k \bar A)^{-1} \bar B .

    The resolvent columns :math:`(I - \omega_k\bar A)^{-1}\bar B` are those of S4
    Algorithm 1 before the output vector is applied: a diagonal term and a rank-``r``
    Woodbury correction whose ``r x r`` systems need the Cauchy sums
    :math:`k_{pp}, k_{pb}` over the modes, :math:`O(N L r^2)` per system. The
    contraction with :math:`W` costs :math:`O(N L)` per sequence. The nodes lie
    :math:`\ge 1 - \rho \approx 1/L` from every stable discrete pole, as in the exact
    path of :func:`statespace.kernel_dplr`, and the error is of the same kind. The
    applications of :math:`\bar A^L` and :math:`\bar A^n` use the dense powers of
    :math:`\bar A - I` (complex128, :math:`O(N^3 \log L)` per system, then
    :math:`O(N^2 \log L)` per sequence). Memory :math:`O(N L)` per system.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> from statespace import discretize as sd
    >>> d = ss.dplr("legs", 8)
    >>> u, x0 = np.sin(np.arange(20.0)), np.ones(4, dtype=complex)
    >>> x = ss.final_state_dplr(d.Lambda, d.P, d.B, x0, u, 0.1, halved=True)
    >>> sys = sd.bilinear_dplr(d.Lambda, d.P, d.B, 0.1, halved=True)
    >>> _, x_scan = ss.scan(sys, u, x0=x0, halved=True)
    >>> bool(np.allclose(x, x_scan, rtol=1e-12))
    True
    """
    halved = _check_bool(halved, "halved")
    xp, dev, real_dt, (Lambda, P, B, x, u) = _prepare(
        [("Lambda", Lambda, 1), ("P", P, 2), ("B", B, 1), ("x", x, 1), ("u", u, 1)], dt
    )
    _check_state_size([Lambda, P, B, x], ["Lambda", "P", "B", "x"])
    _check_inputs_u(xp, u, halved)
    L, N, r = u.shape[-1], Lambda.shape[-1], P.shape[-2]
    sys_batch, dtv = _system_batch(
        xp, [Lambda.shape[:-1], P.shape[:-2], B.shape[:-1]], ["Lambda", "P", "B"], dt, dev
    )
    _check_bilinear(xp, Lambda, dtv, "final_state_dplr")
    n = _check_lengths(xp, lengths, L, dev)
    _array.broadcast_shapes(
        [sys_batch, tuple(x.shape[:-1]), tuple(u.shape[:-1])]
        + ([tuple(n.shape)] if n is not None else []),
        ["system", "x", "u"] + (["lengths"] if n is not None else []),
    )
    c128 = xp.complex128
    lam = _flatten(xp, xp.astype(Lambda, c128), sys_batch, (N,))
    pp = _flatten(xp, xp.astype(P, c128), sys_batch, (r, N))
    bb = _flatten(xp, xp.astype(B, c128), sys_batch, (N,))
    dd = xp.astype(_flatten(xp, dtv, sys_batch, ()), c128)
    z = _nodes(xp, L, L, True, c128, dev, _RADIUS)  # z_k = 1 / omega_k
    # columns (I - omega_k Ad)^{-1} Bd = M(omega_k)^{-1} dt B
    R = dd[:, None, None] * _woodbury_resolvent(xp, lam, pp, bb, dd, z, halved, left=False,
                                                what="final_state_dplr")
    R = xp.reshape(R, tuple(sys_batch) + (N, L))
    # (1/L) W_k = ifft(w_m z_0^m)_k, since z_k^m = z_0^m e^{2 pi i k m / L}
    twist = _twist(xp, L, dev)
    w = _window(xp, xp.astype(u, c128), n)
    v = _matvec(xp, R, _array.fft(xp, "ifft", w * twist))  # (1/L) sum_k R_k W_k
    X, Y = _power_deviation(xp, Lambda, P, dtv, sys_batch, L, halved)
    vf = _full(xp, v, halved)
    xf = _full(xp, xp.astype(x, c128), halved)
    rho_L = math.exp(-_RADIUS)
    if n is None:
        # Ad^L x + (I + rho^L Ad^L) v = v + (I + Y) (x + rho^L v)
        t = xf + rho_L * vf
        out = vf + t + _matvec(xp, Y, t)
    else:
        out = _apply_power(xp, X, n, xf, L) + vf + rho_L * (vf + _matvec(xp, Y, vf))
    out = out[..., :N]
    real_out = not halved and not any(_array.is_complex(xp, a) for a in (Lambda, P, B, x, u))
    return _finish(xp, out, real_out, real_dt, "final_state_dplr")


def final_state_diag(Lambda, B, x, u, dt, method="zoh", *, halved=False, lengths=None):
    r"""State after running the recurrence over ``u`` from ``x`` (diagonal).

    Parameters
    ----------
    Lambda : array, shape (..., N)
        Eigenvalues of the diagonal ``A`` (real or complex).
    B : array, shape (..., N)
        Input vector.
    x : array, shape (..., N)
        Initial state :math:`x_{-1}`.
    u : array, shape (..., L)
        Inputs, time on the last axis; real when ``halved``.
    dt : float or array
        Step size(s) ``> 0``, broadcasting against the batch shape.
    method : {"zoh", "bilinear"}, default "zoh"
        Discretization (see :func:`statespace.discretize.zoh_diag` and
        :func:`~statespace.discretize.bilinear_diag`).
    halved : bool, default False
        Conjugate-pair storage: each mode stands for a pair and ``u`` must be real
        (the modes do not interact, so the half state is computed alone).
    lengths : array of int, optional
        Number of steps ``0 <= n <= L`` per batch entry, broadcasting against the
        batch shape (see :func:`final_state_dplr`); inputs at positions ``>= n`` are
        ignored. Default ``L``.

    Returns
    -------
    x_final : array, shape broadcast batch + (N,)
        :math:`x_{n-1}`; complex, or real for real inputs with ``halved=False``.

    Raises
    ------
    ValueError
        Bad shapes, steps, ``method``, ``lengths`` or non-finite inputs; complex
        ``u`` with ``halved=True``; overflow (an unstable mode over ``L`` steps).

    Notes
    -----
    .. math::

        x_{n-1} = \bar\lambda^{\,n} \odot x_{-1}
                + \bar b \odot \sum_{m<L} \bar\lambda^{\,m}\, w_m,
        \qquad w_m = u_{n-1-m}\ (m < n), \quad 0 \text{ otherwise},

    with every power evaluated as :math:`e^{m \log\bar\lambda}` (error
    :math:`\approx \varepsilon (1 + m|\log\bar\lambda|)` relative, no accumulation
    over steps) and :math:`\bar b` as in :func:`statespace.kernel_diag`.
    :math:`O(N L)` per sequence; the table :math:`\bar\lambda^m` is :math:`O(N L)`
    memory per system.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> x = ss.final_state_diag(np.array([-1.0]), np.ones(1), np.zeros(1),
    ...                         np.array([1.0, 0.0, 0.0]), np.log(2))
    >>> x.round(12)  # Bd = (1 - 1/2) = 0.5, then two halvings
    array([0.125])
    """
    _check_method(method)
    halved = _check_bool(halved, "halved")
    xp, dev, real_dt, (Lambda, B, x, u) = _prepare(
        [("Lambda", Lambda, 1), ("B", B, 1), ("x", x, 1), ("u", u, 1)], dt
    )
    _check_state_size([Lambda, B, x], ["Lambda", "B", "x"])
    _check_inputs_u(xp, u, halved)
    L = u.shape[-1]
    sys_batch, dtv = _system_batch(xp, [Lambda.shape[:-1], B.shape[:-1]], ["Lambda", "B"],
                                   dt, dev)
    n = _check_lengths(xp, lengths, L, dev)
    _array.broadcast_shapes(
        [sys_batch, tuple(x.shape[:-1]), tuple(u.shape[:-1])]
        + ([tuple(n.shape)] if n is not None else []),
        ["system", "x", "u"] + (["lengths"] if n is not None else []),
    )
    cdt = _array.complex_dtype(xp, real_dt)
    dtv = xp.astype(dtv, real_dt)
    dtc = xp.astype(dtv, cdt)[..., None]
    _, logd, bd = _diag_pole(xp, Lambda, dtv, method, cdt, dtc * xp.astype(B, cdt))
    ell = xp.astype(xp.arange(L, dtype=real_dt, device=dev), cdt)
    S = bd[..., None] * xp.exp(logd[..., None] * ell)  # Bd lambda_d^m, sys + (N, L)
    w = _window(xp, xp.astype(u, cdt), n)
    forced = _matvec(xp, S, w)
    steps = L if n is None else xp.astype(n, cdt)[..., None]
    out = xp.exp(steps * logd) * xp.astype(x, cdt) + forced
    real_out = not halved and not any(_array.is_complex(xp, a) for a in (Lambda, B, x, u))
    return _finish(xp, out, real_out, real_dt, "final_state_diag")
