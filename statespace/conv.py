r"""Causal and bidirectional convolution by FFT: the convolutional view of an SSM.

Given a kernel ``K`` of length ``L_K`` and an input ``u`` of length ``L``,

.. math:: y_l = \sum_{j=0}^{l} K_{l-j}\, u_j + D\, u_l, \qquad l = 0, \ldots, L-1,

is computed with one forward FFT of ``u``, one of ``K``, and one inverse FFT, on a
zero-padded length ``n >= L + min(L_K, L) - 1`` so that the circular convolution of the
FFT equals the linear one (no wrap-around). ``n`` is the smallest ``2^a 3^b 5^c``
number that is large enough, a length every FFT backend handles quickly.

Shapes: the last axis is time. The batch shapes ``u.shape[:-1]`` and
``K.shape[:-1]`` broadcast together (e.g. ``u`` of shape ``(B, H, L)`` with ``K`` of
shape ``(H, L)``); ``D`` has a batch shape only (no time axis) and broadcasts against
them, one skip coefficient per channel (e.g. ``(H,)``).
"""

from __future__ import annotations

import numbers
import sys

from . import _array

__all__ = ["causal_conv", "bidirectional_conv", "fft_length"]

_OVERFLOW = ("the output exceeds the floating-point range (sum_j |K_j| max|u| near the "
             "largest representable number)")


