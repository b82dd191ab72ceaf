"""The Cauchy and Vandermonde reductions alone, asv style.

Configuration of S4's Woodbury step: ``H = 256`` channels, ``N = 64`` (32 conjugate
pairs), ``L = 4096`` (2049 nodes on the unit circle), 4 numerators sharing one set
of poles (``cauchy_conj``).

Methods: ``fused`` (the compiled kernel of :mod:`statespace._fast_cpu`), ``generic``
(the chunked array-API path: denominators formed once per chunk, contracted by
``matmul``), ``naive`` (``baselines.naive_cauchy``: one materialised
``(H, 2N', L')`` tensor per numerator).
"""

from __future__ import annotations

import numpy as np

import statespace as ss
from statespace import _fast_cpu
from statespace.reductions import fast_paths

from .baselines import naive_cauchy

H, NPAIRS, L, M = 256, 32, 4096, 4


def cauchy_inputs(dtype=np.complex64, seed=0, H=H, NPAIRS=NPAIRS, L=L, M=M):
    """S4-like inputs: poles inside the unit disk, nodes the rfft roots of unity."""
    rng = np.random.default_rng(seed)
    v = (rng.standard_normal((H, M, NPAIRS)) + 1j * rng.standard_normal((H, M, NPAIRS)))
    r = rng.uniform(0.5, 0.999, (H, 1, NPAIRS))
    w = r * np.exp(1j * rng.uniform(0, np.pi, (H, 1, NPAIRS)))
    z = np.exp(2j * np.pi * np.arange(L // 2 + 1) / L)
    return v.astype(dtype), z.astype(dtype), w.astype(dtype)


class Cauchy:
    params = (["fused", "generic", "naive"], ["complex64", "complex128"])
    param_names = ["method", "dtype"]
    timeout = 300

    def setup(self, method, dtype):
        if method == "fused" and not _fast_cpu.available():
            raise NotImplementedError("numba is not installed")
        self.method = method
        self.v, self.z, self.w = cauchy_inputs(np.dtype(dtype).type)
        if method == "naive":  # the reference concatenates the conjugate half
            self.vn = np.concatenate([self.v, self.v.conj()], axis=-1)
            self.wn = np.concatenate([self.w[:, 0], self.w[:, 0].conj()], axis=-1)

    def run(self):
        if self.method == "naive":
            return naive_cauchy(self.vn, self.z, self.wn)
        if self.method == "generic":
            with fast_paths("generic"):
                return ss.cauchy_conj(self.v, self.z, self.w)
        return ss.cauchy_conj(self.v, self.z, self.w)

    def time_cauchy_conj(self, *p):
        self.run()

    def peakmem_cauchy_conj(self, *p):
        self.run()


class Vandermonde:
    params = (["fused", "generic"], ["complex64", "complex128"])
    param_names = ["method", "dtype"]
    timeout = 300

    def setup(self, method, dtype):
        if method == "fused" and not _fast_cpu.available():
            raise NotImplementedError("numba is not installed")
        rng = np.random.default_rng(0)
        self.method = method
        dt = np.dtype(dtype).type
        self.v = (rng.standard_normal((H, 1, NPAIRS)) + 1j * rng.standard_normal((H, 1, NPAIRS)))
        self.v = self.v.astype(dt)
        self.x = (-rng.uniform(0, 0.05, (H, NPAIRS)) + 1j * rng.uniform(-3, 3, (H, NPAIRS)))
        self.x = self.x.astype(dt)

    def run(self):
        if self.method == "generic":
            with fast_paths("generic"):
                return ss.vandermonde(self.v, self.x, L)
        return ss.vandermonde(self.v, self.x, L)

    def time_vandermonde(self, *p):
        self.run()

    def peakmem_vandermonde(self, *p):
        self.run()
