r"""Error bounds of the verification rows: metric keys, error models, calibrated constants.

Every row of ``statespace verify`` carries two bounds on its measured error:

* the **rigorous** bound (the row's ``tolerance``): an a-priori worst-case bound,
  stated with its derivation in :mod:`statespace.verification.suite`. It holds for
  every input the row could be run on, so it is loose where worst cases are rare
  (``kernel_dense``: :math:`N L \varepsilon` against errors near
  :math:`\sqrt{N}\log_2(L)\,\varepsilon`).
* the **expected** bound: :math:`S \cdot c \cdot m(\text{row})` with an error model
  :math:`m` (a :class:`Tolerance` of :data:`MODELS`, e.g.
  :math:`\sqrt{N}\log_2(L)\,\varepsilon`), its constant :math:`c` calibrated on a
  sweep and the safety factor :math:`S` = :data:`SAFETY`. A row above its
  expected bound fails (``statespace verify --lenient`` demotes that failure to a
  warning); a row above its rigorous bound always fails.

Rows are grouped by *metric*, a machine key derived from the experiment and the
quantity (:func:`metric_of`, e.g. ``"kernel_accuracy/kernel_dense_vs_ground_truth_
rel_max_error"``); the constants are per metric, dtype and system (:data:`CALIBRATION`,
:func:`system_of`), with a fallback per metric and dtype over every system.

Calibration
-----------
``python -m statespace.verification.calibrate`` runs the quick and the full sweep
of ``statespace verify`` (or reads report.json files given with ``--report``)
and, per metric and dtype, takes for every candidate model of :data:`MODELS` the
ratios :math:`r_i = e_i / m_i` over the rows with a positive finite error; it keeps
the model of the smallest spread :math:`\max r / \min r` and sets
:math:`c = \max_i r_i`, so the worst row of the sweep sits at :math:`1/S` of its
expected bound. ``--write`` replaces the table below with the result.

Metrics without an error model (:data:`RIGOROUS_ONLY`) keep their rigorous bound
alone, for the reason stated there (their "error" is not a rounding error, or the
bound is the claim itself, e.g. a spectral radius that must stay below 1).

Examples
--------
>>> from statespace.verification import bounds
>>> bounds.metric_of("Kernel accuracy", "kernel_dense (bilinear) vs ground truth, rel. max error")
'kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error'
>>> m = bounds.MODELS["sqrtN_log2L_eps"]
>>> m.formula
'sqrt(N) * log2(L) * eps'
>>> m(N=16, L=1024, eps=1.0, tolerance=1.0)
40.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Tolerance",
    "KERNEL_DENSE",
    "KERNEL_DPLR",
    "KERNEL_DIAG",
    "NPLR_RECON",
    "DENSE_DISC",
    "RECURRENCE",
    "DENSE_GBT",
    "DENSE_ZOH",
    "DENSE_ZOH_BD",
    "DIAG_DISC",
    "HIPPO_ULPS64",
    "HIPPO_ULPS32",
    "STABLE",
    "MARGINAL",
    "STAB_RANDOM",
    "C_TILDE",
    "C_FROM_TILDE",
    "DIAG_C_TILDE",
    "DIAG_FINAL",
    "TRAINED",
    "TOLERANCES",
    "tolerance_docs",
    "MODELS",
    "SAFETY",
    "CALIBRATION",
    "RIGOROUS_ONLY",
    "LOWER_BOUND_METRICS",
    "metric_of",
    "direction_of",
    "expected_bound",
    "eps_of",
    "system_of",
    "LOOSE",
    "FLOOR_ULPS",
    "KAPPA_LOOSE",
    "SlackReason",
    "SLACK_REASONS",
    "SPREAD_METRICS",
    "slack_reason",
]

#: Safety factor of the expected bound over the calibrated worst case.
SAFETY = 10.0


@dataclass(frozen=True)
class Tolerance:
    """A tolerance formula: its name, its text and the function computing it.

    Parameters
    ----------
    name : str
        Machine key (e.g. ``"sqrtN_log2L_eps"``).
    formula : str
        The formula as text, shown in the report and the docs.
    func : callable
        ``func(N, L, eps, kappa, tolerance) -> float``; every argument is passed by
        keyword, ``kappa`` (a condition number) and ``tolerance`` (the row's rigorous
        bound) default to 1.
    math : str, optional
        The formula in LaTeX (the docs).
    why : str, optional
        Its derivation (RST), rendered into the suite's docstring
        (:func:`tolerance_docs`).

    Examples
    --------
    >>> t = Tolerance("N_eps", "N * eps", lambda N, eps, **_: N * eps)
    >>> t(N=4, eps=0.5)
    2.0
    """

    name: str
    formula: str
    func: Callable
    math: str = ""
    why: str = ""

    def __call__(self, **kwargs) -> float:
        args = {"N": 1, "L": 1, "eps": 1.0, "kappa": 1.0, "tolerance": 1.0}
        args.update(kwargs)
        return float(self.func(**args))

    def note(self, detail="") -> str:
        """The row note of this tolerance: ``"tol = <formula>"`` and optional figures.

        Examples
        --------
        >>> KERNEL_DENSE.note()
        'tol = N L eps'
        >>> NPLR_RECON.note("N = 8")
        'tol = 4 N eps, N = 8'
        """
        return f"tol = {self.formula}" + (f", {detail}" if detail else "")


def _log2(L):
    return max(1.0, math.log2(max(L, 1)))


_MODEL_LIST = (
    Tolerance("const", "1 (error in ulps)", lambda **_: 1.0),
    Tolerance("eps", "eps", lambda eps, **_: eps),
    Tolerance("sqrtN_eps", "sqrt(N) * eps", lambda N, eps, **_: math.sqrt(N) * eps),
    Tolerance("N_eps", "N * eps", lambda N, eps, **_: N * eps),
    Tolerance("log2L_eps", "log2(L) * eps", lambda L, eps, **_: _log2(L) * eps),
    Tolerance("sqrtN_log2L_eps", "sqrt(N) * log2(L) * eps",
              lambda N, L, eps, **_: math.sqrt(N) * _log2(L) * eps),
    Tolerance("N_log2L_eps", "N * log2(L) * eps", lambda N, L, eps, **_: N * _log2(L) * eps),
    Tolerance("sqrtL_eps", "sqrt(L) * eps", lambda L, eps, **_: math.sqrt(L) * eps),
    Tolerance("L_eps", "L * eps", lambda L, eps, **_: L * eps),
    Tolerance("sqrtNL_eps", "sqrt(N * L) * eps", lambda N, L, eps, **_: math.sqrt(N * L) * eps),
    Tolerance("kappa_eps", "kappa * eps", lambda kappa, eps, **_: kappa * eps),
    Tolerance("sqrtN_kappa_eps", "sqrt(N) * kappa * eps",
              lambda N, kappa, eps, **_: math.sqrt(N) * kappa * eps),
    Tolerance("rigorous", "rigorous bound", lambda tolerance, **_: tolerance),
)


def _power_model(a, b, g, k):
    parts = [t for t, e in (("N", a), ("L", b), ("log2(L)", g), ("kappa", k)) if e]
    text = " * ".join(f"{t}^{e:g}" if e != 1 else t for t, e in
                      zip(parts, [e for e in (a, b, g, k) if e], strict=True))
    name = f"pow_N{a:g}_L{b:g}_lg{g:g}_k{k:g}"

    def func(N, L, eps, kappa, **_):
        return N ** a * L ** b * _log2(L) ** g * kappa ** k * eps

    return Tolerance(name, (text + " * eps") if text else "eps", func)


# the power-law family N^a L^b log2(L)^g kappa^k eps (the models above are members
# of it written out); the calibration picks among all of them
_POWERS = tuple(
    _power_model(a, b, g, k)
    for a in (0, 0.5, 1, 2) for b in (0, 0.25, 0.5, 1) for g in (0, 1) for k in (0, 0.5, 1)
    if a or b or g or k
)

# ---------------------------------------------------------------- declared tolerances
# Each rigorous tolerance of the suite is declared once, here: its plain formula
# (row notes), its LaTeX form and its derivation (the suite's docstring renders
# both from these objects, see tolerance_docs).

#: Rigorous bound of ``kernel_dense``.
KERNEL_DENSE = Tolerance(
    "kernel_dense", "N L eps", lambda N, L, eps, **_: N * L * eps,
    math=r"N L \varepsilon",
    why=r"""``kernel_dense`` against ground truth (:math:`c = 1`): each doubling
level of the Krylov sequence adds the error of one product (see :ref:`precision`).
For float32 rows judged by ``kernel_dense`` in float64 the reference's own error
(:math:`N L \varepsilon_{64}`) is far below the tolerance.""")
#: Rigorous bound of ``kernel_dplr``; ``M = min(L, 1/(dt alpha))`` is the kernel's
#: memory in lags.
KERNEL_DPLR = Tolerance(
    "kernel_dplr", "N (log2 L + M) eps, M = min(L, 1/(dt alpha))",
    lambda N, L, eps, M, **_: N * (math.log2(max(L, 2)) + M) * eps,
    math=r"N (\log_2 L + M)\, \varepsilon",
    why=r"""``kernel_dplr`` (NPLR and DPLR kernels; also the boundary
functions ``initial_response_dplr`` and ``final_state_dplr``: same nodes, Cauchy
sums, Woodbury solves and FFT), with the kernel's memory in lags
:math:`M = \min(L, 1/(\Delta t\,\alpha))`, :math:`\alpha = -\max\mathrm{Re}\,
\lambda(A)` the slowest decay rate (:math:`M = L` when :math:`\alpha = 0`): the
nodes lie at distance at least about :math:`\max(1/L, \Delta t\alpha)` from the
discrete poles that matter, so the Cauchy terms are up to :math:`M` times larger
than the kernel and their cancellation over :math:`N` modes costs up to
:math:`N M \varepsilon`; the inverse FFT adds :math:`\varepsilon\log_2 L` (times at
most :math:`e`, the nodes being off the unit circle). A model without :math:`M`
(:math:`c N \log_2(L)\varepsilon`) holds for decayed kernels but not for slowly
decaying ones: at :math:`\Delta t = 10^{-4}` the LegS error grows about linearly
with ``L`` (see the kernel-against-``L`` scan).""")
#: Rigorous bound of ``kernel_diag``; ``x = max_n |dt lambda_n|``.
KERNEL_DIAG = Tolerance(
    "kernel_diag", "(N + L max|dt lambda_n|) eps", lambda N, L, eps, x, **_: (N + L * x) * eps,
    math=r"(N + L \max_n |\Delta t\lambda_n|)\,\varepsilon",
    why=r"""``kernel_diag`` (and ``initial_response_diag``, one Vandermonde
reduction), :math:`c = 1`: the rounding of the exponent
:math:`x_n = \log\bar\lambda_n \approx \Delta t\lambda_n` is multiplied by the lag.""")
#: Rigorous bound of the NPLR reconstruction.
NPLR_RECON = Tolerance(
    "nplr_reconstruction", "4 N eps", lambda N, eps, **_: 4 * N * eps,
    math=r"4 N \varepsilon",
    why=r"""NPLR reconstruction
