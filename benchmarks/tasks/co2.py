"""CO2 forecasting: 12-month-ahead forecasts of the Mauna Loa series (statsmodels).

The weekly series shipped with statsmodels (``statsmodels.datasets.co2``, 1958-2001)
is averaged per month (gaps interpolated). A causal S4 model reads the monthly
differences and predicts, at every month ``t``, the next 12 values relative to the
current one, ``y[t+k] - y[t]`` for ``k = 1..12``. Months up to the split (80%) train
the model; forecasts issued from the remaining months are scored against the truth
(MSE in ppm^2, averaged over the 12 horizons and all test origins whose horizon lies in
the data). Baselines: naive (``y[t]``), seasonal naive (``y[t+k-12]``) and seasonal
naive with drift (``y[t+k-12] + y[t] - y[t-12]``).

Run: ``python benchmarks/tasks/co2.py [--quick] [--out result.json]``.
Needs the ``tasks`` extra (statsmodels, tqdm).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from statespace.torch import S4Model, param_groups  # noqa: E402

H = 12  # forecast horizon (months)


def load():
    import statsmodels.api as sm

    s = sm.datasets.co2.load_pandas().data["co2"]
    monthly = s.resample("MS").mean().interpolate()
    return monthly.index, monthly.to_numpy(dtype=np.float64)


def targets(y):
    """(T, H) matrix of y[t+k] - y[t] (NaN beyond the end)."""
    T = len(y)
    out = np.full((T, H), np.nan)
    for k in range(1, H + 1):
        out[: T - k, k - 1] = y[k:] - y[: T - k]
    return out


def baselines(y, origins):
    """Forecasts (len(origins), H) of the three baselines."""
    k = np.arange(1, H + 1)
    naive = np.repeat(y[origins, None], H, axis=1)
    seas = y[origins[:, None] + k[None, :] - 12]
    drift = seas + (y[origins] - y[origins - 12])[:, None]
    return {"naive": naive, "seasonal_naive": seas, "seasonal_naive_drift": drift}


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--mode", default="s4", choices=["s4", "s4d"])
    args = p.parse_args(argv)
    t0 = _common.setup(args)
    dates, y = load()
    T = len(y)
    split = int(0.8 * T)
    dy = np.diff(y, prepend=y[0])
    tg = targets(y)
    mu, sd = dy[1:split].mean(), dy[1:split].std()
    tsd = np.nanstd(tg[:split - H])
    x_all = torch.tensor((dy - mu) / sd, dtype=torch.float32)[None, :, None]  # (1, T, 1)
    t_all = torch.tensor(tg / tsd, dtype=torch.float32)[None]  # (1, T, H)
    if args.quick:
        cfg = dict(d_model=32, n_layers=2, d_state=32, steps=150, batch=16, window=96)
    else:
        cfg = dict(d_model=32, n_layers=2, d_state=32, steps=600, batch=32, window=96)
    if args.steps is not None:
        cfg["steps"] = args.steps
    model = S4Model(1, H, d_model=cfg["d_model"], n_layers=cfg["n_layers"],
                    d_state=cfg["d_state"], mode=args.mode, pool=None, dropout=0.0,
                    l_max=cfg["window"], dt_min=1e-2, dt_max=1.0)
    opt = torch.optim.AdamW(param_groups(model, lr=3e-3, ssm_lr=1e-3, weight_decay=0.05))
    steps = cfg["steps"]
    sched = _common.cosine_schedule(opt, steps, warmup=50)
    gen = torch.Generator().manual_seed(args.seed)
    W = cfg["window"]
    # windows whose targets stay inside the training period: start + W - 1 + H < split
    max_start = split - H - W
    bar = _common.progress(total=steps, desc="co2", disable=args.no_progress)
    t_train = time.perf_counter()
    for _ in range(steps):
        starts = torch.randint(0, max_start + 1, (cfg["batch"],), generator=gen)
        idx = starts[:, None] + torch.arange(W)[None, :]
        xb, tb = x_all[0, idx], t_all[0, idx]  # (B, W, 1), (B, W, H)
        pred = model(xb)
        loss = torch.nn.functional.mse_loss(pred[:, 24:], tb[:, 24:])  # skip warm-up
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    train_time = time.perf_counter() - t_train
    model.eval()
    with torch.no_grad():
        pred = model(x_all)[0].numpy() * tsd  # (T, H): causal, one pass over the series
    origins = np.arange(split, T - H)
    truth = y[origins[:, None] + np.arange(1, H + 1)[None, :]]
    forecasts = {"s4": y[origins, None] + pred[origins]}
    forecasts.update(baselines(y, origins))
    mse = {k: float(np.mean((f - truth) ** 2)) for k, f in forecasts.items()}
    mse_by_h = {k: [float(v) for v in np.mean((f - truth) ** 2, axis=0)]
                for k, f in forecasts.items()}
    _common.finish(args, t0, {
        "task": "co2",
        "data": {"source": "statsmodels.datasets.co2 (weekly, monthly means)",
                 "months": T, "first": str(dates[0].date()), "last": str(dates[-1].date()),
                 "train_months": split, "test_origins": len(origins),
                 "test_from": str(dates[split].date())},
        "model": {"class": "S4Model", "mode": args.mode, **cfg,
                  "params": _common.n_params(model)},
        "mse_ppm2": mse, "mse_ppm2_by_horizon": mse_by_h,
        "s4_beats": {k: mse["s4"] < v for k, v in mse.items() if k != "s4"},
        "train_time_s": round(train_time, 1),
        "model_check": _common.model_check(args, model),
    })


if __name__ == "__main__":
    main()
