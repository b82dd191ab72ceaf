"""Markdown table of the model checks recorded in the task results (``model_check``).

Run: ``python benchmarks/tasks/model_check_summary.py docs/results/tasks`` (writes
``model_check.md`` there from the results of the runs whose models are saved in
``models/``: ``digits.json``, ``copying.json``, ``copying-quick.json``, ``co2.json``,
those that exist).
"""

from __future__ import annotations

import json
import os
import sys


def _entry(result):
    if "model_check" in result:
        return result["model_check"]
    return (result.get("s4") or {}).get("model_check")


#: Why a task has no saved, checked model.
MISSING = {
    "copying": "full run not repeated here (its training takes about 18 min); see the "
               "quick run",
}


def _score(result):
    if "test_accuracy" in result:
        return f"test accuracy {100 * result['test_accuracy']:.1f} %"
    if "mse_ppm2" in result:
        return f"MSE {result['mse_ppm2']['s4']:.3f} ppm²"
    s4 = result.get("s4") or {}
    if "test_accuracy" in s4:
        return f"test accuracy {100 * s4['test_accuracy']:.1f} %"
    return "-"


def table(folder):
    lines = ["| task | task result | layers x channels | N | length | rows passed | "
             "failing channels | worst error / bound per check | check time |",
             "|---|---|---|---|---|---|---|---|---|"]
    for task in ("digits", "copying", "copying-quick", "co2"):
        path = os.path.join(folder, "models", f"{task}.json")
        try:
            with open(path) as fh:
                result = json.load(fh)
        except FileNotFoundError:
            why = MISSING.get(task, "no saved model")
            lines.append(f"| {task} | {why} | | | | | | | |")
            continue
        mc = _entry(result)
        if not mc:
            lines.append(f"| {task} | not checked | | | | | | | |")
            continue
        model = result.get("model") or (result.get("s4") or {}).get("config", {})
        run = ("quick run" if (result.get("meta") or {}).get("quick") else "full run") + (
            f", {result['stopped_early']}" if result.get("stopped_early") else "")
        worst = ", ".join(f"{k} {v:.2g}" for k, v in mc["worst_error_over_tolerance"].items())
        bad = "; ".join(f"{layer}[{h}] {'/'.join(c)}" for layer, h, c in
                        mc["failing_channels"]) or "none"
        per_layer = mc["channels"] // max(mc["layers"], 1)
        lines.append(f"| {task} ({run}) | {_score(result)} | {mc['layers']} x {per_layer} | "
                     f"{model.get('d_state', '?')} | {mc['length']} | {mc['passed_rows']}/"
                     f"{mc['rows']} | {bad} | {worst} | {mc['seconds']} s |")
    lines += ["", "float32, the training length, 2 channels per layer against arb; the error "
              "over bound is the largest ratio over the channels (below 1 passes)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    folder = argv[0] if argv else "docs/results/tasks"
    text = table(folder)
    with open(os.path.join(folder, "model_check.md"), "w") as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
