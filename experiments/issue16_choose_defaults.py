"""Issue 16: compare RNN recipes on validation data only, to choose `forecast fit/backtest` defaults.

Each bundled dataset is cut before its test period (the last 20% of its timestamps, what `forecast
backtest` tests on) and the last 25% of what is left (the 20% just before the test period) is backtested,
so the choice never sees the test period. A GRU of 64 (early stopping, patience 5) under each recipe,
Ridge on lags and persistence, lookback 30, the target alone.

usage: python experiments/issue16_choose_defaults.py DATASET HORIZON RECIPE[,RECIPE]   (one torch thread)
recipes: V0_transducer V1_direct_last_linear V2_direct_last V3_direct_plain V4_segments_last_linear
         V5_direct_last_ridge (the ridge-fitted highway, forecast.models.highway)
         V6_direct_last_ema (V2 with a moving average of the weights, half-life one epoch)
         V7_direct_last_l1 (V2 trained on absolute error, the loss the weather verdicts score)
"""

from __future__ import annotations

import sys
import time

RECIPES = {
    "V0_transducer": {"head": "transducer", "normalize": "none"},
    "V1_direct_last_linear": {"head": "direct", "normalize": "last", "skip": "linear"},
    "V2_direct_last": {"head": "direct", "normalize": "last", "skip": "none"},
    "V3_direct_plain": {"head": "direct", "normalize": "none", "skip": "none"},
    "V4_segments_last_linear": {"head": "segments", "normalize": "last", "skip": "linear"},
    "V5_direct_last_ridge": {"head": "direct", "normalize": "last", "skip": "ridge"},
    "V6_direct_last_ema": {"head": "direct", "normalize": "last", "skip": "none", "ema_half_life": 1.0},
    "V7_direct_last_l1": {"head": "direct", "normalize": "last", "skip": "none", "loss": "mae"},
}


def main() -> None:
    import torch

    from forecast import datasets
    from forecast.config import WindowSpec
    from forecast.evaluate import backtest
    from forecast.models import registry

    torch.set_num_threads(1)
    name, horizon, recipes = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
    frame, info = datasets.load(name), datasets.spec(name)
    stamps = frame.index.unique().sort_values()
    frame = frame[frame.index < stamps[int(len(stamps) * 0.8)]]  # the test period is gone
    spec = WindowSpec(target=info.target, lookback=30, horizon=horizon, id_col=info.id_col)
    models = {"ridge": "ridge"} | {r: registry.build("gru", progress_bar=False, **RECIPES[r]) for r in recipes}
    started = time.perf_counter()
    result = backtest(models, frame, spec, test_size=0.25, progress=False)
    print(name, "H", horizon, "validation period from", result.test_start, f"{time.perf_counter() - started:.0f}s")
    print(result.leaderboard[["model", "mae", "rmse", "dm_p_better"]].to_string())
    print(result.refits[["model", "epochs", "still_improving", "fit_seconds"]].to_string())


if __name__ == "__main__":
    main()
