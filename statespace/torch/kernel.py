r"""The SSM convolution kernel as a :class:`torch.nn.Module` (parameters + core calls).

:class:`S4Kernel` owns the parameters of ``H`` independent single-input systems of
state size ``N`` (``N // 2`` conjugate pairs, the halved storage of S4/S4D) and
computes their kernels by calling :func:`statespace.kernel_dplr` (``mode="s4"``) or
:func:`statespace.kernel_diag` (``mode="s4d"``). Stepping uses
:mod:`statespace.discretize` and :func:`statespace.recurrence.step`; nothing here
re-implements a kernel or a recurrence.

Parameterisation (Gu et al. 2022, S4; Gu et al. 2022, S4D)
-----------------------------------------------------------
* ``log_dt`` of shape ``(H,)``, drawn uniformly in ``[log dt_min, log dt_max]``;
  ``dt = exp(log_dt)`` (clamped to :data:`DT_BOUNDS`).
* ``Lambda = -(f(a) + real_min) + i b`` with ``f = softplus`` (default) or ``exp``
  (``lambda_real="exp"``): the real part is ``<= -real_min < 0`` for every value of
  the raw parameter ``a`` (and ``>= -REAL_MAX``), so every system is stable.
* ``P`` (``"s4"`` only), ``B`` and ``C``, complex, stored as real tensors of trailing
  size 2 (:func:`torch.view_as_real`) so that ``state_dict`` and every optimizer work.
  ``"s4"`` learns :math:`\tilde C = C (I - \bar A^{L_k})` directly, as S4 does, where
  :math:`L_k` is the kernel length :attr:`S4Kernel.l_kernel`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn

import statespace as ss
from statespace import boundary as _bnd
from statespace import discretize as _disc

__all__ = ["S4Kernel", "DT_BOUNDS", "REAL_MAX"]

#: Range the step size ``exp(log_dt)`` is clamped to (before dividing by ``rate``).
DT_BOUNDS = (1e-6, 1e3)
#: Largest ``|Re Lambda|`` (the raw real-part parameter is clamped beyond it).
REAL_MAX = 1e6

_MODES = ("s4", "s4d")
_DISC = ("zoh", "bilinear", "dss")
_REAL = ("softplus", "exp")


# --------------------------------------------------------------------------------------
# argument checks shared by the modules
# --------------------------------------------------------------------------------------
def _check_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_rate(rate):
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"rate must be a positive real number, got {type(rate).__name__}")
    rate = float(rate)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be finite and > 0, got {rate!r}")
    return rate


def _check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _inv_softplus(y):
    """``x`` with ``softplus(x) = y`` for ``y > 0`` (stable for small and large y)."""
    return y + torch.log(-torch.expm1(-y))


def _real_view(z, dtype):
    """Complex tensor -> real tensor with a trailing axis of size 2 (a fresh copy)."""
    return torch.view_as_real(z.to(torch.complex128)).to(dtype).clone()


def _complex_of(dtype):
    return torch.complex64 if dtype == torch.float32 else torch.complex128


class S4Kernel(nn.Module):
    r"""Convolution kernels of ``d_model`` structured state space systems.

    Parameters
    ----------
    d_model : int
        Number of channels ``H`` (one single-input single-output system each).
    d_state : int, default 64
        State size ``N`` of each system (even): ``N // 2`` complex conjugate pairs
        are stored.
    mode : {"s4", "s4d"}, default "s4"
        ``"s4"``: diagonal plus low rank ``A = diag(Lambda) - P^H P``, bilinear
        discretization, kernel by :func:`statespace.kernel_dplr` (S4 Algorithm 1)
        with ``halved=True, tilde=True``. ``"s4d"``: diagonal ``A``, kernel by
        :func:`statespace.kernel_diag`.
    init : str, optional
        Measure or S4D initialisation passed to :func:`statespace.dplr` (default
        ``"legs"`` for ``"s4"``, ``"diag-lin"`` for ``"s4d"``). ``"s4d"`` uses the
        diagonal part only (e.g. ``init="legs"`` gives S4D-LegS).
    disc : {"zoh", "bilinear", "dss"}, optional
        Discretization of ``"s4d"`` (default ``"zoh"``); ``"s4"`` is always bilinear
        (``None`` or ``"bilinear"``).
    channels : int, default 1
        Number of output vectors ``C`` per channel (2 for bidirectional layers).
    dt_min, dt_max : float, default 1e-3, 1e-1
        Range of the initial step sizes (log-uniform).
    lambda_real : {"softplus", "exp"}, default "softplus"
        Map from the raw parameter to ``-Re(Lambda) - real_min``.
    real_min : float, default 1e-4
        Margin of stability: ``Re(Lambda) <= -real_min`` always.
    l_max : int, optional
        Kernel length :math:`L_k` that :math:`\tilde C` refers to (``"s4"`` and
        ``disc="dss"``, whose parameterisations depend on the length); by default
        the length of the first forward call.
    kernel_dtype : torch.dtype or None, default torch.float64
        Real dtype the kernel is computed in (then rounded to the parameters' dtype);
        ``None``: the parameters' dtype. float64 keeps float32 kernels accurate to
        rounding when poles approach the unit circle and keeps every admissible
        parameter value finite; it costs about 4x the float32 Cauchy/Vandermonde work
        (small next to the convolutions and projections unless ``N`` is large).
        With ``None`` and float32 parameters, extreme values (a real mode with
        ``dt * |Re Lambda|`` below about ``1e-7``) can round a pole onto a node, which
        the core reports as ``ValueError``.
    dtype : torch.dtype, optional
        Real dtype of the parameters (default ``torch.get_default_dtype()``).
    device : torch.device, optional
        Device of the parameters.

    Notes
    -----
    For ``"s4"`` the kernel of length :math:`L \le L_k` at ``rate = 1`` is the first
    :math:`L` taps of the length-:math:`L_k` kernel computed from :math:`\tilde C`
    (exact: :math:`K_l = C \bar A^l \bar B` does not depend on :math:`L_k`). A longer
    kernel, or another ``rate``, first recovers
    :math:`C = \tilde C (I - \bar A^{L_k})^{-1}` by a dense solve in float64 and
    then calls :func:`statespace.kernel_dplr` with ``tilde=False``; the same
    applies to ``disc="dss"`` (whose normalisation :math:`1/(e^{L_k \Delta\lambda}-1)`
    is folded into ``C``).

    Examples
    --------
    >>> import torch
    >>> from statespace.torch import S4Kernel
    >>> _ = torch.manual_seed(0)
    >>> k = S4Kernel(3, d_state=8, mode="s4d")
    >>> k(16).shape
    torch.Size([1, 3, 16])
    """

    def __init__(
        self,
        d_model,
        d_state=64,
        mode="s4",
        *,
        init=None,
        disc=None,
        channels=1,
        dt_min=1e-3,
        dt_max=1e-1,
        lambda_real="softplus",
        real_min=1e-4,
        l_max=None,
        kernel_dtype=torch.float64,
        dtype=None,
        device=None,
    ):
        super().__init__()
        H = self.d_model = _check_int(d_model, "d_model")
        N = self.d_state = _check_int(d_state, "d_state", 2)
        if N % 2:
            raise ValueError(f"d_state must be even (N // 2 conjugate pairs), got {N}")
        self.mode = _check_choice(mode, "mode", _MODES)
        if mode == "s4":
            if disc not in (None, "bilinear"):
                raise ValueError(f"mode='s4' is discretized bilinearly; got disc={disc!r}")
            disc = "bilinear"
        else:
            disc = _check_choice("zoh" if disc is None else disc, "disc", _DISC)
        self.disc = disc
        self.channels = _check_int(channels, "channels")
        self.lambda_real = _check_choice(lambda_real, "lambda_real", _REAL)
        if not (isinstance(real_min, numbers.Real) and 0 < real_min < 1):
            raise ValueError(f"real_min must be in (0, 1), got {real_min!r}")
        self.real_min = float(real_min)
        if not (isinstance(dt_min, numbers.Real) and isinstance(dt_max, numbers.Real)):
            raise TypeError("dt_min and dt_max must be real numbers")
        if not (DT_BOUNDS[0] <= dt_min <= dt_max <= DT_BOUNDS[1]):
            raise ValueError(
                f"need {DT_BOUNDS[0]} <= dt_min <= dt_max <= {DT_BOUNDS[1]}, "
                f"got dt_min={dt_min!r}, dt_max={dt_max!r}"
            )
        self.l_kernel = None if l_max is None else _check_int(l_max, "l_max")
        self.init = init = init if init is not None else ("legs" if mode == "s4" else "diag-lin")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        for name, dt in (("dtype", dtype), ("kernel_dtype", kernel_dtype)):
            if dt not in (torch.float32, torch.float64) and not (name != "dtype" and dt is None):
                raise TypeError(f"{name} must be torch.float32 or torch.float64, got {dt}")
        self.kernel_dtype = kernel_dtype
        fk = {"dtype": dtype, "device": device}

        d = ss.dplr(init, N)
        lam = torch.as_tensor(np.asarray(d.Lambda), dtype=torch.complex128)
        B = torch.as_tensor(np.asarray(d.B), dtype=torch.complex128)
        if lam.shape != (N // 2,):
            raise ValueError(f"dplr({init!r}, {N}) returned Lambda of shape {tuple(lam.shape)}")
        # raw real part: -(f(a) + real_min) = Re(Lambda), clipped into the admissible range
        y = (-lam.real - self.real_min).clamp(min=1e-4 * self.real_min, max=REAL_MAX)
        a = _inv_softplus(y) if self.lambda_real == "softplus" else torch.log(y)
        self.lambda_re = nn.Parameter(a.expand(H, -1).to(**fk).clone())
        self.lambda_im = nn.Parameter(lam.imag.expand(H, -1).to(**fk).clone())
        self.B = nn.Parameter(_real_view(B.expand(H, -1), dtype).to(device))
        ssm = [self.lambda_re, self.lambda_im, self.B]
        if mode == "s4":
            P = torch.as_tensor(np.asarray(d.P), dtype=torch.complex128)
            if P.ndim != 2 or P.shape[-1] != N // 2:
                raise ValueError(f"dplr({init!r}, {N}) returned P of shape {tuple(P.shape)}")
            if P.shape[0] == 0:  # a diagonal initialisation: start from a zero rank-1 term
                P = torch.zeros(1, N // 2, dtype=torch.complex128)
            self.P = nn.Parameter(_real_view(P.expand(H, -1, -1), dtype).to(device))
            ssm.append(self.P)
        else:
            self.P = None
        # C (C~ for s4): complex standard normal, as in S4/S4D
        C = torch.randn(self.channels, H, N // 2, dtype=torch.complex128)
        self.C = nn.Parameter(_real_view(C, dtype).to(device))
        lo, hi = math.log(dt_min), math.log(dt_max)
        self.log_dt = nn.Parameter(torch.rand(H, **fk) * (hi - lo) + lo)
        ssm.append(self.log_dt)
        for p in ssm:
            p._ssm_param = True  # read by statespace.torch.param_groups
        self._step_cache = None

    # ----------------------------------------------------------------------------------
    # parameters -> system
    # ----------------------------------------------------------------------------------
    @property
    def length_dependent(self):
        """Whether the parameters refer to the kernel length :attr:`l_kernel`."""
        return self.mode == "s4" or self.disc == "dss"

    def extra_repr(self):
        return (
            f"d_model={self.d_model}, d_state={self.d_state}, mode={self.mode!r}, "
            f"disc={self.disc!r}, init={self.init!r}, channels={self.channels}, "
            f"l_kernel={self.l_kernel}, kernel_dtype={self.kernel_dtype}"
        )

    def get_extra_state(self):
        return {"l_kernel": self.l_kernel}

    def set_extra_state(self, state):
        self.l_kernel = state.get("l_kernel")
        self._step_cache = None

    def dt(self, dtype=None):
        """Step sizes ``exp(log_dt)`` clamped to :data:`DT_BOUNDS`, shape ``(H,)``.

        Parameters
        ----------
        dtype : torch.dtype, optional
            Compute in this real dtype (default: the parameters').

        Returns
        -------
        torch.Tensor
            Positive step sizes.

        Examples
        --------
        >>> from statespace.torch import S4Kernel
        >>> k = S4Kernel(4, d_state=4, mode="s4d", dt_min=0.01, dt_max=0.1)
        >>> bool(((k.dt() >= 0.01) & (k.dt() <= 0.1)).all())
        True
        """
        lo, hi = math.log(DT_BOUNDS[0]), math.log(DT_BOUNDS[1])
        log_dt = self.log_dt if dtype is None else self.log_dt.to(dtype)
        return torch.exp(log_dt.clamp(lo, hi))

    def Lambda(self, dtype=None):
        """Diagonal ``Lambda`` (complex, ``(H, N//2)``) with ``Re <= -real_min`` always.

        Parameters
        ----------
        dtype : torch.dtype, optional
            Compute in this real dtype (default: the parameters').

        Returns
        -------
        torch.Tensor
            Complex eigenvalues with ``-REAL_MAX <= Re <= -real_min``.

        Examples
        --------
        >>> from statespace.torch import S4Kernel
        >>> k = S4Kernel(2, d_state=4, mode="s4")
        >>> bool((k.Lambda().real < 0).all())
        True
        """
        a = self.lambda_re if dtype is None else self.lambda_re.to(dtype)
        b = self.lambda_im if dtype is None else self.lambda_im.to(dtype)
        if self.lambda_real == "softplus":
            f = nn.functional.softplus(a)
        else:
            f = torch.exp(a.clamp(max=math.log(REAL_MAX)))
        return torch.complex(-(f + self.real_min).clamp(max=REAL_MAX), b)

    def _c(self, name, dtype=None):
        p = getattr(self, name)
        if p is None:
            return None
        return torch.view_as_complex(p if dtype is None else p.to(dtype))

    def _system(self, dtype=None):
        """``Lambda, P, B, C`` (complex) and ``dt`` computed in the real ``dtype``."""
        return (self.Lambda(dtype), self._c("P", dtype), self._c("B", dtype),
                self._c("C", dtype), self.dt(dtype))

    def _l_kernel_for(self, L):
        if self.length_dependent and self.l_kernel is None:
            self.l_kernel = L  # the first forward call fixes the length C~ refers to
        return self.l_kernel

    def _require_l_kernel(self):
        if self.length_dependent and self.l_kernel is None:
            raise RuntimeError(
                f"S4Kernel(mode={self.mode!r}, disc={self.disc!r}) parameterises C for a "
                "kernel length that is fixed by l_max= or by the first forward call; "
                "run a forward pass or construct the module with l_max"
            )

    def _true_C(self, dtype=torch.float64):
        """Output vectors ``C`` of the continuous system, ``(channels, H, N//2)``, in ``dtype``.

        ``"s4"``: :math:`\\tilde C (I - \\bar A^{L_k})^{-1}`
        (:func:`statespace.c_from_tilde_dplr`, a dense solve in complex128);
        ``disc="dss"``: :math:`C / (e^{L_k \\Delta\\lambda} - 1)`, the ZOH
        :func:`statespace.c_from_tilde_diag` of :math:`-C`; otherwise ``C``.
        """
        lam, P, B, C, dt = self._system(dtype)
        if self.mode == "s4":
            self._require_l_kernel()
            return _bnd.c_from_tilde_dplr(lam, P, C, dt, self.l_kernel, halved=True)
        if self.disc == "dss":
            self._require_l_kernel()
            return _bnd.c_from_tilde_diag(lam, -C, dt, self.l_kernel, "zoh")
        return C

    # ----------------------------------------------------------------------------------
    # convolution mode
    # ----------------------------------------------------------------------------------
    def forward(self, L, rate=1.0):
        r"""Kernels of length ``L``, shape ``(channels, H, L)``.

        Parameters
        ----------
        L : int
            Kernel length (the input length), ``>= 1``.
        rate : float, default 1.0
            Sampling rate relative to training: the step size is ``dt / rate``.

        Returns
        -------
        torch.Tensor, shape (channels, H, L)
            Real kernels in the parameters' dtype.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Kernel
        >>> _ = torch.manual_seed(0)
        >>> k = S4Kernel(2, d_state=4, mode="s4", l_max=8)
        >>> K8, K5 = k(8), k(5)
        >>> bool(torch.allclose(K8[..., :5], K5))
        True
        """
        L = _check_int(L, "L")
        rate = _check_rate(rate)
        Lk = self._l_kernel_for(L)
        dtype = self.log_dt.dtype
        lam, P, B, C, dt = self._system(self.kernel_dtype)
        truncate = self.length_dependent and rate == 1.0 and L <= Lk
        if self.mode == "s4":
            if truncate:
                K = ss.kernel_dplr(lam, P, B, C, dt, Lk, halved=True, tilde=True)[..., :L]
            else:
                K = ss.kernel_dplr(
                    lam, P, B, self._true_C(), dt.double() / rate, L, halved=True, tilde=False
                )
        elif self.disc == "dss":
            if truncate:
                K = ss.kernel_diag(lam, B, C, dt, Lk, "dss", halved=True)[..., :L]
            else:
                K = ss.kernel_diag(lam, B, self._true_C(), dt.double() / rate, L, "zoh",
                                   halved=True)
        else:
            K = ss.kernel_diag(lam, B, C, dt / rate, L, self.disc, halved=True)
        return K.to(dtype)

    def _discrete(self, rate, dtype=torch.float64):
        """Discrete system at ``dt / rate`` (computed in ``dtype``) and the output C."""
        lam, P, B, _, dt = self._system(dtype)
        dt = dt / rate
        if self.mode == "s4":
            system = _disc.DPLRSystem(lam, P, B, halved=True)
        else:
            system = _disc.DiagSystem(lam, B)
        # DSS is the ZOH system with a normalised C (see _true_C)
        method = "zoh" if self.disc == "dss" else self.disc
        return _disc.discretize(system, dt, method), self._true_C(dtype)

    def _check_state(self, state, name="state"):
        if not isinstance(state, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(state).__name__}")
        want = (self.d_model, self.d_state // 2)
        if state.ndim < 2 or tuple(state.shape[-2:]) != want or not state.is_complex():
            raise ValueError(
                f"{name} must be a complex tensor of shape (batch, {want[0]}, {want[1]}) "
                f"(see default_state), got {state.dtype} {tuple(state.shape)}"
            )
        if self.channels != 1:
            raise ValueError("states need a causal kernel (channels == 1, not bidirectional)")

    def state_output(self, state, L, rate=1.0):
        r"""Contribution of an initial state to the next ``L`` outputs.

        Parameters
        ----------
        state : torch.Tensor, shape (batch, H, N//2), complex
            State :math:`x_{-1}` before the first input.
        L : int
            Number of outputs.
        rate : float, default 1.0
            Sampling rate (step ``dt / rate``).

        Returns
        -------
        torch.Tensor, shape (batch, H, L)
            :math:`2\,\mathrm{Re}(C \bar A^{l+1} x_{-1})`, real, parameters' dtype.

        Notes
        -----
        ``"s4"``: :func:`statespace.initial_response_dplr` with :math:`\tilde C`
        (``tilde=True``): the trained one and the first ``L`` of :math:`L_k` outputs
        when ``rate == 1`` and ``L <= L_k``, else :math:`\tilde C` recomputed for
        ``L`` and ``dt / rate``. ``"s4d"``: :func:`statespace.initial_response_diag`.
        Computed in float64.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Kernel
        >>> _ = torch.manual_seed(0)
        >>> k = S4Kernel(2, d_state=4, mode="s4d", dtype=torch.float64)
        >>> x = k.default_state(1) + 1
        >>> k.setup_step()
        >>> y0, _ = k.step(torch.zeros(1, 2, dtype=torch.float64), x)
        >>> bool(torch.allclose(k.state_output(x, 3)[..., 0], y0))
        True
        """
        L = _check_int(L, "L")
        rate = _check_rate(rate)
        self._check_state(state)
        x0 = state.to(torch.complex128)
        lam, P, _, Ct, dt = self._system(torch.float64)
        dt = dt / rate
        if self.mode == "s4":
            Lk = self._l_kernel_for(L)
            if rate == 1.0 and L <= Lk:  # the trained C~ refers to Lk: first L of Lk outputs
                y = _bnd.initial_response_dplr(lam, P, Ct[0], x0, dt, Lk, halved=True,
                                               tilde=True)[..., :L]
            else:
                y = _bnd.initial_response_dplr(lam, P, self._c_tilde(L, rate), x0, dt, L,
                                               halved=True, tilde=True)
        else:
            method = "bilinear" if self.disc == "bilinear" else "zoh"
            y = _bnd.initial_response_diag(lam, self._true_C()[0], x0, dt, L, method,
                                           halved=True)
        return y.to(self.log_dt.dtype)

    def _c_tilde(self, L, rate):
        """:math:`C (I - \\bar A^L)` at step ``dt / rate`` (complex128, ``(H, N//2)``)."""
        lam, P, _, _, dt = self._system(torch.float64)
        return _bnd.c_tilde_dplr(lam, P, self._true_C()[0], dt / rate, L, halved=True)

    def forward_state(self, u, state, lengths=None, rate=1.0):
        r"""State after running the recurrence over ``u`` from ``state``.

        Parameters
        ----------
        u : torch.Tensor, shape (batch, H, L)
            Inputs (padded positions must already be zero when ``lengths`` is given).
        state : torch.Tensor, shape (batch, H, N//2), complex
            Initial state :math:`x_{-1}`.
        lengths : torch.Tensor, shape (batch,), optional
            Valid lengths; the state after ``lengths[b]`` steps is returned.
        rate : float, default 1.0
            Sampling rate (step ``dt / rate``).

        Returns
        -------
        torch.Tensor, shape (batch, H, N//2)
            :math:`x_{n-1} = \bar A^{n} x_{-1} + \sum_{j<n} \bar A^{n-1-j} \bar B u_j`
            with ``n = lengths[b]`` (or ``L``), complex, parameters' dtype.

        Notes
        -----
        :func:`statespace.final_state_dplr` (``"s4"``) or
        :func:`statespace.final_state_diag` (``"s4d"``): :math:`O(N L)` work per
        sequence after an :math:`O(N L)` (plus, for ``"s4"``, :math:`O(N^3 \log L)`)
        setup per channel. Computed in float64; memory ``O(H N L)``.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Kernel
        >>> _ = torch.manual_seed(0)
        >>> k = S4Kernel(2, d_state=4, mode="s4d", dtype=torch.float64)
        >>> k.setup_step()
        >>> u = torch.randn(1, 2, 5, dtype=torch.float64)
        >>> x = k.default_state(1)
        >>> for t in range(5):
        ...     _, x = k.step(u[..., t], x)
        >>> bool(torch.allclose(k.forward_state(u, k.default_state(1)), x))
        True
        """
        rate = _check_rate(rate)
        self._check_state(state)
        x0 = state.to(torch.complex128)
        uc = u.to(torch.float64)
        n = None if lengths is None else lengths.to(device=u.device, dtype=torch.long)[:, None]
        lam, P, B, _, dt = self._system(torch.float64)
        dt = dt / rate
        if self.mode == "s4":
            x = _bnd.final_state_dplr(lam, P, B, x0, uc, dt, halved=True, lengths=n)
        else:
            method = "bilinear" if self.disc == "bilinear" else "zoh"
            x = _bnd.final_state_diag(lam, B, x0, uc, dt, method, halved=True, lengths=n)
        return x.to(_complex_of(self.log_dt.dtype))

    # ----------------------------------------------------------------------------------
    # step mode
    # ----------------------------------------------------------------------------------
    def setup_step(self, rate=1.0):
        r"""Discretize once for :meth:`step` (call again after changing parameters).

        Parameters
        ----------
        rate : float, default 1.0
            Sampling rate (step ``dt / rate``).

        Notes
        -----
        ``"s4"``: :func:`statespace.discretize.bilinear_dplr` (``halved=True``,
        O(N r) per step) and :math:`C = \tilde C (I - \bar A^{L_k})^{-1}`;
        ``"s4d"``: :func:`~statespace.discretize.zoh_diag` or
        :func:`~statespace.discretize.bilinear_diag`. Computed in float64 without
        gradient tracking and rounded once to the parameters' dtype.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Kernel
        >>> k = S4Kernel(2, d_state=4, mode="s4d")
        >>> k.setup_step()
        >>> y, x = k.step(torch.ones(3, 2), k.default_state(3))
        >>> tuple(y.shape), tuple(x.shape)
        ((3, 2), (3, 2, 2))
        """
        rate = _check_rate(rate)
        if self.channels != 1:
            raise ValueError("step mode needs a causal kernel (channels == 1, not bidirectional)")
        with torch.no_grad():
            sys, C = self._discrete(rate)
            rdt = self.log_dt.dtype
            cdt = _complex_of(rdt)

            def cast(t):
                if not isinstance(t, torch.Tensor):
                    return t
                return t.to(cdt) if t.is_complex() else t.to(rdt)

            sys = type(sys)(*(cast(t) for t in sys))
            self._step_cache = (sys, C[0].to(cdt))

    def default_state(self, *batch_shape):
        """Zero state of shape ``batch_shape + (H, N//2)`` (complex).

        Parameters
        ----------
        *batch_shape : int
            Leading batch dimensions.

        Returns
        -------
        torch.Tensor
            Complex zeros on the parameters' device.

        Examples
        --------
        >>> from statespace.torch import S4Kernel
        >>> S4Kernel(3, d_state=8, mode="s4d").default_state(2).shape
        torch.Size([2, 3, 4])
        """
        shape = tuple(batch_shape) + (self.d_model, self.d_state // 2)
        return torch.zeros(
            shape, dtype=_complex_of(self.log_dt.dtype), device=self.log_dt.device
        )

    def step(self, u, state):
        r"""One step of the recurrence: ``y = 2 Re(C x)`` with ``x = Ad state + Bd u``.

        Parameters
        ----------
        u : torch.Tensor, shape (batch, H)
            Input sample.
        state : torch.Tensor, shape (batch, H, N//2), complex
            Current state.

        Returns
        -------
        y : torch.Tensor, shape (batch, H)
            Output sample (without the ``D`` term).
        state : torch.Tensor, shape (batch, H, N//2)
            Next state.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Kernel
        >>> _ = torch.manual_seed(0)
        >>> k = S4Kernel(2, d_state=4, mode="s4", l_max=6)
        >>> k.setup_step()
        >>> u = torch.zeros(1, 2, 6); u[..., 0] = 1
        >>> x, ys = k.default_state(1), []
        >>> for t in range(6):
        ...     y, x = k.step(u[..., t], x)
        ...     ys.append(y)
        >>> bool(torch.allclose(torch.stack(ys, -1)[0], k(6)[0], atol=1e-5))
        True
        """
        if self._step_cache is None:
            raise RuntimeError("call setup_step() before step()")
        sys, C = self._step_cache
        x = ss.step(sys, state, u)
        y = 2 * (C * x).sum(-1).real
        return y, x

    def _apply(self, fn, *args, **kwargs):
        self._step_cache = None  # dtype/device changes invalidate the step system
        return super()._apply(fn, *args, **kwargs)
