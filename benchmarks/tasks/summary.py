"""One Markdown table of the training tasks' JSON results (``digits``, ``copying``, ``co2``).

Reads ``DIR/{digits,copying,co2}.json`` (the files the task scripts write with
``--out``; missing ones are left out) and writes ``DIR/summary.md``: one row per
task with the model, its parameter count, the test metric, the target and whether
it was met, the baselines, training and wall time and the run mode, then one line
naming the machine and the library versions from the results' ``meta``.

Run: ``python benchmarks/tasks/summary.py [DIR] [--out FILE]``
(default ``DIR``: ``docs/results/tasks``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

TASKS = ("digits", "copying", "co2")
DEFAULT_DIR = os.path.join("docs", "results", "tasks")

_CO2_BASELINES = {"naive": "naive", "seasonal_naive": "seasonal naive",
                  "seasonal_naive_drift": "seasonal naive + drift"}


def _pct(x):
    return f"{100 * x:.1f} %"


def _seconds(x, stopped=None):
    return f"{x:.0f} s" + (" (budget reached)" if stopped else "")


def _config(cfg, keys=("mode", "d_model", "n_layers", "d_state")):
    return ", ".join(f"{k} {cfg[k]}" for k in keys if k in cfg)


def _digits(r):
    m = r["model"]
    return {"model": f"S4Model ({_config(m)}), {m['epochs']} epochs",
            "params": m["params"], "metric": f"test accuracy {_pct(r['test_accuracy'])}",
            "target": f">= {_pct(r['target'])}", "met": r["meets_target"], "baseline": "-",
            "train": _seconds(r["train_time_s"], r.get("stopped_early"))}


def _copying(r):
    s4, lstm = r["s4"], r.get("lstm")
    baseline = f"chance {_pct(r['chance'])}"
    if lstm:
        baseline = (f"LSTM ({lstm['config']['layers']} x {lstm['config']['hidden']}, "
                    f"{lstm['params']:,} params): {_pct(lstm['test_accuracy'])} in "
                    f"{_seconds(lstm['train_time_s'], lstm.get('stopped_early'))}; " + baseline)
    return {"model": f"S4Model ({_config(s4['config'])}), lag {r['lag']}, "
                     f"{s4['steps']} steps",
            "params": s4["params"], "metric": f"test accuracy {_pct(s4['test_accuracy'])}",
            "target": f">= {_pct(r['target'])}", "met": r["meets_target"],
            "baseline": baseline, "train": _seconds(s4["train_time_s"], s4.get("stopped_early"))}


def _co2(r):
    m, mse = r["model"], r["mse_ppm2"]
    return {"model": f"S4Model ({_config(m)}), {m['steps']} steps",
            "params": m["params"], "metric": f"MSE {mse['s4']:.3g} ppm²",
            "target": "below every baseline", "met": all(r["s4_beats"].values()),
            "baseline": ", ".join(f"{name} {mse[k]:.3g}" for k, name in _CO2_BASELINES.items()
                                  if k in mse),
            "train": _seconds(r["train_time_s"])}


_ROWS = {"digits": _digits, "copying": _copying, "co2": _co2}


def render(results):
    """Markdown table of task results.

    Parameters
    ----------
    results : dict of str to dict
        Parsed JSON result of each task, keyed by task name (``"digits"``,
        ``"copying"``, ``"co2"``), in the order the rows should appear.

    Returns
    -------
    str
        The table, then a line naming the machine and the versions (from each
        result's ``meta``), newline-terminated.

    Examples
    --------
    >>> meta = {"quick": True, "machine": "x86_64", "cpu_count": 2, "torch_threads": 1,
    ...         "torch": "2.4.0", "python": "3.11.7"}
    >>> r = {"model": {"mode": "s4", "d_model": 32, "epochs": 10, "params": 1234},
    ...      "test_accuracy": 0.95, "target": 0.97, "meets_target": False,
    ...      "train_time_s": 12.3, "wall_time_s": 14.0, "meta": meta}
    >>> lines = render({"digits": r}).splitlines()
    >>> lines[2].split(" | ")[3:6]
    ['test accuracy 95.0 %', '>= 97.0 %', 'no']
    >>> lines[-1]
    'Measured on x86_64, 2 CPUs (1 torch thread), torch 2.4.0, Python 3.11.7.'
    """
    lines = ["| task | model | parameters | result | target | met | baselines | training "
             "| wall time | run |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    machines = []
    for task, r in results.items():
        row = _ROWS[task](r)
        meta = r["meta"]
        lines.append(f"| {task} | {row['model']} | {row['params']:,} | {row['metric']} | "
                     f"{row['target']} | {'yes' if row['met'] else 'no'} | {row['baseline']} | "
                     f"{row['train']} | {_seconds(r['wall_time_s'])} | "
                     f"{'quick' if meta['quick'] else 'full'} |")
        machine = (f"{meta['machine']}, {meta['cpu_count']} CPUs ({meta['torch_threads']} "
                   f"torch thread{'s' if meta['torch_threads'] != 1 else ''}), "
                   f"torch {meta['torch']}, Python {meta['python']}")
        if machine not in machines:
            machines.append(machine)
    lines.append("")
    lines.append("Measured on " + "; ".join(machines) + ".")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Write ``summary.md`` from the task results in a folder.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``): the folder holding
        ``digits.json``, ``copying.json`` and ``co2.json`` (default
        ``docs/results/tasks``) and ``--out FILE`` (default ``DIR/summary.md``).

    Returns
    -------
    int
        0 when the summary was written, 1 when the folder holds no task result.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir", nargs="?", default=DEFAULT_DIR,
                   help=f"folder of the task JSON files (default {DEFAULT_DIR})")
    p.add_argument("--out", default=None, help="output file (default DIR/summary.md)")
    args = p.parse_args(argv)
    results = {}
    for task in TASKS:
        path = os.path.join(args.dir, f"{task}.json")
        if os.path.exists(path):
            with open(path) as fh:
                results[task] = json.load(fh)
    if not results:
        print(f"no task results ({', '.join(t + '.json' for t in TASKS)}) in {args.dir}",
              file=sys.stderr)
        return 1
    out = args.out or os.path.join(args.dir, "summary.md")
    with open(out, "w") as fh:
        fh.write(render(results))
    print(f"wrote {out} ({', '.join(results)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