:math:`\lVert V(\Lambda - P^*P)V^* - A\rVert / \lVert A\rVert`: :math:`N`-term sums
with a unitary :math:`V`.""")
#: Rigorous bound of a dense GBT discretization (bilinear, forward/backward Euler).
DENSE_GBT = Tolerance(
    "dense_gbt", "N kappa2(I - alpha dt A) eps", lambda N, kappa, eps, **_: N * kappa * eps,
    math=r"N \kappa\,\varepsilon,\ \kappa = \kappa_2(I - \alpha\Delta t A)",
    why=r"""Dense GBT (bilinear, forward/backward Euler): the LU solve's
backward error, :math:`N\varepsilon`, times the condition number (:math:`\kappa = 1`
for :math:`\alpha = 0`).""")
#: Rigorous bound of dense ZOH ``Ad``.
DENSE_ZOH = Tolerance(
    "dense_zoh", "N kappa_exp eps", lambda N, kappa, eps, **_: N * kappa * eps,
    math=r"N \kappa_{\exp}\,\varepsilon",
    why=r"""Dense ZOH ``Ad``, with the bound of the relative condition number of
the matrix exponential at :math:`X = \Delta t A`, :math:`\kappa_{\exp} = \max(1,
\lVert X\rVert_2 \max_{s\in[0,1]}\lVert e^{sX}\rVert_2^2 / \lVert e^{X}\rVert_2)`
(from the Fréchet derivative :math:`\int_0^1 e^{sX} E e^{(1-s)X} ds`; the maximum is
taken over 17 points).""")
#: Rigorous bound of dense ZOH ``Bd``; ``ratio = |exp(dt M)| / |Bd|``.
DENSE_ZOH_BD = Tolerance(
    "dense_zoh_bd", "N kappa_exp eps |exp(dt M)| / |Bd|",
    lambda N, kappa, eps, ratio, **_: N * kappa * eps * ratio,
    math=r"N \kappa_{\exp}\,\varepsilon\, \lVert e^{\Delta t M}\rVert_2 / \lVert \bar B\rVert_2",
    why=r"""Dense ZOH ``Bd``, :math:`M = \begin{pmatrix} A & B \\ 0 & 0
\end{pmatrix}`: :func:`statespace.discretize.zoh` reads :math:`\bar B` off that
augmented exponential, whose error is (as its docstring states) normwise relative to
the whole exponential, of norm :math:`\ge 1`, while :math:`\bar B \approx \Delta t B`
is small for small :math:`\Delta t` (torch's ``matrix_exp`` shows it: 208 ulps
relative at :math:`\Delta t = 10^{-4}`).""")
#: Rigorous bound of the diagonal discretizations (entrywise relative error).
DIAG_DISC = Tolerance(
    "diag_discretization", "4 (1 + max kappa_n) eps", lambda kappa, eps, **_: 4 * (1 + kappa) * eps,
    math=r"4 (1 + \max_n \kappa_n)\,\varepsilon",
    why=r"""Diagonal discretizations (entrywise relative error), with
:math:`\kappa_n` the relative condition number of the scalar map at
:math:`x_n = \Delta t \lambda_n` (bilinear/GBT pole :math:`|x ((1-\alpha)/(1+(1-\alpha)x)
+ \alpha/(1-\alpha x))|`, ZOH pole and input :math:`|x|`, GBT input
:math:`|\alpha x/(1-\alpha x)|`).""")
#: Rigorous bound of the recurrence against the convolution; ``amp`` is
#: ``|K|_1 |u|_inf / |y|_inf``.
RECURRENCE = Tolerance(
    "recurrence", "(N L + log2(L) |K|_1 |u|_inf / |y|_inf) eps",
    lambda N, L, eps, amp, **_: (N * L + math.log2(L) * amp) * eps,
    math=r"(N L + \log_2(L)\, \lVert K\rVert_1 \lVert u\rVert_\infty / \lVert y\rVert_\infty)"
         r"\,\varepsilon",
    why=r"""Recurrence against convolution (:math:`c = 1`): one rounding per step
and state entry in the recurrence, the FFT's normwise error in the convolution.""")
#: HiPPO entries in float64 ulps.
HIPPO_ULPS64 = Tolerance(
    "hippo_ulps_float64", "2 ulps", lambda **_: 2.0,
    math=r"2\ \text{ulps}",
    why=r"""HiPPO entries in float64 (entrywise error in ulps): every entry is at
most two correctly rounded operations on exact data, e.g. :math:`\sqrt{(2n+1)(2k+1)}`,
:math:`2\pi\cdot m`, :math:`\sqrt2\cdot\sqrt2`, :math:`s_k \cdot s_n^{-1}`. Zero
entries must be exactly zero.""")
#: HiPPO entries in float32 ulps.
HIPPO_ULPS32 = Tolerance(
    "hippo_ulps_float32", "1/2 + 2^-28 ulps", lambda **_: 0.5 + 2.0 ** -28,
    math=r"1/2 + 2^{-28}\ \text{ulps}",
    why=r"""HiPPO entries in float32: one rounding of the float64 value, whose own
error is at most 2 float64 ulps, i.e. :math:`2^{-28}` float32 ulps.""")
#: Spectral radius of a strictly stable discretization: below 1.
STABLE = Tolerance(
    "stable", "the largest float64 below 1", lambda **_: math.nextafter(1.0, 0.0),
    math=r"1 - 2^{-53}",
    why=r"""Stability of the strictly stable measures: the computed spectral radius
(``eigvals`` of the discretized matrix) must be below 1; the bound is the claim.""")
#: Spectral radius of a marginally stable discretization (an exact eigenvalue 0 of A).
MARGINAL = Tolerance(
    "marginal", "1 (rho = 1 exactly)", lambda **_: 1.0,
    math=r"1",
    why=r"""Stability of ``fout`` and ``fourier_decay``: their frequency-0 sine
coordinate is decoupled (zero row and column of ``A``), an exact eigenvalue 0, so
:math:`\rho = 1` exactly; a second row holds the other modes strictly below 1
(:data:`STABLE`).""")
#: Bauer-Fike bound of the random ablation's spectral radius.
STAB_RANDOM = Tolerance(
    "stability_random", "4 N eps kappa(W) kappa_disc |Ad| / rho",
    lambda N, kappa, eps, ratio, **_: 4 * N * eps * kappa * ratio,
    math=r"4 N \varepsilon\,\kappa(W)\,\kappa_{disc} \lVert\bar A\rVert_2/\rho",
    why=r"""``random`` (an unstable ablation): :math:`\rho` must match the mapped
continuous spectrum (``eigvals(A)`` through the bilinear map or ``exp``); Bauer-Fike
with the backward error of the computed :math:`\bar A`, :math:`W` the eigenvectors of
``A``, :math:`\kappa_{disc}` the condition number of the discretization (as for the
dense discretizations); ``kappa`` is :math:`\kappa(W)\kappa_{disc}`, ``ratio`` is
:math:`\lVert\bar A\rVert_2/\rho`.""")
#: Boundary states: ``C~ = C (I - Ad^L)`` of a DPLR system.
C_TILDE = Tolerance(
    "c_tilde", "N L eps", lambda N, L, eps, **_: N * L * eps,
    math=r"N L \varepsilon",
    why=r"""``c_tilde_dplr``, the rule of ``kernel_dense``: :math:`\bar A^L - I`
comes from :math:`\log_2 L` squarings, each adding the error of one product, which
at most doubles per level for a contraction.""")
#: Boundary states: ``C`` recovered from ``C~``; ``kappa = cond(I - Ad^L)``.
C_FROM_TILDE = Tolerance(
    "c_from_tilde", "kappa N L eps", lambda N, L, kappa, eps, **_: kappa * N * L * eps,
    math=r"\kappa_2(I - \bar A^L)\, N L \varepsilon",
    why=r"""``c_from_tilde_dplr``: the solve turns the relative error of
:math:`\bar A^L - I` into that of ``C`` times the condition number (computed by NumPy
from the dense float64 :math:`\bar A`, independently of the core).""")
#: Boundary states of a diagonal system, ``C~`` and back (entrywise).
DIAG_C_TILDE = Tolerance(
    "diag_c_tilde", "16 (1 + max kappa_n) eps", lambda kappa, eps, **_: 16 * (1 + kappa) * eps,
    math=r"16 (1 + \max_n \kappa_n)\,\varepsilon",
    why=r"""``c_tilde_diag``, ``c_from_tilde_diag`` (entrywise relative), with
:math:`\kappa_n = |L x_n e^{L x_n} / (1 - e^{L x_n})|`, :math:`x_n = \log\bar\lambda_n`,
the relative condition number of :math:`1 - e^{L x}` in :math:`x`; 16 covers the
complex ``expm1`` (about six roundings) and one complex product or division (up to 4
each).""")
#: Final state of a diagonal system after L steps.
DIAG_FINAL = Tolerance(
    "diag_final_state", "L (1 + max|x_n|) eps a",
    lambda L, eps, x, amp, **_: L * (1 + x) * eps * amp,
    math=r"L (1 + \max_n |x_n|)\,\varepsilon\, a",
    why=r"""``final_state_diag``: each of the ``L`` terms :math:`\bar b\,e^{m x} w_m`
carries :math:`m |x| \varepsilon` from its exponent and the sum :math:`L \varepsilon`,
both relative to :math:`\sum_m |\text{term}_m|`; :math:`a = \max_n(\sum_m |\bar b_n
\bar\lambda_n^m w_m| + |\bar\lambda_n^L x_n|) / \max_n |x_{L-1,n}|` converts that to
the max-norm relative error.""")
#: float32 kernels on trained-like parameters.
TRAINED = Tolerance(
    "trained", "(N + log2 L) eps", lambda N, L, eps, **_: (N + math.log2(L)) * eps,
    math=r"(N + \log_2 L)\,\varepsilon_{32}",
    why=r"""``kernel_dplr`` in float32 on trained-like parameters: each Cauchy sum
over the :math:`N` poles of the full system accumulates one complex64 rounding per
term relative to :math:`\sum |\text{terms}|`, which is :math:`O(|\text{sum}|)` once
the terms of a pole next to a node are out of the complex64 arithmetic
(``kernel_dplr`` redoes the node nearest to each pole in complex128 and combines the
sums in complex128); the inverse FFT adds :math:`\log_2 L` roundings. At ``N = 64``,
``L = 4096`` this is ``9e-6``, the ``1e-5`` of ``docs/float32.md``. A Woodbury
combination in complex64 leaves up to :math:`\varepsilon_{32} |v|/|z - \bar\lambda|`
(``2e-2`` at ``Re = -1e-4``).""")
#: The generic dense-discretization bound (the form of :data:`DENSE_GBT` and
#: :data:`DENSE_ZOH` with any condition number ``kappa``).
DENSE_DISC = Tolerance("dense_discretization", "N kappa eps",
                       lambda N, kappa, eps, **_: N * kappa * eps)

