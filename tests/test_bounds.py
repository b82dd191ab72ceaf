"""Expected (calibrated) error bounds of the verification rows."""

import json
import math

import pytest

from statespace.verification import bounds, calibrate
from statespace.verification.report import (
    Row,
    demote_expected,
    slack,
    slack_counts,
    validate,
    write_report,
)

KD = "kernel_dense (bilinear) vs ground truth, rel. max error"


def test_metric_keys_drop_parenthesised_parts_and_numbers():
    assert bounds.metric_of("Kernel accuracy", KD) == \
        "kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error"
    a = bounds.metric_of("Stability", "spectral radius of zoh Ad (legs, N=16)")
    b = bounds.metric_of("Stability", "spectral radius of zoh Ad (lagt)")
    assert a == b == "stability/spectral_radius_of_zoh_ad"
    lower = bounds.metric_of("LegS: NPLR", "naive reconstruction: lower bound eps 2^(4N/3)/64 "
                             "divided by measured (1e-3)")
    assert bounds.direction_of(lower) == "lower"
    assert Row("LegS: x", lower.split("/")[1], {}, "float64", 0.1, 1.0).direction == "lower"


def test_tolerance_object_has_formula_and_function():
    m = bounds.MODELS["sqrtN_log2L_eps"]
    assert m.formula == "sqrt(N) * log2(L) * eps"
    assert m(N=16, L=1024, eps=2.0) == pytest.approx(80.0)
    p = bounds.MODELS["pow_N0.5_L0_lg1_k0"]
    assert p(N=16, L=1024, eps=2.0) == pytest.approx(80.0)
    assert "log2(L)" in p.formula


def test_row_fails_above_expected_bound_and_lenient_demotes_it():
    r = Row("E", "q", {"N": 4}, "float64", 1e-12, 1e-9, expected=1e-13, expected_model="m")
    assert r.above_expected and not r.passed and r.bound == 1e-9
    assert demote_expected([r]) == 1
    assert r.passed and r.warning.startswith("above expected bound")
    # above the rigorous bound or forced: never demoted
    hard = Row("E", "q", {}, "float64", 1e-8, 1e-9, expected=1e-13)
    forced = Row("E", "q", {}, "float64", 1e-12, 1e-9, expected=1e-13, passed=False)
    nan = Row("E", "q", {}, "float64", math.nan, 1e-9, expected=1e-13)
    assert demote_expected([hard, forced, nan]) == 0
    assert not (hard.passed or forced.passed or nan.passed)


def test_calibrated_table_catches_a_thousandfold_float32_kernel_error():
    metric = bounds.metric_of("Kernel accuracy", KD)
    assert (metric, "float32", "*") in bounds.CALIBRATION, "kernel_dense float32 not calibrated"
    params = {"N": 16, "L": 16384, "system": "legs"}
    good = Row("Kernel accuracy", KD, params, "float32", 3e-7, 16 * 16384 * 2.0 ** -23)
    assert good.passed and math.isfinite(good.expected)
    bad = Row("Kernel accuracy", KD, params, "float32", 3e-4, 16 * 16384 * 2.0 ** -23)
    assert bad.error <= bad.tolerance  # the rigorous bound alone lets it through
    assert not bad.passed


def test_json_round_trip_and_schema(tmp_path):
    rows = [Row("E", "q", {"N": 4}, "float64", 1e-15, 1e-12, expected=1e-14,
                expected_model="10 * 1 * eps"),
            Row("E", "q2", {}, "float32", 0.0, 1e-6)]
    write_report(rows, tmp_path / "r")
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    validate(doc)
    back = [Row.from_json(d) for d in doc["rows"]]
    assert back[0].expected == 1e-14 and back[0].metric == "e/q"
    assert math.isnan(back[1].expected)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "## Bounds by metric" in md and "worst tolerance/error" in md
    doc["rows"][0]["error"] = 1e-13  # above expected, passed, no warning
    with pytest.raises(ValueError, match="expected bound"):
        validate(doc)


def test_slack_counts():
    rows = [Row("E", "q", {}, "float64", 1e-15, 1e-12, expected=1e-14),
            Row("E", "q", {}, "float64", 1e-15, 1e-12)]
    assert slack(rows[0]) == pytest.approx(10.0)
    assert slack_counts(rows) == {"rows": 2, "rigorous": 2, "effective": 1, "unexplained": 1}


def test_fit_picks_the_model_and_constant():
    eps = 2.0 ** -52
    rows = [Row("E", "q", {"N": n, "L": L}, "float64", 0.5 * math.sqrt(n) * math.log2(L) * eps,
                1.0) for n in (4, 16, 64) for L in (256, 4096, 65536)]
    table = calibrate.fit(rows)
    name, c = table[("e/q", "float64", "*")]
    assert c == pytest.approx(0.5)
    assert bounds.MODELS[name](N=64, L=65536, eps=1.0) == pytest.approx(8 * 16)


def test_cli_lenient_flag_reaches_the_runner(monkeypatch):
    from statespace import cli
    from statespace.verification import runner

    seen = {}

    def fake_run(**kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(runner, "run", fake_run)
    assert cli.main(["verify", "--lenient", "--out", "x"]) == 0
    assert seen["lenient"] is True
    assert cli.main(["verify", "--out", "x"]) == 0
    assert seen["lenient"] is False


def test_slack_reasons_classify_loose_rows():
    import math

    from statespace.verification.report import Row, slack_counts

    eps = 2.0 ** -52

    def row(metric_q, err, tol, **params):
        return Row("Demo", metric_q, params, "float64", err, tol, expected=math.nan)

    # not loose: no reason
    assert row("x", 10 * eps, 100 * eps).slack_reason == ""
    assert row("x", 0.0, eps).slack_reason.startswith("exact:")
    assert row("x", 0.01 * eps, 8 * eps).slack_reason.startswith("rounding_floor:")
    # the floor of an N-term computation is sqrt(N) eps
    assert row("x", 0.5 * eps, 500 * eps, N=64).slack_reason.startswith("rounding_floor:")
    assert row("x", 0.5 * eps, 500 * eps, N=16).slack_reason.startswith("unexplained")
    # a bound far above the rounding floor is not excused by a tiny error
    assert row("x", 0.01 * eps, 1e4 * eps).slack_reason.startswith("unexplained")
    # kappa excuses discretization rows only
    disc = Row("Discretization accuracy", "zoh Ad, rel. max error", {"kappa": 1e6},
               "float64", 2 * eps, 1e6 * eps, expected=math.nan)
    assert disc.slack_reason.startswith("conditioning:")
    assert row("x", 2 * eps, 1e6 * eps, kappa=1e6).slack_reason.startswith("unexplained")
    # a spread reason needs a declared metric and an expected bound
    spread = Row("Kernel accuracy", "kernel_dense (bilinear) vs ground truth, rel. max error",
                 {}, "float64", 2 * eps, 1e6 * eps, expected=1e4 * eps)
    assert spread.slack_reason.startswith("model_spread:")
    # lower-bound rows are never loose; counts see the unexplained ones
    rows = [row("x", 0.01 * eps, 1e4 * eps), row("x", 0.0, eps)]
    assert slack_counts(rows)["unexplained"] == 1
    # a reason given by the row builder wins
    assert Row("Demo", "x", {}, "float64", 0.01 * eps, 1e4 * eps, expected=math.nan,
               slack_reason="claim: stated").slack_reason == "claim: stated"
