"""A small sequence model: encoder, a stack of :class:`S4Block`, decoder."""

from __future__ import annotations

import torch
from torch import nn

from statespace._array import check_flag, compiling

from .kernel import _check_int, _check_lengths, _check_step_input
from .layer import S4Block, _check_dropout, _check_input

__all__ = ["S4Model"]

_POOL = (None, "mean", "last")


class S4Model(nn.Module):
    r"""Encoder ``Linear``, ``n_layers`` :class:`S4Block`\ s, decoder ``Linear``.

    Parameters
    ----------
    d_input : int
        Input features per time step.
    d_output : int
        Output features (classes for classification).
    d_model : int, default 128
        Width of the blocks.
    n_layers : int, default 4
        Number of blocks.
    d_state : int, default 64
        State size per channel.
    mode : {"s4", "s4d"}, default "s4"
        Kernel family.
    pool : {None, "mean", "last"}, default "mean"
        ``"mean"``/``"last"``: one output per sequence (classification; both respect
        ``lengths``); ``None``: one output per time step (sequence to sequence).
    prenorm : bool, default True
        Pre-normalised blocks (then a final LayerNorm precedes the decoder).
    dropout : float, default 0.0
        Dropout inside the blocks.
    transposed : bool, default False
        ``(batch, d_input, length)`` inputs (and ``(batch, d_output, length)``
        outputs when ``pool=None``).
    **block_kwargs
        Passed to every :class:`S4Block` (``glu``, ``norm``, ``bidirectional``,
        ``activation`` and the kernel options such as ``init``, ``disc``,
        ``dt_min``, ``dt_max``, ``l_max``, ``dtype``, ``device``).

    Examples
    --------
    >>> import torch
    >>> from statespace.torch import S4Model
    >>> _ = torch.manual_seed(0)
    >>> m = S4Model(1, 10, d_model=8, n_layers=2, d_state=8, mode="s4d")
    >>> m(torch.randn(3, 20, 1)).shape
    torch.Size([3, 10])
    """

    def __init__(self, d_input, d_output, d_model=128, n_layers=4, d_state=64, mode="s4", *,
                 pool="mean", prenorm=True, dropout=0.0, transposed=False, **block_kwargs):
        super().__init__()
        if pool is not None and not isinstance(pool, str):
            raise TypeError(f"pool must be None or a string in {_POOL[1:]}, got "
                            f"{type(pool).__name__}")
        if pool not in _POOL:
            raise ValueError(f"pool must be one of {_POOL}, got {pool!r}")
        self.d_input = _check_int(d_input, "d_input")
        self.d_output = _check_int(d_output, "d_output")
        _check_int(d_model, "d_model")
        _check_int(n_layers, "n_layers", 0)
        _check_dropout(dropout)  # also when there is no block to check it
        self.pool = pool
        self.transposed = check_flag(transposed, "transposed")
        self.prenorm = check_flag(prenorm, "prenorm")
        self.blocks = nn.ModuleList(
            S4Block(d_model, d_state, mode, prenorm=prenorm, dropout=dropout, **block_kwargs)
            for _ in range(n_layers)
        )
        if n_layers == 0:
            # no block is built, but the block options are still checked: one block of
            # width 1 is constructed and dropped
            S4Block(1, d_state, mode, prenorm=prenorm, dropout=dropout, **block_kwargs)
        fk = {k: block_kwargs[k] for k in ("dtype", "device") if k in block_kwargs}
        self.encoder = nn.Linear(d_input, d_model, **fk)
        self.norm = nn.LayerNorm(d_model, **fk) if prenorm else nn.Identity()
        self.decoder = nn.Linear(d_model, d_output, **fk)

    def _check_states(self, state, batch):
        """``state``: a list or tuple of one valid state per block, batch ``batch``."""
        n = len(self.blocks)
        if not isinstance(state, (list, tuple)):
            raise TypeError(f"state must be a list of {n} block states (see default_state), "
                            f"got {type(state).__name__}")
        if len(state) != n:
            raise ValueError(f"state must hold one state per block ({n}, see default_state), "
                             f"got {len(state)}")
        for i, (blk, s) in enumerate(zip(self.blocks, state, strict=True)):
            blk.layer.kernel._check_state(s, name=f"state[{i}]", batch=(batch,))

    def forward(self, x, state=None, *, lengths=None, rate=1.0):
        """Apply the model.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, length, d_input)
            Inputs (``(batch, d_input, length)`` when ``transposed``).
        state : list of torch.Tensor, optional
            One state per block (a list or tuple of ``n_layers`` states of shape
            ``(batch, d_model, d_state // 2)``, see :meth:`default_state`); the next
            states are returned too (``pool=None`` only). A wrong entry raises an
            error naming its index (``state[i]``).
        lengths : torch.Tensor of int, shape (batch,), optional
            Valid lengths of a padded batch, in ``[1, length]`` when pooling (which
            uses the valid positions only), else in ``[0, length]``.
        rate : float, default 1.0
            Sampling rate (step size ``dt / rate``).

        Returns
        -------
        y : torch.Tensor
            ``(batch, d_output)`` when pooling, else ``(batch, length, d_output)``
            (``(batch, d_output, length)`` when ``transposed``).
        next_state : list of torch.Tensor
            Only when ``state`` is given.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Model
        >>> m = S4Model(2, 3, d_model=4, n_layers=1, d_state=4, mode="s4d", pool=None)
        >>> m(torch.randn(5, 7, 2), lengths=torch.tensor([7, 3, 1, 2, 7])).shape
        torch.Size([5, 7, 3])
        """
        w = self.encoder.weight
        u = _check_input(x, self.d_input, self.transposed, w.dtype, w.device, feature="d_input")
        u = u.transpose(1, 2)  # (batch, L, d_input)
        batch, L, _ = u.shape
        if self.pool is not None and L == 0 and batch > 0:
            raise ValueError(f"pool={self.pool!r} needs sequences of length >= 1, got length 0")
        lengths = _check_lengths(lengths, batch, L, u.device,
                                 minimum=0 if self.pool is None else 1)
        # checked here, not only by the blocks: with no block nothing else would see a
        # NaN. The padding past `lengths` is ignored, as everywhere (it may hold
        # anything); skipped while torch.compile traces, as in the core.
        if not compiling():
            bad = ~torch.isfinite(u)
            if lengths is not None:
                bad = bad & (torch.arange(L, device=u.device)[None, :, None]
                             < lengths[:, None, None])
            if bool(bad.any()):
                raise ValueError("x contains NaN or infinite values")
        if state is not None:
            if self.pool is not None:
                raise ValueError("states are for sequence-to-sequence models (pool=None)")
            self._check_states(state, batch)
        h = self.encoder(u)
        next_states = []
        for i, blk in enumerate(self.blocks):
            if state is None:
                h = blk(h, lengths=lengths, rate=rate)
            else:
                h, s = blk(h, state[i], lengths=lengths, rate=rate)
                next_states.append(s)
        h = self.norm(h)
        if self.pool == "mean":
            if lengths is None:
                h = h.mean(dim=1)
            else:
                m = (torch.arange(L, device=h.device)[None, :] < lengths[:, None])[..., None]
                h = torch.where(m, h, torch.zeros((), dtype=h.dtype, device=h.device))
                h = h.sum(1) / lengths[:, None].to(h.dtype)
        elif self.pool == "last":
            idx = (lengths - 1) if lengths is not None else torch.full(
                (batch,), L - 1, device=h.device, dtype=torch.long)
            h = h[torch.arange(batch, device=h.device), idx]
        y = self.decoder(h)
        if self.pool is None and self.transposed:
            y = y.transpose(1, 2)
        return y if state is None else (y, next_states)

    def setup_step(self, rate=1.0):
        """Prepare :meth:`step` in every block.

        Parameters
        ----------
        rate : float, default 1.0
            Sampling rate.

        Examples
        --------
        >>> from statespace.torch import S4Model
        >>> S4Model(1, 1, d_model=2, n_layers=1, d_state=4, mode="s4d", pool=None).setup_step()
        """
        for blk in self.blocks:
            blk.setup_step(rate)

    def default_state(self, *batch_shape):
        """Zero states, one per block.

        Parameters
        ----------
        *batch_shape : int
            Leading batch dimensions.

        Returns
        -------
        list of torch.Tensor
            Complex zeros ``batch_shape + (d_model, d_state // 2)``.

        Examples
        --------
        >>> from statespace.torch import S4Model
        >>> m = S4Model(1, 1, d_model=2, n_layers=3, d_state=4, mode="s4d", pool=None)
        >>> len(m.default_state(4))
        3
        """
        return [blk.default_state(*batch_shape) for blk in self.blocks]

    def step(self, x, state):
        """One time step of a sequence-to-sequence model (``pool=None``, ``eval()``).

        Parameters
        ----------
        x : torch.Tensor, shape (batch, d_input)
            Input sample.
        state : list of torch.Tensor
            Current states, one per block (validated as in :meth:`forward`).

        Returns
        -------
        y : torch.Tensor, shape (batch, d_output)
            Output sample.
        state : list of torch.Tensor
            Next states.

        Examples
        --------
        >>> import torch
        >>> from statespace.torch import S4Model
        >>> m = S4Model(1, 2, d_model=4, n_layers=1, d_state=4, mode="s4d", pool=None).eval()
        >>> m.setup_step()
        >>> y, s = m.step(torch.randn(3, 1), m.default_state(3))
        >>> tuple(y.shape)
        (3, 2)
        """
        if self.pool is not None:
            raise ValueError("step needs a sequence-to-sequence model (pool=None)")
        w = self.encoder.weight
        _check_step_input(x, self.d_input, w.dtype, w.device, feature="d_input", finite=False)
        self._check_states(state, x.shape[0])
        h = self.encoder(x)
        new = []
        for blk, s in zip(self.blocks, state, strict=True):
            h, s = blk.step(h, s)
            new.append(s)
        return self.decoder(self.norm(h)), new
