r"""PyTorch adapter: :class:`torch.nn.Module`\ s that own SSM parameters and call the core.

Every computation goes through the framework-agnostic core of :mod:`statespace`
(kernels, convolution, discretization, recurrence); these modules hold parameters,
move them between devices and dtypes, and wire layers into models. Training through
the kernels uses the memory-lean autograd Functions of
:mod:`statespace._torch_reductions`, which :mod:`statespace.reductions` selects for
torch tensors that need a gradient.

* :class:`S4Kernel` -- parameters and kernels of ``H`` systems (``"s4"`` or ``"s4d"``);
* :class:`S4Layer` -- kernel, skip term, FFT convolution, activation;
* :class:`S4Block` -- norm, layer, dropout, GLU projection, residual;
* :class:`S4Model` -- encoder, blocks, decoder (classification or seq2seq);
* :func:`param_groups` -- optimizer groups (SSM parameters: smaller lr, no decay).

Step mode (all four modules)::

    layer.setup_step(); state = layer.default_state(batch)
    y_t, state = layer.step(x_t, state)
"""

from __future__ import annotations

import numbers

from .kernel import DT_BOUNDS, REAL_MAX, S4Kernel
from .layer import S4Block, S4Layer
from .model import S4Model

__all__ = [
    "S4Kernel",
    "S4Layer",
    "S4Block",
    "S4Model",
    "param_groups",
    "DT_BOUNDS",
    "REAL_MAX",
]


def param_groups(model, lr, ssm_lr=None, weight_decay=0.0):
    r"""Optimizer parameter groups with the usual S4 treatment of SSM parameters.

    Parameters
    ----------
    model : torch.nn.Module
        Any module (containing :class:`S4Kernel`\ s or not).
    lr : float
        Learning rate of the ordinary parameters.
    ssm_lr : float, optional
        Learning rate of the SSM parameters (``log_dt``, ``Lambda``, ``P``, ``B``);
        default ``min(lr, 1e-3)``.
    weight_decay : float, default 0.0
        Weight decay of the ordinary matrices (parameters with ``ndim >= 2``).

    Returns
    -------
    list of dict
        Non-empty groups among: SSM parameters (``lr=ssm_lr``, ``weight_decay=0``),
        matrices (``lr``, ``weight_decay``), vectors such as biases, norms and ``D``
        (``lr``, ``weight_decay=0``). Ready for ``torch.optim.AdamW(groups)``.

    Notes
    -----
    SSM parameters are recognised by the ``_ssm_param`` attribute that
    :class:`S4Kernel` sets; ``C`` (:math:`\tilde C`) is an ordinary parameter, as in the
    S4 and S4D reference setups.

    Examples
    --------
    >>> import torch
    >>> from statespace.torch import S4Model, param_groups
    >>> m = S4Model(1, 2, d_model=4, n_layers=1, d_state=4, mode="s4d")
    >>> groups = param_groups(m, lr=1e-2, weight_decay=0.05)
    >>> [(g["lr"], g["weight_decay"], len(g["params"])) for g in groups]
    [(0.001, 0.0, 4), (0.01, 0.05, 4), (0.01, 0.0, 8)]
    >>> opt = torch.optim.AdamW(groups)
    """
    for name, val in (("lr", lr), ("weight_decay", weight_decay)):
        if isinstance(val, bool) or not isinstance(val, numbers.Real) or val < 0:
            raise ValueError(f"{name} must be a non-negative number, got {val!r}")
    ssm_lr = min(lr, 1e-3) if ssm_lr is None else ssm_lr
    if isinstance(ssm_lr, bool) or not isinstance(ssm_lr, numbers.Real) or ssm_lr < 0:
        raise ValueError(f"ssm_lr must be a non-negative number, got {ssm_lr!r}")
    ssm, decay, no_decay = [], [], []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        if getattr(p, "_ssm_param", False):
            ssm.append(p)
        elif p.ndim >= 2:
            decay.append(p)
        else:
            no_decay.append(p)
    groups = [
        {"params": ssm, "lr": ssm_lr, "weight_decay": 0.0},
        {"params": decay, "lr": lr, "weight_decay": weight_decay},
        {"params": no_decay, "lr": lr, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]
