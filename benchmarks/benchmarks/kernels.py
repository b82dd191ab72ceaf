"""Kernel computation: S4 (``kernel_dplr``) against its baselines, asv style.

* ``KernelDPLR``: S4 Algorithm 1 with the fused Cauchy kernel (NumPy, CPU), and the
  same with the generic array-API reduction (``time_generic``).
* ``NaiveS4``: the same algorithm with the reference implementation's CPU Cauchy
  method (materialised broadcast, ``baselines.naive_s4_kernel``).
* ``KernelDense``: the LSSL-style ``O(N^2 L)`` kernel (:func:`statespace.kernel_dense`).
* ``KernelDiag``: the S4D Vandermonde kernel (:func:`statespace.kernel_diag`).

All run ``H`` channels of the LegS system (``H = 256`` unless a class lowers it for
memory), float32, ``dt`` log-uniform in ``[1e-3, 1e-1]``. ``benchmarks.compare``
times the same bodies in one process and reports ratios.
"""

from __future__ import annotations

import numpy as np

import statespace as ss
from statespace.reductions import fast_paths

from .baselines import legs_inputs, naive_s4_kernel

H = 256
GRID_N = [64, 128, 256, 512]
GRID_L = [1024, 4096, 16384, 65536]


class _Base:
    params = (GRID_N, GRID_L, ["float32"])
    param_names = ["N", "L", "dtype"]
    timeout = 600
    channels = H

    def setup(self, N, L, dtype):
        self.d = legs_inputs(self.channels, N, L, np.dtype(dtype).type)
        self.N, self.L = N, L


class KernelDPLR(_Base):
    """``kernel_dplr(..., halved=True, tilde=True)`` on NumPy (fused reduction)."""

    params = (GRID_N, GRID_L, ["float32"], [True, False])
    param_names = ["N", "L", "dtype", "tilde"]

    def setup(self, N, L, dtype, tilde=True):
        super().setup(N, L, dtype)
        self.tilde = tilde

    def run(self):
        d = self.d
        return ss.kernel_dplr(d["Lambda"], d["P"], d["B"], d["Ct"], d["dt"], self.L,
                              halved=True, tilde=self.tilde)

    def run_generic(self):
        with fast_paths("generic"):
            return self.run()

    def time_kernel_dplr(self, *p):
        self.run()

    def time_generic(self, *p):
        self.run_generic()

    def peakmem_kernel_dplr(self, *p):
        self.run()


class NaiveS4(_Base):
    """S4 Algorithm 1 with the naive broadcast Cauchy (the reference's CPU method)."""

    def run(self):
        d = self.d
        return naive_s4_kernel(d["Lambda"], d["P"], d["B"], d["Ct"], d["dt"], self.L)

    def time_naive(self, *p):
        self.run()

    def peakmem_naive(self, *p):
        self.run()


class KernelDense(_Base):
    """LSSL-style dense kernel by Krylov doubling, ``O(N^2 L)``; 8 channels (memory)."""

    channels = 8

    def run(self):
        d = self.d
        return ss.kernel_dense(d["A"], d["Bdense"], d["Cdense"], d["dt"], self.L)

    def time_kernel_dense(self, *p):
        self.run()

    def peakmem_kernel_dense(self, *p):
        self.run()


class KernelDiag(_Base):
    """S4D kernel (Vandermonde, ZOH) with the ``N/2`` LegS eigenvalues."""

    def run(self):
        d = self.d
        return ss.kernel_diag(d["Lambda"], d["B"], d["Ct"], d["dt"], self.L, "zoh",
                              halved=True)

    def time_kernel_diag(self, *p):
        self.run()

    def peakmem_kernel_diag(self, *p):
        self.run()