#: ``Ad`` of the hold discretizations (foh, impulse): one exponential of the block
#: matrix of size ``N + 2``.
HOLD_AD = Tolerance(
    "hold_ad", "(N + 2) kappa_exp eps", lambda N, kappa, eps, **_: (N + 2) * kappa * eps,
    math=r"(N + 2)\,\kappa_{\exp}\,\varepsilon",
    why=r"""``foh`` and ``impulse`` ``Ad``: read off one matrix exponential of the block
matrix of size :math:`N + 2` that carries ``A``, ``B`` and the hold, so the ZOH bound
with that size and :math:`\kappa_{\exp}` of :math:`M = \begin{pmatrix} A & B \\ 0
& 0\end{pmatrix}` (at least that of ``A``).""")
#: Scan routes against the float64 step loop, float64: ``n + L`` roundings per output.
SCAN64 = Tolerance(
    "scan64", "8 (n + L) eps", lambda N, L, eps, **_: 8 * (N + L) * eps,
    math=r"8\,(n + L)\,\varepsilon",
    why=r"""``scan`` routes (chunked, associative, convolution) against the float64
step loop in float64: each output is a sum of ``n`` products per step over at most
``L`` steps, each rounded once.""")
#: Scan routes in float32: chunk ``T``, memory ``tau = 1 / (1 - rho(Ad))``, and the
#: amplification ``amp`` (largest state entry over the largest result).
SCAN32 = Tolerance(
    "scan32", "16 eps (n + T + min(L, tau)) amp",
    lambda N, L, eps, T, tau, amp, **_: 16 * eps * (N + T + min(L, tau)) * amp,
    math=r"16\,\varepsilon\,(n + T + \min(L, \tau))\,\mathrm{amp}",
    why=r"""``scan`` routes in float32 against the float64 loop: a state entry
accumulates roundings from the ``n`` terms of a product, the ``T`` steps inside a
chunk and the carries over the system's memory :math:`\tau = 1/(1-\rho(\bar A))`
steps (older contributions have decayed); ``amp`` is the largest state entry over
the largest result (the outputs add the factor :math:`\lVert C\rVert_1`).""")
#: Initialisations against their mpmath formula: a few roundings per entry.
INIT_ULPS = Tolerance(
    "init_ulps", "8 eps", lambda eps, **_: 8 * eps, math=r"8\,\varepsilon",
    why=r"""S4D and reference initialisations (``dplr`` options, B initialisations)
against their formulas in mpmath at 40 digits: each entry is a product or quotient
of a few correctly rounded operations.""")
#: The FouT window projection: one complex solve of condition ``kappa``.
FOUT_WINDOW = Tolerance(
    "fout_window", "16 N kappa eps", lambda N, kappa, eps, **_: 16 * N * kappa * eps,
    math=r"16\,N\,\kappa\,\varepsilon",
    why=r"""FouT time-scale rows: the steady state of ``x' = A x + B e^{i w t}`` is one
complex solve with :math:`i w I - A` (condition :math:`\kappa`), backward stable with
an error of :math:`N\varepsilon` per entry.""")

#: Every rigorous tolerance of the suite, by name: each formula is written once, here.
TOLERANCES = {t.name: t for t in (
    HIPPO_ULPS64, HIPPO_ULPS32, NPLR_RECON, KERNEL_DPLR, DENSE_GBT, DENSE_ZOH, DENSE_ZOH_BD,
    DIAG_DISC, KERNEL_DENSE, KERNEL_DIAG, RECURRENCE, STABLE, MARGINAL, STAB_RANDOM,
    C_TILDE, C_FROM_TILDE, DIAG_C_TILDE, DIAG_FINAL, TRAINED, SCAN64, SCAN32, INIT_ULPS,
    FOUT_WINDOW, HOLD_AD)}


def tolerance_docs(names=None) -> str:
    """The declared tolerances as an RST definition list: formula, then derivation.

    The suite's docstring renders its "Tolerances" section with it, so each formula
    is written once (here) and read by the report, the notes and the docs alike.

    Parameters
    ----------
    names : iterable of str, optional
        Names of :data:`TOLERANCES` to render (default: all, in declaration order).

    Returns
    -------
    text : str

    Examples
    --------
    >>> print(tolerance_docs(["nplr_reconstruction"]).splitlines()[0])  # doctest: +ELLIPSIS
    ``nplr_reconstruction``: :math:`4 N \\varepsilon` (:data:`...NPLR_RECON`)
    """
    out = []
    for name in (TOLERANCES if names is None else names):
        t = TOLERANCES[name]
        out.append(f"``{t.name}``: :math:`{t.math}` (:data:`{_DATA_NAMES[t.name]}`)")
        out += ["    " + line for line in t.why.splitlines()]
    return "\n".join(out)


#: Candidate error models by name.
MODELS = {m.name: m for m in _MODEL_LIST + _POWERS}

#: Metrics judged by their rigorous bound alone, with the reason.
RIGOROUS_ONLY = {
    "stability/spectral_radius_of_bilinear_ad": (
        "the error column is the spectral radius itself and the bound (< 1) is the claim"),
    "stability/spectral_radius_of_zoh_ad": (
        "the error column is the spectral radius itself and the bound (< 1) is the claim"),
    "stability/spectral_radius_of_bilinear_ad_without_the_decoupled_coordinate": (
        "the error column is the spectral radius itself and the bound (< 1) is the claim"),
    "stability/spectral_radius_of_zoh_ad_without_the_decoupled_coordinate": (
        "the error column is the spectral radius itself and the bound (< 1) is the claim"),
}

#: Metrics whose row asserts a *lower* bound on the measured error (the error
#: column is bound / measured, at most 1); they have no expected bound.
LOWER_BOUND_METRICS = ("divided_by_measured",)


def metric_of(experiment: str, quantity: str) -> str:
    """The metric key of a row: experiment and quantity without the parenthesised parts.

    Parameters
    ----------
    experiment : str
        The row's experiment (section) name.
    quantity : str
        The row's quantity text.

    Returns
    -------
    metric : str
        ``"<experiment slug>/<quantity slug>"``: lower case, parenthesised parts
        (methods, sizes, measured values) and digits dropped, other characters
        joined by ``_``.

    Examples
    --------
    >>> metric_of("Stability", "spectral radius of zoh Ad (legs)")
    'stability/spectral_radius_of_zoh_ad'
    """
    def slug(s):
        s = str(s).lower()
        while True:  # innermost parentheses first
            t = re.sub(r"\([^()]*\)", " ", s)
            if t == s:
                break
            s = t
        s = re.sub(r"[0-9]+", " ", s)
        s = re.sub(r"[^a-z_]+", "_", s)
        return re.sub(r"_+", "_", s).strip("_")

    exp = slug(experiment.split(":")[0])
    return f"{exp}/{slug(quantity)}" if exp else slug(quantity)


def direction_of(metric: str) -> str:
    """``"lower"`` for rows asserting a lower bound on the measured error, else ``"upper"``.

    Parameters
    ----------
    metric : str
        A metric key (:func:`metric_of`).

    Returns
    -------
    direction : str
        ``"lower"`` or ``"upper"``.

    Examples
    --------
    >>> direction_of("legs/max_v_of_numpy_eig_unit_pivot_columns_lower_bound_divided_by_measured")
    'lower'
    """
    return "lower" if any(k in metric for k in LOWER_BOUND_METRICS) else "upper"


def system_of(params: dict) -> str:
    """The system a row was run on (``system`` or ``measure`` parameter), else ``""``.

    Constants are calibrated per metric, dtype and system, the error of one path
    depending on the conditioning of the system; ``"*"`` is the fallback over all.

    Parameters
    ----------
    params : dict
        A row's parameters.

    Returns
    -------
    system : str

    Examples
    --------
    >>> system_of({"measure": "legs", "N": 16})
    'legs'
    """
    return str(params.get("system", params.get("measure", "")) or "")


def eps_of(dtype: str) -> float:
    """Machine epsilon of ``"float32"``/``"float64"`` (also complex); 1 otherwise.

    Parameters
    ----------
    dtype : str
        A dtype name.

    Returns
    -------
    eps : float

    Examples
    --------
    >>> eps_of("float32") == 2.0 ** -23
    True
    """
    d = str(dtype)
    if d in ("float32", "complex64"):
        return 2.0 ** -23
    if d in ("float64", "complex128"):
        return 2.0 ** -52
    return 1.0


def _num(params, key, default):
    v = params.get(key, default)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return float(default)
    return v if math.isfinite(v) else float(default)


def model_args(params: dict, dtype: str, tolerance: float) -> dict:
    """The keyword arguments of a :class:`Tolerance` for a row."""
    return {"N": _num(params, "N", 1), "L": _num(params, "L", 1), "eps": eps_of(dtype),
            "kappa": max(1.0, _num(params, "kappa", 1)), "tolerance": float(tolerance)}


def expected_bound(metric: str, dtype: str, params: dict, tolerance: float):
    """The expected bound of a row and its formula text.

    Parameters
    ----------
    metric : str
        The row's metric (:func:`metric_of`).
    dtype : str
        The row's dtype name.
    params : dict
        The row's parameters (``N``, ``L``, ``kappa`` are read when present).
    tolerance : float
        The row's rigorous bound (read by the ``rigorous`` model).

    Returns
    -------
    bound : float
        :math:`S\\cdot c\\cdot m`; NaN when the metric has no calibrated model.
    formula : str
        ``"S * c * model"`` with the numbers, or the reason there is none.

    Examples
    --------
    >>> expected_bound("no/such_metric", "float64", {}, 1e-12)
    (nan, 'not calibrated')
    """
    if metric in RIGOROUS_ONLY:
        return math.nan, "rigorous bound only: " + RIGOROUS_ONLY[metric]
    if direction_of(metric) == "lower":
        return math.nan, "rigorous bound only: a lower bound on the measured error"
    entry = CALIBRATION.get((metric, dtype, system_of(params)))
    if entry is None:
        entry = CALIBRATION.get((metric, dtype, "*"))
    if entry is None:
        return math.nan, "not calibrated"
    name, c = entry
    model = MODELS[name]
    value = SAFETY * c * model(**model_args(params, dtype, tolerance))
    return value, f"{SAFETY:g} * {c:.3g} * {model.formula}"


