r"""S4 (DPLR) kernel training speed: forward and forward+backward in one process.

``python -m benchmarks.s4_training [--H 256] [--N 64] [--L 4096] [--repeat 5]``

Rows, timed interleaved (best of ``--repeat``) in one run so that their ratios
share the machine's state:

* ``naive autograd``: the reference implementation's method in plain torch under
  autograd: the Cauchy terms ``v / (z - w)`` materialised by broadcasting for the four
  rank-1 Woodbury numerators against the concatenated conjugate poles, summed, the
  rank-1 Woodbury step and ``irfft`` (float32, the module's parameters);
* ``S4Kernel default``: ``S4Kernel(H, N, l_max=L)`` with its default
  ``kernel_dtype="auto"`` (float32 for float32 parameters; compensated node-pole
  differences, nearest-node sums and the Woodbury step in complex128), its passes on
  the fused kernels;
* ``plain float32``: the same module with the compensation switched off (nodes and
  poles rounded to complex64, no complex128 nearest-node sums): the cost the accurate
  default is compared with;
* ``kernel_dtype=float64``: the previous default.

Forward rows run under ``torch.no_grad()``; forward+backward rows compute the kernel
with the parameters requiring grad and back-propagate a fixed random cotangent.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time

import torch

import statespace.kernels as _kernels
from statespace import _fast_cpu
from statespace.torch import S4Kernel


def naive_kernel(k, L):
    """The reference method under autograd (see the module notes); ``(1, H, L)``."""
    lam, P, B, C, dt = k._system(torch.float32)
    H = lam.shape[0]
    half = dt[:, None] / 2
    s = 1 / (1 - half * lam)
    lam_d = (1 + half * lam) * s
    U = torch.stack([C[0], P[:, 0]], 1)
    W = torch.stack([B, P[:, 0].conj()], 1)
    v = (U[:, :, None, :] * W[:, None, :, :] * s[:, None, None, :]).reshape(H, 4, -1)
    v = torch.cat([v, v.conj()], -1)
    w = torch.cat([lam_d, lam_d.conj()], -1)
    ang = 2 * math.pi * torch.arange(L // 2 + 1, dtype=torch.float64) / L
    z = torch.polar(torch.ones_like(ang), ang).to(torch.complex64)
    kk = (v[..., None] / (z - w[:, None, :, None])).sum(-2)  # (H, 4, L/2 + 1)
    sigma = dt[:, None] / 2 * (1 + z)
    G = kk[:, 0] - sigma * kk[:, 1] * kk[:, 2] / (1 + sigma * kk[:, 3])
    return torch.fft.irfft(dt[:, None] * z * G, n=L)[None]


@contextlib.contextmanager
def plain_float32():
    """kernel_dplr without the compensated differences and the nearest-node sums."""
    comp, near = _kernels.cauchy_compensated, _kernels._near_nodes
    one_pass = _fast_cpu.try_cauchy_woodbury1

    def uncompensated(v, z, w, *, conj=False):
        return comp(v, z.to(v.dtype), w.to(v.dtype), conj=conj)

    def one_pass_rounded(v, z, w, dt, *, conj, z_woodbury=None):  # low parts zero
        return one_pass(v, z.to(v.dtype).to(z.dtype), w.to(v.dtype).to(w.dtype), dt,
                        conj=conj, z_woodbury=z if z_woodbury is None else z_woodbury)

    _kernels.cauchy_compensated = uncompensated
    _kernels._near_nodes = lambda *args: None
    _fast_cpu.try_cauchy_woodbury1 = one_pass_rounded
    try:
        yield
    finally:
        _kernels.cauchy_compensated, _kernels._near_nodes = comp, near
        _fast_cpu.try_cauchy_woodbury1 = one_pass


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--H", type=int, default=256)
    ap.add_argument("--N", type=int, default=64)
    ap.add_argument("--L", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch and numba threads (default: as configured)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: process CPU time (all threads), less sensitive to other "
                         "processes on a shared machine; with --threads 1 it is the work")
    a = ap.parse_args(argv)
    if a.threads is not None:
        torch.set_num_threads(a.threads)
        try:
            import numba

            numba.set_num_threads(a.threads)
        except ImportError:
            pass
    clock = time.perf_counter if a.clock == "wall" else time.process_time
    H, N, L = a.H, a.N, a.L
    torch.manual_seed(0)
    k = S4Kernel(H, N, l_max=L)
    k64 = S4Kernel(H, N, l_max=L, kernel_dtype=torch.float64)
    k64.load_state_dict(k.state_dict())
    g = torch.randn(1, H, L)
    rows = {
        "S4Kernel default": (k, lambda: k(L), contextlib.nullcontext),
        "plain float32": (k, lambda: k(L), plain_float32),
        "kernel_dtype=float64": (k64, lambda: k64(L), contextlib.nullcontext),
    }
    if not a.skip_naive:
        rows["naive autograd"] = (k, lambda: naive_kernel(k, L), contextlib.nullcontext)

    def fwd(fn, ctx):
        with ctx(), torch.no_grad():
            fn()

    def fwd_bwd(mod, fn, ctx):
        for p in mod.parameters():
            p.grad = None
        with ctx():
            (fn() * g).sum().backward()

    best = {(r, w): math.inf for r in rows for w in ("fwd", "fwd+bwd")}
    for mod, fn, ctx in rows.values():  # warm-up (compilation, caches)
        fwd(fn, ctx)
        fwd_bwd(mod, fn, ctx)
    for _ in range(a.repeat):
        for name, (mod, fn, ctx) in rows.items():
            t0 = clock()
            fwd(fn, ctx)
            t1 = clock()
            fwd_bwd(mod, fn, ctx)
            t2 = clock()
            best[name, "fwd"] = min(best[name, "fwd"], t1 - t0)
            best[name, "fwd+bwd"] = min(best[name, "fwd+bwd"], t2 - t1)
    print(f"H={H}, N={N}, L={L}, torch threads {torch.get_num_threads()}, "
          f"best of {a.repeat}, {a.clock} clock")
    print(f"{'row':24s} {'fwd ms':>9s} {'fwd+bwd ms':>11s}")
    for name in rows:
        print(f"{name:24s} {best[name, 'fwd'] * 1e3:9.1f} {best[name, 'fwd+bwd'] * 1e3:11.1f}")
    d = "S4Kernel default"
    for what in ("fwd", "fwd+bwd"):
        if "naive autograd" in rows:
            print(f"{what}: default is {best['naive autograd', what] / best[d, what]:.1f}x "
                  "faster than naive autograd")
        print(f"{what}: default costs {best[d, what] / best['plain float32', what]:.2f}x "
              "plain float32")


if __name__ == "__main__":
    main()
