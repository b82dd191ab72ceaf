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
from statespace import _array
from statespace import boundary as _bnd
from statespace import discretize as _disc

__all__ = ["S4Kernel", "DT_BOUNDS", "REAL_MAX"]

#: Range the step size ``exp(log_dt)`` is clamped to (before dividing by ``rate``).
DT_BOUNDS = (1e-6, 1e3)
#: Largest ``|Re Lambda|`` (the raw real-part parameter is clamped beyond it).
REAL_MAX = 1e6

#: Parameter dtypes the modules accept; the SSM arithmetic of float16 and bfloat16
#: parameters runs in float32 (see :func:`_work_dtype`).
_PARAM_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
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
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {choices}, got {type(value).__name__} "
                        f"{value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _check_batch_shape(batch_shape):
    """``default_state``'s ``*batch_shape``: non-negative integers."""
    return tuple(_check_int(n, "batch_shape entries", 0) for n in batch_shape)


def _check_lengths(lengths, batch, L, device, minimum=0):
    """``lengths`` as a long tensor of shape ``(batch,)`` on ``device`` with values in
    ``[minimum, L]``; ``None`` passes through.

    Integer tensors (or integer sequences) on any device are accepted and moved to
    ``device``; float, complex and bool dtypes are refused.
    """
    if lengths is None:
        return None
    if not isinstance(lengths, torch.Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"lengths must be an integer tensor of shape ({batch},) ({exc})") \
                from None
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must hold integers, got {lengths.dtype}")
    if tuple(lengths.shape) != (batch,):
        raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
    if batch:
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo < minimum or hi > L:
            raise ValueError(
                f"lengths must lie in [{minimum}, {L}] (the input length), got [{lo}, {hi}]"
            )
    return lengths.to(device=device, dtype=torch.long)


def _check_device(x, device, what):
    if device is not None and x.device != device:
        raise ValueError(f"{what} is on {x.device} but the parameters are on {device}")


def _autocast_dtype(device_type):
    """The dtype ``torch.autocast`` casts to on ``device_type``, or None when it is off."""
    try:
        on = torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4: no device argument
        if device_type == "cpu":
            return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else None
        if device_type == "cuda":
            return torch.get_autocast_gpu_dtype() if torch.is_autocast_enabled() else None
        return None
    return torch.get_autocast_dtype(device_type) if on else None


def _check_dtype(x, dtype, what, hint=""):
    """``x.dtype == dtype``, or the dtype of an active ``torch.autocast`` region (whose
    ops hand lower-precision activations to modules with float32 parameters)."""
    if x.dtype != dtype and x.dtype != _autocast_dtype(x.device.type):
        raise TypeError(f"{what} has dtype {x.dtype} but the parameters are {dtype}{hint}")


def _check_step_input(x, d, dtype, device=None, what="x", feature="d_model", finite=True):
    """A step input: tensor of shape ``(batch, d)``, ``dtype`` and ``device`` (finite,
    if asked; that check is skipped while ``torch.compile`` traces)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[-1] != d:
        raise ValueError(f"{what} must have shape (batch, {feature}={d}), got {tuple(x.shape)}")
    _check_dtype(x, dtype, what)
    _check_device(x, device, what)
    if finite and not _array.compiling() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{what} contains NaN or infinite values")


def _inv_softplus(y):
    """``x`` with ``softplus(x) = y`` for ``y > 0`` (stable for small and large y)."""
    return y + torch.log(-torch.expm1(-y))


def _real_view(z, dtype):
    """Complex tensor -> real tensor with a trailing axis of size 2 (a fresh copy)."""
    return torch.view_as_real(z.to(torch.complex128)).to(dtype).clone()


def _work_dtype(dtype):
    """Real dtype the SSM arithmetic runs in for parameters of ``dtype``.

    float64 for float64 parameters, else float32: float16 and bfloat16 parameters
    are upcast, since the core (kernels, FFT convolution, recurrence) computes in
    float32 or float64 only.
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


def _complex_of(dtype):
    """Complex dtype of the states of ``dtype`` parameters (complex64 unless float64)."""
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def _auto_kernel_dtype(mode):
    """``kernel_dtype="auto"``: the parameters' dtype for the S4 kernel, whose float32
    path is accurate near the unit circle (compensated node-pole differences, float64
    O(N + L) setup), float64 for the S4D kernel."""
    return None if mode == "s4" else torch.float64


