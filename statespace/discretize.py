r"""Discretization of continuous-time linear systems (bilinear, ZOH, GBT, Euler).

The continuous system is :math:`x' = A x + B u`.

Three structures are supported, each returning a small named tuple that
:mod:`statespace.recurrence` consumes directly:

* dense ``(A, B)`` -> :class:`DenseDiscrete` ``(Ad, Bd)``: :func:`gbt`,
  :func:`bilinear`, :func:`forward_euler`, :func:`backward_euler`, :func:`zoh`;
* diagonal ``(Lambda, B)`` -> :class:`DiagDiscrete` ``(Lambda_d, Bd)``:
  :func:`gbt_diag`, :func:`bilinear_diag`, :func:`forward_euler_diag`,
  :func:`backward_euler_diag`, :func:`zoh_diag` (elementwise, no solve);
* diagonal plus low rank, :math:`A = \mathrm{diag}(\Lambda) - P^H P`, ->
  :class:`DPLRDiscrete`: :func:`gbt_dplr`, :func:`bilinear_dplr`,
  :func:`forward_euler_dplr`, :func:`backward_euler_dplr` (O(N r) per step,
  Woodbury identity, no N x N matrix). There is no DPLR zero-order hold: the
  exponential of a diagonal-plus-low-rank matrix is dense.

All discretizations of the generalized bilinear family (GBT) are

.. math::

    A_d = (I - \alpha\,\Delta A)^{-1} (I + (1 - \alpha)\,\Delta A), \qquad
    B_d = (I - \alpha\,\Delta A)^{-1} \Delta B,

with :math:`\alpha = 0` (forward Euler), :math:`\tfrac12` (bilinear / Tustin) and
:math:`1` (backward Euler); they agree with :func:`scipy.signal.cont2discrete`
(methods ``'euler'``, ``'bilinear'``, ``'backward_diff'``, ``'gbt'``). Zero-order
hold (``'zoh'``) is :math:`A_d = e^{\Delta A}`,
:math:`B_d = \int_0^\Delta e^{sA}\,ds\,B`.

Shapes: ``A`` is ``batch + (N, N)``, ``Lambda`` and ``B`` are ``batch + (N,)``,
``P`` is ``batch + (r, N)`` and the step ``dt`` is a positive scalar or an array
broadcasting against the batch shape; every field of a result carries the
broadcast batch shape of all inputs. float32 inputs give float32 / complex64
results, anything else float64 / complex128. Inputs are never modified.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

from . import _array

__all__ = [
    "DenseDiscrete",
    "DiagDiscrete",
    "DPLRDiscrete",
    "gbt",
    "bilinear",
    "forward_euler",
    "backward_euler",
    "zoh",
    "gbt_diag",
    "bilinear_diag",
    "forward_euler_diag",
    "backward_euler_diag",
    "zoh_diag",
    "gbt_dplr",
    "bilinear_dplr",
    "forward_euler_dplr",
    "backward_euler_dplr",
    "dplr_transition",
    "dplr_to_dense",
]


# ----------------------------------------------------------------------------------
# result types
# ----------------------------------------------------------------------------------
class DenseDiscrete(NamedTuple):
    """Discrete dense system :math:`x_l = A_d x_{l-1} + B_d u_l`.

    Attributes
    ----------
    Ad : array, shape batch + (N, N)
        Discrete transition matrix.
    Bd : array, shape batch + (N,)
        Discrete input vector.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Ad, Bd = sd.forward_euler(np.array([[-2.0]]), np.array([1.0]), 0.25)
    >>> sd.DenseDiscrete(Ad, Bd)._fields
    ('Ad', 'Bd')
    """

    Ad: Any
    Bd: Any


class DiagDiscrete(NamedTuple):
    r"""Discrete diagonal system :math:`x_l = \Lambda_d \odot x_{l-1} + B_d u_l`.

    Attributes
    ----------
    Lambda_d : array, shape batch + (N,)
        Diagonal of the discrete transition matrix.
    Bd : array, shape batch + (N,)
        Discrete input vector.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> sys = sd.forward_euler_diag(np.array([-2.0, -4.0]), np.ones(2), 0.25)
    >>> sys.Lambda_d
    array([0.5, 0. ])
    """

    Lambda_d: Any
    Bd: Any


class DPLRDiscrete(NamedTuple):
    r"""Structured GBT discretization of :math:`A = \mathrm{diag}(\Lambda) - P^H P`.

    The transition is :math:`A_d = A_1 A_0` with

    .. math::

        A_0 x = \Lambda_0 \odot x - s_0\, P^H (P x), \qquad
        A_1 y = E^{-1} y - E^{-1} P^H R\, P E^{-1} y,

    where :math:`\Lambda_0 = 1 + (1-\alpha)\Delta\Lambda`,
    :math:`s_0 = (1-\alpha)\Delta`, :math:`E = \mathrm{diag}(1 - \alpha\Delta\Lambda)`
    and :math:`R = (I_r/(\alpha\Delta) + P E^{-1} P^H)^{-1}`. Apply it with
    :func:`dplr_transition`; :meth:`to_dense` rebuilds the dense matrices (tests,
    small N only).

    When ``halved`` is true each mode stands for a conjugate pair and every
    :math:`P v` above is replaced by :math:`2\,\mathrm{Re}(P v)` (see
    :func:`gbt_dplr`).

    Attributes
    ----------
    Lambda0 : array, shape batch + (N,)
        Diagonal of :math:`A_0`, :math:`1 + (1-\alpha)\Delta\Lambda`.
    s0 : array, shape batch + (1,)
        Real low-rank weight of :math:`A_0`, :math:`(1-\alpha)\Delta`.
    Einv : array, shape batch + (N,)
        :math:`1 / (1 - \alpha\Delta\Lambda)`.
    P : array, shape batch + (r, N)
        Low-rank factor.
    R : array, shape batch + (r, r)
        :math:`\alpha\Delta\,(I_r + \alpha\Delta\, P E^{-1} P^H)^{-1}` (real when
        ``halved``), equal to the Woodbury core above and zero for
        :math:`\alpha = 0`.
    Bd : array, shape batch + (N,)
        Discrete input vector :math:`A_1 \Delta B`.
    halved : bool
        Whether the modes stand for conjugate pairs.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Lam = np.array([-0.5 + 1j, -0.5 + 2j]); P = np.array([[0.1 + 0.2j, 0.3 + 0j]])
    >>> sys = sd.bilinear_dplr(Lam, P, np.ones(2), 0.1)
    >>> sys.R.shape, sys.Einv.shape, sys.halved
    ((1, 1), (2,), False)
    """

    Lambda0: Any
    s0: Any
    Einv: Any
    P: Any
    R: Any
    Bd: Any
    halved: bool

    def to_dense(self):
        r"""The dense equivalent :class:`DenseDiscrete` (O(N^2 r); for tests).

        For ``halved`` systems the result is the full ``2N``-mode system, with
        state :math:`[x, \bar x]` and :math:`B_d = [B_d, \bar B_d]`.

        Returns
        -------
        DenseDiscrete
            ``Ad`` of shape batch + (N, N) (``2N`` when halved), ``Bd`` batch + (N,).

        Examples
        --------
        >>> import numpy as np
        >>> from statespace import discretize as sd
        >>> Lam = np.array([-0.5 + 1j, -1.0 - 2j]); P = np.array([[0.3 + 0.1j, 0.2j]])
        >>> B = np.array([1.0 + 0j, 0.5 + 0j])
        >>> dense = sd.bilinear_dplr(Lam, P, B, 0.1).to_dense()
        >>> ref = sd.bilinear(sd.dplr_to_dense(Lam, P), B, 0.1)
        >>> bool(np.allclose(dense.Ad, ref.Ad) and np.allclose(dense.Bd, ref.Bd))
        True
        """
        xp = _array.namespace(self.Einv, self.P)
        s = self._full() if self.halved else self
        N = s.Einv.shape[-1]
        eye = xp.eye(N, dtype=s.Einv.dtype, device=_array.device_of(s.Einv))
        # columns of Ad: the transition applied to the unit vectors (an extra batch axis)
        cols = _transition(
            xp, s.Lambda0[..., None, :], s.s0[..., None, :], s.Einv[..., None, :],
            s.P[..., None, :, :], s.R[..., None, :, :], eye, False,
        )
        return DenseDiscrete(xp.matrix_transpose(cols), s.Bd)

    def _full(self):
        xp = _array.namespace(self.Einv, self.P)

        def cat(a):
            return xp.concat([a, _conj(xp, a)], axis=-1)

        return DPLRDiscrete(
            cat(self.Lambda0), self.s0, cat(self.Einv), cat(self.P),
            xp.astype(self.R, self.P.dtype), cat(self.Bd), False,
        )


# ----------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------
def _broadcast_shapes(named):
    """Broadcast ``[(name, shape), ...]``; ``ValueError`` naming every argument."""
    return _array.broadcast_shapes([tuple(s) for _, s in named], [n for n, _ in named])


def _as_array(xp, a, name, device=None):
    """``a`` itself when it is already an array (keeps torch's autograd flags quiet)."""
    if _array.compat.is_array_api_obj(a):
        return a
    return _array.asarray(a, xp, device=device, name=name)


def _expand(xp, a, shape):
    """``a`` broadcast to ``shape`` as a new (writable) array."""
    if tuple(a.shape) == tuple(shape):
        return a
    return xp.asarray(xp.broadcast_to(a, shape), copy=True)


def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number, got {type(alpha).__name__}")
    alpha = float(alpha)
    if not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return alpha


def _conj(xp, a):
    return xp.conj(a) if _array.is_complex(xp, a) else a


def _prepare(arrays, dt, min_ndim):
    """Namespace, common dtype, validated arrays and dt for the named ``arrays``.

    ``arrays`` is ``[(name, value), ...]``; ``min_ndim`` the matching minimum ranks.
    Returns ``xp, arrays (cast to one dtype), dt (real array)``.
    """
    # a scalar step (Python or NumPy scalar) chooses neither namespace nor dtype
    dt_arr = None if isinstance(dt, numbers.Number) else dt
    xp = _array.namespace(*(a for _, a in arrays), dt_arr)
    dev = _array.device_of(*(a for _, a in arrays))
    conv = []
    for (name, a), nd in zip(arrays, min_ndim, strict=True):
        a = _as_array(xp, a, name, device=dev)
        if a.ndim < nd:
            raise ValueError(f"{name} must have at least {nd} dimension(s), got shape {a.shape}")
        if not xp.isdtype(a.dtype, ("real floating", "complex floating", "integral")):
            raise TypeError(f"{name} must have a numeric dtype, got {a.dtype}")
        conv.append(a)
    rdt = _array.result_float_dtype(xp, *conv, dt_arr)
    cplx = any(_array.is_complex(xp, a) for a in conv)
    dtype = _array.complex_dtype(xp, rdt) if cplx else rdt
    conv = [xp.astype(a, dtype) for a in conv]
    dt = _array.check_dt(xp, dt, dtype=rdt, device=dev)
    for (name, _), a in zip(arrays, conv, strict=True):
        _array.check_finite(xp, a, name)
    return xp, conv, dt


def _check_n(name, a, N, ref):
    if a.shape[-1] != N:
        raise ValueError(
            f"{name} has state size {a.shape[-1]} (last axis) but {ref} has N={N}"
        )


# ----------------------------------------------------------------------------------
# dense
# ----------------------------------------------------------------------------------
def _dense_inputs(A, B, dt):
    xp, (A, B), dt = _prepare([("A", A), ("B", B)], dt, (2, 1))
    N = A.shape[-1]
    if A.shape[-2] != N:
        raise ValueError(f"A must be square in its last two axes, got shape {A.shape}")
    _check_n("B", B, N, "A")
    batch = _broadcast_shapes([("A", A.shape[:-2]), ("B", B.shape[:-1]), ("dt", dt.shape)])
    return xp, A, B, dt, N, batch


def gbt(A, B, dt, alpha):
    r"""Generalized bilinear transform of a dense system.

    Parameters
    ----------
    A : array, shape batch + (N, N)
        Continuous transition matrix (real or complex).
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size :math:`\Delta > 0`, a scalar or an array broadcasting against
        the batch shape (e.g. one step per channel).
    alpha : float
        Blending parameter in :math:`[0, 1]`: 0 forward Euler, 1/2 bilinear,
        1 backward Euler.

    Returns
    -------
    DenseDiscrete
        ``(Ad, Bd)`` with shapes broadcast batch + (N, N) and batch + (N,).

    Raises
    ------
    ValueError
        ``dt`` not finite and positive, NaN/inf in ``A`` or ``B``, mismatched
        state sizes or batch shapes, ``alpha`` outside :math:`[0, 1]`.

    Notes
    -----
    .. math::

        A_d = (I - \alpha\Delta A)^{-1}(I + (1-\alpha)\Delta A), \qquad
        B_d = (I - \alpha\Delta A)^{-1}\,\Delta B,

    computed with one LU solve for both right-hand sides; this is
    :func:`scipy.signal.cont2discrete` with ``method='gbt'``.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> A = np.array([[-1.0, 0.0], [1.0, -2.0]]); B = np.array([1.0, 0.0])
    >>> Ad, Bd = sd.gbt(A, B, 0.1, alpha=0.5)
    >>> np.round(Ad, 6)
    array([[0.904762, 0.      ],
           [0.08658 , 0.818182]])
    >>> np.round(Bd, 6)
    array([0.095238, 0.004329])
    """
    alpha = _check_alpha(alpha)
    xp, A, B, dt, N, batch = _dense_inputs(A, B, dt)
    dev = _array.device_of(A)
    eye = xp.eye(N, dtype=A.dtype, device=dev)
    dtm = dt[..., None, None]
    lhs = xp.broadcast_to(eye - (alpha * dtm) * A, batch + (N, N))
    rhs = xp.concat(
        [
            xp.broadcast_to(eye + ((1.0 - alpha) * dtm) * A, batch + (N, N)),
            xp.broadcast_to((dt[..., None] * B)[..., None], batch + (N, 1)),
        ],
        axis=-1,
    )
    X = _array.solve(xp, lhs, rhs)
    return DenseDiscrete(X[..., :N], X[..., N])


def bilinear(A, B, dt):
    r"""Bilinear (Tustin) discretization of a dense system, :func:`gbt` with alpha = 1/2.

    Parameters
    ----------
    A : array, shape batch + (N, N)
        Continuous transition matrix.
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.

    Returns
    -------
    DenseDiscrete
        ``(Ad, Bd)``.

    Notes
    -----
    .. math::

        A_d = (I - \tfrac{\Delta}{2} A)^{-1}(I + \tfrac{\Delta}{2} A), \qquad
        B_d = (I - \tfrac{\Delta}{2} A)^{-1}\Delta B.

    It maps the open left half plane onto the open unit disc, so a stable
    continuous system stays stable.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> A, B = ss.hippo.transition("legs", 4)
    >>> Ad, Bd = ss.discretize.bilinear(A, B, 0.01)
    >>> bool(np.max(np.abs(np.linalg.eigvals(Ad))) < 1)
    True
    """
    return gbt(A, B, dt, 0.5)


def forward_euler(A, B, dt):
    r"""Forward Euler discretization, :math:`A_d = I + \Delta A`, :math:`B_d = \Delta B`.

    Parameters
    ----------
    A : array, shape batch + (N, N)
        Continuous transition matrix.
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.

    Returns
    -------
    DenseDiscrete
        ``(Ad, Bd)``; :func:`gbt` with alpha = 0.

    Notes
    -----
    .. math:: A_d = I + \Delta A, \qquad B_d = \Delta B.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Ad, Bd = sd.forward_euler(np.array([[-2.0]]), np.array([1.0]), 0.25)
    >>> float(Ad[0, 0]), float(Bd[0])
    (0.5, 0.25)
    """
    return gbt(A, B, dt, 0.0)


def backward_euler(A, B, dt):
    r"""Backward Euler discretization, :func:`gbt` with alpha = 1.

    Parameters
    ----------
    A : array, shape batch + (N, N)
        Continuous transition matrix.
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.

    Returns
    -------
    DenseDiscrete
        ``(Ad, Bd)``.

    Notes
    -----
    .. math:: A_d = (I - \Delta A)^{-1}, \qquad B_d = (I - \Delta A)^{-1}\Delta B.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Ad, Bd = sd.backward_euler(np.array([[-3.0]]), np.array([1.0]), 1.0)
    >>> float(Ad[0, 0]), float(Bd[0])
    (0.25, 0.25)
    """
    return gbt(A, B, dt, 1.0)


def zoh(A, B, dt):
    r"""Zero-order-hold discretization of a dense system.

    Parameters
    ----------
    A : array, shape batch + (N, N)
        Continuous transition matrix (may be singular).
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.

    Returns
    -------
    DenseDiscrete
        ``(Ad, Bd)``.

    Raises
    ------
    ValueError
        As for :func:`gbt` (without ``alpha``).

    Notes
    -----
    The input is held constant over each step, so

    .. math::

        A_d = e^{\Delta A}, \qquad B_d = \int_0^\Delta e^{sA}\,ds\;B,

    both read off one augmented exponential (no inverse of ``A`` needed):

    .. math::

        \exp\!\left(\Delta \begin{bmatrix} A & B \\ 0 & 0 \end{bmatrix}\right)
        = \begin{bmatrix} A_d & B_d \\ 0 & 1 \end{bmatrix}.

    The error is normwise relative to the whole exponential (norm >= 1, from its
    corner entry): for a strongly decaying system, where :math:`\|A_d\| \ll 1`,
    the entries of :math:`A_d` carry an absolute error of order
    :math:`\varepsilon \|\Delta M\|_1`, not a relative one.

    The exponential is delegated to the backend (:func:`scipy.linalg.expm`,
    :func:`torch.linalg.matrix_exp`, CuPy) with a Padé fallback elsewhere; this is
    :func:`scipy.signal.cont2discrete` with ``method='zoh'``.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Ad, Bd = sd.zoh(np.array([[0.0]]), np.array([2.0]), 0.5)   # an integrator
    >>> float(Ad[0, 0]), float(Bd[0])
    (1.0, 1.0)
    """
    xp, A, B, dt, N, batch = _dense_inputs(A, B, dt)
    dev = _array.device_of(A)
    top = xp.concat(
        [
            xp.broadcast_to(dt[..., None, None] * A, batch + (N, N)),
            xp.broadcast_to((dt[..., None] * B)[..., None], batch + (N, 1)),
        ],
        axis=-1,
    )
    aug = xp.concat([top, xp.zeros(batch + (1, N + 1), dtype=A.dtype, device=dev)], axis=-2)
    E = _array.expm(xp, aug)
    return DenseDiscrete(E[..., :N, :N], E[..., :N, N])


# ----------------------------------------------------------------------------------
# diagonal
# ----------------------------------------------------------------------------------
def _diag_inputs(Lambda, B, dt):
    xp, (Lambda, B), dt = _prepare([("Lambda", Lambda), ("B", B)], dt, (1, 1))
    N = Lambda.shape[-1]
    _check_n("B", B, N, "Lambda")
    batch = _broadcast_shapes(
        [("Lambda", Lambda.shape[:-1]), ("B", B.shape[:-1]), ("dt", dt.shape)]
    )
    return xp, Lambda, B, dt[..., None], batch + (N,)


def _nonzero(xp, den, what):
    if bool(xp.any(den == 0)):
        raise ValueError(f"the discretization is singular: {what} has a zero entry")


def gbt_diag(Lambda, B, dt, alpha):
    r"""Generalized bilinear transform of a diagonal system, elementwise.

    Parameters
    ----------
    Lambda : array, shape batch + (N,)
        Diagonal of the continuous transition matrix (real or complex).
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.
    alpha : float
        Blending parameter in :math:`[0, 1]`.

    Returns
    -------
    DiagDiscrete
        ``(Lambda_d, Bd)``, both of shape broadcast batch + (N,).

    Raises
    ------
    ValueError
        Bad ``dt``/``alpha``, NaN/inf inputs, mismatched shapes, or
        :math:`1 - \alpha\Delta\lambda_n = 0` for some mode.

    Notes
    -----
    .. math::

        \Lambda_d = \frac{1 + (1-\alpha)\Delta\Lambda}{1 - \alpha\Delta\Lambda},
        \qquad B_d = \frac{\Delta B}{1 - \alpha\Delta\Lambda}.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Ld, Bd = sd.gbt_diag(np.array([-1.0, -2.0]), np.array([1.0, 1.0]), 0.5, 0.5)
    >>> np.round(Ld, 6), np.round(Bd, 6)
    (array([0.6     , 0.333333]), array([0.4     , 0.333333]))
    """
    alpha = _check_alpha(alpha)
    xp, Lambda, B, dtv, shape = _diag_inputs(Lambda, B, dt)
    z = dtv * Lambda
    den = 1.0 - alpha * z
    _nonzero(xp, den, "1 - alpha*dt*Lambda")
    Ld = (1.0 + (1.0 - alpha) * z) / den
    Bd = dtv * B / den
    return DiagDiscrete(_expand(xp, Ld, shape), _expand(xp, Bd, shape))


def bilinear_diag(Lambda, B, dt):
    r"""Bilinear discretization of a diagonal system (:func:`gbt_diag`, alpha = 1/2).

    Parameters
    ----------
    Lambda : array, shape batch + (N,)
        Continuous eigenvalues.
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.

    Returns
    -------
    DiagDiscrete
        ``(Lambda_d, Bd)``.

    Notes
    -----
    .. math::

        \Lambda_d = \frac{1 + \Delta\Lambda/2}{1 - \Delta\Lambda/2}, \qquad
        B_d = \frac{\Delta B}{1 - \Delta\Lambda/2}.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Ld, Bd = sd.bilinear_diag(np.array([-0.5 + 3j]), np.array([1.0]), 0.1)
    >>> bool(abs(Ld[0]) < 1)
    True
    """
    return gbt_diag(Lambda, B, dt, 0.5)


def forward_euler_diag(Lambda, B, dt):
    r"""Forward Euler discretization of a diagonal system.

    Parameters
    ----------
    Lambda : array, shape batch + (N,)
        Continuous eigenvalues.
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.

    Returns
    -------
    DiagDiscrete
        ``(Lambda_d, Bd)``.

    Notes
    -----
    .. math:: \Lambda_d = 1 + \Delta\Lambda, \qquad B_d = \Delta B.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Ld, Bd = sd.forward_euler_diag(np.array([-2.0]), np.array([3.0]), 0.25)
    >>> float(Ld[0]), float(Bd[0])
    (0.5, 0.75)
    """
    return gbt_diag(Lambda, B, dt, 0.0)


def backward_euler_diag(Lambda, B, dt):
    r"""Backward Euler discretization of a diagonal system.

    Parameters
    ----------
    Lambda : array, shape batch + (N,)
        Continuous eigenvalues.
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.

    Returns
    -------
    DiagDiscrete
        ``(Lambda_d, Bd)``.

    Notes
    -----
    .. math::

        \Lambda_d = \frac{1}{1 - \Delta\Lambda}, \qquad
        B_d = \frac{\Delta B}{1 - \Delta\Lambda}.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Ld, Bd = sd.backward_euler_diag(np.array([-3.0]), np.array([1.0]), 1.0)
    >>> float(Ld[0]), float(Bd[0])
    (0.25, 0.25)
    """
    return gbt_diag(Lambda, B, dt, 1.0)


def _phi1(xp, z):
    r""":math:`\varphi_1(z) = (e^z - 1)/z`, with :math:`\varphi_1(0) = 1`.

    ``expm1`` keeps full relative accuracy for small :math:`|z|`; below
    :math:`|z| < \varepsilon` the first Taylor terms :math:`1 + z/2` are exact to
    rounding and avoid the 0/0 at :math:`z = 0` (also in the gradient).
    """
    small = xp.abs(z) < _array.eps(xp, z.dtype)
    one = xp.ones_like(z)
    zs = xp.where(small, one, z)
    return xp.where(small, one + z / 2, _array.expm1(xp, zs) / zs)


def zoh_diag(Lambda, B, dt):
    r"""Zero-order-hold discretization of a diagonal system, elementwise.

    Parameters
    ----------
    Lambda : array, shape batch + (N,)
        Continuous eigenvalues (real or complex; zero allowed).
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.

    Returns
    -------
    DiagDiscrete
        ``(Lambda_d, Bd)``.

    Notes
    -----
    .. math::

        \Lambda_d = e^{\Delta\Lambda}, \qquad
        B_d = \frac{e^{\Delta\Lambda} - 1}{\Lambda} B = \Delta\,\varphi_1(\Delta\Lambda)\,B,
        \qquad \varphi_1(z) = \frac{e^z - 1}{z},

    with :math:`\varphi_1` evaluated through a complex-safe ``expm1`` so that
    small :math:`|\Delta\lambda|` loses no digits, and :math:`\varphi_1(0) = 1`
    (an integrator mode gets :math:`B_d = \Delta B` exactly).

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Ld, Bd = sd.zoh_diag(np.array([0.0, -1e-20]), np.array([2.0, 2.0]), 0.5)
    >>> Ld.tolist(), Bd.tolist()
    ([1.0, 1.0], [1.0, 1.0])
    """
    xp, Lambda, B, dtv, shape = _diag_inputs(Lambda, B, dt)
    z = dtv * Lambda
    Ld = xp.exp(z)
    Bd = dtv * _phi1(xp, z) * B
    return DiagDiscrete(_expand(xp, Ld, shape), _expand(xp, Bd, shape))


# ----------------------------------------------------------------------------------
# diagonal plus low rank
# ----------------------------------------------------------------------------------
def _project(xp, P, x, halved):
    """``P x`` (an r-vector); ``2 Re(P x)`` for halved systems."""
    v = xp.sum(P * x[..., None, :], axis=-1)
    return 2 * xp.real(v) if halved and _array.is_complex(xp, v) else v


def _lift(xp, P, v):
    """``P^H v`` (an N-vector)."""
    return xp.sum(_conj(xp, P) * v[..., :, None], axis=-2)


def _apply_a1(xp, Einv, P, R, y, halved):
    z = Einv * y
    w = xp.sum(R * _project(xp, P, z, halved)[..., None, :], axis=-1)
    return z - Einv * _lift(xp, P, w)


def _transition(xp, Lambda0, s0, Einv, P, R, x, halved):
    y = Lambda0 * x - s0 * _lift(xp, P, _project(xp, P, x, halved))
    return _apply_a1(xp, Einv, P, R, y, halved)


def dplr_transition(sys, x):
    r"""Apply the discrete DPLR transition :math:`A_d x` in O(N r) operations.

    Parameters
    ----------
    sys : DPLRDiscrete
        Result of :func:`gbt_dplr` (or its named variants).
    x : array, shape batch + (N,)
        State (the half state when ``sys.halved``), broadcasting against the
        system's batch shape.

    Returns
    -------
    array, shape broadcast batch + (N,)
        :math:`A_1 (A_0 x)`.

    Notes
    -----
    With :math:`E^{-1}` diagonal and :math:`R` of size r x r,

    .. math::

        y = \Lambda_0 \odot x - s_0 P^H (P x), \qquad
        A_d x = E^{-1} y - E^{-1} P^H R\,P (E^{-1} y),

    i.e. four products with the r x N factor and one r x r product (S4, Gu et
    al. 2022, Appendix C.2). For halved systems every :math:`P v` is
    :math:`2\,\mathrm{Re}(P v)`.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Lam = np.array([-0.5 + 1j, -1.0]); P = np.array([[0.3 + 0.1j, 0.2j]])
    >>> sys = sd.bilinear_dplr(Lam, P, np.ones(2), 0.1)
    >>> x = np.array([1.0 + 0j, -2.0 + 0j])
    >>> bool(np.allclose(sd.dplr_transition(sys, x), sys.to_dense().Ad @ x))
    True
    """
    if not isinstance(sys, DPLRDiscrete):
        raise TypeError(f"sys must be a DPLRDiscrete, got {type(sys).__name__}")
    xp = _array.namespace(sys.Einv, x)
    return _transition(xp, sys.Lambda0, sys.s0, sys.Einv, sys.P, sys.R, x, sys.halved)


def _check_halved(halved):
    if not isinstance(halved, bool):
        raise TypeError(f"halved must be a bool, got {type(halved).__name__}")


def gbt_dplr(Lambda, P, B, dt, alpha, *, halved=False):
    r"""Structured GBT discretization of :math:`A = \mathrm{diag}(\Lambda) - P^H P`.

    Parameters
    ----------
    Lambda : array, shape batch + (N,)
        Diagonal part (typically complex with negative real parts).
    P : array, shape batch + (r, N)
        Low-rank factor, rank ``r >= 1``.
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.
    alpha : float
        Blending parameter in :math:`[0, 1]` (see :func:`gbt`).
    halved : bool, default False
        Whether each of the ``N`` modes stands for a conjugate pair (S4's halved
        storage); see Notes.

    Returns
    -------
    DPLRDiscrete
        Structured pieces for :func:`dplr_transition` and
        :func:`statespace.recurrence.step`, O(N r) memory; complex when any input
        is complex.

    Raises
    ------
    ValueError
        Bad ``dt``/``alpha``, NaN/inf inputs, mismatched ``N`` or batch shapes,
        or :math:`1 - \alpha\Delta\lambda_n = 0` for some mode.

    Notes
    -----
    With :math:`E = \mathrm{diag}(1 - \alpha\Delta\Lambda)`, Woodbury's identity
    gives (S4, Gu et al. 2022, Appendix C.2)

    .. math::

        (I - \alpha\Delta A)^{-1} = (E + \alpha\Delta P^H P)^{-1}
        = E^{-1} - E^{-1} P^H R\, P E^{-1}, \qquad
        R = \Big(\frac{I_r}{\alpha\Delta} + P E^{-1} P^H\Big)^{-1}
          = \alpha\Delta\,(I_r + \alpha\Delta\,P E^{-1} P^H)^{-1},

    the last form being used (well defined at :math:`\alpha = 0`, where
    :math:`R = 0`). The step is :math:`x' = A_1(A_0 x) + B_d u` with
    :math:`A_0 = I + (1-\alpha)\Delta A` applied as diagonal plus low rank,
    :math:`A_1 = (I - \alpha\Delta A)^{-1}` and :math:`B_d = A_1 \Delta B`; the
    only dense solve is r x r.

    **Halved systems.** With ``halved=True`` the system stands for the full
    ``2N``-mode one :math:`\Lambda_f = [\Lambda, \bar\Lambda]`,
    :math:`P_f = [P, \bar P]`, :math:`B_f = [B, \bar B]`. For real inputs the
    full state stays conjugate symmetric, :math:`x_f = [x, \bar x]`, so only
    :math:`x` is carried: :math:`P_f x_f = 2\,\mathrm{Re}(P x)` (a real r-vector),
    :math:`P_f^H v = [P^H v, \overline{P^H v}]` for real :math:`v`, and the r x r
    matrix becomes :math:`I_r/(\alpha\Delta) + 2\,\mathrm{Re}(P E^{-1} P^H)`
    (real). Outputs are then :math:`y = 2\,\mathrm{Re}(C x)`.

    Zero-order hold has no O(N r) structured form here: :math:`e^{\Delta A}` of a
    diagonal-plus-low-rank matrix is dense in general, so it is not offered; use
    :func:`zoh` on :func:`dplr_to_dense` (small N) or a diagonal system with
    :func:`zoh_diag`.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Lam = np.array([-0.5 + 1j, -0.5 + 3j]); P = np.array([[0.4 + 0.2j, 0.1 - 0.3j]])
    >>> B = np.array([1.0 + 0j, 0.5j])
    >>> sys = sd.gbt_dplr(Lam, P, B, 0.1, 0.5, halved=True)
    >>> Lf, Pf, Bf = (np.concatenate([a, a.conj()], axis=-1) for a in (Lam, P, B))
    >>> ref = sd.bilinear(sd.dplr_to_dense(Lf, Pf), Bf, 0.1)
    >>> bool(np.allclose(sys.to_dense().Ad, ref.Ad))
    True
    """
    alpha = _check_alpha(alpha)
    _check_halved(halved)
    xp, (Lambda, P, B), dt = _prepare(
        [("Lambda", Lambda), ("P", P), ("B", B)], dt, (1, 2, 1)
    )
    N, r = Lambda.shape[-1], P.shape[-2]
    _check_n("P", P, N, "Lambda")
    _check_n("B", B, N, "Lambda")
    if r < 1:
        raise ValueError(f"P must have rank >= 1 (shape batch + (r, N)), got shape {P.shape}")
    batch = _broadcast_shapes(
        [("Lambda", Lambda.shape[:-1]), ("P", P.shape[:-2]), ("B", B.shape[:-1]),
         ("dt", dt.shape)]
    )
    dtv = dt[..., None]
    z = dtv * Lambda
    den = 1.0 - alpha * z
    _nonzero(xp, den, "1 - alpha*dt*Lambda")
    Einv = _expand(xp, 1.0 / den, batch + (N,))
    Lambda0 = _expand(xp, 1.0 + (1.0 - alpha) * z, batch + (N,))
    s0 = _expand(xp, (1.0 - alpha) * dtv, batch + (1,))
    P = _expand(xp, P, batch + (r, N))
    # M = P E^{-1} P^H (r x r); 2 Re(.) for halved systems
    M = xp.sum(P[..., :, None, :] * (Einv[..., None, None, :] * _conj(xp, P)[..., None, :, :]),
               axis=-1)
    if halved and _array.is_complex(xp, M):
        M = 2 * xp.real(M)
    adt = alpha * dt[..., None, None]
    eye_r = xp.eye(r, dtype=M.dtype, device=_array.device_of(M))
    R = _array.solve(
        xp, xp.broadcast_to(eye_r + adt * M, batch + (r, r)),
        xp.broadcast_to(adt * eye_r, batch + (r, r)),
    )
    Bd = _apply_a1(xp, Einv, P, R, dtv * B, halved)
    return DPLRDiscrete(Lambda0, s0, Einv, P, R, _expand(xp, Bd, batch + (N,)), halved)


def bilinear_dplr(Lambda, P, B, dt, *, halved=False):
    r"""Bilinear discretization of a DPLR system (:func:`gbt_dplr`, alpha = 1/2).

    Parameters
    ----------
    Lambda : array, shape batch + (N,)
        Diagonal part.
    P : array, shape batch + (r, N)
        Low-rank factor.
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.
    halved : bool, default False
        Conjugate-pair (halved) storage, see :func:`gbt_dplr`.

    Returns
    -------
    DPLRDiscrete
        Structured discrete system.

    Notes
    -----
    :math:`A_0 = I + \tfrac{\Delta}{2}A`, :math:`A_1 = (I - \tfrac{\Delta}{2}A)^{-1}`
    by Woodbury, as in S4's recurrent mode.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> Lam = np.array([-0.5 + 1j]); P = np.array([[0.5 + 0j]])
    >>> sys = sd.bilinear_dplr(Lam, P, np.array([1.0]), 0.2)
    >>> A = sd.dplr_to_dense(Lam, P)
    >>> bool(np.allclose(sys.to_dense().Ad, sd.bilinear(A, np.array([1.0]), 0.2).Ad))
    True
    """
    return gbt_dplr(Lambda, P, B, dt, 0.5, halved=halved)


def forward_euler_dplr(Lambda, P, B, dt, *, halved=False):
    r"""Forward Euler discretization of a DPLR system (:func:`gbt_dplr`, alpha = 0).

    Parameters
    ----------
    Lambda : array, shape batch + (N,)
        Diagonal part.
    P : array, shape batch + (r, N)
        Low-rank factor.
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.
    halved : bool, default False
        Conjugate-pair (halved) storage, see :func:`gbt_dplr`.

    Returns
    -------
    DPLRDiscrete
        Structured discrete system (``R = 0``, :math:`A_1 = I`).

    Notes
    -----
    :math:`A_d = I + \Delta(\mathrm{diag}(\Lambda) - P^H P)`, :math:`B_d = \Delta B`.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> sys = sd.forward_euler_dplr(np.array([-1.0]), np.array([[1.0]]), np.array([1.0]), 0.25)
    >>> float(sys.to_dense().Ad[0, 0])
    0.5
    """
    return gbt_dplr(Lambda, P, B, dt, 0.0, halved=halved)


def backward_euler_dplr(Lambda, P, B, dt, *, halved=False):
    r"""Backward Euler discretization of a DPLR system (:func:`gbt_dplr`, alpha = 1).

    Parameters
    ----------
    Lambda : array, shape batch + (N,)
        Diagonal part.
    P : array, shape batch + (r, N)
        Low-rank factor.
    B : array, shape batch + (N,)
        Continuous input vector.
    dt : float or array
        Step size, positive, broadcasting against the batch shape.
    halved : bool, default False
        Conjugate-pair (halved) storage, see :func:`gbt_dplr`.

    Returns
    -------
    DPLRDiscrete
        Structured discrete system (:math:`A_0 = I`).

    Notes
    -----
    :math:`A_d = (I - \Delta A)^{-1}`, :math:`B_d = A_d \Delta B`, by Woodbury.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> sys = sd.backward_euler_dplr(np.array([-1.0]), np.array([[1.0]]), np.array([1.0]), 1.0)
    >>> round(float(sys.to_dense().Ad[0, 0]), 12)
    0.333333333333
    """
    return gbt_dplr(Lambda, P, B, dt, 1.0, halved=halved)


def dplr_to_dense(Lambda, P, *, halved=False):
    r"""Dense matrix :math:`A = \mathrm{diag}(\Lambda) - P^H P` (tests, small N).

    Parameters
    ----------
    Lambda : array, shape batch + (N,)
        Diagonal part.
    P : array, shape batch + (r, N)
        Low-rank factor.
    halved : bool, default False
        If true, build the full ``2N``-mode matrix of
        :math:`\Lambda_f = [\Lambda, \bar\Lambda]`, :math:`P_f = [P, \bar P]`.

    Returns
    -------
    array, shape batch + (N, N) (``2N`` when halved)
        The dense transition matrix.

    Notes
    -----
    .. math:: A = \mathrm{diag}(\Lambda) - P^H P, \qquad (P^H P)_{nk} = \sum_j \bar P_{jn} P_{jk}.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> sd.dplr_to_dense(np.array([-1.0, -2.0]), np.array([[1.0, 2.0]]))
    array([[-2., -2.],
           [-2., -6.]])
    """
    _check_halved(halved)
    xp = _array.namespace(Lambda, P)
    Lambda = _as_array(xp, Lambda, "Lambda")
    P = _as_array(xp, P, "P")
    if P.ndim < 2 or P.shape[-1] != Lambda.shape[-1]:
        raise ValueError(
            f"P must have shape batch + (r, N) with N={Lambda.shape[-1]}, got {P.shape}"
        )
    if halved:
        Lambda = xp.concat([Lambda, _conj(xp, Lambda)], axis=-1)
        P = xp.concat([P, _conj(xp, P)], axis=-1)
    N = Lambda.shape[-1]
    eye = xp.eye(N, dtype=Lambda.dtype, device=_array.device_of(Lambda))
    gram = _array.matmul(xp, _conj(xp, xp.matrix_transpose(P)), P)
    return eye * Lambda[..., None, :] - gram