#: Slack (tighter bound / error) from which a row counts as loose; a loose row must
#: carry a reason (:func:`slack_reason`).
LOOSE = 100.0
#: A bound within this many times ``sqrt(N) eps`` (the rounding floor of an N-term
#: computation) is at the rounding floor.
FLOOR_ULPS = 100.0
#: A condition number from which a kappa-scaled bound is a worst case the input need
#: not reach.
KAPPA_LOOSE = 10.0


@dataclass(frozen=True)
class SlackReason:
    """Why a row's tighter bound may exceed :data:`LOOSE` times its error.

    Parameters
    ----------
    key : str
        Machine key, stored in the row's ``slack_reason`` before the colon.
    text : str
        The explanation, a :meth:`str.format` template over the row's figures
        (``err_ulps``, ``bound_ulps``, ``kappa``, ``below``, ``why``, ``loose``,
        ``floor``).
    applies : callable
        ``applies(metric, error, bound, expected, eps, kappa, N) -> bool``.

    Examples
    --------
    >>> SLACK_REASONS["exact"].render(err_ulps=0.0)
    'exact: the result equals the reference (error 0), so no bound is tight'
    """

    key: str
    text: str
    applies: Callable

    def render(self, **figures) -> str:
        """``"key: text"`` with the row's figures filled in."""
        figures.setdefault("loose", LOOSE)
        figures.setdefault("floor", FLOOR_ULPS)
        return f"{self.key}: " + self.text.format(**figures)


_SLACK_LIST = (
    SlackReason(
        "exact", "the result equals the reference (error 0), so no bound is tight",
        lambda metric, error, **_: error == 0),
    SlackReason(
        "claim", "the error column is the quantity itself and its bound is the claim "
        "(e.g. a spectral radius held below 1)",
        lambda metric, **_: metric in RIGOROUS_ONLY),
    SlackReason(
        "rounding_floor", "error {err_ulps:.2g} eps is below one rounding unit and the bound "
        "({bound_ulps:.3g} eps) is within {floor:g} sqrt(N) eps, the rounding floor of an "
        "N-term computation: no tighter bound separates a correct result from a wrong one",
        lambda error, bound, eps, N, **_: error < eps
        and bound <= FLOOR_ULPS * math.sqrt(max(N, 1.0)) * eps),
    SlackReason(
        "conditioning", "the bound scales with the condition number kappa = {kappa:.3g} "
        "(a worst-case amplification of rounding errors) that this input does not reach",
        lambda metric, kappa, **_: kappa >= KAPPA_LOOSE and "discretization" in metric),
    SlackReason(
        "model_spread", "the error ({err_ulps:.3g} eps) is {below:.3g}x below the calibrated "
        "worst case of its group: {why}",
        lambda metric, error, expected, **_: metric in SPREAD_METRICS
        and math.isfinite(expected) and error > 0),
)

#: Metrics whose rows spread over more than ``LOOSE / SAFETY`` under every model of
#: :data:`MODELS` (the constant of the expected bound is set by the group's worst row),
#: with the reason the error of the other rows stays far below it.
SPREAD_METRICS = {
    "kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error": (
        "a decayed kernel's error stops growing with L, and small N sits below the constant "
        "set by slowly decaying kernels at the largest N"),
    "kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error": (
        "a decayed kernel's error stops growing with L, and small N sits below the constant "
        "set by slowly decaying kernels at the largest N"),
    "kernel_accuracy/kernel_diag_vs_ground_truth_rel_max_error": (
        "a decayed kernel's error stops growing with L, and small N sits below the constant "
        "set by slowly decaying kernels at the largest N"),
    "stability/random_ablation_rho_rho_rho": (
        "rho of a random non-normal matrix is exact to a few ulps for most steps; the "
        "constant is set by the step where its eigenvalues are worst conditioned"),
    "legs/nplr_kernel_vs_ground_truth_rel_max_error": (
        "a decayed kernel's error stops growing with L, and small N sits below the constant "
        "set by slowly decaying kernels at the largest N"),
    "discretization_accuracy/foh_bd_rel_max_error": (
        "the block exponential of the hold is accurate to a few ulps at small steps; the "
        "constant is set by the largest step, where |dt M| grows"),
    "discretization_accuracy/foh_ed_rel_max_error": (
        "the block exponential of the hold is accurate to a few ulps at small steps; the "
        "constant is set by the largest step, where |dt M| grows"),
    "discretization_accuracy/impulse_bd_rel_max_error": (
        "the block exponential of the hold is accurate to a few ulps at small steps; the "
        "constant is set by the largest step, where |dt M| grows"),
    "discretization_accuracy/impulse_ed_rel_max_error": (
        "the block exponential of the hold is accurate to a few ulps at small steps; the "
        "constant is set by the largest step, where |dt M| grows"),
    "boundary_states/final_state_dplr_vs_mpmath_rel_max_error": (
        "the final state is a sum over L steps whose rounding errors mostly cancel; the "
        "constant is set by the slowest-decaying system"),
}

#: The reasons a loose row may have, in the order they are tried.
SLACK_REASONS = {r.key: r for r in _SLACK_LIST}


def slack_reason(metric: str, dtype: str, params: dict, error: float, bound: float,
                 expected: float) -> str:
    """The reason of a loose row, ``""`` when its tighter bound is below :data:`LOOSE` x error.

    Parameters
    ----------
    metric : str
        The row's metric (:func:`metric_of`).
    dtype : str
        The row's dtype name.
    params : dict
        The row's parameters (``kappa`` is read when present).
    error : float
        The measured error.
    bound : float
        The tighter of the row's rigorous and expected bounds.
    expected : float
        The expected bound (NaN when there is none).

    Returns
    -------
    reason : str
        ``"key: text"`` of the first :data:`SLACK_REASONS` entry that applies;
        ``""`` for a row that is not loose (or a lower-bound row), and
        ``"unexplained: ..."`` for a loose row no reason covers.

    Examples
    --------
    >>> slack_reason("demo/x", "float64", {}, 0.0, 1e-15, math.nan)[:6]
    'exact:'
    >>> slack_reason("demo/x", "float64", {}, 1e-16, 1e-15, math.nan)
    ''
    """
    if direction_of(metric) != "upper" or not (math.isfinite(error) and math.isfinite(bound)):
        return ""
    if error > 0 and bound < LOOSE * error:
        return ""
    if error <= 0 and bound <= 0:
        return ""
    eps = eps_of(dtype)
    kappa = _num(params, "kappa", 1.0)
    expected = float(expected)
    below = (expected / SAFETY) / error if error > 0 and math.isfinite(expected) else math.inf
    figures = {"err_ulps": error / eps, "bound_ulps": bound / eps, "kappa": kappa,
               "below": below, "why": SPREAD_METRICS.get(metric, "")}
    for r in _SLACK_LIST:
        if r.applies(metric=metric, error=error, bound=bound, expected=expected, eps=eps,
                     kappa=kappa, N=_num(params, "N", 1.0)):
            return r.render(**figures)
    return (f"unexplained: bound {bound / eps:.3g} eps against an error of {error / eps:.3g} "
            "eps")


