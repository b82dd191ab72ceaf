r"""Error budget of the float32 S4 kernel, stage by stage (``python -m benchmarks.float32_budget``).

With ``--library``: the error of ``statespace.kernel_dplr`` itself in float32, with and
without the compensated differences (:func:`library_errors`). With ``--trained``: the
same on trained-like systems of every measure (:func:`trained_errors`).

A NumPy replica of ``kernel_dplr(..., halved=True, tilde=True)`` (the discrete-pole
form of Algorithm 1, see :mod:`statespace.kernels`) in which each stage can run in
complex64 or complex128 on its own:

* ``inputs``: Lambda, P, B, C~ and dt rounded to float32 (the float32 *system*);
* ``nodes/poles``: the nodes ``z`` and discrete poles ``w`` rounded to complex64 before
  the differences ``z - w`` are formed;
* ``numerators``: the Cauchy numerators rounded to complex64;
* ``cauchy``: the Cauchy sums' arithmetic in complex64 (with exact differences:
  ``(z - w)`` formed from compensated hi/lo pairs);
* ``woodbury``: the rank-1 Woodbury combination in complex64;
* ``fft``: the inverse FFT in complex64.

Every row is the max over channels of ``max_l |K - K_ref| / max_l |K_ref|`` where
``K_ref`` is the all-complex128 replica on the same inputs (for ``inputs``: the
float64 system). The replica agrees with ``statespace.kernel_dplr`` to ~1e-15 in
float64. Used for ``docs/float32.md``.
"""

from __future__ import annotations

import argparse

import numpy as np

import statespace as ss

C64, C128 = np.complex64, np.complex128
STAGES = ("nodes/poles", "numerators", "cauchy", "woodbury", "fft")


def _cauchy_conj(v, z, w, prec, compensated):
    """sum_n v/(z - w) + conj(v)/(z - conj w); v (H, M, N), z (L,), w (H, N)."""
    out = np.zeros(v.shape[:2] + z.shape, prec)
    for lo in range(0, z.shape[0], 512):
        zc = z[lo:lo + 512]
        if compensated:  # exact differences, then rounded: only the arithmetic is prec
            d1 = (zc[None, None, :] - w[:, :, None]).astype(prec)
            d2 = (zc[None, None, :] - w.conj()[:, :, None]).astype(prec)
        else:  # z and w already rounded to prec by the caller
            zc, ww = zc.astype(prec), w.astype(prec)
            d1 = zc[None, None, :] - ww[:, :, None]
            d2 = zc[None, None, :] - ww.conj()[:, :, None]
        vp = v.astype(prec)
        out[..., lo:lo + 512] = vp @ (1 / d1) + vp.conj() @ (1 / d2)
    return out


def replica(Lambda, P, B, Ct, dt, L, low=(), compensated=True):
    """S4 kernel (tilde=True, halved, any rank) with the stages in ``low`` in complex64."""
    def p(stage):
        return C64 if stage in low else C128

    Lam, Pm, Bm, Cm = (np.asarray(a, C128) for a in (Lambda, P, B, Ct))
    dt = np.asarray(dt, np.float64)
    H = Cm.shape[0]
    count = L // 2 + 1
    z = np.exp(2j * np.pi * np.arange(count) / L)
    half = dt[:, None] / 2
    s = 1 / (1 - half * Lam)
    w = (1 + half * Lam) * s
    U = np.concatenate([Cm[:, None, :], np.broadcast_to(Pm, (H,) + Pm.shape)], axis=1)
    W = np.concatenate([np.broadcast_to(Bm, (H, 1) + Bm.shape),
                        np.broadcast_to(Pm.conj(), (H,) + Pm.shape)], axis=1)
    q = 1 + Pm.shape[-2]
    v = (U[:, :, None, :] * W[:, None, :, :] * s[:, None, None, :]).reshape(H, q * q, -1)
    v = v.astype(p("numerators")).astype(C128)
    if "nodes/poles" in low:
        z, w = z.astype(C64).astype(C128), w.astype(C64).astype(C128)
    kk = _cauchy_conj(v, z, w, p("cauchy"), compensated).reshape(H, q, q, count)
    pw = p("woodbury")
    kk, zw = kk.astype(pw), z.astype(pw)
    sigma = dt.astype(pw)[:, None] / 2 * (1 + zw)
    kpp = np.moveaxis(kk[:, 1:, 1:], -1, 1)  # (H, count, r, r)
    M = np.eye(q - 1, dtype=pw) + sigma[:, :, None, None] * kpp
    y = np.linalg.solve(M, np.moveaxis(kk[:, 1:, 0:1], -1, 1))[..., 0]  # (H, count, r)
    kcp = np.moveaxis(kk[:, 0, 1:], -1, 1)
    G = kk[:, 0, 0] - sigma * np.sum(kcp * y, axis=-1)
    G = (dt.astype(pw)[:, None] * zw * G).astype(p("fft"))
    return np.fft.irfft(G, n=L, axis=-1)