def fft_length(n):
    """Smallest integer ``>= n`` of the form ``2^a 3^b 5^c`` (a fast FFT length).

    Parameters
    ----------
    n : int
        Minimum length (``>= 1``).

    Returns
    -------
    m : int
        The fast length.

    Examples
    --------
    >>> from statespace.conv import fft_length
    >>> [fft_length(n) for n in (1, 7, 11, 17, 1000, 1025)]
    [1, 8, 12, 18, 1000, 1080]
    """
    n = _array.check_length(n, "n")
    best = 1 << (n - 1).bit_length()  # next power of two is always a candidate
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # smallest power of two with p35 * 2^a >= n
            q = -(-n // p35)
            cand = p35 * (1 << (q - 1).bit_length())
            best = min(best, cand)
            p35 *= 3
        p5 *= 5
    return best


def _prep(xp, arrays, names):
    """Convert, check ndim/length/dtype/finiteness; return arrays and the working dtype."""
    out = []
    for a, name in zip(arrays, names, strict=True):
        a = _array.check_array(xp, a, name)
        if a.ndim < 1:
            raise ValueError(f"{name} must have at least one dimension (time is the last axis)")
        if a.shape[-1] < 1:
            raise ValueError(f"{name} must have length >= 1 along its last axis")
        out.append(a)
    return out


def _prep_D(xp, D):
    if D is None:
        return None
    np = sys.modules.get("numpy")
    if isinstance(D, bool) or (np is not None and isinstance(D, np.bool_)):
        raise TypeError("D must be a number or an array, got bool")
    if isinstance(D, numbers.Number):
        D = float(D) if isinstance(D, numbers.Real) else complex(D)
        _array.check_finite(xp, D, "D")
        return D
    return _array.check_array(xp, D, "D")


def _conv_core(xp, u, k, n, Lu, complex_out):
    """``irfft(rfft(u, n) * rfft(k, n), n)[..., :Lu]`` (or the complex transforms)."""
    if complex_out:
        spec = _array.fft(xp, "fft", u, n) * _array.fft(xp, "fft", k, n)
        y = _array.fft(xp, "ifft", spec, n)
    else:
        spec = _array.fft(xp, "rfft", u, n) * _array.fft(xp, "rfft", k, n)
        y = _array.fft(xp, "irfft", spec, n)
    return y[..., :Lu]


def _setup(u, kernels, knames, D):
    xp = _array.namespace(u, *kernels, D if not isinstance(D, numbers.Number) else None,
                          names=["u", *knames, "D"])
    u, *kernels = _prep(xp, (u, *kernels), ("u", *knames))
    D = _prep_D(xp, D)
    arrays = [u, *kernels] + ([D] if D is not None and not isinstance(D, numbers.Number) else [])
    names = ["u", *knames] + (["D"] if len(arrays) > 1 + len(kernels) else [])
    shapes = [tuple(u.shape[:-1])] + [tuple(k.shape[:-1]) for k in kernels]
    if len(arrays) > 1 + len(kernels):
        shapes.append(tuple(D.shape))
    _array.broadcast_shapes(shapes, names)
    for a, name in zip(arrays, names, strict=True):
        _array.check_finite(xp, a, name)
    complex_out = any(_array.is_complex(xp, a) for a in arrays) or isinstance(D, complex)
    rdt = _array.result_float_dtype(xp, *arrays)
    wdt = _array.complex_dtype(xp, rdt) if complex_out else rdt
    u = xp.astype(u, wdt) if u.dtype != wdt else u
    kernels = [xp.astype(k, wdt) if k.dtype != wdt else k for k in kernels]
    if D is not None and not isinstance(D, numbers.Number) and D.dtype != wdt:
        D = xp.astype(D, wdt)
    return xp, u, kernels, D, complex_out


def _add_skip(xp, y, u, D):
    if D is None:
        return y
    if isinstance(D, numbers.Number):
        return y + D * u
    return y + xp.expand_dims(D, axis=-1) * u


def causal_conv(u, K, D=None):
    r"""Causal convolution ``y = K * u + D u`` by FFT.

    Parameters
    ----------
    u : array, shape ``batch_u + (L,)``
        Input sequences (time is the last axis).
    K : array, shape ``batch_K + (L_K,)``
        Convolution kernel. Taps beyond ``L_K`` are zero; taps beyond ``L`` cannot
        affect the output and are ignored.
    D : scalar or array, optional
        Skip (feed-through) coefficient; an array has a batch shape only (no time
        axis), broadcasting against ``batch_u`` and ``batch_K``, e.g. ``(H,)``.

    Returns
    -------
    y : array, shape ``batch + (L,)``
        ``batch`` broadcasts ``batch_u``, ``batch_K`` and ``D.shape``. Real when ``u``,
        ``K`` and ``D`` are real (float32 only when all are float32, else float64),
        complex when any is complex; in the inputs' namespace and device.

    Raises
    ------
    ValueError
        If an input contains NaN or infinity, has no time axis or an empty one, the
        batch shapes do not broadcast (the message names the arguments), or the
        output overflows.
    TypeError
        If an input is not numeric (boolean and masked arrays included) or the
        inputs come from different libraries.

    Notes
    -----
    .. math::

        y_{\ldots, l} = \sum_{j=0}^{l} K_{\ldots, l-j}\, u_{\ldots, j}
                      + D_{\ldots}\, u_{\ldots, l}, \qquad l = 0, \ldots, L-1.

    Computed as ``irfft(rfft(u, n) * rfft(K, n), n)[..., :L]`` (``fft``/``ifft`` for
    complex data) with ``n = fft_length(L + min(L_K, L) - 1)``: every linear lag fits
    in ``n`` so nothing wraps around. Cost ``O(n log n)`` per sequence; the error is
    ``O(eps log n)`` relative to ``sum_j |K_j| max|u|``. Differentiable under torch
    autograd.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> u = np.array([1.0, 2.0, 3.0, 4.0]); K = np.array([1.0, 0.5])
    >>> [round(float(t), 6) for t in ss.causal_conv(u, K, D=0.1)]
    [1.1, 2.7, 4.3, 5.9]
    >>> bool(np.allclose(ss.causal_conv(u, K), np.convolve(u, K)[:4]))
    True
    """
    xp, u, (k,), D, complex_out = _setup(u, (K,), ("K",), D)
    Lu = u.shape[-1]
    Lk = min(k.shape[-1], Lu)
    k = k[..., :Lk]
    n = fft_length(Lu + Lk - 1)
    y = _add_skip(xp, _conv_core(xp, u, k, n, Lu, complex_out), u, D)
    _array.check_result(xp, y, "causal_conv", _OVERFLOW)
    return y


def bidirectional_conv(u, K_fwd, K_bwd, D=None):
    r"""Two-sided convolution: a causal kernel over the past, another over the future.

    Parameters
    ----------
    u : array, shape ``batch_u + (L,)``
        Input sequences (time is the last axis).
    K_fwd : array, shape ``batch_f + (L_f,)``
        Causal kernel, lags ``0 .. L_f - 1`` (``K_fwd[0]`` multiplies ``u[l]``).
    K_bwd : array, shape ``batch_b + (L_b,)``
        Anti-causal kernel for strictly positive lags into the future: ``K_bwd[m]``
        multiplies ``u[l + m + 1]``. Lag 0 belongs to ``K_fwd`` only.
    D : scalar or array, optional
        Skip coefficient with a batch shape only, as in :func:`causal_conv`.

    Returns
    -------
    y : array, shape ``batch + (L,)``
        ``batch`` broadcasts all batch shapes; dtype as in :func:`causal_conv`.

    Raises
    ------
    ValueError
        As :func:`causal_conv`.
    TypeError
        As :func:`causal_conv`.

    Notes
    -----
    .. math::

        y_l = \sum_{j \le l} K^{\mathrm{fwd}}_{l-j}\, u_j
            + \sum_{j > l} K^{\mathrm{bwd}}_{j-l-1}\, u_j + D\, u_l .

    This is what a bidirectional SSM computes when it runs one system forwards and
    another backwards over time, the backward one shifted by one step so that
    :math:`u_l` is not counted twice. Both kernels are laid into one two-sided
    circular kernel of length ``n = fft_length(L + max(L_f' - 1, L_b'))`` (``L_f' =
    min(L_f, L)``, ``L_b' = min(L_b, L - 1)``): ``K_fwd`` at indices ``0 .. L_f' - 1``
    and ``K_bwd[m]`` at index ``n - 1 - m``, so no lag in ``-(L - 1) .. L - 1`` aliases
    onto a wrong tap. One FFT of that kernel, one of ``u`` and one inverse give ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> u = np.array([1.0, 2.0, 3.0])
    >>> y = ss.bidirectional_conv(u, np.array([1.0]), np.array([10.0, 100.0]))
    >>> [round(float(t), 6) for t in y]  # u[l] + 10 u[l+1] + 100 u[l+2]
    [321.0, 32.0, 3.0]
    """
    xp, u, (kf, kb), D, complex_out = _setup(u, (K_fwd, K_bwd), ("K_fwd", "K_bwd"), D)
    Lu = u.shape[-1]
    lf = min(kf.shape[-1], Lu)
    lb = min(kb.shape[-1], Lu - 1)
    n = fft_length(Lu + max(lf - 1, lb))
    batch = _array.broadcast_shapes(
        [tuple(kf.shape[:-1]), tuple(kb.shape[:-1])], ["K_fwd", "K_bwd"]
    )
    kf = xp.broadcast_to(kf[..., :lf], batch + (lf,))
    parts = [kf]
    gap = n - lf - lb
    if gap:
        dev = _array.device_of(kf)
        parts.append(xp.zeros(batch + (gap,), dtype=kf.dtype, device=dev))
    if lb:
        parts.append(xp.broadcast_to(xp.flip(kb[..., :lb], axis=-1), batch + (lb,)))
    k = xp.concat(parts, axis=-1) if len(parts) > 1 else kf
    y = _add_skip(xp, _conv_core(xp, u, k, n, Lu, complex_out), u, D)
    _array.check_result(xp, y, "bidirectional_conv", _OVERFLOW)
    return y
