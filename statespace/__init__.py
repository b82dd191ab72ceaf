"""statespace: structured state space models (the S4 family), exact and fast.

HiPPO matrices, normal-plus-low-rank decompositions, S4D initialisations,
discretizations, the S4 Cauchy/Woodbury kernel, the S4D Vandermonde kernel, FFT
convolution and the recurrent view, written once against the Python array API so
the same code runs on NumPy, CuPy, torch and array-api-strict.

The public functions are re-exported here lazily (importing :mod:`statespace` does
not import every submodule)::

    import statespace as ss
    d = ss.nplr("legs", 64)
    K = ss.kernel_dplr(d.Lambda, d.P, d.B, C, 0.01, 1024)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "NPLR": "decomp",
    "DPLR": "decomp",
    "nplr": "decomp",
    "dplr": "decomp",
    "S4D_INITS": "decomp",
    "cauchy": "reductions",
    "cauchy_conj": "reductions",
    "vandermonde": "reductions",
    "kernel_dense": "kernels",
    "kernel_dplr": "kernels",
    "kernel_diag": "kernels",
    "causal_conv": "conv",
    "bidirectional_conv": "conv",
    "step": "recurrence",
    "scan": "recurrence",
    "c_tilde_dplr": "boundary",
    "c_from_tilde_dplr": "boundary",
    "c_tilde_diag": "boundary",
    "c_from_tilde_diag": "boundary",
    "initial_response_dplr": "boundary",
    "initial_response_diag": "boundary",
    "final_state_dplr": "boundary",
    "final_state_diag": "boundary",
}
_SUBMODULES = (
    "hippo",
    "decomp",
    "discretize",
    "reductions",
    "kernels",
    "conv",
    "recurrence",
    "boundary",
)

__all__ = sorted(_EXPORTS) + list(_SUBMODULES)


def __getattr__(name):
    if name in _EXPORTS:
        mod = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        value = getattr(mod, name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        mod = importlib.import_module(f".{name}", __name__)
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'statespace' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
