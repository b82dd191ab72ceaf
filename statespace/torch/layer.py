r"""Sequence layers built on :class:`~statespace.torch.S4Kernel`.

:class:`S4Layer` is the SSM sequence map (kernel, skip ``D``, FFT convolution by
:func:`statespace.causal_conv` / :func:`statespace.bidirectional_conv`, activation);
:class:`S4Block` wraps it with normalisation, dropout, a gated (GLU) output
projection and a residual connection.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

import statespace as ss
from statespace import _array
from statespace._array import check_flag

from .kernel import (
    S4Kernel,
    _check_device,
    _check_dtype,
    _check_int,
    _check_lengths,
    _check_rate,
    _check_step_input,
    _narrow,
)

__all__ = ["S4Layer", "S4Block"]

_ACTIVATIONS = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


def _activation(act):
    if act is None:
        return nn.Identity()
    if isinstance(act, nn.Module):
        return act
    if isinstance(act, str) and act in _ACTIVATIONS:
        return _ACTIVATIONS[act]()
    if not isinstance(act, str):
        raise TypeError(f"activation must be one of {tuple(_ACTIVATIONS)}, None or a Module, "
                        f"got {type(act).__name__}")
    raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, None or a Module, "
                     f"got {act!r}")


def _check_input(x, d, transposed, dtype, device=None, what="x", feature="d_model"):
    """Validate a (batch, length, d) (or transposed) tensor; return it as (batch, d, L)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    layout = f"(batch, {feature}, length)" if transposed else f"(batch, length, {feature})"
    if x.ndim != 3:
        raise ValueError(f"{what} must have shape {layout}, got {tuple(x.shape)}")
    if x.shape[1 if transposed else 2] != d:
        raise ValueError(
            f"{what} must have shape {layout} with {feature}={d}, got {tuple(x.shape)}"
            + ("" if transposed else " (pass transposed=True for (batch, d, length) inputs)")
        )
    _check_dtype(x, dtype, what, "; convert one of them (e.g. module.double())")
    _check_device(x, device, what)
    return x if transposed else x.transpose(1, 2)


def _mask(lengths, L, device):
    """(batch, 1, L) boolean mask of valid positions."""
    return (torch.arange(L, device=device)[None, :] < lengths[:, None])[:, None, :]


def _check_dropout(dropout):
    """A dropout probability: a real number in [0, 1)."""
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise TypeError(f"dropout must be a real number in [0, 1), got "
                        f"{type(dropout).__name__}")
    if not 0 <= dropout < 1:  # NaN fails too
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return float(dropout)


