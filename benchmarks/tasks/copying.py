"""Copying memory: reproduce 10 symbols after a lag of more than 1000 blank steps.

Input (length ``T + 20``): 10 symbols drawn from 8 categories, ``T - 1`` blanks, a
delimiter, 10 blanks. Target: the 10 symbols in the last 10 positions; the lag between
a symbol and its copy is ``T + 10``. Defaults: ``T = 1004`` (lag 1014, length 1024).
The loss and the metric cover the copied segment (the last 10 positions); chance is
1/8 = 12.5% per token. An S4 model and an LSTM baseline of similar parameter count are
trained with the same optimizer, batch size, step count and wall-clock budget.

Run: ``python benchmarks/tasks/copying.py [--quick] [--out result.json]``.
"""

from __future__ import annotations

import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from statespace.torch import S4Model, param_groups  # noqa: E402

N_SYM, N_COPY = 8, 10
BLANK, DELIM = 0, N_SYM + 1  # symbols are 1..8
VOCAB = N_SYM + 2


def batch(n, T, gen):
    """Inputs (n, T + 20) int64 and targets (n, 10) int64 (symbols 1..8)."""
    sym = torch.randint(1, N_SYM + 1, (n, N_COPY), generator=gen)
    x = torch.full((n, T + 2 * N_COPY), BLANK, dtype=torch.long)
    x[:, :N_COPY] = sym
    x[:, T + N_COPY - 1] = DELIM
    return x, sym


class S4Copy(nn.Module):
    """S4 (LegS init) on one-hot tokens; the step sizes scale with the lag (~1/(10 L))."""

    def __init__(self, d_model, n_layers, d_state, L, kernel_dtype):
        super().__init__()
        dt_max = min(0.1, 10.0 / L)
        self.net = S4Model(VOCAB, VOCAB, d_model=d_model, n_layers=n_layers, d_state=d_state,
                           mode="s4", pool=None, l_max=L, dt_min=dt_max / 100, dt_max=dt_max,
                           kernel_dtype=kernel_dtype)

    def forward(self, x):
        return self.net(nn.functional.one_hot(x, VOCAB).float())[:, -N_COPY:]


def lstm_hidden(target_params, layers=2):
    """Hidden size whose LSTM (+ linear read-out) has about ``target_params`` parameters."""
    def count(h):
        first = 4 * h * (VOCAB + h) + 8 * h
        rest = (layers - 1) * (4 * h * 2 * h + 8 * h)
        return first + rest + h * VOCAB + VOCAB
    return min(range(4, 2048), key=lambda h: abs(count(h) - target_params))


class LSTMCopy(nn.Module):
    def __init__(self, hidden, layers):
        super().__init__()
        self.lstm = nn.LSTM(VOCAB, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, VOCAB)

    def forward(self, x):
        h, _ = self.lstm(nn.functional.one_hot(x, VOCAB).float())
        return self.out(h[:, -N_COPY:])


@torch.no_grad()
def evaluate(model, T, n, seed):
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    correct = total = 0
    for _ in range(max(1, n // 64)):
        x, y = batch(64, T, gen)
        correct += int((model(x).argmax(-1) == y).sum())
        total += y.numel()
    model.train()
    return correct / total


def train(name, model, groups, args, T, steps, budget, seed):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(groups)
    sched = _common.cosine_schedule(opt, steps, warmup=100)
    bar = _common.progress(total=steps, desc=name, disable=args.no_progress)
    t0 = time.perf_counter()
    history, done, stopped = [], 0, None
    for step in range(steps):
        x, y = batch(args.batch, T, gen)
        logits = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        done = step + 1
        bar.update()
        acc = float((logits.argmax(-1) == y).float().mean())
        bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{acc:.3f}")
        if done % max(1, steps // 20) == 0:
            history.append({"step": done, "loss": round(loss.item(), 4),
                            "batch_acc": round(acc, 4),
                            "time_s": round(time.perf_counter() - t0, 1)})
        if time.perf_counter() - t0 > budget:
            stopped = f"budget of {budget} s reached after {done} steps"
            break
    bar.close()
    return {"train_time_s": round(time.perf_counter() - t0, 1), "steps": done,
            "stopped_early": stopped, "params": _common.n_params(model),
            "test_accuracy": evaluate(model, T, args.eval_samples, seed + 1),
            "history": history}


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=None, help="blanks + 1 (lag = T + 10)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--budget", type=float, default=None, help="seconds per model")
    p.add_argument("--eval-samples", type=int, default=1024)
    p.add_argument("--skip-lstm", action="store_true")
    args = p.parse_args(argv)
    t0 = _common.setup(args)
    if args.quick:
        T, steps, budget, d, layers, N = 100, 200, 45.0, 64, 2, 64
        args.eval_samples = 256
    else:
        T, steps, budget, d, layers, N = 1004, 200, 600.0, 64, 2, 1024
    T = args.T or T
    steps = args.steps or steps
    budget = args.budget or budget
    L = T + 2 * N_COPY
    result = {"task": "copying", "T": T, "lag": T + N_COPY, "length": L,
              "batch": args.batch, "chance": 1 / N_SYM, "target": 0.99,
              "loss": "cross-entropy on the 10 copied positions"}
    # float32 kernels (kernel_dtype=None): ~4x cheaper than the float64 default at N=1024
    s4 = S4Copy(d, layers, N, L, kernel_dtype=None)
    result["s4"] = train("S4", s4, param_groups(s4, lr=1e-2, ssm_lr=1e-3, weight_decay=0.0),
                         args, T, steps, budget, args.seed)
    result["s4"]["config"] = {"d_model": d, "n_layers": layers, "d_state": N, "mode": "s4",
                              "init": "legs", "lr": 1e-2, "ssm_lr": 1e-3,
                              "kernel_dtype": "float32"}
    result["meets_target"] = result["s4"]["test_accuracy"] >= 0.99
    result["s4"]["model_check"] = _common.model_check(args, s4)
    if not args.skip_lstm:
        torch.manual_seed(args.seed)
        hidden = lstm_hidden(result["s4"]["params"])
        lstm = LSTMCopy(hidden, 2)
        result["lstm"] = train("LSTM", lstm, [{"params": list(lstm.parameters()), "lr": 3e-3,
                                               "weight_decay": 0.0}],
                               args, T, steps, budget, args.seed)
        result["lstm"]["config"] = {"hidden": hidden, "layers": 2, "lr": 3e-3}
    _common.finish(args, t0, result)


if __name__ == "__main__":
    main()
