"""Scans over a whole sequence: ``statespace.scan`` routes against the step loop.

``H = 256`` channels, state size ``N = 64`` (32 conjugate-pair modes, halved, as an
S4/S4D layer with ``d_state = 64``), float32, outputs ``2 Re(C x) `` and final state:

* ``diag``: S4D-Lin, zero-order hold (:func:`statespace.discretize.zoh_diag`);
* ``dplr``: LegS, bilinear DPLR (:func:`statespace.discretize.bilinear_dplr`).

``time_scan`` runs one route on the whole sequence; ``sequential`` (the Python loop,
~0.1 ms per step) is timed at ``L = 1024`` only, ``benchmarks.compare`` scales it.
"""

from __future__ import annotations

import numpy as np

import statespace as ss
from statespace import discretize

from .baselines import legs_inputs

H, N = 256, 64


def scan_inputs(kind, L, H=H, N=N, seed=0):
    """``(sys, C, u)`` of one benchmark system, float32."""
    d = legs_inputs(H, N, L, seed=seed)
    if kind == "diag":
        h = ss.dplr("diag-lin", N, dtype=np.float32)
        sys = discretize.zoh_diag(h.Lambda, h.B, d["dt"])
    else:
        sys = discretize.bilinear_dplr(d["Lambda"], d["P"], d["B"], d["dt"], halved=True)
    u = np.random.default_rng(seed + 1).standard_normal((H, L)).astype(np.float32)
    return sys, d["Ct"], u


class Scan:
    params = (["diag", "dplr"], ["auto", "chunked", "associative", "sequential"], [1024, 65536])
    param_names = ["kind", "method", "L"]
    timeout = 600

    def setup(self, kind, method, L):
        if method == "sequential" and L > 1024:
            raise NotImplementedError  # asv skips: ~10 s per call
        self.sys, self.C, self.u = scan_inputs(kind, L)

    def time_scan(self, kind, method, L):
        ss.scan(self.sys, self.u, C=self.C, halved=True, method=method)
