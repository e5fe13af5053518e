"""Stocks: next-day price of each ticker, and next-day direction as classification, against persistence.

1. Price: the bundled panel (AAPL, FB, GOOG, MSFT daily, 2000-2013), target adj_close (split-adjusted,
   so the two splits in the training years are not fake -50% days). The RNNs model log returns
   (target_transform="log_return") and are scored in price units; persistence, drift and Ridge on lags
   forecast prices directly. Test: the last 20% of the trading days, one fit before it (or --refit-every).
2. Direction: bundled MSFT (split-adjusted close, 1986-2017). P(close rises tomorrow) from a GRU and an
   LSTM (task="direction", the day's log return as an extra input) against always-up (the training share
   of up days) and persistence of direction; scored by accuracy, Brier score and log loss.

Writes runs/compare_stocks/{price,direction}/ and prints JSON.
usage: python experiments/compare_stocks.py [--epochs 10] [--seed 42] [--refit-every K] [--quick]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from _backtest_common import build, parser, report, setup

PRICE_MODELS = ["naive", "drift", "ridge", "rnn", "gru", "lstm"]
DIRECTION_MODELS = ["always_up", "persist_direction"]


def price(args, forecast) -> dict:
    started = time.perf_counter()
    frame = forecast.datasets.load("stocks")
    if args.quick:
        frame = frame.groupby("ticker", group_keys=False).tail(300)
    spec = forecast.WindowSpec(target="adj_close", lookback=30, horizon=1, id_col="ticker")
    seed = {"seed": args.seed}
    recurrent = {**seed, "max_epochs": args.epochs, "hidden_size": args.hidden_size, "progress_bar": False,
                 "target_transform": "log_return"}
    models, skipped = build(PRICE_MODELS, {"recurrent": recurrent, "lagged": seed})
    result = forecast.backtest(models, frame, spec, test_size=0.2, refit_every=args.refit_every,
                               progress=not args.no_progress)
    # MAE per ticker, in USD (adjusted)
    joined = result.forecasts.merge(
        result.actuals.reset_index().rename(columns={"date": "timestamp", "adj_close": "actual"})[
            ["ticker", "timestamp", "actual"]], on=["ticker", "timestamp"])
    per_ticker = (joined.assign(error=(joined["actual"] - joined["forecast"]).abs())
                  .pivot_table(index="ticker", columns="model", values="error", aggfunc="mean").round(4))
    sub = argparse_copy(args, Path(args.out) / "price")
    return report(result, name="stocks next-day adj_close (panel)", started=started, args=sub, skipped=skipped,
                  extra={"mae_per_ticker": per_ticker.to_dict(orient="index")})


def direction(args, forecast) -> dict:
    started = time.perf_counter()
    frame = forecast.datasets.load("msft")
    if args.quick:
        frame = frame.iloc[-600:]
    frame = frame.assign(log_return=np.log(frame["close"]).diff())  # the day's return, known at its close
    spec = forecast.WindowSpec(target="close", lookback=30, horizon=1, features=("log_return",))
    rnn = {"task": "direction", "max_epochs": args.epochs, "hidden_size": args.hidden_size, "seed": args.seed,
           "progress_bar": False}
    models, skipped = build(DIRECTION_MODELS, {})
    for cell in ("gru", "lstm"):
        models[f"{cell}_direction"] = forecast.RNNForecaster(cell=cell, **rnn)
    result = forecast.backtest(models, frame, spec, test_size=0.2, refit_every=args.refit_every,
                               progress=not args.no_progress)
    # the same forecasts tested against always-up as well
    from forecast.leaderboard import build_leaderboard

    vs_up = build_leaderboard(result.forecasts, result.actuals, target="close", benchmark="always_up",
                              task="classification")
    sub = argparse_copy(args, Path(args.out) / "direction")
    return report(result, name="msft next-day direction", started=started, args=sub, skipped=skipped, extra={
        "up_share_test": round(float(result.actuals["close"].reindex(result.forecasts["timestamp"]).mean()), 4),
        "dm_vs_always_up": {m: round(float(p), 6) for m, p in zip(vs_up["model"], vs_up["dm_p_better"],
                                                                    strict=True) if m != "always_up"},
    })


def argparse_copy(args, out: Path):
    import argparse

    return argparse.Namespace(**{**vars(args), "out": str(out)})


def main() -> dict:
    args = parser(__doc__.splitlines()[0], "runs/compare_stocks", epochs=10).parse_args()
    setup(args)
    import forecast

    if args.quick:
        args.epochs = 1
    return {"price": price(args, forecast), "direction": direction(args, forecast)}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
