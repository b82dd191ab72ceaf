r"""Discretization of continuous-time linear systems (bilinear, ZOH, GBT, Euler).

One entry, :func:`discretize`, maps a continuous system :math:`x' = A x + B u`
to its discrete recurrence :math:`x_l = A_d x_{l-1} + B_d u_l`. The type of the
system passed is the structure of ``A``, and selects the algorithm:

* :class:`DenseSystem` ``(A, B)`` -> :class:`DenseDiscrete` ``(Ad, Bd)``: one
  N x N solve (GBT family) or one matrix exponential (ZOH);
* :class:`DiagSystem` ``(Lambda, B)`` -> :class:`DiagDiscrete`
  ``(Lambda_d, Bd)``: elementwise, no solve;
* :class:`DPLRSystem` ``(Lambda, P, B, halved)``, diagonal plus low rank
  :math:`A = \mathrm{diag}(\Lambda) - P^H P` -> :class:`DPLRDiscrete`: the
  Woodbury pieces of an O(N r) step, no N x N matrix.

Methods: ``"bilinear"`` (Tustin), ``"zoh"`` (zero-order hold; dense and diagonal
systems), ``"gbt"`` (generalized bilinear transform with parameter ``alpha``),
``"forward_euler"`` and ``"backward_euler"``; the formulas are in the Notes of
:func:`discretize`, and the dense forms agree with
:func:`scipy.signal.cont2discrete`. The results are the inputs of
:mod:`statespace.recurrence`.

The per-method functions (:func:`bilinear`, :func:`zoh_diag`, :func:`gbt_dplr`,
...) are aliases of :func:`discretize` for one structure and one method.
"""

from __future__ import annotations

import inspect
import math
import numbers
import types
from typing import Any, NamedTuple

from . import _array

__all__ = [
    "discretize", "GBT_ALPHA",
    "DenseSystem", "DiagSystem", "DPLRSystem",
    "DenseDiscrete", "DiagDiscrete", "DPLRDiscrete",
    "gbt", "bilinear", "forward_euler", "backward_euler", "zoh",
    "gbt_diag", "bilinear_diag", "forward_euler_diag", "backward_euler_diag", "zoh_diag",
    "gbt_dplr", "bilinear_dplr", "forward_euler_dplr", "backward_euler_dplr",
    "dplr_transition", "dplr_to_dense",
]

#: The GBT parameter :math:`\alpha` of each named method of the GBT family
#: (read-only mapping); ``"gbt"`` takes ``alpha`` from the caller.
GBT_ALPHA = types.MappingProxyType(
    {"forward_euler": 0.0, "bilinear": 0.5, "backward_euler": 1.0}
)


# ----------------------------------------------------------------------------------
# continuous systems
# ----------------------------------------------------------------------------------
class DenseSystem(NamedTuple):
    r"""Continuous dense system :math:`x' = A x + B u`, an input of :func:`discretize`.

    Attributes
    ----------
    A : array, shape batch + (N, N)
        Transition matrix (real or complex; any stability, may be singular).
    B : array, shape batch + (N,)
        Input vector.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> sys = sd.DenseSystem(np.array([[-2.0]]), np.array([1.0]))
    >>> sd.discretize(sys, 0.25, "forward_euler")
    DenseDiscrete(Ad=array([[0.5]]), Bd=array([0.25]))
    """

    A: Any
    B: Any


class DiagSystem(NamedTuple):
    r"""Continuous diagonal system :math:`x' = \Lambda \odot x + B u`.

    Attributes
    ----------
    Lambda : array, shape batch + (N,)
        Diagonal of the transition matrix (real or complex; zero allowed).
    B : array, shape batch + (N,)
        Input vector.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd
    >>> sys = sd.DiagSystem(np.array([-2.0, -4.0]), np.ones(2))
    >>> sd.discretize(sys, 0.25, "forward_euler").Lambda_d
    array([0.5, 0. ])
    """

    Lambda: Any
    B: Any


class DPLRSystem(NamedTuple):
    r"""Continuous diagonal-plus-low-rank system, :math:`A = \mathrm{diag}(\Lambda) - P^H P`.

    Attributes
    ----------
    Lambda : array, shape batch + (N,)
        Diagonal part (typically complex with negative real parts).
    P : array, shape batch + (r, N)
        Low-rank factor, rank ``r >= 1``.
    B : array, shape batch + (N,)
        Input vector.
    halved : bool, default False
        Whether each of the ``N`` modes stands for a conjugate pair (S4's halved
        storage of the ``2N``-mode system :math:`[\Lambda, \bar\Lambda]`,
        :math:`[P, \bar P]`, :math:`[B, \bar B]`; see :func:`discretize`).

    Examples
    --------
    >>> import statespace as ss
    >>> from statespace import discretize as sd
    >>> h = ss.dplr("legs", 8)                        # 4 conjugate-pair modes
    >>> sys = sd.discretize(sd.DPLRSystem(h.Lambda, h.P, h.B, halved=True), 0.1)
    >>> sys.Einv.shape, sys.R.shape, sys.halved
    ((4,), (1, 1), True)
    """

    Lambda: Any
    P: Any
    B: Any
    halved: bool = False


