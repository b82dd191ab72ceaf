"""Autoregressive generation: the recurrent DPLR step against convolution recompute.

One token for ``H = 256`` channels of an ``N = 64`` LegS S4 layer (float32):

* ``time_recurrent_step``: :func:`statespace.recurrence.step` on the bilinear DPLR
  discretization (``O(N r)`` per channel) plus the output ``2 Re(C x)``;
* ``time_conv_recompute``: the output of the newest token by re-running the causal
  FFT convolution over the whole prefix (length ``t``), the kernel precomputed once.

``benchmarks.compare`` integrates the per-token costs over a whole sequence.
"""

from __future__ import annotations

import numpy as np

import statespace as ss
from statespace import discretize, recurrence

from .baselines import conv_recompute_step, legs_inputs

H, N = 256, 64


class Generation:
    params = ([1024, 4096],)
    param_names = ["L"]
    timeout = 300

    def setup(self, L):
        d = legs_inputs(H, N, L)
        self.sys = discretize.bilinear_dplr(d["Lambda"], d["P"], d["B"], d["dt"], halved=True)
        self.C = d["Ct"]
        self.K = ss.kernel_dplr(d["Lambda"], d["P"], d["B"], d["Ct"], d["dt"], L, halved=True,
                                tilde=False)
        self.u = np.random.default_rng(1).standard_normal((H, L)).astype(np.float32)
        self.x = np.zeros((H, N // 2), dtype=np.complex64)
        self.L = L

    def step(self, x, u_t):
        x = recurrence.step(self.sys, x, u_t)
        return x, 2 * np.real(np.sum(self.C * x, axis=-1))

    def recompute(self, t):
        return conv_recompute_step(self.u[:, :t], self.K)

    def time_recurrent_step(self, L):
        self.step(self.x, self.u[:, 0])

    def time_conv_recompute(self, L):
        self.recompute(L)  # the last (most expensive) token
