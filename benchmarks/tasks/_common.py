"""Shared plumbing of the training tasks: arguments, seeding, progress, JSON results."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time

import torch

try:  # the progress bar; tqdm comes with the `tasks` extra
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover - minimal fallback
    tqdm = None


def parser(description):
    """Argument parser with the options every task shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny run (< 2 min) for smoke testing")
    p.add_argument("--out", default=None, help="write the JSON result to this file")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1: on a shared 2-core machine, 2 OpenMP"
                   " threads contend and run 10-50x slower on these small tensors)")
    p.add_argument("--no-progress", action="store_true", help="disable the progress bar")
    p.add_argument("--save-model", default=None, metavar="PATH",
                   help="save the trained model's state_dict here (torch.save)")
    p.add_argument("--no-model-check", action="store_true",
                   help="skip the numerics check of the trained model (check_model)")
    return p


def model_check(args, model):
    """Save the trained model (``--save-model``) and check its numerics.

    Runs :func:`statespace.verification.check_model` on the trained model in float32
    at its training length (unless ``--no-model-check``) and returns a JSON-ready
    summary for the result file, or None.
    """
    if args.save_model:
        os.makedirs(os.path.dirname(os.path.abspath(args.save_model)), exist_ok=True)
        torch.save(model.state_dict(), args.save_model)
    if args.no_model_check:
        return None
    from statespace.verification import check_model

    res = check_model(model, dtype="float32")
    worst = {}
    for r in res.rows:
        k = r.params.get("check", r.quantity)
        worst[k] = max(worst.get(k, 0.0), r.error / r.tolerance if r.tolerance > 0 else 0.0)
    print(res.summary(), file=sys.stderr)
    return {
        "dtype": res.dtype, "length": res.length, "layers": len(res.layers),
        "channels": sum(s.H for s in res.layers), "rows": len(res.rows),
        "passed_rows": sum(r.passed for r in res.rows), "passed": res.passed,
        "failing_channels": [[layer, h, checks] for layer, h, checks in
                             res.failing_channels()],
        "worst_error_over_tolerance": {k: float(f"{v:.3g}") for k, v in sorted(worst.items())},
        "arb_sample": res.sample, "seconds": round(res.elapsed, 1),
    }


def setup(args):
    """Seed every generator and set the thread count; returns the start time."""
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    return time.perf_counter()


def progress(iterable=None, total=None, desc=None, disable=False):
    """A tqdm bar on stderr (a plain iterator when tqdm is missing or disabled)."""
    if tqdm is None or disable:
        return _Plain(iterable, total)
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, dynamic_ncols=True)


class _Plain:
    def __init__(self, iterable, total):
        self.iterable, self.total = iterable, total

    def __iter__(self):
        return iter(self.iterable)

    def update(self, n=1):
        pass

    def set_postfix(self, *a, **k):
        pass

    def close(self):
        pass


def finish(args, t0, result):
    """Add run metadata, print the JSON result and write it to ``--out``."""
    result = dict(result)
    result["wall_time_s"] = round(time.perf_counter() - t0, 2)
    result["meta"] = {
        "quick": bool(args.quick),
        "seed": args.seed,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "argv": sys.argv[1:],
    }
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return result


def n_params(module):
    """Number of trainable scalars (complex parameters are stored as real pairs)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def cosine_schedule(opt, total, warmup):
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    import math

    def factor(s):
        return min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
