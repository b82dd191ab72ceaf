r"""One-process comparison report: ``python -m benchmarks.compare`` / ``statespace bench``.

Every figure is a ratio against a baseline measured in the same run, on the same
machine, inputs and dtype (float32 unless stated):

1. **Machine roofline**: peak FLOP/s from a large float32 matrix product and memory
   bandwidth from a large copy.
2. **Cauchy reduction** (S4's Woodbury step: ``H = 256``, 32 conjugate pole pairs,
   2049 nodes, 4 numerators): the fused CPU kernel against the generic chunked path
   and the naive broadcast, as GFLOP/s and as a fraction of the roofline.
3. **Kernels** over ``N`` x ``L`` with ``H = 256`` channels: ``kernel_dplr`` against
   ``kernel_dense`` (LSSL, ``O(N^2 L)``), the naive-broadcast S4 kernel (the
   reference implementation's CPU method) and ``kernel_diag`` (S4D); time and peak
   traced memory; fitted exponents of time in ``N`` and ``L``; the paper's Table 2
   next to ours. Baselines whose memory would exceed ``--mem-budget`` run on fewer
   channels and are scaled linearly in ``H`` (each channel is independent work and
   memory); such cells are marked ``*``.
4. **Generation**: the recurrent DPLR step against recomputing the convolution per
   token, integrated over a whole sequence.
5. **Scan** (``H = 256``, ``N = 64`` halved, ``L = 65536``, float32, diagonal and DPLR):
   ``statespace.scan(method="auto")`` and the other routes against the sequential
   step loop, timed on a prefix and scaled linearly to ``L`` (its cost per step does
   not depend on the position), or on the whole sequence with ``--scan-full``; with
   JAX installed, the associative route under ``jax.jit`` against ``jax.lax.scan``.
6. **Backends**: ``kernel_dplr`` and ``kernel_diag`` on NumPy, torch and JAX (eager
   and under ``jax.jit``: compile time of the first call, then run time) in float32 and
   float64, as ratios to NumPy's time, with each result's difference from NumPy's.
7. **Training** (``torch``): the S4 and S4D kernels of :class:`statespace.torch.S4Kernel`
   (default settings, float32 parameters, ``H = 256``, ``N = 64``, ``L`` in {1024,
   4096, 16384}; quick: {1024, 4096}), forward and forward + backward, against the
   naive-autograd baselines (the reference method in plain torch:
   materialised broadcast Cauchy, ``exp`` of the ``(N, L)`` outer product) of the same
   parameters; the bytes autograd saves for the backward pass; and a whole
   ``S4Block`` training step (batch 16, ``L = 4096``) with the kernel's share of it.

Writes ``report.md``, ``report.json`` and PNG plots (matplotlib, Agg) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import tracemalloc

import numpy as np

from statespace.verification.report import relative_error

__all__ = ["main", "build_parser", "PAPER_TABLE2"]

#: S4 paper (Gu, Goel & Re 2022), Table 2: S4 over LSSL at state sizes 128/256/512.
PAPER_TABLE2 = {"N": [128, 256, 512], "speedup": [1.9, 6.7, 29.6],
                "memory": [42.0, 133.0, 392.0]}

#: Report sections, in the order they run.
SECTIONS = ("machine", "cauchy", "kernels", "generation", "scan", "backends", "training")

#: Performance targets (benchmarks, not tests): reported as met / missed.
TARGETS = {
    "naive_over_dplr_N64_L4096": 30.0,
    "dplr_seconds_N64_L4096": 0.05,
    "exponent_N": 1.1,
    "exponent_L": 1.15,
    "cauchy_roofline_fraction": 0.25,
    "generation_speedup_L4096": 50.0,
    "scan_auto_speedup_L65536": 50.0,
    "train_s4_fwd_bwd_vs_naive_L4096": 20.0,
    "train_s4d_fwd_bwd_vs_naive_L4096": 10.0,
    "train_s4_fwd_vs_naive_L4096": 25.0,
    "train_s4d_fwd_vs_naive_L4096": 25.0,
    "train_block_kernel_share": 0.25,
}


# --------------------------------------------------------------------------------------
# measurement helpers
# --------------------------------------------------------------------------------------
def _log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Timing(tuple):
    """``(best wall, median wall)`` seconds, with ``.cpu``: best process CPU seconds.

    CPU time (all threads of this process) is reported next to wall time because the
    machine may be shared: a single-threaded baseline's CPU time hardly depends on the
    load, and for the multi-threaded kernels it measures the work done (spinning
    threads included, so it is conservative for them).
    """

    cpu: float


def _time(fn, repeat, warmup=True, min_time=0.5, max_repeat=30):
    """Best and median wall time of ``fn()`` (after one warm-up), plus best CPU time.

    At least ``repeat`` runs; cheap calls are repeated until ``min_time`` seconds have
    been spent (at most ``max_repeat`` runs), so the best-of is taken over enough
    samples to step around load spikes.
    """
    if warmup:
        fn()
    ts, cs = [], []
    n = max(1, repeat)
    i = 0
    while i < n:
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
        if i == 0 and ts[0] > 0:
            n = max(n, min(max_repeat, math.ceil(min_time / ts[0])))
        i += 1
    out = Timing((min(ts), float(np.median(ts))))
    out.cpu = min(cs)
    return out


def _peak_traced(fn):
    """Peak traced (tracemalloc) memory of ``fn()`` in bytes: NumPy allocations."""
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def _environment():
    """statespace's environment record, plus whether the fused CPU path is on."""
    from statespace import _env, _fast_cpu

    env = _env.environment()
    env["fast_cpu"] = _fast_cpu.available()
    # the OpenMP wait policy decides how two thread pools (torch's, numba's) share
    # the cores (docs/benchmarks.md, training)
    env["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
    return env


# --------------------------------------------------------------------------------------
# 1. machine roofline
# --------------------------------------------------------------------------------------
def bench_machine(quick, repeat):
    """Peak float32 FLOP/s (matrix product) and copy bandwidth (bytes read + written)."""
    n = 2048 if quick else 4096
    ncpu = os.cpu_count() or 1
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.copy()
    out = {"matmul_n": n, "threads": ncpu}
    try:  # every core, as the fused kernels use (OPENBLAS_NUM_THREADS may say 1)
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(ncpu, user_api="blas")
    except ImportError:  # pragma: no cover
        limit = None
    try:
        tm = _time(lambda: a @ b, repeat)
    finally:
        if limit is not None:
            limit.restore_original_limits()
    t = tm[0]
    best, source = 2 * n**3 / t, "numpy"
    out["peak_flops_per_cpu_second"] = 2 * n**3 / tm.cpu
    try:  # torch's BLAS with an explicit thread count, for comparison
        import torch

        old = torch.get_num_threads()
        torch.set_num_threads(ncpu)
        try:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            tm2 = _time(lambda: ta @ tb, repeat)
        finally:
            torch.set_num_threads(old)
        if 2 * n**3 / tm2[0] > best:
            best, source = 2 * n**3 / tm2[0], "torch"
            out["peak_flops_per_cpu_second"] = 2 * n**3 / tm2.cpu
    except ImportError:  # pragma: no cover
        pass
    out["peak_flops"] = best
    out["peak_source"] = source
    m = (64 if quick else 256) * 2**20 // 8
    src = np.ones(m)
    dst = np.empty_like(src)
    t = _time(lambda: np.copyto(dst, src), repeat)[0]
    out["bandwidth"] = 2 * src.nbytes / t
    out["copy_bytes"] = src.nbytes
    return out


# --------------------------------------------------------------------------------------
# 2. the Cauchy reduction against the roofline
# --------------------------------------------------------------------------------------
def bench_cauchy(machine, quick, repeat):
    from benchmarks.benchmarks.reductions import NPAIRS, Cauchy, H, L, M
    from statespace import _fast_cpu

    base, per = _fast_cpu.FLOPS["cauchy_conj"]
    flops_per_pair = base + per * M  # executed by the fused kernel, per (node, pole pair)
    pairs = H * NPAIRS * (L // 2 + 1)
    flops = pairs * flops_per_pair
    rows = []
    for dtype in ["complex64"] if quick else ["complex64", "complex128"]:
        item = np.dtype(dtype).itemsize
        # compulsory traffic: numerators, poles, nodes in; the (H, M, L') result out
        bytes_total = item * (H * M * NPAIRS + H * NPAIRS + (L // 2 + 1) + H * M * (L // 2 + 1))
        for method in ("fused", "generic", "naive"):
            b = Cauchy()
            try:
                b.setup(method, dtype)
            except NotImplementedError as exc:
                rows.append({"method": method, "dtype": dtype, "skipped": str(exc)})
                continue
            if method == "fused":
                y_ref = b.run()
            tm = _time(b.run, repeat if method != "naive" else max(1, repeat // 2))
            t, tmed = tm
            y = b.run()
            half = 1 if dtype == "complex64" else 0.5
            peak = machine["peak_flops"] * half
            t_roof = max(flops / peak, bytes_total / machine["bandwidth"])
            rows.append({
                "method": method, "dtype": dtype, "seconds": t, "median": tmed,
                "cpu_seconds": tm.cpu,
                "gflops": flops / t / 1e9, "roofline_seconds": t_roof,
                "roofline_fraction": t_roof / t,
                # load-independent variant: flops per CPU-second against the matmul's
                "roofline_fraction_cpu": (flops / tm.cpu)
                / (machine["peak_flops_per_cpu_second"] * half),
                "agrees_with_fused": relative_error(y, y_ref),
                "peak_mem": _peak_traced(b.run) if method != "naive" or not quick else None,
            })
            _log(f"cauchy {dtype} {method}: {t * 1e3:.1f} ms")
    fused = {r["dtype"]: r for r in rows if r["method"] == "fused" and "seconds" in r}
    for r in rows:
        if "seconds" in r and r["dtype"] in fused:
            r["slowdown_vs_fused"] = r["seconds"] / fused[r["dtype"]]["seconds"]
    return {
        "config": {"H": H, "pole_pairs": NPAIRS, "nodes": L // 2 + 1, "numerators": M,
                   "L": L},
        "flops_per_pair": flops_per_pair,
        "flops_per_pair_formula": f"{base} + {per} * M (M = {M} numerators)",
        "bytes_per_pair_complex64": 8 * (H * M * NPAIRS + H * NPAIRS + (L // 2 + 1)
                                         + H * M * (L // 2 + 1)) / pairs,
        "flops": flops,
        "rows": rows,
    }


# --------------------------------------------------------------------------------------
# 3. kernels over the N x L grid
# --------------------------------------------------------------------------------------
def _bytes_per_channel(method, N, L):
    """Rough peak workspace per channel (complex64/float32), to size channel subsets."""
    if method == "naive":  # (2N', L') differences and quotients, N' = N/2 modes
        return 2 * N * (L // 2 + 1) * 8
    if method == "dense":  # Krylov block (N, L) float32, its concatenation copies
        return 3 * N * L * 4
    return 0


def _measure_kernel(cls, N, L, H_full, budget, repeat, mem, channels=None):
    """Time (and traced memory) of one kernel benchmark class at (N, L)."""
    method = {"NaiveS4": "naive", "KernelDense": "dense"}.get(cls.__name__)
    per = _bytes_per_channel(method, N, L)
    h = H_full if channels is None else channels
    if per:
        h = max(1, min(h, int(budget // per)))
    b = cls()
    b.channels = h
    b.setup(N, L, "float32")
    tm = _time(b.run, repeat if h == H_full or repeat < 2 else max(1, repeat - 1))
    scale = H_full / h
    row = {"seconds": tm[0] * scale, "median": tm[1] * scale, "cpu_seconds": tm.cpu * scale,
           "channels_measured": h, "extrapolated": h != H_full}
    if mem:
        row["peak_mem"] = _peak_traced(b.run) * scale
    return row, b


def _fit_exponents(points):
    """Least squares ``log t = a log N + b log L + c`` over ``[(N, L, t)]``."""
    if len(points) < 3:
        return None
    X = np.array([[math.log(n), math.log(ell), 1.0] for n, ell, _ in points])
    y = np.array([math.log(t) for _, _, t in points])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return {"N": float(coef[0]), "L": float(coef[1])}


def bench_kernels(grid_N, grid_L, H, quick, repeat, budget, with_generic):
    from benchmarks.benchmarks.kernels import KernelDense, KernelDiag, KernelDPLR, NaiveS4

    rows = []
    for N in grid_N:
        for L in grid_L:
            row = {"N": N, "L": L, "H": H}
            r, b = _measure_kernel(KernelDPLR, N, L, H, budget, repeat, mem=True)
            row["dplr"] = r
            K = b.run()
            if with_generic and N * L <= 64 * 4096:
                b2 = KernelDPLR()
                b2.setup(N, L, "float32")
                tm = _time(b2.run_generic, max(1, repeat - 1))
                row["dplr_generic"] = {"seconds": tm[0], "cpu_seconds": tm.cpu,
                                       "extrapolated": False, "channels_measured": H}
            r, bn = _measure_kernel(NaiveS4, N, L, H, budget, max(1, repeat - 1), mem=True)
            # the baseline computes the same kernel (sanity check on its channels)
            Kn = bn.run()
            r["max_rel_diff"] = relative_error(Kn, K[: Kn.shape[0]])
            row["naive"] = r
            row["dense"], _ = _measure_kernel(KernelDense, N, L, H, budget,
                                              max(1, repeat - 1), mem=True)
            row["diag"], _ = _measure_kernel(KernelDiag, N, L, H, budget, repeat, mem=True)
            d = row["dplr"]["seconds"]
            for k in ("naive", "dense", "diag", "dplr_generic"):
                if k in row:
                    row[k]["time_ratio_vs_dplr"] = row[k]["seconds"] / d
                    row[k]["cpu_ratio_vs_dplr"] = (row[k]["cpu_seconds"]
                                                   / row["dplr"]["cpu_seconds"])
                    if "peak_mem" in row[k] and row["dplr"].get("peak_mem"):
                        row[k]["mem_ratio_vs_dplr"] = row[k]["peak_mem"] / row["dplr"]["peak_mem"]
            rows.append(row)
            _log(f"kernels N={N} L={L}: dplr {d * 1e3:.1f} ms, naive x"
                 f"{row['naive']['time_ratio_vs_dplr']:.1f}, dense x"
                 f"{row['dense']['time_ratio_vs_dplr']:.1f}, diag x"
                 f"{row['diag']['time_ratio_vs_dplr']:.2f}")
    fits = {}
    for k in ("dplr", "naive", "dense", "diag"):
        fits[k] = _fit_exponents([(r["N"], r["L"], r[k]["seconds"]) for r in rows])
    fits["dplr_cpu"] = _fit_exponents([(r["N"], r["L"], r["dplr"]["cpu_seconds"])
                                       for r in rows])
    # local exponents of kernel_dplr along each axis (largest step)
    local = {"L": [], "N": []}
    for N in grid_N:
        pts = sorted((r["L"], r["dplr"]["seconds"]) for r in rows if r["N"] == N)
        for (l1, t1), (l2, t2) in zip(pts, pts[1:], strict=False):
            local["L"].append({"N": N, "L": [l1, l2], "exponent": math.log(t2 / t1)
                               / math.log(l2 / l1)})
    for L in grid_L:
        pts = sorted((r["N"], r["dplr"]["seconds"]) for r in rows if r["L"] == L)
        for (n1, t1), (n2, t2) in zip(pts, pts[1:], strict=False):
            local["N"].append({"L": L, "N": [n1, n2], "exponent": math.log(t2 / t1)
                               / math.log(n2 / n1)})
    return {"rows": rows, "fits": fits, "local_exponents": local}


# --------------------------------------------------------------------------------------
# 4. generation
# --------------------------------------------------------------------------------------
def bench_generation(L, quick, repeat):
    from benchmarks.benchmarks.generation import Generation

    g = Generation()
    g.setup(L)
    # recurrent: run the tokens (all of them, or a prefix in quick mode, scaled)
    steps = min(L, 512 if quick else L)

    def run_steps():
        x = g.x
        ys = []
        for t in range(steps):
            x, y = g.step(x, g.u[:, t])
            ys.append(y)
        return np.stack(ys, axis=-1)

    tr = _time(run_steps, 1 if steps == L else repeat, min_time=0)
    y_rec = run_steps()
    t_rec_total = tr[0] * L / steps
    cpu_rec_total = tr.cpu * L / steps
    # recompute: cost per token at sampled prefix lengths, integrated over t = 1..L
    ts = sorted({1, *np.unique(np.geomspace(2, L, 6 if quick else 12).astype(int))})
    costs, costs_cpu = [], []
    for t in ts:
        c = _time(lambda t=t: g.recompute(t), repeat, min_time=0.2)
        costs.append(c[0])
        costs_cpu.append(c.cpu)
    grid = np.arange(1, L + 1)
    t_conv_total = float(np.sum(np.interp(grid, ts, costs)))
    cpu_conv_total = float(np.sum(np.interp(grid, ts, costs_cpu)))
    # both produce the same outputs (first tokens)
    y_conv = np.stack([g.recompute(t) for t in range(1, min(steps, 64) + 1)], axis=-1)
    diff = relative_error(y_rec[:, : y_conv.shape[-1]], y_conv)
    _log(f"generation L={L}: recurrent {t_rec_total:.2f} s, recompute {t_conv_total:.1f} s")
    return {
        "L": L, "H": 256, "N": 64,
        "recurrent_seconds": t_rec_total, "recurrent_steps_measured": steps,
        "recurrent_per_token": t_rec_total / L,
        "recompute_seconds": t_conv_total, "recompute_samples": {"t": [int(t) for t in ts],
                                                                 "seconds": costs},
        "recompute_last_token": costs[-1],
        "speedup": t_conv_total / t_rec_total,
        "speedup_cpu": cpu_conv_total / cpu_rec_total,
        "max_rel_diff_outputs": diff,
    }


# --------------------------------------------------------------------------------------
# 5. scan
# --------------------------------------------------------------------------------------
def _jax_scan(kind, L, repeat):
    """The associative route under ``jax.jit`` against ``jax.lax.scan`` (or ``None``)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    from benchmarks.benchmarks.scan import scan_inputs
    from statespace import _scan, recurrence
    from statespace import discretize as sd

    sys_, C, u = scan_inputs(kind, L)
    sys_ = sys_ if kind == "diag" else None
    if sys_ is None:
        return None  # the DPLR expansion runs on the host; diagonal systems only
    lam, b, c, uu = (jnp.asarray(a) for a in (sys_.Lambda_d, sys_.Bd, C, u))
    T = 1024

    @jax.jit
    def assoc(lam, b, c, uu):
        x = jnp.zeros(b.shape, dtype=b.dtype)
        return _scan.associative(jnp, lam, True, b, c, x, uu, T, True, None)

    @jax.jit
    def lax_scan(lam, b, c, uu):
        def f(x, ut):
            x = lam * x + b * ut[:, None]
            return x, 2 * jnp.real(jnp.sum(c * x, axis=-1))

        x, ys = jax.lax.scan(f, jnp.zeros(b.shape, dtype=b.dtype), uu.T)
        return ys.T, x

    out = {}
    for name, fn in (("associative_jit", assoc), ("lax_scan_jit", lax_scan)):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(lam, b, c, uu))
        compile_s = time.perf_counter() - t0
        tm = _time(lambda fn=fn: jax.block_until_ready(fn(lam, b, c, uu)), repeat, min_time=0)
        out[name] = {"seconds": tm[0], "first_call_seconds": compile_s}
    ya, _ = assoc(lam, b, c, uu)
    yl, _ = lax_scan(lam, b, c, uu)
    y_np, _ = recurrence.scan(sd.DiagDiscrete(sys_.Lambda_d, sys_.Bd), u, C=C, halved=True)
    out["rel_diff_assoc_vs_lax"] = relative_error(np.asarray(ya), np.asarray(yl))
    out["rel_diff_assoc_vs_numpy"] = relative_error(np.asarray(ya), y_np)
    out["speedup"] = out["lax_scan_jit"]["seconds"] / out["associative_jit"]["seconds"]
    out["L"], out["kind"], out["chunk"] = L, kind, T
    out["jax"] = jax.__version__
    return out


def bench_scan(L, quick, repeat, full):
    import statespace as ss
    from benchmarks.benchmarks.scan import H, N, scan_inputs

    rows = []
    for kind in ("diag", "dplr"):
        sys_, C, u = scan_inputs(kind, L)
        steps = L if full else min(L, 512 if quick else 2048)

        def seq(sys_=sys_, C=C, u=u, steps=steps):
            return ss.scan(sys_, u[:, :steps], C=C, halved=True, method="sequential")

        ts = _time(seq, 1, min_time=0)
        y_seq, _ = seq()
        row = {"kind": kind, "L": L, "H": H, "N": N, "sequential_steps_timed": steps,
               "sequential_seconds": ts[0] * L / steps,
               "sequential_cpu_seconds": ts.cpu * L / steps,
               "sequential_per_step": ts[0] / steps, "routes": {}}
        for method in ("auto", "chunked", "associative") + (("convolution",)
                                                            if kind == "diag" else ()):
            # the associative route (log-depth, for JAX and GPUs) does O(log T) times the
            # work on a CPU: timed on a prefix of 4096 steps, scaled linearly in L
            Lr = min(L, 4096) if method == "associative" else L

            def run(method=method, sys_=sys_, C=C, u=u, Lr=Lr):
                return ss.scan(sys_, u[:, :Lr], C=C, halved=True, method=method)

            tm = _time(run, 1 if Lr < L else repeat, min_time=0)
            y, _ = run()
            k = min(steps, Lr)
            row["routes"][method] = {
                "seconds": tm[0] * L / Lr, "cpu_seconds": tm.cpu * L / Lr,
                "steps_timed": Lr,
                "speedup": row["sequential_seconds"] / (tm[0] * L / Lr),
                "speedup_cpu": row["sequential_cpu_seconds"] / (tm.cpu * L / Lr),
                "rel_diff_vs_sequential_prefix": relative_error(y[:, :k], y_seq[:, :k]),
            }
            _log(f"scan {kind} L={L} {method}: {tm[0]:.3f} s, "
                 f"{row['routes'][method]['speedup']:.0f}x")
        rows.append(row)
    res = {"rows": rows, "jax": None}
    try:
        res["jax"] = _jax_scan("diag", min(L, 16384), repeat)
    except Exception as exc:  # noqa: BLE001 - an optional extra; keep the figures
        res["jax"] = {"error": f"{type(exc).__name__}: {exc}"}
    return res


# --------------------------------------------------------------------------------------
# 6. the kernels on every installed backend, JAX under jit included
# --------------------------------------------------------------------------------------
def _jax_x64(enabled):
    """``jax_enable_x64`` for a block (thread-local), on old and new JAX alike."""
    import jax

    ctx = getattr(jax, "enable_x64", None)
    if callable(ctx):
        return ctx(enabled)
    from jax import experimental  # pragma: no cover - older JAX

    return experimental.enable_x64() if enabled else experimental.disable_x64()


def bench_backends(quick, repeat, H=None, N=64, L=None):
    """``kernel_dplr`` / ``kernel_diag`` per backend: time, ratio to NumPy, difference.

    JAX runs eagerly and under ``jax.jit``; the jit row's ``compile_seconds`` is the
    first call (trace, compile and run), its ``seconds`` the best later call. float64
    runs JAX with ``jax_enable_x64`` (scoped to the measurement).
    """
    import functools

    import statespace as ss

    H = H or (64 if quick else 256)
    L = L or (1024 if quick else 4096)
    d = ss.dplr("legs", N)  # N // 2 conjugate pairs
    rng = np.random.default_rng(0)
    C = rng.standard_normal((H, N // 2)) + 1j * rng.standard_normal((H, N // 2))
    dt = np.geomspace(1e-3, 1e-1, H)
    rows = []
    for dtype in ("float32", "float64"):
        cdt = np.complex64 if dtype == "float32" else np.complex128
        base = {"kernel_dplr": [a.astype(cdt) for a in (d.Lambda, d.P, d.B, C)],
                "kernel_diag": [a.astype(cdt) for a in (d.Lambda, d.B, C)]}
        for kernel, arrs in base.items():
            arrs = [*arrs, dt.astype(dtype)]
            fn = functools.partial(getattr(ss, kernel), L=L, halved=True)
            tm = _time(lambda fn=fn, arrs=arrs: fn(*arrs), repeat)
            ref = fn(*arrs)
            t_np = tm[0]
            rows.append({"backend": "numpy", "kernel": kernel, "dtype": dtype,
                         "seconds": t_np, "ratio_vs_numpy": 1.0, "max_rel_diff": 0.0})
            try:
                import torch

                targs = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrs]
                tm = _time(lambda targs=targs, fn=fn: fn(*targs), repeat)
                rows.append({"backend": "torch", "kernel": kernel, "dtype": dtype,
                             "seconds": tm[0], "ratio_vs_numpy": tm[0] / t_np,
                             "max_rel_diff": relative_error(fn(*targs).numpy(), ref)})
            except ImportError:  # pragma: no cover
                pass
            try:
                import jax
                import jax.numpy as jnp
            except ImportError:  # pragma: no cover
                rows.append({"backend": "jax", "kernel": kernel, "dtype": dtype,
                             "skipped": "jax is not installed"})
                continue
            with _jax_x64(dtype == "float64"):
                jargs = [jnp.asarray(a) for a in arrs]

                def eager(fn=fn, jargs=jargs):
                    return fn(*jargs).block_until_ready()

                tm = _time(eager, max(1, repeat - 1), min_time=0)
                rows.append({"backend": "jax (eager)", "kernel": kernel, "dtype": dtype,
                             "seconds": tm[0], "ratio_vs_numpy": tm[0] / t_np,
                             "max_rel_diff": relative_error(np.asarray(eager()), ref)})
                jitted = jax.jit(fn)
                t0 = time.perf_counter()
                K = jitted(*jargs).block_until_ready()
                compile_s = time.perf_counter() - t0
                tm = _time(lambda jitted=jitted, jargs=jargs:
                           jitted(*jargs).block_until_ready(), repeat)
                rows.append({"backend": "jax (jit)", "kernel": kernel, "dtype": dtype,
                             "seconds": tm[0], "compile_seconds": compile_s,
                             "ratio_vs_numpy": tm[0] / t_np,
                             "max_rel_diff": relative_error(np.asarray(K), ref)})
            _log(f"backends {kernel} {dtype}: numpy {t_np * 1e3:.1f} ms, jax jit "
                 f"{rows[-1]['seconds'] * 1e3:.1f} ms (compile {compile_s:.1f} s)")
    return {"config": {"H": H, "N": N, "L": L, "system": "LegS (N // 2 conjugate pairs)"},
            "rows": rows}


# --------------------------------------------------------------------------------------
# 7. training (torch)
# --------------------------------------------------------------------------------------
def _naive_bytes_per_channel(mode, N, L):
    """Rough autograd footprint of a naive baseline per channel: the materialised
    complex64 term tensor, the quotient, and their gradients (4 copies)."""
    terms = 4 * N * (L // 2 + 1) if mode == "s4" else (N // 2) * L
    return 4 * 8 * terms


def bench_training(grid_L, quick, repeat, budget):
    import torch

    from benchmarks.benchmarks import training as tr

    H, N = tr.H, tr.N
    rows = []
    for mode in tr.MODES:
        for L in grid_L:
            b = tr.KernelTraining()
            b.setup(mode, L)
            # the baseline on fewer channels when it would exceed the memory budget
            # (channels are independent: time and memory scale linearly in H)
            sub = max(1, min(H, int(budget // _naive_bytes_per_channel(mode, N, L))))
            b.naive = tr.naive_module(b.k, sub)
            scale = H / sub
            with torch.no_grad():
                K = b.k(L)[0, :sub]
                diff = relative_error(b.naive(L).numpy(), K.numpy())
            r = {"mode": mode, "H": H, "N": N, "L": L, "naive_channels": sub,
                 "extrapolated": sub < H, "max_rel_diff_naive": diff}
            for key, fn, sc in (("fwd", b.forward, 1), ("fwd_bwd", b.forward_backward, 1),
                                ("naive_fwd", b.naive_forward, scale),
                                ("naive_fwd_bwd", b.naive_forward_backward, scale)):
                t = _time(fn, 1 if key.startswith("naive") and L > 4096 else repeat,
                          min_time=0.3 if key.startswith("naive") else 0.5)
                r[key] = {"seconds": t[0] * sc, "cpu_seconds": t.cpu * sc}
            for key in ("fwd", "fwd_bwd"):
                r[key]["speedup"] = r["naive_" + key]["seconds"] / r[key]["seconds"]
                r[key]["speedup_cpu"] = (r["naive_" + key]["cpu_seconds"]
                                         / r[key]["cpu_seconds"])
            _, saved = tr.saved_bytes(lambda b=b, L=L: b.k(L))
            _, saved_naive = tr.saved_bytes(lambda b=b, L=L: b.naive(L))
            r["saved_bytes"] = saved
            r["saved_bytes_naive"] = saved_naive * scale
            r["saved_per_H_N_plus_L"] = saved / (H * (N + L))
            rows.append(r)
            _log(f"training {mode} L={L}: fwd {_fmt_t(r['fwd']['seconds'])} "
                 f"({r['fwd']['speedup']:.1f}x), fwd+bwd {_fmt_t(r['fwd_bwd']['seconds'])} "
                 f"({r['fwd_bwd']['speedup']:.1f}x), saved {_fmt_b(saved)}")
            del b
    blocks = []
    for mode in tr.MODES:
        s = tr.BlockStep()
        s.setup(mode)
        t = _time(s.step, 1 if quick else repeat, min_time=0)
        # the block's own kernel module, forward + backward alone, same L
        kern = s.block.layer.kernel
        G = torch.randn(kern.channels, H, s.L, generator=torch.Generator().manual_seed(2))

        def kstep(kern=kern, G=G, L=s.L):
            (kern(L) * G).sum().backward()

        tk = _time(kstep, repeat, min_time=0.5)
        blocks.append({"mode": mode, "batch": s.batch, "L": s.L, "H": H, "N": N,
                       "step_seconds": t[0], "step_cpu_seconds": t.cpu,
                       "kernel_seconds": tk[0], "kernel_cpu_seconds": tk.cpu,
                       "kernel_share": tk[0] / t[0], "kernel_share_cpu": tk.cpu / t.cpu})
        _log(f"training block {mode}: step {_fmt_t(t[0])}, kernel {_fmt_t(tk[0])} "
             f"({100 * tk[0] / t[0]:.0f} %)")
        del s
    return {"rows": rows, "block": blocks,
            "threads": torch.get_num_threads()}


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
def _fmt_t(s):
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def _fmt_b(b):
    return "-" if b is None else (f"{b / 2**20:.0f} MiB" if b >= 2**20 else f"{b / 2**10:.0f} KiB")


def _star(cell):
    return "*" if cell.get("extrapolated") else ""


def _targets(res):
    out = []
    kern = {(r["N"], r["L"]): r for r in res.get("kernels", {}).get("rows", [])}
    r = kern.get((64, 4096))
    if r:
        out.append(("kernel_dplr vs naive broadcast, N=64 L=4096 (x)",
                    r["naive"]["time_ratio_vs_dplr"], ">=", TARGETS["naive_over_dplr_N64_L4096"],
                    r["naive"]["cpu_ratio_vs_dplr"]))
        out.append(("kernel_dplr time, N=64 L=4096 (s)", r["dplr"]["seconds"], "<=",
                    TARGETS["dplr_seconds_N64_L4096"], r["dplr"]["cpu_seconds"]))
    fit = res.get("kernels", {}).get("fits", {}).get("dplr")
    if fit:
        fc = res["kernels"]["fits"].get("dplr_cpu") or {}
        out.append(("fitted exponent of time in N", fit["N"], "<=", TARGETS["exponent_N"],
                    fc.get("N")))
        out.append(("fitted exponent of time in L", fit["L"], "<=", TARGETS["exponent_L"],
                    fc.get("L")))
    c = res.get("cauchy")
    if c:
        f = [x for x in c["rows"] if x["method"] == "fused" and x["dtype"] == "complex64"
             and "seconds" in x]
        if f:
            out.append(("fused Cauchy fraction of roofline", f[0]["roofline_fraction"], ">=",
                        TARGETS["cauchy_roofline_fraction"], f[0]["roofline_fraction_cpu"]))
    g = res.get("generation")
    if g and g["L"] == 4096:
        out.append(("generation: recurrence vs recompute, L=4096 (x)", g["speedup"], ">=",
                    TARGETS["generation_speedup_L4096"], g["speedup_cpu"]))
    for r in res.get("scan", {}).get("rows", []):
        if r["L"] == 65536 and "auto" in r["routes"]:
            a = r["routes"]["auto"]
            out.append((f"scan auto vs sequential loop, {r['kind']}, L=65536 (x)", a["speedup"],
                        ">=", TARGETS["scan_auto_speedup_L65536"], a["speedup_cpu"]))
    tr_ = res.get("training")
    if tr_:
        for r in tr_["rows"]:
            if r["L"] != 4096:
                continue
            m = r["mode"]
            out.append((f"{m.upper()} kernel fwd+bwd vs naive autograd, L=4096 (x)",
                        r["fwd_bwd"]["speedup"], ">=",
                        TARGETS[f"train_{m}_fwd_bwd_vs_naive_L4096"],
                        r["fwd_bwd"]["speedup_cpu"]))
            out.append((f"{m.upper()} kernel fwd vs naive, L=4096 (x)", r["fwd"]["speedup"],
                        ">=", TARGETS[f"train_{m}_fwd_vs_naive_L4096"],
                        r["fwd"]["speedup_cpu"]))
        for b in tr_["block"]:
            out.append((f"{b['mode'].upper()} block step: kernel share", b["kernel_share"],
                        "<=", TARGETS["train_block_kernel_share"], b["kernel_share_cpu"]))
    rows = []
    for name, val, op, tgt, cpu in out:
        ok = val >= tgt if op == ">=" else val <= tgt
        rows.append({"target": name, "measured": val, "op": op, "goal": tgt, "met": bool(ok),
                     "cpu_time_based": cpu})
    return rows


def _markdown(res):
    L = []
    env = res["environment"]
    mach, vers, thr = env["machine"], env["versions"], env["threads"]
    blas = ("unknown" if thr.get("blas") is None
            else ", ".join(f"{api} {n}" for api, n in thr["blas"]) or "none loaded")
    L.append("# statespace benchmark report\n")
    L.append(f"Run {res['started']} ({'quick' if res['quick'] else 'full'}), "
             f"{res['elapsed_seconds']:.0f} s. Every ratio is against a baseline measured "
             "in this run. Load average at start / end: "
             f"{res['load_start']} / {res['load_end']} on {mach['cpu_count']} CPUs "
             "(timings on a shared machine are noisy).\n")
    L.append(f"Machine: {mach.get('cpu_model') or 'unknown CPU'}, {mach['cpu_count']} CPUs, "
             f"{mach['platform']}, Python {mach['python']}.\n")
    L.append(f"numpy {vers.get('numpy')}, numba {vers.get('numba')} "
             f"(threads {thr.get('numba')}), fused CPU path: {env['fast_cpu']}, "
             f"BLAS threads: {blas}, OMP_WAIT_POLICY: "
             f"{env.get('omp_wait_policy') or 'unset'}.\n")
    if res.get("targets"):
        L.append("## Targets\n")
        L.append("Measured on wall time, as the targets are stated; the last column is the "
                 "same figure from process CPU time (all threads), which a shared machine's "
                 "load hardly changes for the single-threaded baselines.\n")
        L.append("| target | measured (wall) | goal | met | from CPU time |")
        L.append("|---|---|---|---|---|")
        for t in res["targets"]:
            c = t["cpu_time_based"]
            L.append(f"| {t['target']} | {t['measured']:.3g} | {t['op']} {t['goal']:g} | "
                     f"{'yes' if t['met'] else 'NO'} | {'-' if c is None else f'{c:.3g}'} |")
        L.append("")
    m = res.get("machine")
    c = res.get("cauchy")
    if m and c:
        L.append("## Cauchy reduction against the roofline\n")
        cfg = c["config"]
        L.append(f"H = {cfg['H']}, {cfg['pole_pairs']} conjugate pole pairs, "
                 f"{cfg['nodes']} nodes, {cfg['numerators']} numerators (`cauchy_conj`). "
                 f"Flops per (node, pole pair) as executed by the fused kernel: "
                 f"{c['flops_per_pair']} = {c['flops_per_pair_formula']}; compulsory "
                 f"bytes per pair (complex64 inputs and output): "
                 f"{c['bytes_per_pair_complex64']:.2f}. Machine: peak "
                 f"{m['peak_flops'] / 1e9:.0f} GFLOP/s float32 ({m['matmul_n']}^2 matmul, "
                 f"{m['peak_source']}, {m['threads']} threads; float64 taken as half), "
                 "copy bandwidth "
                 f"{m['bandwidth'] / 1e9:.1f} GB/s: the reduction is compute bound, roofline "
                 "time = flops / peak.\n")
        L.append("| method | dtype | time | CPU time | GFLOP/s | % of roofline | "
                 "% of roofline (CPU time) | x slower than fused | peak traced mem |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for r in c["rows"]:
            if "seconds" not in r:
                L.append(f"| {r['method']} | {r['dtype']} | skipped: {r['skipped']} "
                         "|||||||")
                continue
            L.append(f"| {r['method']} | {r['dtype']} | {_fmt_t(r['seconds'])} | "
                     f"{_fmt_t(r['cpu_seconds'])} | "
                     f"{r['gflops']:.1f} | {100 * r['roofline_fraction']:.1f} % | "
                     f"{100 * r['roofline_fraction_cpu']:.1f} % | "
                     f"{r.get('slowdown_vs_fused', float('nan')):.1f} | "
                     f"{_fmt_b(r.get('peak_mem'))} |")
        L.append("")
    k = res.get("kernels")
    if k:
        L.append("## Kernel computation\n")
        L.append(f"H = {k['rows'][0]['H']} channels, LegS, float32, dt log-uniform in "
                 "[1e-3, 1e-1], `kernel_dplr(..., halved=True, tilde=True)`. Columns: "
                 "time of `kernel_dplr`, then each baseline as a multiple of it (wall time, "
                 "CPU time in parentheses, peak traced memory). `*`: measured on fewer "
                 "channels (memory budget) and "
                 "scaled linearly in H. naive = same algorithm with the reference "
                 "implementation's materialised broadcast Cauchy; dense = LSSL-style "
                 "`kernel_dense` (O(N^2 L)); diag = S4D `kernel_diag` (Vandermonde).\n")
        L.append("| N | L | kernel_dplr | peak mem | naive (time, mem) | dense (time, mem) "
                 "| diag (time, mem) | generic path |")
        L.append("|---|---|---|---|---|---|---|---|")
        for r in k["rows"]:
            def cell(key, r=r):
                x = r.get(key)
                if not x:
                    return "-"
                mem = x.get("mem_ratio_vs_dplr")
                ms = f", mem {mem:.1f}x" if mem is not None else ""
                return (f"{x['time_ratio_vs_dplr']:.2f}x (cpu {x['cpu_ratio_vs_dplr']:.1f}x)"
                        f"{ms}{_star(x)}")
            L.append(f"| {r['N']} | {r['L']} | {_fmt_t(r['dplr']['seconds'])} | "
                     f"{_fmt_b(r['dplr'].get('peak_mem'))} | {cell('naive')} | "
                     f"{cell('dense')} | {cell('diag')} | {cell('dplr_generic')} |")
        L.append("")
        L.append("Fitted time ~ N^a L^b over the grid: " + ", ".join(
            f"{m_}: a = {f['N']:.2f}, b = {f['L']:.2f}" for m_, f in k["fits"].items() if f)
            + ".\n")
        loc = k["local_exponents"]
        if loc["L"]:
            L.append("Local exponents of kernel_dplr: in L "
                     + ", ".join(f"N={e['N']} {e['L'][0]}->{e['L'][1]}: {e['exponent']:.2f}"
                                 for e in loc["L"])
                     + "; in N " + ", ".join(f"L={e['L']} {e['N'][0]}->{e['N'][1]}: "
                                              f"{e['exponent']:.2f}" for e in loc["N"]) + ".\n")
        L.append("### S4 vs LSSL (paper Table 2) next to ours\n")
        L.append("The paper measured a training step of deep models on a GPU; ours is the "
                 "kernel computation alone on this CPU (dense / dplr), same H.\n")
        L.append("| state size N | paper speed-up | paper memory | "
                 + " | ".join(f"ours L={ell} (time, mem)" for ell in sorted({r['L'] for r in
                                                                           k['rows']})) + " |")
        L.append("|---|---|---|" + "---|" * len({r['L'] for r in k['rows']}))
        byk = {(r["N"], r["L"]): r for r in k["rows"]}
        for n, sp, me in zip(PAPER_TABLE2["N"], PAPER_TABLE2["speedup"],
                             PAPER_TABLE2["memory"], strict=True):
            cells = []
            for ell in sorted({r["L"] for r in k["rows"]}):
                r = byk.get((n, ell))
                if r is None:
                    cells.append("-")
                else:
                    d = r["dense"]
                    cells.append(f"{d['time_ratio_vs_dplr']:.1f}x, "
                                 f"{d.get('mem_ratio_vs_dplr', float('nan')):.0f}x{_star(d)}")
            L.append(f"| {n} | {sp}x | {me:.0f}x | " + " | ".join(cells) + " |")
        L.append("")
    g = res.get("generation")
    if g:
        L.append("## Autoregressive generation\n")
        L.append(f"H = {g['H']}, N = {g['N']}, {g['L']} tokens, float32. Recurrent: "
                 f"`recurrence.step` on `bilinear_dplr` ({g['recurrent_steps_measured']} "
                 "steps timed, scaled to the sequence) plus the output 2 Re(C x). "
                 "Recompute: causal FFT convolution over the prefix for every token (kernel "
                 f"precomputed), timed at prefix lengths {g['recompute_samples']['t']} and "
                 "integrated over t = 1..L by linear interpolation. Outputs agree to "
                 f"{g['max_rel_diff_outputs']:.1e} (relative).\n")
        L.append("| method | whole sequence | per token |")
        L.append("|---|---|---|")
        L.append(f"| recurrent step | {_fmt_t(g['recurrent_seconds'])} | "
                 f"{g['recurrent_per_token'] * 1e6:.0f} us |")
        L.append(f"| convolution recompute | {_fmt_t(g['recompute_seconds'])} | "
                 f"{g['recompute_seconds'] / g['L'] * 1e3:.1f} ms (mean), "
                 f"{g['recompute_last_token'] * 1e3:.1f} ms (last) |")
        L.append(f"\nSpeed-up of the recurrence: **{g['speedup']:.0f}x** (from CPU time: "
                 f"{g['speedup_cpu']:.0f}x).\n")
    sc = res.get("scan")
    if sc:
        L.append("## Scans over a whole sequence\n")
        L.append("H = 256, N = 64 (32 conjugate-pair modes, halved), float32, outputs and "
                 "final state. The sequential loop is timed on the first "
                 "`sequential_steps_timed` steps and scaled linearly to L (its cost per step "
                 "is constant); the routes run on the whole sequence. Differences: relative "
                 "max over the timed prefix.\n")
        L.append("| system | L | route | time | speed-up vs loop | from CPU time | rel. diff |")
        L.append("|---|---|---|---|---|---|---|")
        for r in sc["rows"]:
            L.append(f"| {r['kind']} | {r['L']} | sequential ({r['sequential_steps_timed']} "
                     f"steps timed) | {_fmt_t(r['sequential_seconds'])} | 1x | 1x | - |")
            for m, v in r["routes"].items():
                pre = "" if v.get("steps_timed", r["L"]) == r["L"] else \
                    f" ({v['steps_timed']} steps timed)"
                L.append(f"| {r['kind']} | {r['L']} | {m}{pre} | {_fmt_t(v['seconds'])} | "
                         f"{v['speedup']:.0f}x | {v['speedup_cpu']:.0f}x | "
                         f"{v['rel_diff_vs_sequential_prefix']:.1e} |")
        L.append("")
        j = sc.get("jax")
        if j and "error" not in j:
            L.append(f"JAX {j['jax']} (diagonal, L = {j['L']}, chunk {j['chunk']}): the "
                     f"associative route under `jax.jit` "
                     f"{_fmt_t(j['associative_jit']['seconds'])} against `jax.lax.scan` "
                     f"{_fmt_t(j['lax_scan_jit']['seconds'])} ({j['speedup']:.1f}x); first "
                     f"calls (compile) {_fmt_t(j['associative_jit']['first_call_seconds'])} "
                     f"and {_fmt_t(j['lax_scan_jit']['first_call_seconds'])}; outputs agree "
                     f"to {j['rel_diff_assoc_vs_lax']:.1e}.\n")
        elif j:
            L.append(f"JAX: {j['error']}\n")
        else:
            L.append("JAX: not installed (the JAX comparison is skipped).\n")
    bk = res.get("backends")
    if bk:
        cfg = bk["config"]
        L.append("## Backends\n")
        L.append(f"`kernel_dplr` and `kernel_diag` of a {cfg['system']} system, H = {cfg['H']}, "
                 f"N = {cfg['N']}, L = {cfg['L']}, on each installed backend. Time is the best "
                 "of the timed calls; under `jax.jit` the first call (trace and compile) is "
                 "listed apart. float32 runs JAX in its default mode (64-bit types off: "
                 "the double-precision set-up steps are truncated to single precision), "
                 "float64 with `jax_enable_x64`. The last column is the max-norm difference "
                 "from NumPy's result, relative to it.\n")
        L.append("| kernel | dtype | backend | time | vs NumPy | jit compile | diff vs NumPy |")
        L.append("|---|---|---|---|---|---|---|")
        for r in bk["rows"]:
            if "skipped" in r:
                L.append(f"| {r['kernel']} | {r['dtype']} | {r['backend']} | skipped: "
                         f"{r['skipped']} | | | |")
                continue
            comp = _fmt_t(r["compile_seconds"]) if "compile_seconds" in r else ""
            L.append(f"| {r['kernel']} | {r['dtype']} | {r['backend']} | {_fmt_t(r['seconds'])}"
                     f" | {r['ratio_vs_numpy']:.2f}x | {comp} | {r['max_rel_diff']:.1e} |")
    t = res.get("training")
    if t:
        r0 = t["rows"][0]
        L.append("## Training (torch)\n")
        L.append(f"`S4Kernel` with default settings (float32 parameters, float64 kernel "
                 f"work), H = {r0['H']}, N = {r0['N']}, {t['threads']} torch threads. "
                 "Forward under `torch.no_grad()`; forward + backward of `sum(K * G)`. "
                 "Baselines: the reference method in plain torch under autograd on the "
                 "same parameters (S4: materialised broadcast Cauchy; S4D: `exp` of the "
                 "(N, L) outer product); `*`: run on fewer channels (memory budget) and "
                 "scaled linearly in H. Saved: bytes autograd holds for the backward pass "
                 "(distinct storages through `saved_tensors_hooks`), and that figure per "
                 "H (N + L).\n")
        L.append("| kernel | L | fwd | naive fwd | speed-up | fwd+bwd | naive fwd+bwd | "
                 "speed-up | saved | naive saved | saved / H(N+L) | naive vs ours |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in t["rows"]:
            st = _star(r)
            L.append(f"| {r['mode'].upper()} | {r['L']} | {_fmt_t(r['fwd']['seconds'])} | "
                     f"{_fmt_t(r['naive_fwd']['seconds'])}{st} | "
                     f"{r['fwd']['speedup']:.1f}x (cpu {r['fwd']['speedup_cpu']:.1f}x) | "
                     f"{_fmt_t(r['fwd_bwd']['seconds'])} | "
                     f"{_fmt_t(r['naive_fwd_bwd']['seconds'])}{st} | "
                     f"{r['fwd_bwd']['speedup']:.1f}x "
                     f"(cpu {r['fwd_bwd']['speedup_cpu']:.1f}x) | {_fmt_b(r['saved_bytes'])} | "
                     f"{_fmt_b(r['saved_bytes_naive'])}{st} | "
                     f"{r['saved_per_H_N_plus_L']:.0f} B | {r['max_rel_diff_naive']:.1e} |")
        L.append("")
        L.append("Whole `S4Block` training step (forward, mean-square loss, backward, SGD "
                 "update); kernel = the block's `S4Kernel` forward + backward alone, "
                 "same length.\n")
        L.append("| block | batch | L | step | kernel fwd+bwd | kernel share |")
        L.append("|---|---|---|---|---|---|")
        for b in t["block"]:
            L.append(f"| {b['mode'].upper()} | {b['batch']} | {b['L']} | "
                     f"{_fmt_t(b['step_seconds'])} | {_fmt_t(b['kernel_seconds'])} | "
                     f"{100 * b['kernel_share']:.0f} % (cpu {100 * b['kernel_share_cpu']:.0f} "
                     "%) |")
        L.append("")
    if res.get("errors"):
        L.append("## Sections that failed\n")
        for k, v in res["errors"].items():
            L.append(f"* {k}: `{v}`")
        L.append("")
    if res.get("plots"):
        L.append("## Plots\n")
        for p in res["plots"]:
            L.append(f"![{p}]({p})\n")
    return "\n".join(L)


def _plots(res, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        return []
    files = []
    k = res.get("kernels")
    if k:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        styles = {"dplr": "-", "naive": "--", "dense": ":", "diag": "-."}
        Ns = sorted({r["N"] for r in k["rows"]})
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, n in enumerate(Ns):
            rows = sorted((r for r in k["rows"] if r["N"] == n), key=lambda r: r["L"])
            Ls = [r["L"] for r in rows]
            for m_, ls in styles.items():
                axes[0].loglog(Ls, [r[m_]["seconds"] for r in rows], ls, color=colors[i % 10],
                               label=f"{m_} N={n}" if i == 0 or m_ == "dplr" else None)
                if m_ != "dplr":
                    axes[1].loglog(Ls, [r[m_]["time_ratio_vs_dplr"] for r in rows], ls,
                                   color=colors[i % 10], marker="o",
                                   label=f"{m_} / dplr, N={n}")
        axes[0].set(xlabel="L", ylabel="seconds (H = 256)", title="kernel time")
        axes[1].set(xlabel="L", ylabel="time ratio vs kernel_dplr", title="baselines / dplr")
        axes[0].legend(fontsize=7)
        axes[1].legend(fontsize=6, ncol=2)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "kernels.png"), dpi=110)
        plt.close(fig)
        files.append("kernels.png")
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, n in enumerate(Ns):
            rows = sorted((r for r in k["rows"] if r["N"] == n), key=lambda r: r["L"])
            for m_, ls in styles.items():
                if all("peak_mem" in r[m_] for r in rows):
                    ax.loglog([r["L"] for r in rows], [r[m_]["peak_mem"] / 2**20 for r in rows],
                              ls, color=colors[i % 10], label=f"{m_} N={n}")
        ax.set(xlabel="L", ylabel="peak traced MiB", title="kernel memory (H = 256)")
        ax.legend(fontsize=6, ncol=2)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "kernels_memory.png"), dpi=110)
        plt.close(fig)
        files.append("kernels_memory.png")
    c, m = res.get("cauchy"), res.get("machine")
    if c and m:
        rows = [r for r in c["rows"] if "seconds" in r]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar([f"{r['method']}\n{r['dtype']}" for r in rows], [r["gflops"] for r in rows])
        ax.axhline(m["peak_flops"] / 1e9, color="k", ls="--", label="float32 peak (matmul)")
        ax.axhline(0.25 * m["peak_flops"] / 1e9, color="r", ls=":", label="25 % of peak")
        ax.set(ylabel="GFLOP/s (executed flops)", title="Cauchy reduction vs roofline")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "cauchy_roofline.png"), dpi=110)
        plt.close(fig)
        files.append("cauchy_roofline.png")
    g = res.get("generation")
    if g:
        fig, ax = plt.subplots(figsize=(6, 4))
        s = g["recompute_samples"]
        ax.loglog(s["t"], s["seconds"], "o-", label="convolution recompute")
        ax.axhline(g["recurrent_per_token"], color="C1", label="recurrent step")
        ax.set(xlabel="token t (prefix length)", ylabel="seconds per token",
               title=f"generation, speed-up {g['speedup']:.0f}x over L = {g['L']}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out, "generation.png"), dpi=110)
        plt.close(fig)
        files.append("generation.png")
    return files


# --------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------
def build_parser():
    """Argument parser of ``benchmarks.compare`` (and ``statespace bench``)."""
    p = argparse.ArgumentParser(prog="statespace bench", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="bench-report", help="output folder (default bench-report)")
    p.add_argument("--quick", action="store_true",
                   help="small grid (N in {64, 128}, L in {1024, 4096}), ~1-2 min")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed repetitions per cell (best is reported; default 3, quick 2)")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument("--N", type=int, nargs="+", default=None, help="state sizes of the grid")
    p.add_argument("--L", type=int, nargs="+", default=None, help="lengths of the grid")
    p.add_argument("--H", type=int, default=256, help="channels (default 256)")
    p.add_argument("--mem-budget", type=float, default=1.0,
                   help="GiB a baseline may use before it runs on fewer channels (default 1)")
    p.add_argument("--generation-L", type=int, default=4096, help="tokens (default 4096)")
    p.add_argument("--scan-L", type=int, default=65536, help="scan length (default 65536)")
    p.add_argument("--scan-full", action="store_true",
                   help="time the sequential scan over the whole sequence (~10 s per system)")
    p.add_argument("--train-L", type=int, nargs="+", default=None,
                   help="kernel lengths of the training section (default 1024 4096 16384; "
                        "quick 1024 4096)")
    p.add_argument("--train-mem-budget", type=float, default=4.0,
                   help="GiB a naive training baseline may use before it runs on fewer "
                        "channels (default 4)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return p


def main(argv=None):
    """Run the comparison and write ``report.md``, ``report.json`` and plots.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when every section ran, 1 when one failed (the others are still reported).
    """
    args = build_parser().parse_args(argv)
    quick = args.quick
    repeat = args.repeat or (2 if quick else 3)
    grid_N = args.N or ([64, 128] if quick else [64, 128, 256, 512])
    grid_L = args.L or ([1024, 4096] if quick else [1024, 4096, 16384, 65536])
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = sections - set(SECTIONS)
    if unknown or not sections:
        build_parser().error(f"--sections: expected a comma-separated subset of "
                             f"{','.join(SECTIONS)}, got {args.sections!r}")
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    res = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": quick, "repeat": repeat,
           "load_start": _loadavg(), "environment": _environment()}
    jobs = {
        "machine": lambda: bench_machine(quick, repeat),
        "cauchy": lambda: bench_cauchy(res["machine"], quick, repeat),
        "kernels": lambda: bench_kernels(grid_N, grid_L, args.H, quick, repeat,
                                         args.mem_budget * 2**30, with_generic=True),
        "generation": lambda: bench_generation(args.generation_L, quick, repeat),
        "scan": lambda: bench_scan(args.scan_L, quick, repeat, args.scan_full),
        "backends": lambda: bench_backends(quick, repeat),
        "training": lambda: bench_training(
            args.train_L or ([1024, 4096] if quick else [1024, 4096, 16384]), quick, repeat,
            args.train_mem_budget * 2**30),
    }
    if "cauchy" in sections:
        sections.add("machine")
    errors = {}
    for name, job in jobs.items():
        if name not in sections or (name == "cauchy" and "machine" not in res):
            continue
        _log(name)
        try:
            res[name] = job()
        except Exception as exc:  # keep the other sections' figures
            errors[name] = f"{type(exc).__name__}: {exc}"
            _log(f"{name} failed: {errors[name]}")
    res["errors"] = errors
    res["load_end"] = _loadavg()
    res["elapsed_seconds"] = time.perf_counter() - t0
    res["targets"] = _targets(res)
    res["plots"] = [] if args.no_plots else _plots(res, args.out)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(res, f, indent=1, default=float)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(_markdown(res))
    _log(f"wrote {args.out}/report.md, report.json and {len(res['plots'])} plots")
    return 1 if errors else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
