r"""Recurrent (step-by-step) view of discrete state space systems.

The discrete systems are the named tuples of :mod:`statespace.discretize`:

* :class:`~statespace.discretize.DenseDiscrete` ``(Ad, Bd)``: O(N^2) per step;
* :class:`~statespace.discretize.DiagDiscrete` ``(Lambda_d, Bd)``: O(N) per step;
* :class:`~statespace.discretize.DPLRDiscrete`: O(N r) per step through the
  Woodbury form, never an N x N product.

Any pair built by hand works too, e.g. ``DenseDiscrete(Ad, Bd)``.

Convention (all functions): the input enters the state before the output is read,

.. math::

    x_l = A_d x_{l-1} + B_d u_l, \qquad y_l = C x_l + D u_l, \qquad x_{-1} = x_0,

so with :math:`x_0 = 0` the output is the causal convolution
:math:`y = K * u + D u` with kernel :math:`K_l = C A_d^l B_d`.
"""

from __future__ import annotations

import numbers

from . import _array
from . import _scan as _routes
from .discretize import (
    DenseDiscrete,
    DiagDiscrete,
    DPLRDiscrete,
    _as_array,
    _broadcast_shapes,
    _transition,
)

__all__ = ["step", "scan", "METHODS"]

_KINDS = (DenseDiscrete, DiagDiscrete, DPLRDiscrete)


def _check_sys(sys, **others):
    """``(sys, batch, N, xp)``: the system validated, in the working precision.

    Every array field must be a numeric array of one library with ``others`` (the
    call's other arrays by name, ``None`` allowed); fields of a lower precision than the
    call's working precision (float64 unless every floating input is single) are
    cast up, so a result typed in double precision is computed in it. The caller's
    arrays are never modified (the cast makes new arrays).
    """
    if not isinstance(sys, _KINDS):
        raise TypeError(
            "sys must be a DenseDiscrete, DiagDiscrete or DPLRDiscrete (see "
            f"statespace.discretize), got {type(sys).__name__}"
        )
    fields = {k: v for k, v in sys._asdict().items() if k != "halved"}
    for k, v in fields.items():
        if v is None or isinstance(v, (str, bytes)) or not _array.is_array_api_obj(v):
            raise TypeError(f"sys.{k} must be an array, got {type(v).__name__}")
    xp = _array.namespace(*fields.values(), *others.values(),
                          names=[f"sys.{k}" for k in fields] + list(others))
    fields = {k: _array.check_array(xp, v, f"sys.{k}") for k, v in fields.items()}
    work = _array.result_float_dtype(xp, *fields.values(), *others.values())
    sys = sys._replace(**{k: _array.in_precision(xp, v, work) for k, v in fields.items()})
    Bd = sys.Bd
    if isinstance(sys, DenseDiscrete):
        batch, N = sys.Ad.shape[:-2], sys.Ad.shape[-1]
    elif isinstance(sys, DiagDiscrete):
        batch, N = sys.Lambda_d.shape[:-1], sys.Lambda_d.shape[-1]
    else:
        batch, N = sys.Einv.shape[:-1], sys.Einv.shape[-1]
    if Bd.shape[-1] != N:
        raise ValueError(f"sys.Bd has state size {Bd.shape[-1]} but the transition has N={N}")
    return sys, tuple(batch), N, xp


def _to_work(xp, a, sys):
    """``a`` in the working precision of ``sys`` (real or complex as it is)."""
    return _array.in_precision(xp, a, _array.real_dtype(xp, sys.Bd.dtype))


def _sys_arrays(sys):
    """``[(name, array), ...]`` of the system's arrays, to name a non-finite one."""
    return [(f"sys.{k}", v) for k, v in sys._asdict().items()
            if k != "halved" and _array.is_array_api_obj(v)]


def _check_input(xp, sys, u, halved):
    """A conjugate-pair (halved) system takes real inputs: complex ``u`` is refused."""
    if halved and _array.is_complex(xp, u):
        raise TypeError(
            f"u must have a real dtype when halved=True (a conjugate-pair system is "
            f"driven by real inputs), got {u.dtype}"
        )


#: Routes of :func:`scan` (``"auto"`` picks one of the others).
METHODS = ("auto", "sequential", "associative", "chunked", "convolution")

#: ``"auto"`` runs the step loop up to this length (the fast routes' set-up costs more).
AUTO_SEQUENTIAL_MAX = 16


def _check_method(method, chunk):
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if chunk is not None:
        chunk = _array.check_number(chunk, "chunk", positive=True, integer=True)
    return method, chunk