class S4Layer(nn.Module):
    r"""Structured state space sequence layer ``y = act(K * u + D u)``.

    Parameters
    ----------
    d_model : int
        Number of channels ``H``.
    d_state : int, default 64
        State size ``N`` per channel (even).
    mode : {"s4", "s4d"}, default "s4"
        Kernel family (see :class:`~statespace.torch.S4Kernel`).
    bidirectional : bool, default False
        Two kernels (a causal one and an anti-causal one, sharing ``A``, ``B`` and
        ``dt``) combined by :func:`statespace.bidirectional_conv`.
    activation : str, nn.Module or None, default "gelu"
        ``"gelu"``, ``"relu"``, ``"silu"``, ``"tanh"``, ``"identity"`` or a module.
    transposed : bool, default False
        Inputs and outputs of shape ``(batch, d_model, length)`` instead of
        ``(batch, length, d_model)``.
    **kernel_kwargs
        Passed to :class:`~statespace.torch.S4Kernel` (``init``, ``disc``,
        ``dt_min``, ``dt_max``, ``lambda_real``, ``real_min``, ``l_max``, ``dtype``,
        ``device``).

    Notes
    -----
    .. math:: y_l = \sigma\Big(\sum_{j \le l} K_{l-j} u_j + D u_l\Big)

    per channel (plus :math:`\sum_{j > l} K^{b}_{j-l-1} u_j` when bidirectional). The
    kernel length follows the input length. Inputs with NaN or infinite values raise
    ``ValueError`` (the core's input validation), except at padded positions, which
    are zeroed before the convolution.

    With float16 or bfloat16 parameters (``.half()``, ``.bfloat16()``) the kernel,
    the convolution and the state terms run in float32 (the kernel in
    ``kernel_dtype``); the sum is rounded once to the parameters' dtype, where the
    activation is applied. An empty batch or a zero-length input gives an empty
    output without computing a kernel.

    Examples
    --------
    >>> import torch
    >>> from statespace.torch import S4Layer
    >>> _ = torch.manual_seed(0)
    >>> layer = S4Layer(4, d_state=8, mode="s4d")
    >>> layer(torch.randn(2, 10, 4)).shape
    torch.Size([2, 10, 4])
    """

    def __init__(self, d_model, d_state=64, mode="s4", *, bidirectional=False,
                 activation="gelu", transposed=False, **kernel_kwargs):
        super().__init__()
        self.bidirectional = bidirectional = check_flag(bidirectional, "bidirectional")
        self.d_model = _check_int(d_model, "d_model")
        self.transposed = check_flag(transposed, "transposed")
        self.kernel = S4Kernel(d_model, d_state, mode, channels=2 if bidirectional else 1,
                               **kernel_kwargs)
        p = self.kernel.log_dt
        self.D = nn.Parameter(torch.randn(d_model, dtype=p.dtype, device=p.device))
        self.activation = _activation(activation)

    def forward(self, x, state=None, *, lengths=None, rate=1.0):
        r"""Apply the layer to a batch of sequences.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, length, d_model)
            Inputs (``(batch, d_model, length)`` when ``transposed``).
        state : torch.Tensor, shape (batch, d_model, d_state // 2), optional
            Initial state (chunked inference): the output then continues the
            sequence that led to ``state`` and the next state is returned too.
        lengths : torch.Tensor of int, shape (batch,), optional
            Valid lengths of a padded batch, in ``[0, length]`` (an integer tensor on
            any device, or a sequence of ints). Padded positions do not affect valid
            outputs or the returned state; their outputs are zero.
        rate : float, default 1.0
            Sampling rate of ``x`` relative to training (step size ``dt / rate``).

        Returns
        -------
        y : torch.Tensor
            Same shape and dtype as ``x``.
        next_state : torch.Tensor, shape (batch, d_model, d_state // 2)
            Only when ``state`` is given: the state after the last valid input.

        Raises
        ------
        TypeError
            ``x`` is not a tensor of the parameters' dtype, ``state`` not a tensor of
            the dtype of :meth:`default_state`, or ``lengths`` not integers.
        ValueError
            A shape, device or value is wrong: ``x`` (or ``state``) does not match
            the layer, ``lengths`` lies outside ``[0, length]``, ``rate`` is not
            finite and positive, ``x`` has NaN or infinite values, or (float16) the
            output exceeds float16's range.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Layer
        >>> _ = torch.manual_seed(0)
        >>> layer = S4Layer(2, d_state=4, mode="s4d", dtype=torch.float64)
        >>> x = torch.randn(1, 8, 2, dtype=torch.float64)
        >>> y1, s = layer(x[:, :5], layer.default_state(1))
        >>> y2, _ = layer(x[:, 5:], s)
        >>> bool(torch.allclose(torch.cat([y1, y2], 1), layer(x)))
        True
        """
        p = self.kernel.log_dt
        u = _check_input(x, self.d_model, self.transposed, p.dtype, p.device)
        batch, _, L = u.shape
        rate = _check_rate(rate)
        if state is not None:
            if self.bidirectional:
                raise ValueError("a bidirectional layer has no recurrent state")
            self.kernel._check_state(state, batch=(batch,))
        lengths = _check_lengths(lengths, batch, L, u.device)
        if lengths is not None:
            mask = _mask(lengths, L, u.device)
            u = torch.where(mask, u, torch.zeros((), dtype=u.dtype, device=u.device))
        # the SSM part runs in float32 or float64 (float16/bfloat16 parameters upcast)
        wdt = self.kernel._work_dtype
        uw, D = u.to(wdt), self.D.to(wdt)
        if u.numel() == 0:
            # no sequence or no time step: nothing to convolve (and no kernel computed,
            # so an unset l_kernel stays unset)
            y = uw * D[:, None]
        else:
            K = self.kernel._kernel(L, rate, wdt)
            # the valid positions must be finite (padded ones were zeroed above); named
            # as the caller's argument, before the core sees it as its own ``u``
            if not _array.compiling() and not bool(torch.isfinite(u).all()):
                raise ValueError("x contains NaN or infinite values")
            if self.bidirectional:
                y = ss.bidirectional_conv(uw, K[0], K[1], D)
            else:
                y = ss.causal_conv(uw, K[0], D)
        next_state = None
        if state is not None:
            y = y + self.kernel._state_output(state, L, rate).to(wdt)
            next_state = self.kernel._forward_state(u, state, lengths, rate)
        y = self.activation(_narrow(y, p.dtype, "the S4Layer output"))
        if lengths is not None:
            y = torch.where(mask, y, torch.zeros((), dtype=y.dtype, device=y.device))
        y = y if self.transposed else y.transpose(1, 2)
        return y if state is None else (y, next_state)

    def setup_step(self, rate=1.0):
        """Prepare :meth:`step` (see :meth:`S4Kernel.setup_step`).

        Parameters
        ----------
        rate : float, default 1.0
            Sampling rate (step size ``dt / rate``).

        Examples
        --------
        >>> from statespace.torch import S4Layer
        >>> S4Layer(2, d_state=4, mode="s4d").setup_step()
        """
        self.kernel.setup_step(rate)

    def default_state(self, *batch_shape):
        """Zero state, shape ``batch_shape + (d_model, d_state // 2)``, complex.

        Parameters
        ----------
        *batch_shape : int
            Leading batch dimensions.

        Returns
        -------
        torch.Tensor
            Complex zeros.

        Examples
        --------
        >>> from statespace.torch import S4Layer
        >>> S4Layer(3, d_state=4, mode="s4d").default_state(2).shape
        torch.Size([2, 3, 2])
        """
        return self.kernel.default_state(*batch_shape)

    def step(self, x, state):
        r"""One time step: ``y = act(2 Re(C x') + D u)``, ``x' = Ad x + Bd u``.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, d_model)
            Input sample.
        state : torch.Tensor, shape (batch, d_model, d_state // 2)
            Current state.

        Returns
        -------
        y : torch.Tensor, shape (batch, d_model)
            Output sample.
        state : torch.Tensor
            Next state.

        Raises
        ------
        TypeError
            ``x`` or ``state`` has the wrong type or dtype.
        ValueError
            ``x`` or ``state`` has the wrong shape (their batch sizes must agree) or
            device, ``x`` contains NaN/inf, or (float16) the output exceeds float16's
            range.
        RuntimeError
            :meth:`setup_step` was not called, or the parameters changed since.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Layer
        >>> _ = torch.manual_seed(0)
        >>> layer = S4Layer(2, d_state=4, mode="s4d", dtype=torch.float64)
        >>> x = torch.randn(1, 6, 2, dtype=torch.float64)
        >>> layer.setup_step(); s = layer.default_state(1); ys = []
        >>> for t in range(6):
        ...     y, s = layer.step(x[:, t], s)
        ...     ys.append(y)
        >>> bool(torch.allclose(torch.stack(ys, 1), layer(x)))
        True
        """
        p = self.kernel.log_dt
        _check_step_input(x, self.d_model, p.dtype, p.device)
        self.kernel._check_state(state, batch=(x.shape[0],))
        wdt = self.kernel._work_dtype
        xw = x.to(wdt)
        y, state = self.kernel._step(xw, state)
        y = _narrow(y + self.D.to(wdt) * xw, p.dtype, "the S4Layer output")
        return self.activation(y), state


