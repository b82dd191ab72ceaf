"""statespace.hippo against an mpmath evaluation of every formula, entry by entry.

The property tested: every measure's ``(A, B)`` matches an
mpmath evaluation of its formula entry by entry, ``N = 1..64``, to 2 ulp in
float64:

    |a - ref| <= 2 ulp(ref),  ulp(ref) = eps * 2**floor(log2 |ref|),

and an exact zero in the reference must be an exact zero in ``statespace``.

How ``N = 1..64`` is covered: every formula entry depends on ``(n, k)`` and the
measure parameters only, never on ``N`` (see the formulas in
``statespace.hippo.transition``). The reference is therefore evaluated once at
``N = 64`` (its digits checked by running at two precisions), and the float64
matrices of statespace are compared with its leading ``N x N`` block for *every*
``N`` in 1..64 (even ``N`` for the Fourier measures). The N-independence of the
reference itself is checked rather than assumed: for the cheap measures the
reference is recomputed at every ``N`` and must equal the block of the ``N = 64``
reference exactly; for ``legsd``, ``legt`` and ``lmu`` (the slowest to build
64 times) it is recomputed at a spread of ``N`` and the ``N = 64`` reference is
reused in between.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import statespace as ss
from statespace.verification import reference as ref

DPS = 30  # 100 bits: the reference error is < 1e-12 ulp of float64
MAX_ULP = 2.0

CASES = [(m, {}) for m in ref.FORMULA_MEASURES] + [
    ("lagt", {"beta": 2.5}),
    ("tlagt", {"beta": 0.3}),
    ("glagt", {"alpha": 0.5, "beta": 0.3}),
    ("glagt", {"alpha": -0.7, "beta": 2.0}),
]
# reference recomputed at every N (cheap); the others at a spread of N
EVERY_N = {"legs", "lagt", "tlagt", "glagt", "fout", "fourier_decay", "foud"}
SPREAD = (1, 2, 3, 4, 5, 8, 13, 21, 34, 55, 63, 64)


def _ids(case):
    m, p = case
    return m + "".join(f"-{k}{v}" for k, v in p.items())


def _sizes(measure):
    even = measure in ("fout", "fourier_decay", "foud")
    return list(range(2, 65, 2)) if even else list(range(1, 65))


@functools.cache
def _reference64(measure, items):
    params = dict(items)
    r = ref.converged(ref.transition, measure, 64, dps=DPS, extra=20,
                      required=ref.FLOAT64_DIGITS + 3, **params)
    assert r.converged, f"reference for {measure} agrees on only {r.digits_agree} digits"
    A, B = r.value
    base = ref.transition(measure, 64, dps=DPS, **params)  # same dps as per-N recomputes
    return ref.to_float_pair(A), ref.to_float_pair(B), base


def _block(pair, n, cols=None):
    cols = n if cols is None else cols
    return ref.FloatPair(pair.hi[:n, :cols], pair.lo[:n, :cols])


def _same_block(small, big):
    n, m = small.rows, small.cols
    return all(small[i, j] == big[i, j] for i in range(n) for j in range(m))


def _report(name, N, err, actual, pair):
    idx = np.argwhere(err > MAX_ULP)
    lines = []
    for i, j in idx[:8]:
        lines.append(f"{name}[{i},{j}]={actual[i, j]!r} ref={pair.hi[i, j]!r}"
                     f"{pair.lo[i, j]:+.3e} err={err[i, j]:.3f} ulp")
    return f"N={N}: " + "; ".join(lines)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_transition_within_2_ulp(case):
    measure, params = case
    pairA, pairB, (A64, B64) = _reference64(measure, tuple(sorted(params.items())))
    recompute = _sizes(measure) if measure in EVERY_N else [
        n for n in SPREAD if n in _sizes(measure)]
    for N in recompute:  # the reference at N is the leading block of the one at 64
        A_N, B_N = ref.transition(measure, N, dps=DPS, **params)
        assert _same_block(A_N, A64) and _same_block(B_N, B64), (measure, N)
    failures, worst = [], 0.0
    for N in _sizes(measure):
        A, B = ss.hippo.transition(measure, N, **params)
        assert A.dtype == np.float64 and A.shape == (N, N) and B.shape == (N,)
        eA = ref.ulp_errors(A, _block(pairA, N))
        eB = ref.ulp_errors(B[:, None], _block(pairB, N, 1))
        worst = max(worst, float(eA.max()), float(eB.max()))
        if eA.max() > MAX_ULP:
            failures.append(_report("A", N, eA, A, _block(pairA, N)))
        if eB.max() > MAX_ULP:
            failures.append(_report("B", N, eB, B[:, None], _block(pairB, N, 1)))
    assert not failures, (f"{measure} {params}: worst {worst:.3f} ulp\n"
                          + "\n".join(failures[:10]))


@pytest.mark.parametrize("measure", ref.NPLR_FORMULA_MEASURES)
def test_rank_correction_within_2_ulp(measure):
    r = ref.converged(ref.rank_correction, measure, 64, dps=DPS, extra=20,
                      required=ref.FLOAT64_DIGITS + 3)
    assert r.converged
    pair = ref.to_float_pair(r.value)
    for N in (n for n in SPREAD if n in _sizes(measure)):
        assert _same_block(ref.rank_correction(measure, N, dps=DPS + 20), r.value)
    for N in _sizes(measure):
        P = ss.hippo.rank_correction(measure, N)
        rank = P.shape[0]
        sub = ref.FloatPair(pair.hi[:rank, :N], pair.lo[:rank, :N])
        err = ref.ulp_errors(P, sub)
        assert err.max() <= MAX_ULP, _report("P", N, err, P, sub)


def test_the_check_detects_a_3_ulp_error():
    # guard against a vacuous comparison: one entry moved by 3 ulp must fail
    pairA, _, _ = _reference64("legs", ())
    A, _ = ss.hippo.transition("legs", 8)
    A = A.copy()
    A[5, 2] = A[5, 2] + 3 * np.spacing(A[5, 2])
    err = ref.ulp_errors(A, _block(pairA, 8))
    assert err[5, 2] > MAX_ULP and np.delete(err.ravel(), 5 * 8 + 2).max() <= 0.5
    # and a non-zero where the reference is an exact zero fails too
    A[0, 3] = 1e-300
    assert ref.ulp_errors(A, _block(pairA, 8))[0, 3] == np.inf