def _err(K, ref):
    """Worst channel's max-norm relative error, ``max_h max_l |K - ref| / max_l |ref|``.

    Each channel (row) is scaled by its own ``max|ref|``, as the float32 targets are
    stated; :func:`statespace.verification.report.relative_error` scales by the whole array's.
    """
    return float(np.max(np.max(np.abs(K - ref), axis=-1) / np.max(np.abs(ref), axis=-1)))


def budget(N, L, H=8, seed=0):
    """Rows ``(stage, max error)`` for LegS ``N``, length ``L``, dt in [1e-3, 1e-1]."""
    h = ss.dplr("legs", N)
    rng = np.random.default_rng(seed)
    Ct = rng.standard_normal((H, N // 2)) + 1j * rng.standard_normal((H, N // 2))
    dt = np.geomspace(1e-3, 1e-1, H)
    sys64 = (h.Lambda, h.P, h.B, Ct, dt)
    sys32 = tuple(np.asarray(a).astype(C64 if np.iscomplexobj(a) else np.float32)
                  for a in sys64)
    ref32 = replica(*sys32, L)  # float64 evaluation of the float32 system
    ref64 = replica(*sys64, L)
    rows = [("inputs rounded to float32 (system change)", _err(ref32, ref64))]
    for st in STAGES:
        rows.append((f"{st} in complex64", _err(replica(*sys32, L, low=(st,)), ref32)))
    rows.append(("all stages complex64, plain differences (before)",
                 _err(replica(*sys32, L, low=STAGES, compensated=False), ref32)))
    rows.append(("all stages complex64, compensated differences (after)",
                 _err(replica(*sys32, L, low=STAGES[1:], compensated=True), ref32)))
    # the same two against the float64 system (what the float32 targets measure)
    rows.append(("before, vs the float64 system",
                 _err(replica(*sys32, L, low=STAGES, compensated=False), ref64)))
    rows.append(("after, vs the float64 system",
                 _err(replica(*sys32, L, low=STAGES[1:], compensated=True), ref64)))
    # sanity: the replica is the library's kernel
    K = ss.kernel_dplr(h.Lambda, h.P, h.B, Ct, dt, L, halved=True, tilde=True)
    rows.append(("replica vs statespace.kernel_dplr (float64)", _err(ref64, K)))
    return rows


def pole_geometry(N, dts=(1e-3, 1e-2, 1e-1)):
    """Distance of the discrete poles to the unit circle (where the nodes are)."""
    h = ss.dplr("legs", N)
    out = []
    for dt in dts:
        w = (1 + dt / 2 * h.Lambda) / (1 - dt / 2 * h.Lambda)
        out.append((dt, float(np.min(1 - np.abs(w))), float(np.max(1 - np.abs(w)))))
    return out


def library_errors(N, L, n_dt=None, seed=0):
    """Largest per-channel error of ``statespace.kernel_dplr`` in float32 against the
    float64 kernel of the float64 system: ``(plain differences, compensated)``.

    ``n_dt`` step sizes log-uniform at random in ``[1e-3, 1e-1]`` (default 48, 16 at
    ``L > 16384``), two random ``C~`` and both ``tilde=True`` and ``tilde=False``.
    "Plain" runs the same kernel with the nodes and poles rounded to complex64 before
    the Cauchy sums (the reduction without its low parts).
    """
    from statespace import kernels

    n_dt = n_dt or (16 if L > 16384 else 48)
    h64 = ss.dplr("legs", N)
    h32 = ss.dplr("legs", N, dtype=np.float32)
    rng = np.random.default_rng(seed)
    dt = np.exp(rng.uniform(np.log(1e-3), np.log(1e-1), n_dt))
    compensated = kernels.cauchy_compensated

    def plain(v, z, w, *, conj=False):
        return compensated(v, z.astype(v.dtype), w.astype(v.dtype), conj=conj)

    worst = {"plain": 0.0, "compensated": 0.0}
    for _ in range(2):
        C = rng.standard_normal((n_dt, N // 2)) + 1j * rng.standard_normal((n_dt, N // 2))
        for tilde in (True, False):
            ref = ss.kernel_dplr(h64.Lambda, h64.P, h64.B, C, dt, L, halved=True,
                                 tilde=tilde)
            for name, cauchy in (("plain", plain), ("compensated", compensated)):
                kernels.cauchy_compensated = cauchy
                try:
                    K = ss.kernel_dplr(h32.Lambda, h32.P, h32.B, C.astype(C64),
                                       dt.astype(np.float32), L, halved=True, tilde=tilde)
                finally:
                    kernels.cauchy_compensated = compensated
                worst[name] = max(worst[name], _err(K, ref))
    return worst["plain"], worst["compensated"]


def trained_errors(measure, re, tilde, N=64, L=4096, n_dt=32, seed=0):
    """Worst per-channel error of float32 ``kernel_dplr`` on a trained-like system.

    ``dplr(measure, N)`` halved with every ``Re(Lambda)`` set to ``re``, ``n_dt`` steps
    log-uniform at random in ``[1e-3, 1e-1]``, random ``C`` (or ``C~``). Returns
    ``(error, error without the complex128 sums at the node nearest to each pole,
    error against the float64 kernel of the float64 system)``; the first two against the
    float64 kernel of the same float32 inputs.
    """
    from statespace import kernels

    h = ss.dplr(measure, N)
    rng = np.random.default_rng(seed)
    dt = np.exp(rng.uniform(np.log(1e-3), np.log(1e-1), n_dt))
    C = rng.standard_normal((n_dt, N // 2)) + 1j * rng.standard_normal((n_dt, N // 2))
    sys64 = (re + 1j * np.imag(h.Lambda), h.P, h.B, C)
    sys32 = [np.asarray(a).astype(C64) for a in sys64]
    dt32 = dt.astype(np.float32)
    ref32 = ss.kernel_dplr(*(a.astype(C128) for a in sys32), dt32.astype(np.float64), L,
                           halved=True, tilde=tilde)
    ref64 = ss.kernel_dplr(*sys64, dt, L, halved=True, tilde=tilde)
    K = ss.kernel_dplr(*sys32, dt32, L, halved=True, tilde=tilde)
    exact_near = kernels._near_nodes_exact
    kernels._near_nodes_exact = lambda xp, G, *args: G
    try:
        K_far = ss.kernel_dplr(*sys32, dt32, L, halved=True, tilde=tilde)
    finally:
        kernels._near_nodes_exact = exact_near
    return _err(K, ref32), _err(K_far, ref32), _err(K, ref64)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default="64x1024,64x4096,256x4096",
                    help="comma-separated NxL (default 64x1024,64x4096,256x4096)")
    ap.add_argument("--library", action="store_true",
                    help="the library kernel's own error instead of the stage budget "
                         "(table 'Result' of docs/float32.md)")
    ap.add_argument("--trained", action="store_true",
                    help="float32 kernel_dplr on every measure with Re(Lambda) set to "
                         "-1e-2 and -1e-4, N = 64, L = 4096 (docs/float32.md)")
    args = ap.parse_args(argv)
    if args.trained:
        print("| measure | Re lambda | tilde | error | without exact near-pole nodes "
              "| vs the float64 system |")
        print("|---|---|---|---|---|---|")
        for m in ss.hippo.NPLR_MEASURES:
            if m == "diagonal":
                continue
            for re in (-1e-2, -1e-4):
                for tilde in (True, False):
                    e, e_far, e64 = trained_errors(m, re, tilde)
                    print(f"| {m} | {re:g} | {tilde} | {e:.1e} | {e_far:.1e} | {e64:.1e} |")
        return 0
    cases = [tuple(int(t) for t in c.split("x")) for c in args.cases.split(",")]
    if args.library:
        print("| case | plain differences (before) | compensated differences (after) |")
        print("|---|---|---|")
        for n, ell in cases:
            before, after = library_errors(n, ell)
            print(f"| N = {n}, L = {ell} | {before:.2g} | {after:.2g} |")
        return 0
    results = {c: dict(budget(*c)) for c in cases}
    names = list(results[cases[0]])
    print("| stage | " + " | ".join(f"N={n}, L={ell}" for n, ell in cases) + " |")
    print("|---|" + "---|" * len(cases))
    for nm in names:
        print(f"| {nm} | " + " | ".join(f"{results[c][nm]:.1e}" for c in cases) + " |")
    for n in sorted({c[0] for c in cases}):
        print(f"\nN={n}: 1 - |w| (min, max) per dt: " + ", ".join(
            f"dt={dt:g}: {a:.1e}, {b:.1e}" for dt, a, b in pole_geometry(n)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