def _on_cpu(xp, sys):
    """NumPy arrays and torch tensors on the CPU (BLAS matrix products and FFTs)."""
    if _array.is_numpy(xp):
        return True
    return _array.is_torch(xp) and str(_array.device_of(sys.Bd)) == "cpu"


def _choose(xp, sys, L, C, method):
    """The route of one call (see the Notes of :func:`scan`)."""
    diag = isinstance(sys, DiagDiscrete)
    if method == "convolution" and not (diag and C is not None):
        raise ValueError(
            "method='convolution' needs a DiagDiscrete system and C (it computes outputs "
            "by convolution with the kernel); use 'chunked' or 'associative'"
        )
    if method != "auto":
        return method
    if L <= AUTO_SEQUENTIAL_MAX:
        return "sequential"
    if not _on_cpu(xp, sys):
        return "associative"
    return "chunked"


def _default_chunk(route, L, n, diag):
    """Chunk length ``T`` (a power of two) of a route when ``chunk`` is not given."""
    if route == "convolution":  # powers lambda^t, t < T, and lambda^{mT}, m < L/T
        return _routes.pow2_at_least(max(16, int(L ** 0.5)))
    if route == "chunked":
        # the carry costs n^2 (dense) per chunk, the Toeplitz products T per step:
        # T ~ 2 n balances them
        want = 128 if diag else min(256, max(128, 2 * n))
        return min(_routes.pow2_at_least(want), _routes.pow2_at_least(L))
    return min(256 if diag else 64, _routes.pow2_at_least(L))  # memory n T (n^2 log T)


def _fast(xp, sys, x, u, C, D, halved, route, chunk, x0_given):
    """Every route but the loop, on validated arrays."""
    L = u.shape[-1]
    a, diag, b, c, x, out_halved, unpack = _routes.linear_form(xp, sys, C, x, halved)
    sdt = xp.result_type(a.dtype, b.dtype, u.dtype, x.dtype)
    x = xp.astype(x, sdt) if x.dtype != sdt else x
    n = b.shape[-1]
    batch = _broadcast_shapes([("sys", tuple(b.shape[:-1])), ("u", tuple(u.shape[:-1])),
                               ("x0", tuple(x.shape[:-1]))])
    x = xp.broadcast_to(x, tuple(batch) + (n,))
    T = chunk if chunk is not None else _default_chunk(route, L, n, diag)
    if route == "convolution":
        y, xf = _routes.convolution(xp, a, b, c, x, u, T, out_halved, D, x0_given)
    elif route == "chunked":
        T = _routes.pow2_at_least(T)
        y, xf = _routes.chunked(xp, a, diag, b, c, x, u, T, out_halved, D)
    else:
        y, xf = _routes.associative(xp, a, diag, b, c, x, u, T, out_halved, D)
    if unpack is not None:
        xf = unpack(xf)
        if c is None:
            y = unpack(y)
    return y, xf


_GROWTH = "the state exceeds the floating-point range (an unstable system, |Ad| > 1)"


def _step(xp, sys, x, u):
    """One step ``Ad x + Bd u`` without validation (``u`` has the batch shape)."""
    if isinstance(sys, DiagDiscrete):
        ax = sys.Lambda_d * x
    elif isinstance(sys, DenseDiscrete):
        ax = _array.matmul(xp, sys.Ad, x[..., None])[..., 0]
    else:
        ax = _transition(xp, sys.Lambda0, sys.s0, sys.Einv, sys.P, sys.R, x, sys.halved)
    return ax + sys.Bd * u[..., None]