# ----------------------------------------------------------------------------------
# discrete systems
# ----------------------------------------------------------------------------------
class DenseDiscrete(NamedTuple):
    """Discrete dense system :math:`x_l = A_d x_{l-1} + B_d u_l`.

    Attributes
    ----------
    Ad : array, shape batch + (N, N)
        Discrete transition matrix.
    Bd : array, shape batch + (N,)
        Discrete input vector.
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
    """

    Lambda_d: Any
    Bd: Any


class DPLRDiscrete(NamedTuple):
    r"""Structured GBT discretization of :math:`A = \mathrm{diag}(\Lambda) - P^H P`.

    The transition is :math:`A_d = A_1 A_0`, :math:`A_0 = I + (1-\alpha)\Delta A`
    and :math:`A_1 = (I - \alpha\Delta A)^{-1}`, both applied in O(N r) through the
    pieces below (the Woodbury form in the Notes of :func:`discretize`). Apply it
    with :func:`dplr_transition`; :meth:`to_dense` rebuilds the dense matrices
    (tests, small N only). When ``halved`` is true each mode stands for a
    conjugate pair and every :math:`P v` is :math:`2\,\mathrm{Re}(P v)`.

    Accuracy: the pieces are each computed to a few ulps, so :math:`A_d x` carries an
    error of order :math:`N \epsilon \lVert A_1\rVert \lVert A_0\rVert \lVert x\rVert`.
    That is relative to :math:`\lVert A_d\rVert` except when
    :math:`w = \alpha\Delta\, P E^{-1} P^H` is huge: :math:`A_1` then squashes the
    direction :math:`E^{-1}P^H` by :math:`1/(1+w)`, and that component of
    :math:`A_d x` has relative error about :math:`\epsilon |w|` (for :math:`N = 1`
    the whole result). Form the dense system when :math:`\epsilon |w|` is not small.

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
        ``halved``), zero for :math:`\alpha = 0`.
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
        _array.check_result(
            xp, cols, "to_dense", "Ad exceeds the floating-point range",
            inputs=[(f"sys.{k}", v) for k, v in self._asdict().items() if k != "halved"],
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


def _as_array(xp, a, name, device=None, min_ndim=0):
    """``a`` as a numeric array (itself when it already is one: keeps torch's autograd
    flags quiet); see :func:`statespace._array.check_array` for what is refused."""
    return _array.check_array(xp, a, name, device=device, min_ndim=min_ndim)


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
    xp = _array.namespace(*(a for _, a in arrays), dt_arr,
                          names=[n for n, _ in arrays] + ["dt"])
    dev = _array.device_of(*(a for _, a in arrays))
    conv = [_as_array(xp, a, name, device=dev, min_ndim=nd)
            for (name, a), nd in zip(arrays, min_ndim, strict=True)]
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
# the entry
# ----------------------------------------------------------------------------------
_METHODS = {  # the methods offered for each system type
    DenseSystem: ("bilinear", "zoh", "gbt", "forward_euler", "backward_euler"),
    DiagSystem: ("bilinear", "zoh", "gbt", "forward_euler", "backward_euler"),
    # the exponential of a diagonal-plus-low-rank matrix is dense: no structured ZOH
    DPLRSystem: ("bilinear", "gbt", "forward_euler", "backward_euler"),
}


def discretize(system, dt, method="bilinear", *, alpha=None):
    r"""Discretize a continuous-time linear system :math:`x' = A x + B u`.

    Parameters
    ----------
    system : DenseSystem, DiagSystem or DPLRSystem
        The continuous system; its type (the structure of :math:`A`) selects the
        algorithm and the result type.
    dt : float or array
        Step size :math:`\Delta > 0`: a scalar, or an array broadcasting against
        the batch shape (e.g. one step per channel).
    method : {"bilinear", "zoh", "gbt", "forward_euler", "backward_euler"}, default "bilinear"
        The discretization; ``"zoh"`` is not offered for a :class:`DPLRSystem`
        (see Notes).
    alpha : float, optional
        The GBT parameter in :math:`[0, 1]`, required with ``method="gbt"`` and
        rejected with any other method (the named methods fix it, see
        :data:`GBT_ALPHA`).

    Returns
    -------
    DenseDiscrete, DiagDiscrete or DPLRDiscrete
        For a :class:`DenseSystem`, :class:`DiagSystem` and :class:`DPLRSystem`
        respectively. Every field carries the broadcast batch shape of all inputs.
        float32 (complex64) inputs give float32 / complex64 results, anything
        else float64 / complex128; complex when any input is complex. Inputs are
        never modified.

    Raises
    ------
    TypeError
        ``system`` is not one of the three system types, ``method`` is not a
        string, ``alpha`` is not a real number, ``halved`` is not a bool, an
        array has a non-numeric (or boolean) dtype or is a masked array, ``dt`` is
        not a real number or real array (bools, ``None``, strings and complex
        values are refused; see :ref:`validation`).
    ValueError
        ``method`` is unknown or not offered for the structure (the message lists
        the supported methods); ``alpha`` missing with ``"gbt"``, given with
        another method, or outside :math:`[0, 1]`; ``dt`` not positive and
        finite; NaN/inf entries; mismatched state sizes (last axis) or batch
        shapes; ``A`` not square; ``P`` of rank 0; a singular
        :math:`I - \alpha\Delta A` (a zero :math:`1 - \alpha\Delta\lambda_n` for
        diagonal and DPLR systems), on every backend; a result that overflows
        (e.g. :math:`e^{\Delta A}` beyond the floating-point range).

    See Also
    --------
    scipy.signal.cont2discrete : The dense forms, for one system.
    statespace.recurrence.scan : Runs the discrete system over a sequence.

    Notes
    -----
    **Shapes.** ``A`` is ``batch + (N, N)``; ``Lambda`` and ``B`` are
    ``batch + (N,)``; ``P`` is ``batch + (r, N)``; the batch axes of all inputs
    and of ``dt`` broadcast.

    **GBT family** (dense). The generalized bilinear transform with parameter
    :math:`\alpha` is

    .. math::

        A_d = (I - \alpha\Delta A)^{-1}(I + (1-\alpha)\Delta A), \qquad
        B_d = (I - \alpha\Delta A)^{-1}\,\Delta B,

    computed with one LU solve for both right-hand sides. The named methods are
    :math:`\alpha = 0` (``"forward_euler"``: :math:`A_d = I + \Delta A`,
    :math:`B_d = \Delta B`), :math:`\alpha = \tfrac12` (``"bilinear"``, Tustin:
    it maps the open left half plane onto the open unit disc, so a stable
    system stays stable) and :math:`\alpha = 1` (``"backward_euler"``:
    :math:`A_d = (I - \Delta A)^{-1}`). These are
    :func:`scipy.signal.cont2discrete`'s ``'euler'``, ``'bilinear'``,
    ``'backward_diff'`` and ``'gbt'`` [1]_.

    **Zero-order hold** (dense). The input is held constant over each step:
    :math:`A_d = e^{\Delta A}`, :math:`B_d = \int_0^\Delta e^{sA}\,ds\;B`, both
    read off one augmented exponential (no inverse of :math:`A`; it may be
    singular),

    .. math::

        \exp\!\left(\Delta \begin{bmatrix} A & B \\ 0 & 0 \end{bmatrix}\right)
        = \begin{bmatrix} A_d & B_d \\ 0 & 1 \end{bmatrix}.

    The error is normwise relative to the whole exponential (norm :math:`\ge 1`,
    from its corner entry): for a strongly decaying system, where
    :math:`\|A_d\| \ll 1`, the entries of :math:`A_d` carry an absolute error of
    order :math:`\varepsilon \|\Delta M\|_1`, not a relative one. The exponential
    is delegated to the backend (:func:`scipy.linalg.expm`,
    :func:`torch.linalg.matrix_exp`, CuPy) with a Padé fallback elsewhere; this
    is ``cont2discrete``'s ``'zoh'``.

    **Diagonal systems**, :math:`A = \mathrm{diag}(\Lambda)`, elementwise:

    .. math::

        \text{GBT:}\quad \Lambda_d = \frac{1 + (1-\alpha)\Delta\Lambda}{1 - \alpha\Delta\Lambda},
        \quad B_d = \frac{\Delta B}{1 - \alpha\Delta\Lambda}; \qquad
        \text{ZOH:}\quad \Lambda_d = e^{\Delta\Lambda}, \quad
        B_d = \Delta\,\varphi_1(\Delta\Lambda)\,B,

    with :math:`\varphi_1(z) = (e^z - 1)/z` evaluated through a complex-safe
    ``expm1`` so that small :math:`|\Delta\lambda|` loses no digits, and
    :math:`\varphi_1(0) = 1` (an integrator mode gets :math:`B_d = \Delta B`
    exactly, with a finite gradient).

    **Diagonal plus low rank**, :math:`A = \mathrm{diag}(\Lambda) - P^H P`, GBT
    family. With :math:`E = \mathrm{diag}(1 - \alpha\Delta\Lambda)`, Woodbury's
    identity gives (S4 [2]_, Appendix C.2)

    .. math::

        (I - \alpha\Delta A)^{-1} = (E + \alpha\Delta P^H P)^{-1}
        = E^{-1} - E^{-1} P^H R\, P E^{-1}, \qquad
        R = \Big(\frac{I_r}{\alpha\Delta} + P E^{-1} P^H\Big)^{-1}
          = \alpha\Delta\,(I_r + \alpha\Delta\,P E^{-1} P^H)^{-1},

    the last form being used (well defined at :math:`\alpha = 0`, where
    :math:`R = 0`). The step is :math:`x' = A_1(A_0 x) + B_d u` with
    :math:`A_0 x = \Lambda_0 \odot x - s_0 P^H (P x)`,
    :math:`\Lambda_0 = 1 + (1-\alpha)\Delta\Lambda`, :math:`s_0 = (1-\alpha)\Delta`,
    :math:`A_1 = (I - \alpha\Delta A)^{-1}` applied by the identity above and
    :math:`B_d = A_1 \Delta B` (the fields of :class:`DPLRDiscrete`): O(N r) per
    step, and the only dense solve is r x r. There is no DPLR zero-order hold:
    :math:`e^{\Delta A}` of a diagonal-plus-low-rank matrix is dense in general
    (use a :class:`DenseSystem` of :func:`dplr_to_dense` for small N, or a
    :class:`DiagSystem`).

    **Halved DPLR systems.** With ``halved=True`` the system stands for the full
    ``2N``-mode one :math:`\Lambda_f = [\Lambda, \bar\Lambda]`,
    :math:`P_f = [P, \bar P]`, :math:`B_f = [B, \bar B]`. For real inputs the
    full state stays conjugate symmetric, :math:`x_f = [x, \bar x]`, so only
    :math:`x` is carried: :math:`P_f x_f = 2\,\mathrm{Re}(P x)` (a real
    r-vector), :math:`P_f^H v = [P^H v, \overline{P^H v}]` for real :math:`v`,
    and the r x r matrix becomes :math:`I_r/(\alpha\Delta) + 2\,\mathrm{Re}(P
    E^{-1} P^H)` (real). Outputs are then :math:`y = 2\,\mathrm{Re}(C x)`.

    References
    ----------
    .. [1] G. Zhang, X. Chen and T. Chen, "Digital redesign via the generalized
       bilinear transformation", Int. J. Control 82(4), 741-754, 2009.
    .. [2] A. Gu, K. Goel and C. Ré, "Efficiently Modeling Long Sequences with
       Structured State Spaces", ICLR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.signal import cont2discrete
    >>> from statespace import discretize as sd
    >>> A = np.array([[-1.0, 0.0], [1.0, -2.0]]); B = np.array([1.0, 0.0])
    >>> Ad, Bd = sd.discretize(sd.DenseSystem(A, B), 0.1)      # bilinear
    >>> np.round(Ad, 6)
    array([[0.904762, 0.      ],
           [0.08658 , 0.818182]])
    >>> ref = cont2discrete((A, B[:, None], np.eye(2), np.zeros((2, 1))), 0.1, "bilinear")
    >>> bool(np.allclose(Ad, ref[0]) and np.allclose(Bd, ref[1][:, 0]))
    True

    One step per channel (batch shape ``(3,)``), GBT with :math:`\alpha = 0.3`:

    >>> sd.discretize(sd.DenseSystem(A, B), np.array([0.1, 0.2, 0.4]), "gbt",
    ...               alpha=0.3).Ad.shape
    (3, 2, 2)

    A diagonal system under zero-order hold; the integrator mode is exact:

    >>> Ld, Bd = sd.discretize(sd.DiagSystem(np.array([0.0, -1.0]), np.ones(2)), 0.5, "zoh")
    >>> Bd.tolist()
    [0.5, 0.3934693402873666]

    A halved DPLR system (the S4 recurrence) agrees with the dense form of the
    full system:

    >>> Lam = np.array([-0.5 + 1j, -0.5 + 3j]); P = np.array([[0.4 + 0.2j, 0.1 - 0.3j]])
    >>> Bc = np.array([1.0 + 0j, 0.5j])
    >>> sys = sd.discretize(sd.DPLRSystem(Lam, P, Bc, halved=True), 0.1)
    >>> Lf, Pf, Bf = (np.concatenate([a, a.conj()], axis=-1) for a in (Lam, P, Bc))
    >>> ref = sd.discretize(sd.DenseSystem(sd.dplr_to_dense(Lf, Pf), Bf), 0.1)
    >>> bool(np.allclose(sys.to_dense().Ad, ref.Ad))
    True
    >>> sd.discretize(sd.DPLRSystem(Lam, P, Bc), 0.1, "zoh")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: method must be one of bilinear, gbt, forward_euler, backward_euler for a ...
    """
    kind = next((k for k in _METHODS if isinstance(system, k)), type(system))
    alpha = _resolve_method(kind, method, alpha)
    if isinstance(system, DenseSystem):
        if alpha is None:
            return _zoh_dense(system.A, system.B, dt)
        return _gbt_dense(system.A, system.B, dt, alpha)
    if isinstance(system, DiagSystem):
        return _diag(system.Lambda, system.B, dt, alpha)
    return _gbt_dplr(system.Lambda, system.P, system.B, dt, alpha, system.halved)


def _resolve_method(kind, method, alpha):
    """Validate ``method`` and ``alpha`` for a system type; the GBT alpha, None for ZOH."""
    if kind not in _METHODS:
        raise TypeError(
            "system must be a DenseSystem, DiagSystem or DPLRSystem of "
            f"statespace.discretize (e.g. DenseSystem(A, B)), got {kind.__name__}"
        )
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    supported = _METHODS[kind]
    if method not in supported:
        why = ""
        if method == "zoh" and kind is DPLRSystem:
            why = " (the exponential of a diagonal-plus-low-rank matrix is dense)"
        raise ValueError(
            f"method must be one of {', '.join(supported)} for a {kind.__name__}{why}, "
            f"got {method!r}"
        )
    if method == "gbt":
        if alpha is None:
            raise ValueError("method='gbt' needs alpha")
        return _check_alpha(alpha)
    if alpha is not None:
        raise ValueError(f"alpha is only used with method='gbt', not method={method!r}")
    return GBT_ALPHA.get(method)


def _phi1(xp, z):
    r""":math:`\varphi_1(z) = (e^z - 1)/z`, with :math:`\varphi_1(0) = 1`.

    ``expm1`` keeps full relative accuracy for small :math:`|z|`; below
    :math:`|z| < \varepsilon` the first Taylor terms :math:`1 + z/2` are exact to
    rounding and avoid the 0/0 at :math:`z = 0` (also in the gradient) and the
    overflow of a complex quotient of subnormal numbers.
    """
    small = xp.abs(z) < _array.eps(xp, z.dtype)
    one = xp.ones_like(z)
    zs = xp.where(small, one, z)
    return xp.where(small, one + z / 2, _array.expm1(xp, zs) / zs)


#: Stand-in for log(0) = -inf: exp(_ZERO_POLE_LOG * l) underflows to 0 for every l >= 1
#: in float32 and float64, and l * _ZERO_POLE_LOG stays finite for any practical L.
_ZERO_POLE_LOG = -1e20


def _diag_terms(xp, z, w, alpha, *, log=False):
    r"""Discrete poles and scaled input of a diagonal system, elementwise.

    ``z`` is :math:`\Delta\Lambda` and ``w`` an input scaled by :math:`\Delta`
    (:math:`\Delta B`, or :math:`\Delta\, C \odot B` for a kernel); ``alpha`` is
    the GBT parameter, ``None`` for ZOH. Returns ``(p, wd)``: the poles
    :math:`\Lambda_d` (their logarithm when ``log``) and ``w`` scaled as
    :math:`B_d` is from :math:`\Delta B`. The logarithm is formed from ``z``
    (ZOH: ``z`` itself; bilinear: :math:`2\,\mathrm{artanh}(z/2)`), never as
    :math:`\log\Lambda_d`, which loses the digits of poles close to 1. Other GBT
    parameters have no log form here (NumPy's complex ``log1p`` loses digits near 0).
    """
    if alpha is None:
        return (z if log else xp.exp(z)), w * _phi1(xp, z)
    den = 1.0 - alpha * z
    if not log:
        p = (1.0 + (1.0 - alpha) * z) / den
    elif alpha == 0.5:
        # dt*Lambda = -2 maps to the pole 0, whose logarithm is -inf: a finite stand-in
        # whose powers exp(p l) are exactly 1 at l = 0 and underflow to 0 for l >= 1
        zero_pole = xp.real(z) == -2.0
        if _array.is_complex(xp, z):
            zero_pole = xp.logical_and(zero_pole, xp.imag(z) == 0)
        zs = xp.where(zero_pole, xp.zeros_like(z), z)
        p = xp.where(zero_pole, xp.full_like(z, _ZERO_POLE_LOG), 2 * xp.atanh(zs / 2))
    else:
        raise ValueError(f"no log form of the GBT poles for alpha={alpha}")
    return p, w / den


# ----------------------------------------------------------------------------------
# the algorithms (inputs validated here, method and alpha by the entry)
# ----------------------------------------------------------------------------------
def _gbt_dense(A, B, dt, alpha):
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
    X = _array.solve(xp, lhs, rhs, what="I - alpha*dt*A")
    _array.check_result(
        xp, X, "the GBT discretization",
        "the entries of (I - alpha*dt*A)^-1 (I + (1-alpha)*dt*A) exceed the floating-point "
        "range (I - alpha*dt*A is nearly singular, or dt*A overflows)",
    )
    return DenseDiscrete(X[..., :N], X[..., N])


def _zoh_dense(A, B, dt):
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
    _array.check_result(xp, aug, "the ZOH discretization",
                        "dt*A or dt*B exceeds the floating-point range")
    try:
        E = _array.expm(xp, aug)
    except _array._linalg_errors() as exc:  # the Pade solve of an overflowed matrix
        raise ValueError(f"the ZOH discretization overflowed: exp(dt*A) ({exc})") from None
    _array.check_result(
        xp, E, "the ZOH discretization",
        "exp(dt*A) exceeds the floating-point range (dt times the growth rate of A is "
        "too large)",
    )
    return DenseDiscrete(E[..., :N, :N], E[..., :N, N])


def _diag(Lambda, B, dt, alpha):
    xp, (Lambda, B), dt = _prepare([("Lambda", Lambda), ("B", B)], dt, (1, 1))
    N = Lambda.shape[-1]
    _check_n("B", B, N, "Lambda")
    shape = _broadcast_shapes(
        [("Lambda", Lambda.shape[:-1]), ("B", B.shape[:-1]), ("dt", dt.shape)]
    ) + (N,)
    dtv = dt[..., None]
    z = dtv * Lambda
    if alpha is not None:
        _nonzero(xp, 1.0 - alpha * z, "1 - alpha*dt*Lambda")
    Ld, Bd = _diag_terms(xp, z, dtv * B, alpha)
    _array.check_result(
        xp, Ld, "the discretization",
        "exp(dt*Lambda) exceeds the floating-point range (Re(dt*Lambda) too large)"
        if alpha is None else "1 - alpha*dt*Lambda is too close to zero, or dt*Lambda "
        "overflows",
    )
    _array.check_result(xp, Bd, "the discretization",
                        "Bd exceeds the floating-point range (dt*B too large)")
    return DiagDiscrete(_expand(xp, Ld, shape), _expand(xp, Bd, shape))


def _gbt_dplr(Lambda, P, B, dt, alpha, halved):
    halved = _check_halved(halved)
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
    if halved:  # the conjugate half doubles the real part, whatever the dtype
        M = 2 * _array.real(xp, M)
    adt = alpha * dt[..., None, None]
    eye_r = xp.eye(r, dtype=M.dtype, device=_array.device_of(M))
    R = _array.solve(
        xp, xp.broadcast_to(eye_r + adt * M, batch + (r, r)),
        xp.broadcast_to(adt * eye_r, batch + (r, r)),
        what="I + alpha*dt*P E^-1 P^H (the Woodbury matrix of I - alpha*dt*A)",
    )
    Bd = _apply_a1(xp, Einv, P, R, dtv * B, halved)
    for name, a in (("Einv", Einv), ("Lambda0", Lambda0), ("Bd", Bd)):
        _array.check_result(
            xp, a, "the DPLR discretization",
            f"{name} exceeds the floating-point range (1 - alpha*dt*Lambda nearly zero, "
            "or dt*Lambda too large)",
        )
    return DPLRDiscrete(Lambda0, s0, Einv, P, R, _expand(xp, Bd, batch + (N,)), halved)


def _dense_inputs(A, B, dt):
    xp, (A, B), dt = _prepare([("A", A), ("B", B)], dt, (2, 1))
    N = A.shape[-1]
    if A.shape[-2] != N:
        raise ValueError(f"A must be square in its last two axes, got shape {A.shape}")
    _check_n("B", B, N, "A")
    batch = _broadcast_shapes([("A", A.shape[:-2]), ("B", B.shape[:-1]), ("dt", dt.shape)])
    return xp, A, B, dt, N, batch


def _nonzero(xp, den, what):
    if not _array.compiling() and bool(xp.any(den == 0)):
        raise ValueError(
            f"the discretization is singular: {what} has a zero entry "
            "(I - alpha*dt*A is singular)"
        )


def _check_halved(halved):
    return _array.check_flag(halved, "halved")


# ----------------------------------------------------------------------------------
# the O(N r) DPLR transition
# ----------------------------------------------------------------------------------
def _project(xp, P, x, halved):
    """``P x`` (an r-vector); ``2 Re(P x)`` for halved systems (real or complex dtype)."""
    v = xp.sum(P * x[..., None, :], axis=-1)
    return 2 * _array.real(xp, v) if halved else v


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
        A discretized :class:`DPLRSystem` (:func:`discretize`).
    x : array, shape batch + (N,)
        State (the half state when ``sys.halved``), broadcasting against the
        system's batch shape.

    Returns
    -------
    array, shape broadcast batch + (N,)
        :math:`A_1 (A_0 x)`.

    Raises
    ------
    TypeError
        ``sys`` is not a :class:`DPLRDiscrete`; ``x`` is not a numeric array.
    ValueError
        ``x`` has the wrong state size or batch shape; NaN/inf in ``x`` or the
        system, or a result that overflows.

    Notes
    -----
    .. math::

        y = \Lambda_0 \odot x - s_0 P^H (P x), \qquad
        A_d x = E^{-1} y - E^{-1} P^H R\,P (E^{-1} y),

    four products with the r x N factor and one r x r product (the Woodbury form
    in the Notes of :func:`discretize`). For halved systems every :math:`P v` is
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
    xp = _array.namespace(sys.Einv, x, names=["sys.Einv", "x"])
    N = sys.Einv.shape[-1]
    x = _as_array(xp, x, "x", device=_array.device_of(sys.Einv), min_ndim=1)
    _check_n("x", x, N, "sys")
    _broadcast_shapes([("sys", sys.Einv.shape[:-1]), ("x", x.shape[:-1])])
    y = _transition(xp, sys.Lambda0, sys.s0, sys.Einv, sys.P, sys.R, x, sys.halved)
    _array.check_result(
        xp, y, "dplr_transition", "Ad x exceeds the floating-point range",
        inputs=[("x", x), ("sys.Einv", sys.Einv), ("sys.Lambda0", sys.Lambda0),
                ("sys.P", sys.P), ("sys.R", sys.R)],
    )
    return y


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

    Raises
    ------
    TypeError
        ``halved`` is not a bool; an input is not a numeric array.
    ValueError
        ``P`` not of shape batch + (r, N), batch shapes that do not broadcast, NaN
        or infinite entries.

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
    halved = _check_halved(halved)
    xp = _array.namespace(Lambda, P, names=["Lambda", "P"])
    dev = _array.device_of(Lambda, P)
    Lambda = _as_array(xp, Lambda, "Lambda", device=dev, min_ndim=1)
    P = _as_array(xp, P, "P", device=dev, min_ndim=2)
    if P.shape[-1] != Lambda.shape[-1]:
        raise ValueError(
            f"P must have shape batch + (r, N) with N={Lambda.shape[-1]}, got {P.shape}"
        )
    _broadcast_shapes([("Lambda", Lambda.shape[:-1]), ("P", P.shape[:-2])])
    _array.check_finite(xp, Lambda, "Lambda")
    _array.check_finite(xp, P, "P")
    work = _array.result_float_dtype(xp, Lambda, P)
    Lambda, P = (_array.in_precision(xp, a, work) for a in (Lambda, P))
    if halved:
        Lambda = xp.concat([Lambda, _conj(xp, Lambda)], axis=-1)
        P = xp.concat([P, _conj(xp, P)], axis=-1)
    N = Lambda.shape[-1]
    eye = xp.eye(N, dtype=Lambda.dtype, device=_array.device_of(Lambda))
    gram = _array.matmul(xp, _conj(xp, xp.matrix_transpose(P)), P)
    A = eye * Lambda[..., None, :] - gram
    _array.check_result(xp, A, "dplr_to_dense",
                        "P^H P or Lambda exceeds the floating-point range")
    return A


# ----------------------------------------------------------------------------------
# per-method aliases
# ----------------------------------------------------------------------------------

_ALIAS_PARAMETERS = {
    DenseSystem: (
        "A, B : array\n    Continuous system, shapes batch + (N, N) and batch + (N,).",
        "DenseDiscrete", "DenseSystem(A, B)"),
    DiagSystem: (
        "Lambda, B : array\n    Continuous diagonal system, both of shape batch + (N,).",
        "DiagDiscrete", "DiagSystem(Lambda, B)"),
    DPLRSystem: (
        "Lambda, P, B : array\n    Continuous system :math:`A = \\mathrm{diag}(\\Lambda) - P^H P`, "
        "shapes\n    batch + (N,), batch + (r, N) and batch + (N,).",
        "DPLRDiscrete", "DPLRSystem(Lambda, P, B, halved)"),
}


def _alias(kind, method):
    """Complete the docstring of the per-method alias of :func:`discretize`.

    The alias's own docstring holds its summary line and its example; the
    Parameters, Returns and See Also sections, the same for every alias of one
    system type, are written here once.
    """

    def fill(f):
        if f.__doc__ is None:  # python -OO strips docstrings
            return f
        summary, _, example = inspect.cleandoc(f.__doc__).partition("\n\n")
        params, result, system = _ALIAS_PARAMETERS[kind]
        params += ("\ndt : float or array\n"
                   "    Step size, positive, broadcasting against the batch shape.")
        call = f'discretize({system}, dt, "{method}"'
        if method == "gbt":
            params += "\nalpha : float\n    GBT parameter in :math:`[0, 1]`."
            call += ", alpha=alpha"
        if kind is DPLRSystem:
            params += ("\nhalved : bool, default False\n"
                       "    Conjugate-pair (halved) storage, see :class:`DPLRSystem`.")
        f.__doc__ = (
            f"{summary}\n\nParameters\n----------\n{params}\n\nReturns\n-------\n{result}\n"
            f"    ``{call})``.\n\nSee Also\n--------\n"
            "discretize : The formulas, shapes, dtypes and errors.\n\n"
            f"Examples\n--------\n{example}\n"
        )
        return f

    return fill


@_alias(DenseSystem, "gbt")
def gbt(A, B, dt, alpha):
    """Generalized bilinear transform of a dense system.

    >>> from statespace import discretize as sd
    >>> sd.gbt([[-1.0]], [1.0], 0.5, alpha=0.25)
    DenseDiscrete(Ad=array([[0.55555556]]), Bd=array([0.44444444]))
    """
    return discretize(DenseSystem(A, B), dt, "gbt", alpha=alpha)


@_alias(DenseSystem, "bilinear")
def bilinear(A, B, dt):
    """Bilinear (Tustin) discretization of a dense system.

    >>> from statespace import discretize as sd
    >>> sd.bilinear([[-1.0]], [1.0], 0.5)
    DenseDiscrete(Ad=array([[0.6]]), Bd=array([0.4]))
    """
    return discretize(DenseSystem(A, B), dt, "bilinear")


@_alias(DenseSystem, "forward_euler")
def forward_euler(A, B, dt):
    """Forward Euler discretization of a dense system.

    >>> from statespace import discretize as sd
    >>> sd.forward_euler([[-2.0]], [1.0], 0.25)
    DenseDiscrete(Ad=array([[0.5]]), Bd=array([0.25]))
    """
    return discretize(DenseSystem(A, B), dt, "forward_euler")


@_alias(DenseSystem, "backward_euler")
def backward_euler(A, B, dt):
    """Backward Euler discretization of a dense system.

    >>> from statespace import discretize as sd
    >>> sd.backward_euler([[-3.0]], [1.0], 1.0)
    DenseDiscrete(Ad=array([[0.25]]), Bd=array([0.25]))
    """
    return discretize(DenseSystem(A, B), dt, "backward_euler")


@_alias(DenseSystem, "zoh")
def zoh(A, B, dt):
    """Zero-order-hold discretization of a dense system.

    >>> from statespace import discretize as sd
    >>> sd.zoh([[0.0]], [2.0], 0.5)  # an integrator
    DenseDiscrete(Ad=array([[1.]]), Bd=array([1.]))
    """
    return discretize(DenseSystem(A, B), dt, "zoh")


@_alias(DiagSystem, "gbt")
def gbt_diag(Lambda, B, dt, alpha):
    """Generalized bilinear transform of a diagonal system.

    >>> from statespace import discretize as sd
    >>> sd.gbt_diag([-1.0, -2.0], [1.0, 1.0], 0.5, alpha=0.25)
    DiagDiscrete(Lambda_d=array([0.55555556, 0.2       ]), Bd=array([0.44444444, 0.4       ]))
    """
    return discretize(DiagSystem(Lambda, B), dt, "gbt", alpha=alpha)


@_alias(DiagSystem, "bilinear")
def bilinear_diag(Lambda, B, dt):
    """Bilinear (Tustin) discretization of a diagonal system.

    >>> from statespace import discretize as sd
    >>> sd.bilinear_diag([-1.0, -2.0], [1.0, 1.0], 0.5)
    DiagDiscrete(Lambda_d=array([0.6       , 0.33333333]), Bd=array([0.4       , 0.33333333]))
    """
    return discretize(DiagSystem(Lambda, B), dt, "bilinear")


@_alias(DiagSystem, "forward_euler")
def forward_euler_diag(Lambda, B, dt):
    """Forward Euler discretization of a diagonal system.

    >>> from statespace import discretize as sd
    >>> sd.forward_euler_diag([-2.0], [3.0], 0.25)
    DiagDiscrete(Lambda_d=array([0.5]), Bd=array([0.75]))
    """
    return discretize(DiagSystem(Lambda, B), dt, "forward_euler")


@_alias(DiagSystem, "backward_euler")
def backward_euler_diag(Lambda, B, dt):
    """Backward Euler discretization of a diagonal system.

    >>> from statespace import discretize as sd
    >>> sd.backward_euler_diag([-3.0], [1.0], 1.0)
    DiagDiscrete(Lambda_d=array([0.25]), Bd=array([0.25]))
    """
    return discretize(DiagSystem(Lambda, B), dt, "backward_euler")


@_alias(DiagSystem, "zoh")
def zoh_diag(Lambda, B, dt):
    """Zero-order-hold discretization of a diagonal system.

    >>> from statespace import discretize as sd
    >>> sd.zoh_diag([0.0, -1e-20], [2.0, 2.0], 0.5)
    DiagDiscrete(Lambda_d=array([1., 1.]), Bd=array([1., 1.]))
    """
    return discretize(DiagSystem(Lambda, B), dt, "zoh")


@_alias(DPLRSystem, "gbt")
def gbt_dplr(Lambda, P, B, dt, alpha, *, halved=False):
    """Generalized bilinear transform of a DPLR system.

    >>> from statespace import discretize as sd
    >>> sd.gbt_dplr([-1.0], [[1.0]], [1.0], 0.5, alpha=0.25).to_dense()
    DenseDiscrete(Ad=array([[0.2]]), Bd=array([0.4]))
    """
    return discretize(DPLRSystem(Lambda, P, B, halved), dt, "gbt", alpha=alpha)


@_alias(DPLRSystem, "bilinear")
def bilinear_dplr(Lambda, P, B, dt, *, halved=False):
    """Bilinear (Tustin) discretization of a DPLR system.

    >>> from statespace import discretize as sd
    >>> sd.bilinear_dplr([-1.0], [[1.0]], [1.0], 0.5).to_dense()
    DenseDiscrete(Ad=array([[0.33333333]]), Bd=array([0.33333333]))
    """
    return discretize(DPLRSystem(Lambda, P, B, halved), dt, "bilinear")


@_alias(DPLRSystem, "forward_euler")
def forward_euler_dplr(Lambda, P, B, dt, *, halved=False):
    """Forward Euler discretization of a DPLR system.

    >>> from statespace import discretize as sd
    >>> sd.forward_euler_dplr([-1.0], [[1.0]], [1.0], 0.25).to_dense()
    DenseDiscrete(Ad=array([[0.5]]), Bd=array([0.25]))
    """
    return discretize(DPLRSystem(Lambda, P, B, halved), dt, "forward_euler")


@_alias(DPLRSystem, "backward_euler")
def backward_euler_dplr(Lambda, P, B, dt, *, halved=False):
    """Backward Euler discretization of a DPLR system.

    >>> from statespace import discretize as sd
    >>> sd.backward_euler_dplr([-1.0], [[1.0]], [1.0], 1.0).to_dense()
    DenseDiscrete(Ad=array([[0.33333333]]), Bd=array([0.33333333]))
    """
    return discretize(DPLRSystem(Lambda, P, B, halved), dt, "backward_euler")