class S4Block(nn.Module):
    r"""Residual block: norm, :class:`S4Layer`, dropout, gated output projection.

    Parameters
    ----------
    d_model : int
        Number of channels.
    d_state : int, default 64
        State size per channel.
    mode : {"s4", "s4d"}, default "s4"
        Kernel family.
    prenorm : bool, default True
        Normalise before the layer (``x + f(norm(x))``) or after the residual
        (``norm(x + f(x))``).
    norm : {"layer", None}, default "layer"
        :class:`torch.nn.LayerNorm` over the channels, or none.
    dropout : float, default 0.0
        Dropout after the activation and after the output projection.
    glu : bool, default True
        Output projection ``Linear(d, 2d)`` followed by a GLU gate; else ``Linear(d, d)``.
    transposed : bool, default False
        ``(batch, d_model, length)`` layout.
    **layer_kwargs
        Passed to :class:`S4Layer` (``bidirectional``, ``activation`` and the kernel
        options).

    Notes
    -----
    Prenorm: :math:`x + W(\mathrm{drop}(\mathrm{S4}(\mathrm{LN}(x))))`, with
    :math:`W` the GLU projection. Outputs at padded positions (``lengths``) are
    unspecified; they never reach valid positions.

    Examples
    --------
    >>> import torch
    >>> from statespace.torch import S4Block
    >>> _ = torch.manual_seed(0)
    >>> S4Block(4, d_state=8, mode="s4d")(torch.randn(2, 10, 4)).shape
    torch.Size([2, 10, 4])
    """

    def __init__(self, d_model, d_state=64, mode="s4", *, prenorm=True, norm="layer",
                 dropout=0.0, glu=True, transposed=False, **layer_kwargs):
        super().__init__()
        if norm is not None and not isinstance(norm, str):
            raise TypeError(f"norm must be 'layer' or None, got {type(norm).__name__}")
        if norm not in ("layer", None):
            raise ValueError(f"norm must be 'layer' or None, got {norm!r}")
        _check_dropout(dropout)
        self.d_model = _check_int(d_model, "d_model")
        self.prenorm = check_flag(prenorm, "prenorm")
        self.transposed = check_flag(transposed, "transposed")
        self.glu = check_flag(glu, "glu")
        self.layer = S4Layer(d_model, d_state, mode, transposed=False, **layer_kwargs)
        p = self.layer.kernel.log_dt
        fk = {"dtype": p.dtype, "device": p.device}
        self.norm = nn.LayerNorm(d_model, **fk) if norm == "layer" else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, 2 * d_model if glu else d_model, **fk)

    def _post(self, x, z):
        z = self.dropout(z)
        z = self.out(z)
        if self.glu:
            z = nn.functional.glu(z, dim=-1)
        x = x + self.dropout(z)
        return x if self.prenorm else self.norm(x)

    def forward(self, x, state=None, *, lengths=None, rate=1.0):
        """Apply the block (see :meth:`S4Layer.forward` for the arguments).

        Parameters
        ----------
        x : torch.Tensor, shape (batch, length, d_model)
            Inputs (``(batch, d_model, length)`` when ``transposed``).
        state : torch.Tensor, optional
            Initial state of the layer; the next state is returned too.
        lengths : torch.Tensor of int, shape (batch,), optional
            Valid lengths of a padded batch.
        rate : float, default 1.0
            Sampling rate (step size ``dt / rate``).

        Returns
        -------
        y : torch.Tensor
            Same shape as ``x``.
        next_state : torch.Tensor
            Only when ``state`` is given.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Block
        >>> blk = S4Block(2, d_state=4, mode="s4d", transposed=True)
        >>> blk(torch.randn(3, 2, 7)).shape
        torch.Size([3, 2, 7])
        """
        p = self.layer.kernel.log_dt
        u = _check_input(x, self.d_model, self.transposed, p.dtype, p.device).transpose(1, 2)
        z = self.norm(u) if self.prenorm else u
        out = self.layer(z, state, lengths=lengths, rate=rate)
        z, next_state = out if state is not None else (out, None)
        y = self._post(u, z)
        y = y.transpose(1, 2) if self.transposed else y
        return y if state is None else (y, next_state)

    def setup_step(self, rate=1.0):
        """Prepare :meth:`step`.

        Parameters
        ----------
        rate : float, default 1.0
            Sampling rate.

        Examples
        --------
        >>> from statespace.torch import S4Block
        >>> S4Block(2, d_state=4, mode="s4d").setup_step()
        """
        self.layer.setup_step(rate)

    def default_state(self, *batch_shape):
        """Zero state of the layer.

        Parameters
        ----------
        *batch_shape : int
            Leading batch dimensions.

        Returns
        -------
        torch.Tensor
            Complex zeros, ``batch_shape + (d_model, d_state // 2)``.

        Examples
        --------
        >>> from statespace.torch import S4Block
        >>> S4Block(2, d_state=4, mode="s4d").default_state(5).shape
        torch.Size([5, 2, 2])
        """
        return self.layer.default_state(*batch_shape)

    def step(self, x, state):
        """One time step (use in ``eval()`` mode so dropout is off).

        Parameters
        ----------
        x : torch.Tensor, shape (batch, d_model)
            Input sample.
        state : torch.Tensor
            Current state.

        Returns
        -------
        y : torch.Tensor, shape (batch, d_model)
            Output sample.
        state : torch.Tensor
            Next state.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Block
        >>> blk = S4Block(2, d_state=4, mode="s4d").eval()
        >>> blk.setup_step()
        >>> y, s = blk.step(torch.randn(3, 2), blk.default_state(3))
        >>> tuple(y.shape)
        (3, 2)
        """
        # shape only: a NaN reaches the layer's own check through the norm
        p = self.layer.kernel.log_dt
        _check_step_input(x, self.d_model, p.dtype, p.device, finite=False)
        z = self.norm(x) if self.prenorm else x
        z, state = self.layer.step(z, state)
        return self._post(x, z), state