def step(sys, x, u):
    r"""One step of the recurrence, :math:`x_{new} = A_d x + B_d u`.

    Parameters
    ----------
    sys : DenseDiscrete, DiagDiscrete or DPLRDiscrete
        Discrete system from :mod:`statespace.discretize`.
    x : array, shape batch + (N,)
        Current state (the half state for halved DPLR systems); broadcasts
        against the system's batch shape.
    u : array or float, shape batch
        Input sample, one scalar per channel.

    Returns
    -------
    array, shape broadcast batch + (N,)
        The next state. Cost O(N^2) dense, O(N) diagonal, O(N r) DPLR.

    Raises
    ------
    TypeError
        ``sys`` is not one of the discrete system types; ``x`` or ``u`` is not a
        numeric array (boolean and masked arrays included); complex ``u`` for a
        halved DPLR system.
    ValueError
        ``x`` has the wrong state size or a batch shape that does not broadcast;
        NaN/inf in ``x``, ``u`` or the system, or a state that overflows (one
        check of the result names the culprit).

    Notes
    -----
    .. math:: x_l = A_d x_{l-1} + B_d u_l.

    The output :math:`y_l = C x_l + D u_l` is read from the returned state
    (see :func:`scan`).

    Examples
    --------
    >>> import numpy as np
    >>> from statespace import discretize as sd, recurrence as rec
    >>> sys = sd.DiagDiscrete(np.array([0.5, 0.25]), np.array([1.0, 2.0]))
    >>> rec.step(sys, np.array([4.0, 4.0]), 1.0)
    array([3., 3.])
    """
    sys, batch, N, xp = _check_sys(sys, x=x, u=u)
    dev = _array.device_of(sys.Bd)
    x = _to_work(xp, _as_array(xp, x, "x", device=dev), sys)
    u = _to_work(xp, _as_array(xp, u, "u", device=dev), sys)
    if x.shape[-1:] != (N,):
        raise ValueError(f"x must have shape batch + ({N},), got {tuple(x.shape)}")
    _check_input(xp, sys, u, isinstance(sys, DPLRDiscrete) and sys.halved)
    _broadcast_shapes([("sys", batch), ("x", x.shape[:-1]), ("u", u.shape)])
    y = _step(xp, sys, x, u)
    # one check of the result (a host synchronisation) covers the inputs: a NaN or an
    # infinity in x, u or sys reaches it, and is then named
    _array.check_result(xp, y, "step", _GROWTH,
                        inputs=[("x", x), ("u", u), *_sys_arrays(sys)])
    return y


def _sequential(xp, sys, x, u, C, D, halved):
    """The step-by-step loop (the reference route)."""
    ys = []
    for idx in range(u.shape[-1]):
        ul = u[..., idx]
        x = _step(xp, sys, x, ul)
        if C is None:
            ys.append(x)
            continue
        y = xp.sum(C * x, axis=-1)
        if halved:  # the conjugate half doubles the real part, whatever the dtype
            y = 2 * _array.real(xp, y)
        if D is not None:
            y = y + D * ul
        ys.append(y)
    return xp.stack(ys, axis=-2 if C is None else -1), x


