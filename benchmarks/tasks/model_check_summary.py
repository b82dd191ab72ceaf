"""Markdown table of the model checks recorded in the task results (``model_check``).

Run: ``python benchmarks/tasks/model_check_summary.py docs/results/tasks`` (writes
``model_check.md`` there from ``digits.json``, ``copying.json`` and ``co2.json``).
"""

from __future__ import annotations

import json
import os
import sys


def _entry(result):
    if "model_check" in result:
        return result["model_check"]
    return (result.get("s4") or {}).get("model_check")


def table(folder):
    lines = ["| task | layers x channels | N | length | rows passed | failing channels | "
             "worst error / bound per check | check time |",
             "|---|---|---|---|---|---|---|---|"]
    for task in ("digits", "copying", "co2"):
        path = os.path.join(folder, f"{task}.json")
        try:
            with open(path) as fh:
                result = json.load(fh)
        except FileNotFoundError:
            continue
        mc = _entry(result)
        if not mc:
            lines.append(f"| {task} | not checked (result predates the model check) "
                         "| | | | | | |")
            continue
        model = result.get("model") or (result.get("s4") or {}).get("config", {})
        worst = ", ".join(f"{k} {v:.2g}" for k, v in mc["worst_error_over_tolerance"].items())
        bad = "; ".join(f"{layer}[{h}] {'/'.join(c)}" for layer, h, c in
                        mc["failing_channels"]) or "none"
        lines.append(f"| {task} | {mc['layers']} x {mc['channels'] // max(mc['layers'], 1)} | "
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
