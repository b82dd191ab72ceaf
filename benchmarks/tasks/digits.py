"""Sequential 8x8 digits: classify scikit-learn's digits read as 64-step pixel sequences.

Each 8x8 image (values 0..16) becomes a sequence of 64 scalar pixels in raster order;
an S4 model reads it and classifies by mean pooling. 80/20 stratified split (fixed
seed). Target: >= 97% test accuracy within 10 minutes on 2 CPU cores.

Run: ``python benchmarks/tasks/digits.py [--quick] [--out result.json]``.
Needs the ``tasks`` extra (scikit-learn, tqdm).
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from statespace.torch import S4Model, param_groups  # noqa: E402


def load(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0 - 0.5).astype(np.float32)[:, :, None]  # (n, 64, 1) pixel sequences
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
    return (torch.from_numpy(Xtr), torch.from_numpy(ytr).long(),
            torch.from_numpy(Xte), torch.from_numpy(yte).long())


@torch.no_grad()
def accuracy(model, X, y, batch=512):
    model.eval()
    correct = 0
    for i in range(0, len(X), batch):
        correct += int((model(X[i : i + batch]).argmax(-1) == y[i : i + batch]).sum())
    model.train()
    return correct / len(X)


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--mode", default="s4", choices=["s4", "s4d"])
    p.add_argument("--budget", type=float, default=540.0,
                   help="wall-clock training budget in seconds (default 540)")
    args = p.parse_args(argv)
    t0 = _common.setup(args)
    Xtr, ytr, Xte, yte = load(args.seed)
    if args.quick:
        cfg = dict(d_model=32, n_layers=2, d_state=32, epochs=10, batch=64)
    else:
        cfg = dict(d_model=64, n_layers=4, d_state=64, epochs=25, batch=64)
    if args.epochs is not None:
        cfg["epochs"] = args.epochs
    model = S4Model(1, 10, d_model=cfg["d_model"], n_layers=cfg["n_layers"],
                    d_state=cfg["d_state"], mode=args.mode, pool="mean", dropout=0.1,
                    l_max=64)
    opt = torch.optim.AdamW(param_groups(model, lr=1e-2, ssm_lr=1e-3, weight_decay=0.05))
    steps_per_epoch = math.ceil(len(Xtr) / cfg["batch"])
    total = cfg["epochs"] * steps_per_epoch
    sched = _common.cosine_schedule(opt, total, warmup=50)
    bar = _common.progress(total=total, desc="digits", disable=args.no_progress)
    history, step, stopped = [], 0, None
    t_train = time.perf_counter()
    for epoch in range(cfg["epochs"]):
        perm = torch.randperm(len(Xtr))
        for i in range(0, len(Xtr), cfg["batch"]):
            idx = perm[i : i + cfg["batch"]]
            loss = torch.nn.functional.cross_entropy(model(Xtr[idx]), ytr[idx],
                                                     label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}", epoch=epoch)
        if (epoch + 1) % 5 == 0 or epoch + 1 == cfg["epochs"]:
            history.append({"epoch": epoch + 1, "train_loss": loss.item(),
                            "test_acc": accuracy(model, Xte, yte),
                            "time_s": round(time.perf_counter() - t_train, 1)})
        if time.perf_counter() - t_train > args.budget:
            stopped = f"budget of {args.budget} s reached after epoch {epoch + 1}"
            break
    bar.close()
    train_time = time.perf_counter() - t_train
    acc = accuracy(model, Xte, yte)
    _common.finish(args, t0, {
        "task": "digits",
        "model": {"class": "S4Model", "mode": args.mode, **cfg,
                  "params": _common.n_params(model)},
        "n_train": len(Xtr), "n_test": len(Xte),
        "test_accuracy": acc,
        "train_accuracy": accuracy(model, Xtr, ytr),
        "target": 0.97, "meets_target": acc >= 0.97,
        "train_time_s": round(train_time, 1), "steps": step, "stopped_early": stopped,
        "history": history,
        "model_check": _common.model_check(args, model),
    })


if __name__ == "__main__":
    main()
