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

import math
import numbers

from torch import nn

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


def _check_rate_like(value, name, positive=False):
    """A finite real number, ``> 0`` (``positive``) or ``>= 0``; bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return value


def param_groups(model, lr, ssm_lr=None, weight_decay=0.0):
    r"""Optimizer parameter groups with the usual S4 treatment of SSM parameters.

    Parameters
    ----------
    model : torch.nn.Module
        Any module (containing :class:`S4Kernel`\ s or not).
    lr : float
        Learning rate of the ordinary parameters, finite and ``> 0``.
    ssm_lr : float, optional
        Learning rate of the SSM parameters (``log_dt``, ``Lambda``, ``P``, ``B``),
        finite and ``>= 0`` (``0`` freezes them); default ``min(lr, 1e-3)``.
    weight_decay : float, default 0.0
        Weight decay of the ordinary matrices (parameters with ``ndim >= 2``),
        finite and ``>= 0``.

    Returns
    -------
    list of dict
        Non-empty groups among: SSM parameters (``lr=ssm_lr``, ``weight_decay=0``),
        matrices (``lr``, ``weight_decay``), vectors such as biases, norms and ``D``
        (``lr``, ``weight_decay=0``). Ready for ``torch.optim.AdamW(groups)``.

    Raises
    ------
    TypeError
        ``model`` is not a module, or a number is not a real number (bools included).
    ValueError
        A number is NaN, infinite or negative, or ``lr`` is zero.

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
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    lr = _check_rate_like(lr, "lr", positive=True)
    weight_decay = _check_rate_like(weight_decay, "weight_decay")
    ssm_lr = min(lr, 1e-3) if ssm_lr is None else _check_rate_like(ssm_lr, "ssm_lr")
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
