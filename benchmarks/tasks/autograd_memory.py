"""Training memory of the S4 kernel: custom autograd Functions vs the generic path.

For an :class:`~statespace.torch.S4Kernel` of ``H`` channels, state size ``N`` and
kernel length ``L`` this measures, for one forward + backward pass of
``sum(K**2)``:

* the bytes autograd saves for the backward pass (``saved_tensors_hooks``; distinct
  tensors only), with the Cauchy/Vandermonde reductions going through the
  memory-lean Functions of :mod:`statespace._torch_reductions` ("custom") or through
  the generic array-API path differentiated by autograd ("generic");
* the peak resident memory growth of a fresh process doing the same (``ru_maxrss``),
  which includes every temporary;
* the wall time of the pass (after a warm-up pass), and the largest relative
  difference of the gradients of the two paths.

Run: ``python benchmarks/tasks/autograd_memory.py [--quick] [--out result.json]``.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from statespace.reductions import fast_paths  # noqa: E402
from statespace.torch import S4Kernel  # noqa: E402
from statespace.verification.report import relative_error  # noqa: E402

warnings.filterwarnings("ignore", category=UserWarning)


def saved_bytes(fn):
    seen = {}

    def pack(t):
        seen[(t.untyped_storage().data_ptr(), t.dtype, tuple(t.shape))] = (
            t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(seen.values()), out


def make(mode, H, N, L, seed):
    torch.manual_seed(seed)
    return S4Kernel(H, N, mode, l_max=L)


def one_pass(k, L, path):
    with fast_paths(path):
        t = time.perf_counter()
        nbytes, K = saved_bytes(lambda: k(L))
        K.square().sum().backward()
        return nbytes, time.perf_counter() - t


def _hwm_kib():
    """Peak resident set size (VmHWM) of this process in KiB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_hwm():
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _rss_kib():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def worker(mode, H, N, L, path, seed):
    """Run in a fresh process: peak RSS growth of one forward + backward."""
    torch.set_num_threads(1)
    k = make(mode, H, N, L, seed)
    one_pass(k, L, path)  # warm-up (first-call costs), then release its memory
    k.zero_grad(set_to_none=True)
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc
        pass
    exact = _reset_hwm()
    base = _rss_kib() if exact else _hwm_kib()
    nbytes, dt = one_pass(k, L, path)
    peak = _hwm_kib()
    print(json.dumps({"peak_rss_growth_mib": (peak - base) / 1024, "saved_mib": nbytes / 2**20,
                      "time_s": dt, "hwm_reset": exact}))


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--worker", nargs=6, default=None, help=argparse_hidden())
    args = p.parse_args(argv)
    if args.worker:
        mode, H, N, L, path, seed = args.worker
        worker(mode, int(H), int(N), int(L), path, int(seed))
        return
    t0 = _common.setup(args)
    cases = [("s4", 32, 64, 1024), ("s4d", 32, 64, 1024)] if args.quick else [
        ("s4", 64, 64, 4096), ("s4d", 64, 64, 4096), ("s4", 256, 64, 4096)]
    rows = []
    bar = _common.progress(total=len(cases), desc="memory", disable=args.no_progress)
    for mode, H, N, L in cases:
        row = {"mode": mode, "H": H, "N": N, "L": L,
               "O(H N L) block, complex128 MiB": H * (N // 2) * L * 16 / 2**20}
        grads = {}
        for path in ("generic", "custom"):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", mode, str(H), str(N), str(L), path,
                 str(args.seed)], capture_output=True, text=True, check=True)
            row[path] = json.loads(out.stdout.strip().splitlines()[-1])
            k = make(mode, H, N, L, args.seed)
            one_pass(k, L, path)
            grads[path] = [q.grad.clone() for q in k.parameters()]
        row["max_rel_grad_diff"] = max(
            relative_error(a, b)
            for a, b in zip(grads["custom"], grads["generic"], strict=True))
        rows.append(row)
        bar.update()
    bar.close()
    _common.finish(args, t0, {"task": "autograd_memory", "kernel_dtype": "float64",
                              "param_dtype": "float32", "cases": rows})


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
