"""Issue 18: does the best recurrent model beat the statistical opponents (AutoETS, AutoARIMA, AutoTheta,
MSTL from statsforecast) and their ensembles? One rolling-origin backtest per task (same origins for every
model, one fit before the test period; each origin date forecast from the data cut there, so the
statistical models, which run forward once per origin, forecast only the test origins), then a Diebold-Mariano test of the recurrent model against each
other model on absolute error (`forecast.leaderboard.dm_against`, the convention of every leaderboard).

    python experiments/stats_opponents.py --task seattle_h1        # -> runs/stats_opponents/seattle_h1/
    python experiments/stats_opponents.py --task nyc_h24 --epochs 5

Prints (and writes to result.json) the leaderboard against persistence, the DM p-values against the
recurrent model (p_rnn_better: "the recurrent model is more accurate"; p_rnn_worse: "less accurate"),
and each model's fit and predict seconds. Needs the stats extra: pip install 'forecast[stats]'.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _backtest_common import load_bundled

STATS = ["autoets", "autoarima", "autotheta", "mstl"]
TASKS = {  # data, spec settings, extra backtest params, models besides the recurrent one, stride
    "seattle_h1": ("seattle-weather", {"target": "temp_max", "features": ("precipitation", "temp_min", "wind"),
                                       "horizon": 1, "lookback": 30}, {}, 1),
    "seattle_h7": ("seattle-weather", {"target": "temp_max", "features": ("precipitation", "temp_min", "wind"),
                                       "horizon": 7, "lookback": 30}, {}, 1),
    "stocks_logret_h1": ("stocks", {"target": "log_return", "horizon": 1, "id_col": "ticker", "lookback": 30}, {}, 1),
    "nyc_h1": ("nyc-weather-hourly", {"target": "temperature", "horizon": 1, "id_col": "station", "lookback": 48},
               {}, 24),
    "nyc_h24": ("nyc-weather-hourly", {"target": "temperature", "horizon": 24, "id_col": "station", "lookback": 48},
                {}, 24),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=sorted(TASKS), required=True)
    p.add_argument("--recurrent", default="gru", help="the recurrent model (default gru)")
    p.add_argument("--ensembles", default="ensemble_mean:{rnn}+autoets+autotheta,"
                   "ensemble_stacked:{rnn}+autoets+autotheta",
                   help="comma-separated ensemble names; {rnn} is replaced by --recurrent")
    p.add_argument("--models", default=",".join(STATS), help="the statistical models (default all four)")
    p.add_argument("--mean-of", default="",
                   help="comma-separated member lists like '{rnn}+autoets+mstl': their mean ensemble computed from "
                        "the members' forecasts of this run (identical to ensemble_mean:..., whose members are "
                        "fitted the same way, without fitting them twice)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--stride", type=int, help="forecast every k-th origin date (default: the task's)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/stats_opponents")
    args = p.parse_args()

    import torch

    from forecast import WindowSpec
    from forecast.evaluate import backtest
    from forecast.leaderboard import dm_against
    from forecast.metrics import join_actuals

    torch.set_num_threads(args.threads)
    data, spec_settings, params, stride = TASKS[args.task]
    frame = load_bundled(data, spec_settings["target"])
    spec = WindowSpec(**spec_settings)
    ensembles = [e.format(rnn=args.recurrent) for e in args.ensembles.split(",") if e]
    models = [args.recurrent, *[m for m in args.models.split(",") if m], *ensembles, "seasonal_naive"]
    started = time.perf_counter()
    result = backtest(models, frame, spec, test_size=0.2, stride=args.stride or stride, predict_each_origin=True,
                      params={"max_epochs": args.epochs, "seed": args.seed, "progress_bar": False, **params},
                      progress=False, out=Path(args.out) / args.task)
    result.write(Path(args.out) / args.task, plots=False)
    forecasts, timings = result.forecasts, result.timings.set_index("model")
    for members in (m.format(rnn=args.recurrent).split("+") for m in args.mean_of.split(",") if m):
        name = "ensemble_mean:" + "+".join(members)
        keys = [c for c in forecasts.columns if c in (spec.id_col, "origin", "timestamp", "step", "target")]
        wide = forecasts[forecasts["model"].isin(members)].set_index([*keys, "model"])["forecast"].unstack("model")
        mean = wide[members].mean(axis=1, skipna=False).rename("forecast").reset_index().assign(model=name)
        forecasts = pd.concat([forecasts, mean], ignore_index=True)
        timings.loc[name] = timings.loc[members, ["fit_seconds", "predict_seconds"]].sum()
    joined = join_actuals(forecasts, result.actuals, target=spec.targets[0], id_col=spec.id_col)
    dm = dm_against(joined, args.recurrent, loss="absolute", horizon=spec.horizon).set_index("model")
    vs_naive = dm_against(joined, "naive", loss="absolute", horizon=spec.horizon).set_index("model")
    mae = (joined["actual"] - joined["forecast"]).abs().groupby(joined["model"]).mean().sort_values()
    rows = []
    for model in mae.index:
        rows.append({"model": model, "mae": round(float(mae[model]), 6),
                     "p_vs_naive_better": None if model == "naive" else _round(vs_naive.loc[model, "dm_p_better"]),
                     "p_rnn_better": None if model == args.recurrent else _round(dm.loc[model, "dm_p_worse"]),
                     "p_rnn_worse": None if model == args.recurrent else _round(dm.loc[model, "dm_p_better"]),
                     "fit_seconds": round(float(timings.loc[model, "fit_seconds"]), 1),
                     "predict_seconds": round(float(timings.loc[model, "predict_seconds"]), 1)})
    report = {"task": args.task, "data": data, "spec": spec.to_dict(), "stride": args.stride or stride,
              "origins": len(result.origins), "recurrent": args.recurrent, "epochs": args.epochs, "seed": args.seed,
              "rows": rows, "total_seconds": round(time.perf_counter() - started, 1),
              "threads": args.threads, "load_average": [round(x, 2) for x in os.getloadavg()]}
    out = Path(args.out) / args.task / "stats_opponents.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def _round(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(f"{value:.3g}")


if __name__ == "__main__":
    main()