def scan(sys, u, x0=None, *, C=None, D=None, halved=False, method="auto", chunk=None):
    r"""Run the recurrence over a sequence: outputs and final state.

    Parameters
    ----------
    sys : DenseDiscrete, DiagDiscrete or DPLRDiscrete
        Discrete system from :mod:`statespace.discretize`.
    u : array, shape batch + (L,)
        Input sequence, ``L >= 1``; the batch axes broadcast against the system's
        batch shape (e.g. ``(H, L)`` for H channels, or ``(batch, H, L)``).
    x0 : array, shape batch + (N,), optional
        Initial state :math:`x_{-1}` (default zero). Pass the previous call's
        final state to stream a sequence in chunks.
    C : array, shape batch + (N,), optional
        Output vector (for halved systems the N half coefficients; the full
        output vector is :math:`[C, \bar C]`). When omitted ``y`` is the state
        sequence.
    D : array or float, shape batch, optional
        Feed-through (needs ``C``); default 0.
    halved : bool, default False
        Conjugate-pair storage: the output is :math:`2\,\mathrm{Re}(C x_l) + D u_l`
        (real), ``u`` must be real. Must match ``sys.halved`` for DPLR systems.
    method : {"auto", "sequential", "associative", "chunked", "convolution"}
        How the recurrence is evaluated (see Notes); all give the same result to
        rounding. ``"convolution"`` needs a :class:`~statespace.discretize.DiagDiscrete`
        system and ``C``.
    chunk : int, optional
        Chunk length ``T`` of the ``associative``, ``chunked`` (rounded up to a power
        of two) and ``convolution`` routes; a default from the route and sizes.

    Returns
    -------
    y : array
        Shape batch + (L,) with ``C``: :math:`y_l = C x_l + D u_l` (real for real
        systems and halved systems, complex otherwise); without ``C`` the states,
        batch + (L, N).
    x_final : array, shape batch + (N,)
        The last state :math:`x_{L-1}`.

    Raises
    ------
    TypeError
        ``chunk`` is not an integer;
        ``sys`` is not a discrete system, ``halved`` is not a bool, an input is not
        a numeric array (boolean and masked arrays included), ``u`` is complex with
        ``halved=True``.
    ValueError
        Unknown ``method``, ``"convolution"`` for a system that is not diagonal or
        without ``C``, ``chunk < 1``;
        empty ``u``, NaN/inf in ``u``/``x0``/``C``/``D`` or in the system, wrong
        state size, batch shapes that do not broadcast, ``D`` without ``C``,
        ``halved`` different from ``sys.halved``, outputs that overflow (an
        unstable system).

    Notes
    -----
    .. math::

        x_l = A_d x_{l-1} + B_d u_l, \qquad y_l = C x_l + D u_l, \qquad
        l = 0, \dots, L-1, \quad x_{-1} = x_0,

    so for :math:`x_0 = 0`, :math:`y_l = \sum_{j \le l} C A_d^{j} B_d\,u_{l-j} + D u_l`.
    Splitting ``u`` into chunks and passing each ``x_final`` as the next ``x0``
    gives the same result as one call.

    **Routes.** Let ``n`` be the state size of the linear form: ``N`` for diagonal
    and dense systems and non-halved DPLR systems (expanded once into the dense
    :math:`A_d`, O(N^2 r)); ``2N`` real for halved DPLR systems, whose transition is
    real-linear on :math:`[\mathrm{Re}\,x, \mathrm{Im}\,x]`.

    * ``"sequential"``: the loop over ``l`` in Python, vectorised over the batch;
      one step costs O(N^2) (dense), O(N) (diagonal) or O(N r) (DPLR).
    * ``"associative"``: log-depth (Hillis-Steele) scan inside chunks of ``T``
      steps, the carried state prepended as element ``-1``: ``z_t += A^s z_{t-s}``
      for ``s = 1, 2, 4, ...``, :math:`A^s` by squaring. Work O(n T log T)
      (diagonal) or O(n^2 T log T) (dense) per chunk, memory O(batch n T), depth
      ``log2 T``; pure array operations without host checks (JAX, GPUs).
    * ``"chunked"``: chunks of ``T`` steps. The Krylov block
      :math:`[B_d, A_d B_d, \dots, A_d^{T-1} B_d]`, the rows :math:`C A_d^{t+1}`
      and :math:`A_d^T` come from ``log2 T`` doublings; the chunk-end states of the
      zero-state response are one matrix product with the reversed inputs, the
      state is carried across chunk boundaries by :math:`A_d^T` (one product per
      chunk), and the outputs are the chunk-local convolution (a Toeplitz product)
      plus :math:`C A_d^{t+1}` times the carried state. Work O(batch L (n + T))
      plus O(batch n^2 L / T) for the carry (dense), in matrix products.
    * ``"convolution"`` (diagonal systems, outputs): FFT convolution with the
      kernel :math:`K_l = \sum_n C_n B_n \lambda_n^l` plus the initial-state
      response :math:`\sum_n C_n \lambda_n^{l+1} x_{0,n}`; final state
      :math:`\lambda^L x_0 + B \sum_k \lambda^{L-1-k} u_k`. Every power
      :math:`\lambda^{mT+t}` is a product of two ``exp`` of exact multiples of
      :math:`\log\lambda` (in float64), so no power is accumulated.
    * ``"auto"``: ``"sequential"`` for ``L <=`` :data:`AUTO_SEQUENTIAL_MAX`;
      otherwise ``"chunked"`` for NumPy arrays and CPU torch tensors (BLAS matrix
      products), ``"associative"`` for every other backend (JAX, CuPy, CUDA
      torch, array-api-strict). Default chunks: ``T = 128`` (diagonal) or the
      power of two ``>= 2 n`` in ``[128, 256]`` (dense: balances the n^2 carry per
      chunk against the T per step of the chunk-local convolution) for
      ``"chunked"``; ``256`` (diagonal) or ``64`` (dense) for ``"associative"``;
      ``~sqrt(L)`` for ``"convolution"``.

    **Accuracy.** In float64 every route agrees with ``"sequential"`` to
    :math:`8 (n + L)\,\varepsilon` relative to the largest output (or state)
    entry, below ``1e-12`` for ``n + L <= 500`` (tested with hypothesis, and against
    ``scipy.signal.dlsim``); measured at ``L = 65536`` (S4D-Lin and LegS DPLR,
    32 modes): at most ``1.3e-14``. In general both lie within
    :math:`O((n + T + \min(L, \tau))\,\varepsilon)` of the exact values. In
    float32 (:math:`\varepsilon = 2^{-23}`), with :math:`\rho < 1` the spectral
    radius of :math:`A_d`, :math:`\tau = 1/(1-\rho)` its memory,
    :math:`X = \max_l \|x_l\|_\infty` and :math:`\|C\|_1` (doubled when
    halved), every route including the loop satisfies

    .. math::

        \|x_{L-1} - x^{\mathrm{exact}}_{L-1}\|_\infty \le
        16\,\varepsilon\,(n + T + \min(L, \tau))\,X, \qquad
        |y_l - y^{\mathrm{exact}}_l| \le
        16\,\varepsilon\,(n + T + \min(L, \tau))\,\|C\|_1 X

    (``T`` the chunk; the exact values of the float32-rounded system and inputs).
    The terms: a power :math:`A^t` by squaring or ``exp`` is within
    :math:`t\varepsilon` relative, a sum of length ``n + T`` adds
    :math:`(n + T)\varepsilon`, and each of the :math:`\min(L, \tau)` steps (or
    carries) that the state remembers adds one rounding.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> from statespace import discretize as sd
    >>> sys = sd.DiagDiscrete(np.array([0.5]), np.array([1.0]))
    >>> y, x = ss.scan(sys, np.array([1.0, 0.0, 0.0]), C=np.array([1.0]), D=2.0)
    >>> y
    array([3.  , 0.5 , 0.25])
    >>> y2, _ = ss.scan(sys, np.array([0.0]), x0=x, C=np.array([1.0]))
    >>> y2
    array([0.125])

    The routes agree (here on 100 steps, chunks of 16):

    >>> u = np.sin(np.arange(100.0))
    >>> y_seq, x_seq = ss.scan(sys, u, C=np.array([1.0]), method="sequential")
    >>> y_chk, x_chk = ss.scan(sys, u, C=np.array([1.0]), method="chunked", chunk=16)
    >>> bool(np.allclose(y_chk, y_seq, rtol=1e-13, atol=0) and np.allclose(x_chk, x_seq))
    True
    """
    halved = _array.check_flag(halved, "halved")
    method, chunk = _check_method(method, chunk)
    D_arr = None if isinstance(D, numbers.Number) else D
    sys, batch, N, _ = _check_sys(sys, u=u, x0=x0, C=C, D=D_arr)
    if isinstance(sys, DPLRDiscrete) and sys.halved != halved:
        raise ValueError(
            f"halved={halved} but the DPLR system was discretized with halved={sys.halved}"
        )
    xp = _array.namespace(sys.Bd, u, x0, C, D_arr, names=["sys.Bd", "u", "x0", "C", "D"])
    dev = _array.device_of(sys.Bd)
    u = _as_array(xp, u, "u", device=dev)
    if u.ndim < 1 or u.shape[-1] < 1:
        raise ValueError(f"u must have shape batch + (L,) with L >= 1, got {tuple(u.shape)}")
    _array.check_finite(xp, u, "u")
    u = _to_work(xp, u, sys)
    _check_input(xp, sys, u, halved)
    if D is not None and C is None:
        raise ValueError("D was given without C")
    if x0 is None:
        shape = _broadcast_shapes([("sys", batch), ("u", u.shape[:-1])]) + (N,)
        x = xp.zeros(shape, dtype=xp.result_type(sys.Bd.dtype, u.dtype), device=dev)
    else:
        x = _to_work(xp, _as_array(xp, x0, "x0", device=dev), sys)
        if x.shape[-1:] != (N,):
            raise ValueError(f"x0 must have shape batch + ({N},), got {tuple(x.shape)}")
        _array.check_finite(xp, x, "x0")
    out_batch = _broadcast_shapes([("sys", batch), ("u", u.shape[:-1]), ("x0", x.shape[:-1])])
    if C is not None:
        C = _to_work(xp, _as_array(xp, C, "C", device=dev), sys)
        if C.shape[-1:] != (N,):
            raise ValueError(f"C must have shape batch + ({N},), got {tuple(C.shape)}")
        _array.check_finite(xp, C, "C")
        out_batch = _broadcast_shapes([("sys, u and x0", out_batch), ("C", C.shape[:-1])])
    if D is not None:
        if isinstance(D, numbers.Number):
            if isinstance(D, bool):
                raise TypeError("D must be a number or an array, got bool")
            _array.check_finite(xp, D, "D")
        else:
            D = _as_array(xp, D, "D", device=dev)
            _array.check_finite(xp, D, "D")
            _broadcast_shapes([("sys, u, x0 and C", out_batch), ("D", D.shape)])

    route = _choose(xp, sys, u.shape[-1], C, method)
    if route == "sequential":
        y, x = _sequential(xp, sys, x, u, C, D, halved)
    else:
        y, x = _fast(xp, sys, x, u, C, D, halved, route, chunk, x0 is not None)
    _array.check_result(xp, y, "scan", _GROWTH, inputs=_sys_arrays(sys))
    if C is not None:
        _array.check_result(xp, x, "scan", _GROWTH, inputs=_sys_arrays(sys))
    return y, x