# The table below is written by ``python -m statespace.verification.calibrate --write``:
# (metric, dtype, system) -> (model name, c), c = max over the sweep of error / model;
# system "*": the fallback fitted over every system of the metric.
# BEGIN CALIBRATION
CALIBRATION: dict = {
    ("boundary_states/c_from_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float32", "*"): ("pow_N0_L0_lg0_k0.5", 2.1),  # noqa: E501
    ("boundary_states/c_from_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float32", "diag-inv"): ("pow_N0_L0_lg0_k0.5", 2.1),  # noqa: E501
    ("boundary_states/c_from_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float32", "diag-lin"): ("eps", 4.04),  # noqa: E501
    ("boundary_states/c_from_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float64", "*"): ("eps", 4.57),  # noqa: E501
    ("boundary_states/c_from_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float64", "diag-inv"): ("eps", 4.57),  # noqa: E501
    ("boundary_states/c_from_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float64", "diag-lin"): ("eps", 1.0),  # noqa: E501
    ("boundary_states/c_from_tilde_dplr_vs_mpmath_rel_max_error", "float32", "*"): ("eps", 0.356),
    ("boundary_states/c_from_tilde_dplr_vs_mpmath_rel_max_error", "float32", "legs"): ("eps", 0.356),  # noqa: E501
    ("boundary_states/c_from_tilde_dplr_vs_mpmath_rel_max_error", "float64", "*"): ("eps", 1.73),
    ("boundary_states/c_from_tilde_dplr_vs_mpmath_rel_max_error", "float64", "legs"): ("eps", 1.73),
    ("boundary_states/c_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float32", "*"): ("pow_N0_L0_lg0_k0.5", 2.2),  # noqa: E501
    ("boundary_states/c_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float32", "diag-inv"): ("pow_N0_L0_lg0_k0.5", 2.2),  # noqa: E501
    ("boundary_states/c_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float32", "diag-lin"): ("eps", 3.95),  # noqa: E501
    ("boundary_states/c_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float64", "*"): ("eps", 4.32),  # noqa: E501
    ("boundary_states/c_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float64", "diag-inv"): ("eps", 4.32),  # noqa: E501
    ("boundary_states/c_tilde_diag_vs_mpmath_max_entrywise_rel_error", "float64", "diag-lin"): ("eps", 0.805),  # noqa: E501
    ("boundary_states/c_tilde_dplr_vs_mpmath_rel_max_error", "float32", "*"): ("eps", 0.212),
    ("boundary_states/c_tilde_dplr_vs_mpmath_rel_max_error", "float32", "legs"): ("eps", 0.212),
    ("boundary_states/c_tilde_dplr_vs_mpmath_rel_max_error", "float64", "*"): ("eps", 1.56),
    ("boundary_states/c_tilde_dplr_vs_mpmath_rel_max_error", "float64", "legs"): ("eps", 1.56),
    ("boundary_states/final_state_diag_vs_mpmath_rel_max_error", "float32", "*"): ("eps", 12.3),
    ("boundary_states/final_state_diag_vs_mpmath_rel_max_error", "float32", "diag-inv"): ("eps", 8.25),  # noqa: E501
    ("boundary_states/final_state_diag_vs_mpmath_rel_max_error", "float32", "diag-lin"): ("eps", 12.3),  # noqa: E501
    ("boundary_states/final_state_diag_vs_mpmath_rel_max_error", "float64", "*"): ("eps", 9.58),
    ("boundary_states/final_state_diag_vs_mpmath_rel_max_error", "float64", "diag-inv"): ("eps", 9.58),  # noqa: E501
    ("boundary_states/final_state_diag_vs_mpmath_rel_max_error", "float64", "diag-lin"): ("eps", 1.4),  # noqa: E501
    ("boundary_states/final_state_dplr_vs_mpmath_rel_max_error", "float32", "*"): ("eps", 0.277),
    ("boundary_states/final_state_dplr_vs_mpmath_rel_max_error", "float32", "legs"): ("eps", 0.277),
    ("boundary_states/final_state_dplr_vs_mpmath_rel_max_error", "float64", "*"): ("eps", 25.8),
    ("boundary_states/final_state_dplr_vs_mpmath_rel_max_error", "float64", "legs"): ("eps", 25.8),
    ("boundary_states/initial_response_diag_vs_mpmath_rel_max_error", "float32", "*"): ("eps", 7.33),  # noqa: E501
    ("boundary_states/initial_response_diag_vs_mpmath_rel_max_error", "float32", "diag-inv"): ("eps", 4.61),  # noqa: E501
    ("boundary_states/initial_response_diag_vs_mpmath_rel_max_error", "float32", "diag-lin"): ("eps", 7.33),  # noqa: E501
    ("boundary_states/initial_response_diag_vs_mpmath_rel_max_error", "float64", "*"): ("eps", 4.07),  # noqa: E501
    ("boundary_states/initial_response_diag_vs_mpmath_rel_max_error", "float64", "diag-inv"): ("eps", 4.07),  # noqa: E501
    ("boundary_states/initial_response_diag_vs_mpmath_rel_max_error", "float64", "diag-lin"): ("eps", 3.3),  # noqa: E501
    ("boundary_states/initial_response_dplr_vs_mpmath_rel_max_error", "float32", "*"): ("eps", 0.34),  # noqa: E501
    ("boundary_states/initial_response_dplr_vs_mpmath_rel_max_error", "float32", "legs"): ("eps", 0.34),  # noqa: E501
    ("boundary_states/initial_response_dplr_vs_mpmath_rel_max_error", "float64", "*"): ("eps", 19.1),  # noqa: E501
    ("boundary_states/initial_response_dplr_vs_mpmath_rel_max_error", "float64", "legs"): ("eps", 19.1),  # noqa: E501
    ("discretization_accuracy/bilinear_ad_rel_max_error", "float32", "*"): ("eps", 1.85),
    ("discretization_accuracy/bilinear_ad_rel_max_error", "float32", "fout"): ("eps", 0.574),
    ("discretization_accuracy/bilinear_ad_rel_max_error", "float32", "lagt"): ("eps", 0.559),
    ("discretization_accuracy/bilinear_ad_rel_max_error", "float32", "legs"): ("eps", 1.85),
    ("discretization_accuracy/bilinear_ad_rel_max_error", "float32", "legt"): ("eps", 0.637),
    ("discretization_accuracy/bilinear_ad_rel_max_error", "float64", "*"): ("pow_N0_L0_lg0_k0.5", 3.59),  # noqa: E501
    ("discretization_accuracy/bilinear_ad_rel_max_error", "float64", "fout"): ("pow_N0_L0_lg0_k0.5", 3.59),  # noqa: E501
    ("discretization_accuracy/bilinear_ad_rel_max_error", "float64", "lagt"): ("pow_N0_L0_lg0_k0.5", 0.5),  # noqa: E501
    ("discretization_accuracy/bilinear_ad_rel_max_error", "float64", "legs"): ("pow_N0_L0_lg0_k0.5", 0.999),  # noqa: E501
    ("discretization_accuracy/bilinear_ad_rel_max_error", "float64", "legt"): ("pow_N0_L0_lg0_k0.5", 2.48),  # noqa: E501
    ("discretization_accuracy/bilinear_bd_max_entrywise_rel_error", "float32", "*"): ("eps", 1.8),
    ("discretization_accuracy/bilinear_bd_max_entrywise_rel_error", "float32", "diag-inv"): ("eps", 1.52),  # noqa: E501
    ("discretization_accuracy/bilinear_bd_max_entrywise_rel_error", "float32", "diag-legs"): ("eps", 1.8),  # noqa: E501
    ("discretization_accuracy/bilinear_bd_max_entrywise_rel_error", "float32", "diag-lin"): ("eps", 1.33),  # noqa: E501
    ("discretization_accuracy/bilinear_bd_max_entrywise_rel_error", "float64", "*"): ("eps", 1.51),
    ("discretization_accuracy/bilinear_bd_max_entrywise_rel_error", "float64", "diag-inv"): ("eps", 1.25),  # noqa: E501
    ("discretization_accuracy/bilinear_bd_max_entrywise_rel_error", "float64", "diag-legs"): ("eps", 1.51),  # noqa: E501
    ("discretization_accuracy/bilinear_bd_max_entrywise_rel_error", "float64", "diag-lin"): ("eps", 0.983),  # noqa: E501
    ("discretization_accuracy/bilinear_bd_rel_max_error", "float32", "*"): ("eps", 1.57),
    ("discretization_accuracy/bilinear_bd_rel_max_error", "float32", "fout"): ("eps", 1.05),
    ("discretization_accuracy/bilinear_bd_rel_max_error", "float32", "lagt"): ("eps", 1.02),
    ("discretization_accuracy/bilinear_bd_rel_max_error", "float32", "legs"): ("eps", 1.57),
    ("discretization_accuracy/bilinear_bd_rel_max_error", "float32", "legt"): ("eps", 1.41),
    ("discretization_accuracy/bilinear_bd_rel_max_error", "float64", "*"): ("eps", 2.61),
    ("discretization_accuracy/bilinear_bd_rel_max_error", "float64", "fout"): ("eps", 2.1),
    ("discretization_accuracy/bilinear_bd_rel_max_error", "float64", "lagt"): ("eps", 1.57),
    ("discretization_accuracy/bilinear_bd_rel_max_error", "float64", "legs"): ("eps", 2.61),
    ("discretization_accuracy/bilinear_bd_rel_max_error", "float64", "legt"): ("eps", 2.52),
    ("discretization_accuracy/bilinear_lambda_d_max_entrywise_rel_error", "float32", "*"): ("eps", 1.22),  # noqa: E501
    ("discretization_accuracy/bilinear_lambda_d_max_entrywise_rel_error", "float32", "diag-inv"): ("eps", 1.22),  # noqa: E501
    ("discretization_accuracy/bilinear_lambda_d_max_entrywise_rel_error", "float32", "diag-legs"): ("eps", 1.01),  # noqa: E501
    ("discretization_accuracy/bilinear_lambda_d_max_entrywise_rel_error", "float32", "diag-lin"): ("eps", 1.11),  # noqa: E501
    ("discretization_accuracy/bilinear_lambda_d_max_entrywise_rel_error", "float64", "*"): ("eps", 1.51),  # noqa: E501
    ("discretization_accuracy/bilinear_lambda_d_max_entrywise_rel_error", "float64", "diag-inv"): ("eps", 1.29),  # noqa: E501
    ("discretization_accuracy/bilinear_lambda_d_max_entrywise_rel_error", "float64", "diag-legs"): ("eps", 1.12),  # noqa: E501
    ("discretization_accuracy/bilinear_lambda_d_max_entrywise_rel_error", "float64", "diag-lin"): ("eps", 1.51),  # noqa: E501
    ("discretization_accuracy/foh_ad_rel_max_error", "float32", "*"): ("pow_N2_L0_lg0_k0", 0.0298),
    ("discretization_accuracy/foh_ad_rel_max_error", "float32", "lagt"): ("eps", 0.217),
    ("discretization_accuracy/foh_ad_rel_max_error", "float32", "legs"): ("eps", 14.9),
    ("discretization_accuracy/foh_ad_rel_max_error", "float64", "*"): ("N_eps", 1.45),
    ("discretization_accuracy/foh_ad_rel_max_error", "float64", "lagt"): ("eps", 7.99),
    ("discretization_accuracy/foh_ad_rel_max_error", "float64", "legs"): ("eps", 46.6),
    ("discretization_accuracy/foh_bd_rel_max_error", "float32", "*"): ("eps", 3.83),
    ("discretization_accuracy/foh_bd_rel_max_error", "float32", "lagt"): ("eps", 1.1),
    ("discretization_accuracy/foh_bd_rel_max_error", "float32", "legs"): ("eps", 3.83),
    ("discretization_accuracy/foh_bd_rel_max_error", "float64", "*"): ("pow_N2_L0_lg0_k0", 0.0684),
    ("discretization_accuracy/foh_bd_rel_max_error", "float64", "lagt"): ("eps", 12.0),
    ("discretization_accuracy/foh_bd_rel_max_error", "float64", "legs"): ("eps", 52.3),
    ("discretization_accuracy/foh_ed_rel_max_error", "float32", "*"): ("eps", 1.09),
    ("discretization_accuracy/foh_ed_rel_max_error", "float32", "lagt"): ("eps", 0.493),
    ("discretization_accuracy/foh_ed_rel_max_error", "float32", "legs"): ("eps", 1.09),
    ("discretization_accuracy/foh_ed_rel_max_error", "float64", "*"): ("pow_N2_L0_lg0_k0", 0.0504),
    ("discretization_accuracy/foh_ed_rel_max_error", "float64", "lagt"): ("eps", 3.47),
    ("discretization_accuracy/foh_ed_rel_max_error", "float64", "legs"): ("eps", 51.6),
    ("discretization_accuracy/gbt_ad_rel_max_error", "float32", "*"): ("pow_N0_L0_lg0_k0.5", 0.661),
    ("discretization_accuracy/gbt_ad_rel_max_error", "float32", "fout"): ("eps", 0.574),
    ("discretization_accuracy/gbt_ad_rel_max_error", "float32", "lagt"): ("eps", 0.559),
    ("discretization_accuracy/gbt_ad_rel_max_error", "float32", "legs"): ("eps", 2.25),
    ("discretization_accuracy/gbt_ad_rel_max_error", "float32", "legt"): ("eps", 0.679),
    ("discretization_accuracy/gbt_ad_rel_max_error", "float64", "*"): ("pow_N0_L0_lg0_k0.5", 3.59),
    ("discretization_accuracy/gbt_ad_rel_max_error", "float64", "fout"): ("kappa_eps", 1.5),
    ("discretization_accuracy/gbt_ad_rel_max_error", "float64", "lagt"): ("eps", 0.919),
    ("discretization_accuracy/gbt_ad_rel_max_error", "float64", "legs"): ("pow_N0_L0_lg0_k0.5", 0.999),  # noqa: E501
    ("discretization_accuracy/gbt_ad_rel_max_error", "float64", "legt"): ("pow_N0_L0_lg0_k0.5", 2.48),  # noqa: E501
    ("discretization_accuracy/gbt_bd_max_entrywise_rel_error", "float32", "*"): ("eps", 1.8),
    ("discretization_accuracy/gbt_bd_max_entrywise_rel_error", "float32", "diag-inv"): ("eps", 1.71),  # noqa: E501
    ("discretization_accuracy/gbt_bd_max_entrywise_rel_error", "float32", "diag-legs"): ("eps", 1.8),  # noqa: E501
    ("discretization_accuracy/gbt_bd_max_entrywise_rel_error", "float32", "diag-lin"): ("eps", 1.33),  # noqa: E501
    ("discretization_accuracy/gbt_bd_max_entrywise_rel_error", "float64", "*"): ("eps", 1.58),
    ("discretization_accuracy/gbt_bd_max_entrywise_rel_error", "float64", "diag-inv"): ("eps", 1.58),  # noqa: E501
    ("discretization_accuracy/gbt_bd_max_entrywise_rel_error", "float64", "diag-legs"): ("eps", 1.51),  # noqa: E501
    ("discretization_accuracy/gbt_bd_max_entrywise_rel_error", "float64", "diag-lin"): ("eps", 1.22),  # noqa: E501
    ("discretization_accuracy/gbt_bd_rel_max_error", "float32", "*"): ("eps", 1.58),
    ("discretization_accuracy/gbt_bd_rel_max_error", "float32", "fout"): ("eps", 1.22),
    ("discretization_accuracy/gbt_bd_rel_max_error", "float32", "lagt"): ("eps", 1.18),
    ("discretization_accuracy/gbt_bd_rel_max_error", "float32", "legs"): ("eps", 1.58),
    ("discretization_accuracy/gbt_bd_rel_max_error", "float32", "legt"): ("eps", 1.41),
    ("discretization_accuracy/gbt_bd_rel_max_error", "float64", "*"): ("eps", 3.28),
    ("discretization_accuracy/gbt_bd_rel_max_error", "float64", "fout"): ("eps", 2.1),
    ("discretization_accuracy/gbt_bd_rel_max_error", "float64", "lagt"): ("eps", 1.99),
    ("discretization_accuracy/gbt_bd_rel_max_error", "float64", "legs"): ("eps", 3.28),
    ("discretization_accuracy/gbt_bd_rel_max_error", "float64", "legt"): ("eps", 2.52),
    ("discretization_accuracy/gbt_lambda_d_max_entrywise_rel_error", "float32", "*"): ("eps", 1.22),
    ("discretization_accuracy/gbt_lambda_d_max_entrywise_rel_error", "float32", "diag-inv"): ("eps", 1.22),  # noqa: E501
    ("discretization_accuracy/gbt_lambda_d_max_entrywise_rel_error", "float32", "diag-legs"): ("eps", 1.09),  # noqa: E501
    ("discretization_accuracy/gbt_lambda_d_max_entrywise_rel_error", "float32", "diag-lin"): ("eps", 1.11),  # noqa: E501
    ("discretization_accuracy/gbt_lambda_d_max_entrywise_rel_error", "float64", "*"): ("eps", 1.51),
    ("discretization_accuracy/gbt_lambda_d_max_entrywise_rel_error", "float64", "diag-inv"): ("eps", 1.29),  # noqa: E501
    ("discretization_accuracy/gbt_lambda_d_max_entrywise_rel_error", "float64", "diag-legs"): ("eps", 1.12),  # noqa: E501
    ("discretization_accuracy/gbt_lambda_d_max_entrywise_rel_error", "float64", "diag-lin"): ("eps", 1.51),  # noqa: E501
    ("discretization_accuracy/impulse_ad_rel_max_error", "float32", "*"): ("pow_N2_L0_lg0_k0", 0.0298),  # noqa: E501
    ("discretization_accuracy/impulse_ad_rel_max_error", "float32", "lagt"): ("eps", 0.217),
    ("discretization_accuracy/impulse_ad_rel_max_error", "float32", "legs"): ("eps", 14.9),
    ("discretization_accuracy/impulse_ad_rel_max_error", "float64", "*"): ("eps", 188.0),
    ("discretization_accuracy/impulse_ad_rel_max_error", "float64", "lagt"): ("eps", 188.0),
    ("discretization_accuracy/impulse_ad_rel_max_error", "float64", "legs"): ("eps", 47.6),
    ("discretization_accuracy/impulse_bd_rel_max_error", "float32", "*"): ("N_eps", 0.468),
    ("discretization_accuracy/impulse_bd_rel_max_error", "float32", "lagt"): ("eps", 1.26),
    ("discretization_accuracy/impulse_bd_rel_max_error", "float32", "legs"): ("eps", 15.0),
    ("discretization_accuracy/impulse_bd_rel_max_error", "float64", "*"): ("eps", 704.0),
    ("discretization_accuracy/impulse_bd_rel_max_error", "float64", "lagt"): ("eps", 704.0),
    ("discretization_accuracy/impulse_bd_rel_max_error", "float64", "legs"): ("eps", 179.0),
    ("discretization_accuracy/impulse_ed_rel_max_error", "float32", "*"): ("eps", 0.606),
    ("discretization_accuracy/impulse_ed_rel_max_error", "float32", "lagt"): ("eps", 0.212),
    ("discretization_accuracy/impulse_ed_rel_max_error", "float32", "legs"): ("eps", 0.606),
    ("discretization_accuracy/zoh_ad_rel_max_error", "float32", "*"): ("pow_N0_L0_lg0_k0.5", 1.15),
    ("discretization_accuracy/zoh_ad_rel_max_error", "float32", "fout"): ("pow_N0_L0_lg0_k0.5", 1.15),  # noqa: E501
    ("discretization_accuracy/zoh_ad_rel_max_error", "float32", "lagt"): ("eps", 0.252),
    ("discretization_accuracy/zoh_ad_rel_max_error", "float32", "legs"): ("pow_N0_L0_lg0_k0.5", 0.354),  # noqa: E501
    ("discretization_accuracy/zoh_ad_rel_max_error", "float32", "legt"): ("pow_N0_L0_lg0_k0.5", 0.281),  # noqa: E501
    ("discretization_accuracy/zoh_ad_rel_max_error", "float64", "*"): ("kappa_eps", 3.21),
    ("discretization_accuracy/zoh_ad_rel_max_error", "float64", "fout"): ("kappa_eps", 3.21),
    ("discretization_accuracy/zoh_ad_rel_max_error", "float64", "lagt"): ("kappa_eps", 2.6),
    ("discretization_accuracy/zoh_ad_rel_max_error", "float64", "legs"): ("pow_N0_L0_lg0_k0.5", 2.98),  # noqa: E501
    ("discretization_accuracy/zoh_ad_rel_max_error", "float64", "legt"): ("kappa_eps", 0.508),
    ("discretization_accuracy/zoh_bd_max_entrywise_rel_error", "float32", "*"): ("pow_N0_L0_lg0_k0.5", 5.39),  # noqa: E501
    ("discretization_accuracy/zoh_bd_max_entrywise_rel_error", "float32", "diag-inv"): ("pow_N0_L0_lg0_k0.5", 5.39),  # noqa: E501
    ("discretization_accuracy/zoh_bd_max_entrywise_rel_error", "float32", "diag-legs"): ("eps", 9.24),  # noqa: E501
    ("discretization_accuracy/zoh_bd_max_entrywise_rel_error", "float32", "diag-lin"): ("eps", 4.5),
    ("discretization_accuracy/zoh_bd_max_entrywise_rel_error", "float64", "*"): ("pow_N0_L0_lg0_k0.5", 3.9),  # noqa: E501
    ("discretization_accuracy/zoh_bd_max_entrywise_rel_error", "float64", "diag-inv"): ("pow_N0_L0_lg0_k0.5", 3.9),  # noqa: E501
    ("discretization_accuracy/zoh_bd_max_entrywise_rel_error", "float64", "diag-legs"): ("eps", 1.52),  # noqa: E501
    ("discretization_accuracy/zoh_bd_max_entrywise_rel_error", "float64", "diag-lin"): ("eps", 1.3),
    ("discretization_accuracy/zoh_bd_rel_max_error", "float32", "*"): ("eps", 1.94),
    ("discretization_accuracy/zoh_bd_rel_max_error", "float32", "fout"): ("eps", 0.892),
    ("discretization_accuracy/zoh_bd_rel_max_error", "float32", "lagt"): ("eps", 0.885),
    ("discretization_accuracy/zoh_bd_rel_max_error", "float32", "legs"): ("eps", 1.94),
    ("discretization_accuracy/zoh_bd_rel_max_error", "float32", "legt"): ("eps", 1.4),
    ("discretization_accuracy/zoh_bd_rel_max_error", "float64", "*"): ("kappa_eps", 11.3),
    ("discretization_accuracy/zoh_bd_rel_max_error", "float64", "fout"): ("eps", 5.0),
    ("discretization_accuracy/zoh_bd_rel_max_error", "float64", "lagt"): ("pow_N0_L0_lg0_k0.5", 4.79),  # noqa: E501
    ("discretization_accuracy/zoh_bd_rel_max_error", "float64", "legs"): ("kappa_eps", 11.3),
    ("discretization_accuracy/zoh_bd_rel_max_error", "float64", "legt"): ("pow_N0_L0_lg0_k0.5", 2.68),  # noqa: E501
    ("discretization_accuracy/zoh_lambda_d_max_entrywise_rel_error", "float32", "*"): ("kappa_eps", 0.713),  # noqa: E501
    ("discretization_accuracy/zoh_lambda_d_max_entrywise_rel_error", "float32", "diag-inv"): ("kappa_eps", 0.595),  # noqa: E501
    ("discretization_accuracy/zoh_lambda_d_max_entrywise_rel_error", "float32", "diag-legs"): ("kappa_eps", 0.713),  # noqa: E501
    ("discretization_accuracy/zoh_lambda_d_max_entrywise_rel_error", "float32", "diag-lin"): ("kappa_eps", 0.519),  # noqa: E501
    ("discretization_accuracy/zoh_lambda_d_max_entrywise_rel_error", "float64", "*"): ("kappa_eps", 0.711),  # noqa: E501
    ("discretization_accuracy/zoh_lambda_d_max_entrywise_rel_error", "float64", "diag-inv"): ("kappa_eps", 0.515),  # noqa: E501
    ("discretization_accuracy/zoh_lambda_d_max_entrywise_rel_error", "float64", "diag-legs"): ("kappa_eps", 0.711),  # noqa: E501
    ("discretization_accuracy/zoh_lambda_d_max_entrywise_rel_error", "float64", "diag-lin"): ("kappa_eps", 0.503),  # noqa: E501
    ("hippo_entries/a_entries_max_error_ulps", "float32", "*"): ("const", 0.5),
    ("hippo_entries/a_entries_max_error_ulps", "float32", "diagonal"): ("const", 0.495),
    ("hippo_entries/a_entries_max_error_ulps", "float32", "foud"): ("const", 0.491),
    ("hippo_entries/a_entries_max_error_ulps", "float32", "fourier_decay"): ("const", 0.491),
    ("hippo_entries/a_entries_max_error_ulps", "float32", "fout"): ("const", 0.491),
    ("hippo_entries/a_entries_max_error_ulps", "float32", "glagt"): ("const", 0.08),
    ("hippo_entries/a_entries_max_error_ulps", "float32", "legs"): ("const", 0.5),
    ("hippo_entries/a_entries_max_error_ulps", "float32", "legsd"): ("const", 0.5),
    ("hippo_entries/a_entries_max_error_ulps", "float32", "legt"): ("const", 0.5),
    ("hippo_entries/a_entries_max_error_ulps", "float32", "random"): ("const", 0.5),
    ("hippo_entries/a_entries_max_error_ulps", "float64", "*"): ("const", 1.0),
    ("hippo_entries/a_entries_max_error_ulps", "float64", "foud"): ("sqrtN_eps", 466000000000000.0),
    ("hippo_entries/a_entries_max_error_ulps", "float64", "fourier_decay"): ("const", 1.0),
    ("hippo_entries/a_entries_max_error_ulps", "float64", "fout"): ("const", 1.0),
    ("hippo_entries/a_entries_max_error_ulps", "float64", "glagt"): ("const", 0.0391),
    ("hippo_entries/a_entries_max_error_ulps", "float64", "legs"): ("const", 0.5),
    ("hippo_entries/a_entries_max_error_ulps", "float64", "legsd"): ("const", 0.5),
    ("hippo_entries/a_entries_max_error_ulps", "float64", "legt"): ("const", 0.5),
    ("hippo_entries/b_entries_max_error_ulps", "float32", "*"): ("const", 0.5),
    ("hippo_entries/b_entries_max_error_ulps", "float32", "diagonal"): ("const", 0.499),
    ("hippo_entries/b_entries_max_error_ulps", "float32", "foud"): ("const", 0.203),
    ("hippo_entries/b_entries_max_error_ulps", "float32", "fourier_decay"): ("const", 0.203),
    ("hippo_entries/b_entries_max_error_ulps", "float32", "fout"): ("const", 0.203),
    ("hippo_entries/b_entries_max_error_ulps", "float32", "glagt"): ("const", 0.2),
    ("hippo_entries/b_entries_max_error_ulps", "float32", "legs"): ("const", 0.498),
    ("hippo_entries/b_entries_max_error_ulps", "float32", "legsd"): ("const", 0.498),
    ("hippo_entries/b_entries_max_error_ulps", "float32", "legt"): ("const", 0.498),
    ("hippo_entries/b_entries_max_error_ulps", "float32", "random"): ("const", 0.5),
    ("hippo_entries/b_entries_max_error_ulps", "float64", "*"): ("const", 0.498),
    ("hippo_entries/b_entries_max_error_ulps", "float64", "foud"): ("const", 0.435),
    ("hippo_entries/b_entries_max_error_ulps", "float64", "fourier_decay"): ("const", 0.435),
    ("hippo_entries/b_entries_max_error_ulps", "float64", "fout"): ("const", 0.435),
    ("hippo_entries/b_entries_max_error_ulps", "float64", "glagt"): ("const", 0.325),
    ("hippo_entries/b_entries_max_error_ulps", "float64", "legs"): ("const", 0.498),
    ("hippo_entries/b_entries_max_error_ulps", "float64", "legsd"): ("const", 0.498),
    ("hippo_entries/b_entries_max_error_ulps", "float64", "legt"): ("const", 0.498),
    ("hippo_entries/p_entries_max_error_ulps", "float32", "*"): ("const", 0.498),
    ("hippo_entries/p_entries_max_error_ulps", "float32", "fourier_decay"): ("const", 0.203),
    ("hippo_entries/p_entries_max_error_ulps", "float32", "fout"): ("const", 0.203),
    ("hippo_entries/p_entries_max_error_ulps", "float32", "glagt"): ("const", 0.203),
    ("hippo_entries/p_entries_max_error_ulps", "float32", "lagt"): ("const", 0.203),
    ("hippo_entries/p_entries_max_error_ulps", "float32", "legs"): ("const", 0.498),
    ("hippo_entries/p_entries_max_error_ulps", "float32", "legt"): ("const", 0.498),
    ("hippo_entries/p_entries_max_error_ulps", "float32", "tlagt"): ("const", 0.203),
    ("hippo_entries/p_entries_max_error_ulps", "float64", "*"): ("const", 0.565),
    ("hippo_entries/p_entries_max_error_ulps", "float64", "fourier_decay"): ("const", 0.565),
    ("hippo_entries/p_entries_max_error_ulps", "float64", "fout"): ("const", 0.435),
    ("hippo_entries/p_entries_max_error_ulps", "float64", "glagt"): ("const", 0.435),
    ("hippo_entries/p_entries_max_error_ulps", "float64", "lagt"): ("const", 0.435),
    ("hippo_entries/p_entries_max_error_ulps", "float64", "legs"): ("const", 0.498),
    ("hippo_entries/p_entries_max_error_ulps", "float64", "legt"): ("const", 0.498),
    ("hippo_entries/p_entries_max_error_ulps", "float64", "tlagt"): ("const", 0.435),
    ("initialisations_of_the_reference_s_implementation/a_entries_of_reference_name_max_error_ulps", "float32", "*"): ("const", 0.478),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/a_entries_of_reference_name_max_error_ulps", "float32", "fourier"): ("const", 0.478),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/a_entries_of_reference_name_max_error_ulps", "float32", "fourier2"): ("const", 0.478),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/a_entries_of_reference_name_max_error_ulps", "float32", "fourier_diag"): ("const", 0.478),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/a_entries_of_reference_name_max_error_ulps", "float64", "*"): ("const", 2.0),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/a_entries_of_reference_name_max_error_ulps", "float64", "fourier"): ("const", 2.0),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/a_entries_of_reference_name_max_error_ulps", "float64", "fourier2"): ("const", 2.0),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/a_entries_of_reference_name_max_error_ulps", "float64", "fourier_diag"): ("const", 0.827),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/b_entries_of_reference_name_max_error_ulps", "float32", "*"): ("const", 0.203),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/b_entries_of_reference_name_max_error_ulps", "float32", "fourier"): ("const", 0.203),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/b_entries_of_reference_name_max_error_ulps", "float32", "fourier2"): ("const", 0.203),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/b_entries_of_reference_name_max_error_ulps", "float32", "fourier_diag"): ("const", 0.203),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/b_entries_of_reference_name_max_error_ulps", "float64", "*"): ("const", 0.435),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/b_entries_of_reference_name_max_error_ulps", "float64", "fourier"): ("const", 0.435),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/b_entries_of_reference_name_max_error_ulps", "float64", "fourier2"): ("const", 0.435),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/b_entries_of_reference_name_max_error_ulps", "float64", "fourier_diag"): ("const", 0.435),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/fout_time_scale_steady_state_vs_window_projection_rel_max_error", "float32", "*"): ("eps", 0.152),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/fout_time_scale_steady_state_vs_window_projection_rel_max_error", "float32", "fout"): ("eps", 0.152),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/fout_time_scale_steady_state_vs_window_projection_rel_max_error", "float32", "reference fourier_decay = fout / 2"): ("eps", 0.143),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/fout_time_scale_steady_state_vs_window_projection_rel_max_error", "float64", "*"): ("eps", 8.24),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/fout_time_scale_steady_state_vs_window_projection_rel_max_error", "float64", "fout"): ("eps", 8.24),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/fout_time_scale_steady_state_vs_window_projection_rel_max_error", "float64", "reference fourier_decay = fout / 2"): ("eps", 5.41),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/p_entries_of_reference_name_max_error_ulps", "float32", "*"): ("const", 0.203),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/p_entries_of_reference_name_max_error_ulps", "float32", "fourier"): ("const", 0.203),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/p_entries_of_reference_name_max_error_ulps", "float32", "fourier2"): ("const", 0.203),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/p_entries_of_reference_name_max_error_ulps", "float64", "*"): ("const", 0.435),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/p_entries_of_reference_name_max_error_ulps", "float64", "fourier"): ("const", 0.435),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/p_entries_of_reference_name_max_error_ulps", "float64", "fourier2"): ("const", 0.435),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/s_d_b_rel_max_error", "float32", ""): ("eps", 0.38),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/s_d_b_rel_max_error", "float32", "*"): ("eps", 0.38),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/s_d_b_rel_max_error", "float64", ""): ("eps", 1.5),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/s_d_b_rel_max_error", "float64", "*"): ("eps", 1.5),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/s_d_lambda_rel_max_error", "float32", ""): ("eps", 0.419),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/s_d_lambda_rel_max_error", "float32", "*"): ("eps", 0.419),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/s_d_lambda_rel_max_error", "float64", ""): ("eps", 0.897),  # noqa: E501
    ("initialisations_of_the_reference_s_implementation/s_d_lambda_rel_max_error", "float64", "*"): ("eps", 0.897),  # noqa: E501
    ("kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error", "float32", "*"): ("pow_N1_L0.5_lg1_k0", 0.00831),  # noqa: E501
    ("kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error", "float32", "fout"): ("N_eps", 2.66),  # noqa: E501
    ("kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error", "float32", "lagt"): ("pow_N0.5_L0.5_lg1_k0", 0.033),  # noqa: E501
    ("kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error", "float32", "legs"): ("N_eps", 0.26),  # noqa: E501
    ("kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error", "float32", "legt"): ("N_eps", 0.628),  # noqa: E501
    ("kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error", "float64", "*"): ("pow_N2_L0_lg1_k0", 0.00717),  # noqa: E501
    ("kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error", "float64", "fout"): ("pow_N2_L0_lg0_k0", 0.0574),  # noqa: E501
    ("kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error", "float64", "lagt"): ("pow_N1_L0.25_lg0_k0", 0.17),  # noqa: E501
    ("kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error", "float64", "legs"): ("N_eps", 0.344),  # noqa: E501
    ("kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error", "float64", "legt"): ("N_eps", 0.607),  # noqa: E501
    ("kernel_accuracy/kernel_diag_vs_ground_truth_rel_max_error", "float32", "*"): ("pow_N2_L0_lg1_k0", 0.0179),  # noqa: E501
    ("kernel_accuracy/kernel_diag_vs_ground_truth_rel_max_error", "float32", "diag-inv"): ("eps", 36.7),  # noqa: E501
    ("kernel_accuracy/kernel_diag_vs_ground_truth_rel_max_error", "float32", "diag-legs"): ("pow_N2_L0_lg1_k0", 0.0152),  # noqa: E501
    ("kernel_accuracy/kernel_diag_vs_ground_truth_rel_max_error", "float32", "diag-lin"): ("sqrtN_eps", 2.8),  # noqa: E501
    ("kernel_accuracy/kernel_diag_vs_ground_truth_rel_max_error", "float64", "*"): ("pow_N2_L0_lg0_k0", 0.151),  # noqa: E501
    ("kernel_accuracy/kernel_diag_vs_ground_truth_rel_max_error", "float64", "diag-inv"): ("sqrtN_eps", 5.31),  # noqa: E501
    ("kernel_accuracy/kernel_diag_vs_ground_truth_rel_max_error", "float64", "diag-legs"): ("pow_N2_L0_lg1_k0", 0.0126),  # noqa: E501
    ("kernel_accuracy/kernel_diag_vs_ground_truth_rel_max_error", "float64", "diag-lin"): ("N_eps", 0.394),  # noqa: E501
    ("kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error", "float32", "*"): ("sqrtN_eps", 3.32),  # noqa: E501
    ("kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error", "float32", "fout"): ("N_eps", 0.207),  # noqa: E501
    ("kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error", "float32", "lagt"): ("sqrtN_log2L_eps", 0.121),  # noqa: E501
    ("kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error", "float32", "legs"): ("sqrtN_eps", 0.901),  # noqa: E501
    ("kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error", "float32", "legt"): ("sqrtN_log2L_eps", 0.164),  # noqa: E501
    ("kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error", "float64", "*"): ("pow_N0.5_L1_lg0_k0", 0.178),  # noqa: E501
    ("kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error", "float64", "fout"): ("sqrtN_eps", 52.9),  # noqa: E501
    ("kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error", "float64", "lagt"): ("pow_N0_L1_lg1_k0", 0.0434),  # noqa: E501
    ("kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error", "float64", "legs"): ("rigorous", 0.0176),  # noqa: E501
    ("kernel_accuracy/kernel_dplr_vs_ground_truth_rel_max_error", "float64", "legt"): ("pow_N0.5_L0.25_lg1_k0", 0.736),  # noqa: E501
    ("kernel_accuracy_on_trained_like_parameters/kernel_dplr_vs_float_worst_channel_rel_max_error", "float32", "*"): ("eps", 21.9),  # noqa: E501
    ("kernel_accuracy_on_trained_like_parameters/kernel_dplr_vs_float_worst_channel_rel_max_error", "float32", "foud"): ("eps", 3.96),  # noqa: E501
    ("kernel_accuracy_on_trained_like_parameters/kernel_dplr_vs_float_worst_channel_rel_max_error", "float32", "fourier_decay"): ("eps", 16.2),  # noqa: E501
    ("kernel_accuracy_on_trained_like_parameters/kernel_dplr_vs_float_worst_channel_rel_max_error", "float32", "fout"): ("eps", 2.68),  # noqa: E501
    ("kernel_accuracy_on_trained_like_parameters/kernel_dplr_vs_float_worst_channel_rel_max_error", "float32", "glagt"): ("eps", 21.9),  # noqa: E501
    ("kernel_accuracy_on_trained_like_parameters/kernel_dplr_vs_float_worst_channel_rel_max_error", "float32", "lagt"): ("eps", 19.7),  # noqa: E501
    ("kernel_accuracy_on_trained_like_parameters/kernel_dplr_vs_float_worst_channel_rel_max_error", "float32", "legs"): ("eps", 10.4),  # noqa: E501
    ("kernel_accuracy_on_trained_like_parameters/kernel_dplr_vs_float_worst_channel_rel_max_error", "float32", "legsd"): ("eps", 3.16),  # noqa: E501
    ("kernel_accuracy_on_trained_like_parameters/kernel_dplr_vs_float_worst_channel_rel_max_error", "float32", "legt"): ("eps", 18.2),  # noqa: E501
    ("kernel_accuracy_on_trained_like_parameters/kernel_dplr_vs_float_worst_channel_rel_max_error", "float32", "tlagt"): ("eps", 16.1),  # noqa: E501
    ("legs/nplr_kernel_vs_ground_truth_rel_max_error", "float32", ""): ("sqrtN_log2L_eps", 0.1),
    ("legs/nplr_kernel_vs_ground_truth_rel_max_error", "float32", "*"): ("sqrtN_log2L_eps", 0.1),
    ("legs/nplr_kernel_vs_ground_truth_rel_max_error", "float64", ""): ("pow_N1_L0.25_lg0_k0", 1.09),  # noqa: E501
    ("legs/nplr_kernel_vs_ground_truth_rel_max_error", "float64", "*"): ("pow_N1_L0.25_lg0_k0", 1.09),  # noqa: E501
    ("legs/nplr_reconstruction_v_v_h_vs_a_rel_max_error", "float32", ""): ("eps", 0.973),
    ("legs/nplr_reconstruction_v_v_h_vs_a_rel_max_error", "float32", "*"): ("eps", 0.973),
    ("legs/nplr_reconstruction_v_v_h_vs_a_rel_max_error", "float64", ""): ("sqrtN_eps", 2.14),
    ("legs/nplr_reconstruction_v_v_h_vs_a_rel_max_error", "float64", "*"): ("sqrtN_eps", 2.14),
    ("recurrence_vs_convolution/scan_route_associative_final_state_vs_float_loop_rel_max_error", "float32", "*"): ("eps", 25.4),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_final_state_vs_float_loop_rel_max_error", "float32", "diag-lin"): ("eps", 21.7),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_final_state_vs_float_loop_rel_max_error", "float32", "legs"): ("eps", 25.4),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_final_state_vs_float_loop_rel_max_error", "float64", "*"): ("eps", 33.5),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_final_state_vs_float_loop_rel_max_error", "float64", "diag-lin"): ("eps", 25.5),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_final_state_vs_float_loop_rel_max_error", "float64", "legs"): ("eps", 33.5),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_outputs_vs_float_loop_rel_max_error", "float32", "*"): ("eps", 25.4),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_outputs_vs_float_loop_rel_max_error", "float32", "diag-lin"): ("eps", 14.9),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_outputs_vs_float_loop_rel_max_error", "float32", "legs"): ("eps", 25.4),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_outputs_vs_float_loop_rel_max_error", "float64", "*"): ("eps", 32.8),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_outputs_vs_float_loop_rel_max_error", "float64", "diag-lin"): ("eps", 14.7),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_associative_outputs_vs_float_loop_rel_max_error", "float64", "legs"): ("eps", 32.8),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_final_state_vs_float_loop_rel_max_error", "float32", "*"): ("eps", 25.4),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_final_state_vs_float_loop_rel_max_error", "float32", "diag-lin"): ("eps", 21.7),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_final_state_vs_float_loop_rel_max_error", "float32", "legs"): ("eps", 25.4),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_final_state_vs_float_loop_rel_max_error", "float64", "*"): ("eps", 33.6),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_final_state_vs_float_loop_rel_max_error", "float64", "diag-lin"): ("eps", 25.7),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_final_state_vs_float_loop_rel_max_error", "float64", "legs"): ("eps", 33.6),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_outputs_vs_float_loop_rel_max_error", "float32", "*"): ("eps", 24.3),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_outputs_vs_float_loop_rel_max_error", "float32", "diag-lin"): ("eps", 14.3),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_outputs_vs_float_loop_rel_max_error", "float32", "legs"): ("eps", 24.3),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_outputs_vs_float_loop_rel_max_error", "float64", "*"): ("eps", 32.8),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_outputs_vs_float_loop_rel_max_error", "float64", "diag-lin"): ("eps", 13.5),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_auto_outputs_vs_float_loop_rel_max_error", "float64", "legs"): ("eps", 32.8),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_final_state_vs_float_loop_rel_max_error", "float32", "*"): ("eps", 25.4),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_final_state_vs_float_loop_rel_max_error", "float32", "diag-lin"): ("eps", 21.7),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_final_state_vs_float_loop_rel_max_error", "float32", "legs"): ("eps", 25.4),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_final_state_vs_float_loop_rel_max_error", "float64", "*"): ("eps", 33.6),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_final_state_vs_float_loop_rel_max_error", "float64", "diag-lin"): ("eps", 25.7),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_final_state_vs_float_loop_rel_max_error", "float64", "legs"): ("eps", 33.6),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_outputs_vs_float_loop_rel_max_error", "float32", "*"): ("eps", 24.3),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_outputs_vs_float_loop_rel_max_error", "float32", "diag-lin"): ("eps", 14.3),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_outputs_vs_float_loop_rel_max_error", "float32", "legs"): ("eps", 24.3),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_outputs_vs_float_loop_rel_max_error", "float64", "*"): ("eps", 32.8),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_outputs_vs_float_loop_rel_max_error", "float64", "diag-lin"): ("eps", 13.5),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_chunked_outputs_vs_float_loop_rel_max_error", "float64", "legs"): ("eps", 32.8),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_convolution_final_state_vs_float_loop_rel_max_error", "float32", "*"): ("eps", 2.78),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_convolution_final_state_vs_float_loop_rel_max_error", "float32", "diag-lin"): ("eps", 2.78),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_convolution_final_state_vs_float_loop_rel_max_error", "float64", "*"): ("eps", 104.0),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_convolution_final_state_vs_float_loop_rel_max_error", "float64", "diag-lin"): ("eps", 104.0),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_convolution_outputs_vs_float_loop_rel_max_error", "float32", "*"): ("eps", 1.28),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_convolution_outputs_vs_float_loop_rel_max_error", "float32", "diag-lin"): ("eps", 1.28),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_convolution_outputs_vs_float_loop_rel_max_error", "float64", "*"): ("eps", 53.7),  # noqa: E501
    ("recurrence_vs_convolution/scan_route_convolution_outputs_vs_float_loop_rel_max_error", "float64", "diag-lin"): ("eps", 53.7),  # noqa: E501
    ("recurrence_vs_convolution/scan_vs_causal_conv_rel_max_error", "float32", "*"): ("sqrtN_eps", 6.75),  # noqa: E501
    ("recurrence_vs_convolution/scan_vs_causal_conv_rel_max_error", "float32", "diag-lin"): ("eps", 44.7),  # noqa: E501
    ("recurrence_vs_convolution/scan_vs_causal_conv_rel_max_error", "float32", "legs"): ("sqrtN_eps", 6.75),  # noqa: E501
    ("recurrence_vs_convolution/scan_vs_causal_conv_rel_max_error", "float64", "*"): ("sqrtN_eps", 9.44),  # noqa: E501
    ("recurrence_vs_convolution/scan_vs_causal_conv_rel_max_error", "float64", "diag-lin"): ("eps", 36.4),  # noqa: E501
    ("recurrence_vs_convolution/scan_vs_causal_conv_rel_max_error", "float64", "legs"): ("sqrtN_eps", 9.44),  # noqa: E501
    ("stability/random_ablation_rho_rho_rho", "float32", "*"): ("eps", 0.416),
    ("stability/random_ablation_rho_rho_rho", "float32", "random"): ("eps", 0.416),
    ("stability/random_ablation_rho_rho_rho", "float64", "*"): ("sqrtN_eps", 3.48),
    ("stability/random_ablation_rho_rho_rho", "float64", "random"): ("sqrtN_eps", 3.48),
}
# END CALIBRATION

# the module-level names of the declared tolerances (for cross-references)
_DATA_NAMES = {t.name: f"statespace.verification.bounds.{name}"
               for name, t in list(globals().items())
               if isinstance(t, Tolerance) and name.isupper() and t.name in TOLERANCES}
