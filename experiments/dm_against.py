"""Diebold-Mariano tests of every model of a `forecast backtest` report against a model of your choice.

`forecast backtest` tests every model against persistence; the issue 16 weather targets also ask whether
the best recurrent model beats Ridge on lags. This reads the report's forecasts.csv, joins the data's
actuals and runs the leaderboard's own test (`forecast.leaderboard.dm_against`: per-origin mean loss,
h = horizon, absolute loss as for the MASE ranking), so both columns follow one convention.

usage: python experiments/dm_against.py REPORT_DIR DATA --target COL [--id-col COL] [--against ridge]
prints one JSON line per model: mae, dm_p_better / dm_p_worse against persistence and against --against.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report")
    p.add_argument("data")
    p.add_argument("--target", required=True)
    p.add_argument("--id-col")
    p.add_argument("--against", default="ridge")
    args = p.parse_args()

    from forecast import datasets
    from forecast.data.reading import read_data
    from forecast.leaderboard import dm_against
    from forecast.metrics import join_actuals

    id_col = args.id_col or (datasets.spec(args.data).id_col if args.data in datasets.names() else None)
    frame = read_data(args.data, None, id_col)
    forecasts = pd.read_csv(f"{args.report}/forecasts.csv", parse_dates=["origin", "timestamp"])
    if forecasts["timestamp"].dt.tz is None and frame.index.tz is not None:
        forecasts[["origin", "timestamp"]] = forecasts[["origin", "timestamp"]].apply(
            lambda c: c.dt.tz_localize(frame.index.tz))
    joined = join_actuals(forecasts, frame, target=args.target, id_col=id_col)
    board = pd.read_csv(f"{args.report}/leaderboard.csv").set_index("model")
    versus = dm_against(joined, args.against, loss=board["dm_loss"].dropna().iloc[0]).set_index("model")
    for model in board.index:
        print(json.dumps({
            "model": model, "mae": round(float(board.loc[model, "mae"]), 4),
            "p_better_than_naive": _p(board.loc[model, "dm_p_better"]),
            "p_worse_than_naive": _p(board.loc[model, "dm_p_worse"]),
            f"p_better_than_{args.against}": _p(versus.loc[model, "dm_p_better"]),
            f"p_worse_than_{args.against}": _p(versus.loc[model, "dm_p_worse"]),
        }))


def _p(value) -> float | None:
    return None if pd.isna(value) else float(f"{float(value):.3g}")


if __name__ == "__main__":
    main()