def _narrow(t, dtype, what):
    """``t.to(dtype)``; ``ValueError`` where a finite value overflows float16.

    bfloat16 has float32's exponent range, so only float16 can overflow. The check
    needs a host synchronisation and is skipped while ``torch.compile`` traces.
    """
    out = t.to(dtype)
    if dtype == torch.float16 and not _array.compiling():
        if bool((torch.isinf(out) & torch.isfinite(t)).any()):
            big = float(t.detach().abs().max())
            raise ValueError(
                f"{what} overflows float16 (largest magnitude {big:.4g} > 65504); "
                "use bfloat16 or float32 parameters"
            )
    return out


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
    kernel_dtype : torch.dtype, None or "auto", default "auto"
        Real dtype the kernel is computed in, torch.float32 or torch.float64 (then
        rounded to the parameters' dtype); ``None``: the parameters' dtype, float32
        for float16 and bfloat16 parameters. ``"auto"`` (stored as the resolved
        value): ``None`` for ``"s4"``, whose single-precision kernel keeps the
        discrete poles and nodes in float64 as compensated pairs and stays within
        ``1e-5`` of the float64 kernel, also near the unit circle and also under
        autograd (``docs/float32.md``); torch.float64 for ``"s4d"``. float64 keeps
        every admissible parameter value finite; it costs about 4x the float32
        Cauchy/Vandermonde work. With float32 Vandermonde sums (``"s4d"`` and
        ``None``), extreme values (a real mode with ``dt * |Re Lambda|`` below about
        ``1e-7``) can round a pole onto a node, which the core reports as
        ``ValueError``.
    dtype : torch.dtype, optional
        Real dtype of the parameters: float32, float64, float16 or bfloat16 (default
        ``torch.get_default_dtype()``). Converting the module (``.half()``,
        ``.to(dtype)``, ...) to any other dtype raises ``TypeError``.
    device : torch.device, optional
        Device of the parameters.

    Notes
    -----
    float16 and bfloat16 parameters are stored in that dtype, but every SSM
    computation (kernel, state contributions, step recurrence) runs in float32 at
    least (``kernel_dtype`` for the kernel); states are complex64, kernels, state
    outputs and step outputs are rounded to the parameters' dtype, and
    :meth:`dt` and :meth:`Lambda` return float32 values. A float16 result beyond
    float16's range raises ``ValueError`` rather than turning into ``inf``.

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
        kernel_dtype="auto",
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
        if isinstance(real_min, bool) or not isinstance(real_min, numbers.Real):
            raise TypeError(f"real_min must be a real number in (0, 1), got "
                            f"{type(real_min).__name__}")
        if not 0 < real_min < 1:
            raise ValueError(f"real_min must be in (0, 1), got {real_min!r}")
        self.real_min = float(real_min)
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                   for v in (dt_min, dt_max)):
            raise TypeError("dt_min and dt_max must be real numbers")
        if not (DT_BOUNDS[0] <= dt_min <= dt_max <= DT_BOUNDS[1]):
            raise ValueError(
                f"need {DT_BOUNDS[0]} <= dt_min <= dt_max <= {DT_BOUNDS[1]}, "
                f"got dt_min={dt_min!r}, dt_max={dt_max!r}"
            )
        self.l_kernel = None if l_max is None else _check_int(l_max, "l_max")
        self.init = init = init if init is not None else ("legs" if mode == "s4" else "diag-lin")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in _PARAM_DTYPES:
            raise TypeError(f"dtype must be one of {_PARAM_DTYPES}, got {dtype}")
        if isinstance(kernel_dtype, str) and kernel_dtype == "auto":
            kernel_dtype = _auto_kernel_dtype(mode)
        if kernel_dtype not in (torch.float32, torch.float64, None):
            raise TypeError(
                f"kernel_dtype must be torch.float32, torch.float64, None or 'auto', "
                f"got {kernel_dtype}"
            )
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

    @property
    def _param_dtype(self):
        return self.log_dt.dtype

    @property
    def _work_dtype(self):
        """float32 or float64: the dtype the SSM arithmetic runs in."""
        return _work_dtype(self.log_dt.dtype)

    @property
    def _state_dtype(self):
        return _complex_of(self.log_dt.dtype)

    def get_extra_state(self):
        return {"l_kernel": self.l_kernel}

    def set_extra_state(self, state):
        if not isinstance(state, dict) or "l_kernel" not in state:
            raise ValueError(
                f"S4Kernel extra state must be a dict with key 'l_kernel', got {state!r}"
            )
        lk = state["l_kernel"]
        self.l_kernel = None if lk is None else _check_int(lk, "l_kernel (extra state)")
        self._step_cache = None

    def dt(self, dtype=None):
        """Step sizes ``exp(log_dt)`` clamped to :data:`DT_BOUNDS`, shape ``(H,)``.

        Parameters
        ----------
        dtype : torch.dtype, optional
            Compute in this real dtype (default: the parameters', float32 for
            float16 and bfloat16 parameters).

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
        log_dt = self.log_dt.to(self._work_dtype if dtype is None else dtype)
        return torch.exp(log_dt.clamp(lo, hi))

    def Lambda(self, dtype=None):
        """Diagonal ``Lambda`` (complex, ``(H, N//2)``) with ``Re <= -real_min`` always.

        Parameters
        ----------
        dtype : torch.dtype, optional
            Compute in this real dtype (default: the parameters', float32 for
            float16 and bfloat16 parameters).

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
        dtype = self._work_dtype if dtype is None else dtype
        a, b = self.lambda_re.to(dtype), self.lambda_im.to(dtype)
        if self.lambda_real == "softplus":
            f = nn.functional.softplus(a)
        else:
            f = torch.exp(a.clamp(max=math.log(REAL_MAX)))
        return torch.complex(-(f + self.real_min).clamp(max=REAL_MAX), b)

    def _c(self, name, dtype=None):
        p = getattr(self, name)
        if p is None:
            return None
        return torch.view_as_complex(p.to(self._work_dtype if dtype is None else dtype))

    def _system(self, dtype=None):
        """``Lambda, P, B, C`` (complex) and ``dt`` computed in the real ``dtype``
        (default: the working dtype, float32 or float64)."""
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
            Kernel length (the input length), ``>= 0``; ``L = 0`` gives an empty
            kernel and does not fix :attr:`l_kernel`.
        rate : float, default 1.0
            Sampling rate relative to training: the step size is ``dt / rate``.

        Returns
        -------
        torch.Tensor, shape (channels, H, L)
            Real kernels in the parameters' dtype (computed in ``kernel_dtype``).

        Raises
        ------
        ValueError
            ``L < 0``, ``rate`` not finite and positive, or (float16 parameters) a
            kernel value beyond float16's range.

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
        return _narrow(self._kernel(L, rate), self._param_dtype, "the kernel")

    def _kernel(self, L, rate, dtype=None):
        """:meth:`forward`, rounded to ``dtype`` (default: left in ``kernel_dtype``)."""
        L = _check_int(L, "L", 0)
        rate = _check_rate(rate)
        if L == 0:
            return torch.zeros((self.channels, self.d_model, 0),
                               dtype=self._work_dtype if dtype is None else dtype,
                               device=self.log_dt.device)
        Lk = self._l_kernel_for(L)
        kdt = self._work_dtype if self.kernel_dtype is None else self.kernel_dtype
        lam, P, B, C, dt = self._system(kdt)
        truncate = self.length_dependent and rate == 1.0 and L <= Lk
        if self.mode == "s4":
            # kernel_dplr forms its discrete poles in float64 from dt in any precision:
            # a float32 dt would be a rounded system (its phase error dt Im(Lambda) l
            # reaches 1e-5 of the kernel for LegSD)
            dt = self.dt(torch.float64)
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
        return K if dtype is None else K.to(dtype)

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

    def _check_state(self, state, name="state", batch=None):
        """Validate a state: complex tensor ``batch + (H, N//2)`` of the states' dtype
        on the parameters' device (``batch``: the required batch shape, if given)."""
        if self.channels != 1:
            raise ValueError(
                f"{name}: states need a causal kernel (channels == 1, not bidirectional)"
            )
        if not isinstance(state, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(state).__name__}")
        want = (self.d_model, self.d_state // 2)
        if (state.ndim < 2 or tuple(state.shape[-2:]) != want
                or (batch is not None and tuple(state.shape[:-2]) != tuple(batch))):
            lead = "batch" if batch is None else ", ".join(map(str, batch))
            raise ValueError(
                f"{name} must have shape ({lead}, {want[0]}, {want[1]}) (see default_state), "
                f"got {tuple(state.shape)}"
            )
        if state.dtype != self._state_dtype:
            raise TypeError(
                f"{name} must have dtype {self._state_dtype} (the states of "
                f"{self._param_dtype} parameters, see default_state), got {state.dtype}"
            )
        _check_device(state, self.log_dt.device, name)

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
            :math:`2\,\mathrm{Re}(C \bar A^{l+1} x_{-1})`, real, parameters' dtype
            (empty when ``L = 0`` or the batch is empty).

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
        L = _check_int(L, "L", 0)
        rate = _check_rate(rate)
        self._check_state(state)
        return _narrow(self._state_output(state, L, rate), self._param_dtype,
                       "the state's output")

    def _state_output(self, state, L, rate):
        """:meth:`state_output` on validated arguments, in float64."""
        if L == 0 or state.numel() == 0:  # nothing to compute (the FFTs reject empty axes)
            return torch.zeros(state.shape[:-1] + (L,), dtype=torch.float64,
                               device=state.device)
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
        return y

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
        lengths : torch.Tensor of int, shape (batch,), optional
            Valid lengths in ``[0, L]``; the state after ``lengths[b]`` steps is
            returned.
        rate : float, default 1.0
            Sampling rate (step ``dt / rate``).

        Returns
        -------
        torch.Tensor, shape (batch, H, N//2)
            :math:`x_{n-1} = \bar A^{n} x_{-1} + \sum_{j<n} \bar A^{n-1-j} \bar B u_j`
            with ``n = lengths[b]`` (or ``L``), complex (the dtype of
            :meth:`default_state`); a copy of ``state`` when ``L = 0``.

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
        if not isinstance(u, torch.Tensor):
            raise TypeError(f"u must be a torch.Tensor, got {type(u).__name__}")
        if u.ndim != 3 or u.shape[1] != self.d_model:
            raise ValueError(f"u must have shape (batch, {self.d_model}, length), "
                             f"got {tuple(u.shape)}")
        if not u.dtype.is_floating_point:
            raise TypeError(f"u must be a real floating tensor, got {u.dtype}")
        _check_device(u, self.log_dt.device, "u")
        batch, _, L = u.shape
        self._check_state(state, batch=(batch,))
        lengths = _check_lengths(lengths, batch, L, u.device)
        return self._forward_state(u, state, lengths, rate)

    def _forward_state(self, u, state, lengths, rate):
        """:meth:`forward_state` on validated arguments (``lengths`` a long tensor)."""
        if u.numel() == 0:  # no step taken (or no sequence): the state as it is
            return state.clone()
        x0 = state.to(torch.complex128)
        uc = u.to(torch.float64)
        n = None if lengths is None else lengths[:, None]
        lam, P, B, _, dt = self._system(torch.float64)
        dt = dt / rate
        if self.mode == "s4":
            x = _bnd.final_state_dplr(lam, P, B, x0, uc, dt, halved=True, lengths=n)
        else:
            method = "bilinear" if self.disc == "bilinear" else "zoh"
            x = _bnd.final_state_diag(lam, B, x0, uc, dt, method, halved=True, lengths=n)
        return x.to(self._state_dtype)

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
        gradient tracking and rounded once to the working dtype (float64 for float64
        parameters, else float32). :meth:`step` raises ``RuntimeError`` once the
        parameters were modified in place (an optimizer step, ``load_state_dict``),
        replaced, converted or moved after this call, and in a copy of the module
        (``copy.deepcopy``, unpickling) until it runs its own ``setup_step``; writes
        through ``.data`` escape that check.

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
        self._step_cache = None  # a failed setup leaves no stale system behind
        with torch.no_grad():
            sys, C = self._discrete(rate)
            rdt = self._work_dtype
            cdt = _complex_of(rdt)

            def cast(t):
                if not isinstance(t, torch.Tensor):
                    return t
                return t.to(cdt) if t.is_complex() else t.to(rdt)

            sys = type(sys)(*(cast(t) for t in sys))
            C = C[0].to(cdt)
            tensors = [t for t in (*sys, C) if isinstance(t, torch.Tensor)]
            if not _array.compiling() and not all(bool(torch.isfinite(t).all())
                                                  for t in tensors):
                raise ValueError(
                    f"the step system at rate={rate!r} (step size dt / rate) is not finite in "
                    f"{rdt}; use a rate closer to 1 or float64 parameters"
                )
            self._step_cache = (sys, C, self._fingerprint())

    def _fingerprint(self):
        """What the step system depends on: ``l_kernel`` and each parameter's storage,
        dtype, device and in-place version counter (no data read, no synchronisation).
        Tensors made under ``torch.inference_mode`` have no version counter."""
        return (self.l_kernel,) + tuple(
            (p.data_ptr(), p.dtype, p.device, None if p.is_inference() else p._version)
            for p in self.parameters()
        )

    def default_state(self, *batch_shape):
        """Zero state of shape ``batch_shape + (H, N//2)`` (complex).

        Parameters
        ----------
        *batch_shape : int
            Leading batch dimensions (non-negative; ``0`` gives an empty batch).

        Returns
        -------
        torch.Tensor
            Complex zeros on the parameters' device: complex128 for float64
            parameters, else complex64.

        Examples
        --------
        >>> from statespace.torch import S4Kernel
        >>> S4Kernel(3, d_state=8, mode="s4d").default_state(2).shape
        torch.Size([2, 3, 4])
        """
        shape = _check_batch_shape(batch_shape) + (self.d_model, self.d_state // 2)
        return torch.zeros(shape, dtype=self._state_dtype, device=self.log_dt.device)

    def step(self, u, state):
        r"""One step of the recurrence: ``y = 2 Re(C x)`` with ``x = Ad state + Bd u``.

        Parameters
        ----------
        u : torch.Tensor, shape (batch, H)
            Input sample, in the parameters' dtype.
        state : torch.Tensor, shape (batch, H, N//2), complex
            Current state (the dtype of :meth:`default_state`).

        Returns
        -------
        y : torch.Tensor, shape (batch, H)
            Output sample (without the ``D`` term), parameters' dtype.
        state : torch.Tensor, shape (batch, H, N//2)
            Next state.

        Raises
        ------
        RuntimeError
            :meth:`setup_step` was not called, or the parameters changed since.

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
        _check_step_input(u, self.d_model, self._param_dtype, self.log_dt.device, what="u")
        self._check_state(state, batch=(u.shape[0],))
        y, x = self._step(u.to(self._work_dtype), state)
        return _narrow(y, self._param_dtype, "the step output"), x

    def _check_step_ready(self):
        if self._step_cache is None:
            raise RuntimeError(
                "call setup_step() before step() (again after a conversion to another "
                "dtype or device, or after load_state_dict)"
            )
        if self._step_cache[2] != self._fingerprint():
            raise RuntimeError(
                "the parameters (values, storage, dtype or device) or l_kernel changed "
                "since setup_step() (an optimizer step, an in-place write, a copy of the "
                "module); call setup_step() again before step()"
            )

    def _step(self, u, state):
        """:meth:`step` on validated inputs; ``u`` and ``y`` in the working dtype."""
        self._check_step_ready()
        sys, C, _ = self._step_cache
        x = ss.step(sys, state, u)
        y = 2 * (C * x).sum(-1).real
        return y, x

    def _apply(self, fn, *args, **kwargs):
        # Refuse a conversion to an unsupported dtype before any tensor is converted:
        # ``fn`` is tried on an empty tensor of the parameters' dtype first.
        p = self.log_dt
        before = (p.dtype, p.device)
        try:
            probe = fn(torch.empty(0, dtype=p.dtype, device=p.device))
        except Exception:  # an unusual fn: the check after the call decides
            probe = None
        if isinstance(probe, torch.Tensor) and probe.dtype not in _PARAM_DTYPES:
            raise TypeError(
                f"S4Kernel parameters must be one of {_PARAM_DTYPES}; "
                f"refusing the conversion to {probe.dtype}"
            )
        out = super()._apply(fn, *args, **kwargs)
        p = self.log_dt
        if p.dtype not in _PARAM_DTYPES:
            raise TypeError(
                f"S4Kernel parameters were converted to {p.dtype}, which the module does "
                f"not support (one of {_PARAM_DTYPES}); convert it back"
            )
        if (p.dtype, p.device) != before:
            self._step_cache = None  # the step system lives in the old dtype/device
        return out
