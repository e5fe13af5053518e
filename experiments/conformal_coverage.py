"""Conformal interval coverage (issue 17): 80% and 95% split-conformal (and ACI) intervals of Ridge and
a GRU on the Seattle daily backtest (H=1 and H=7) and the stocks panel (adj_close through log returns,
H=1; and the log returns themselves as the target), each against its nominal level. Prints one JSON line per run and writes the reports.

usage: python experiments/conformal_coverage.py [--epochs 5] [--seed 42] [--out runs/conformal]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _backtest_common import load_bundled

import forecast
from forecast.intervals import coverage_columns

LEVELS = (0.8, 0.95)
RUNS = {  # name: (dataset, spec settings, backtest params)
    "seattle_h1": ("seattle-weather", {"target": "temp_max", "horizon": 1}, {}),
    "seattle_h7": ("seattle-weather", {"target": "temp_max", "horizon": 7}, {}),
    "stocks_h1": ("stocks", {"target": "adj_close", "horizon": 1, "id_col": "ticker"},
                  {"target_transform": "log_return"}),
    "stocks_logret_h1": ("stocks", {"target": "log_return", "horizon": 1, "id_col": "ticker"}, {}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5, help="GRU training epochs (default 5: a short run)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--methods", default="split,aci", help="conformal methods to run (default split,aci)")
    p.add_argument("--runs", default=",".join(RUNS), help=f"which runs (default {','.join(RUNS)})")
    p.add_argument("--out", default="runs/conformal")
    args = p.parse_args()
    for name in args.runs.split(","):
        data, spec_settings, extra = RUNS[name]
        frame = load_bundled(data, spec_settings["target"])
        spec = forecast.WindowSpec(lookback=30, **spec_settings)
        for method in args.methods.split(","):
            params = {"intervals": LEVELS, "interval_method": method, "max_epochs": args.epochs,
                      "seed": args.seed, **extra}
            started = time.perf_counter()
            result = forecast.backtest(["ridge", "gru"], frame, spec, test_size=0.2, params=params, progress=False)
            result.write(Path(args.out) / f"{name}_{method}")
            board = result.leaderboard
            columns = [*coverage_columns(board), "width_80", "width_95", "winkler_80", "winkler_95", "unbounded_95",
                       "crps", "mae"]
            print(json.dumps({"run": name, "method": method, "epochs": args.epochs, "n_origins": len(result.origins),
                              "seconds": round(time.perf_counter() - started, 1),
                              "models": {row["model"]: {c: round(float(row[c]), 4) for c in columns}
                                         for _, row in board.iterrows()}}), flush=True)


if __name__ == "__main__":
    main()
