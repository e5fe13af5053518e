"""Distributional RNN heads (issue 17): raw and conformalized coverage, and CRPS against quantile
regression on lags and the empirical random walk, on the Seattle daily backtest (H=1, H=7) and the stocks
panel's daily log returns (H=1). One backtest per run, every model on the same origins; prints one JSON
line per run and writes the reports (forecasts, scores, leaderboard, calibration.png).

Models: gru_normal / gru_studentt (RNNForecaster task="distribution", raw bounds; with 200 seeded samples
per forecast for crps_sample), <gru_studentt>+aci (the same network, intervals by ConformalForecaster's
ACI around its median), qr_lags (sklearn QuantileRegressor on the lookback's lags, one per quantile,
crossing quantiles sorted), random_walk (forecast.models.random_walk.EmpiricalRandomWalk: the origin's
value plus the quantiles of every past change observed by it; for the log-return target, the random walk
in the price: the quantiles of the past log returns).

usage: python experiments/distribution_coverage.py [--epochs 20] [--patience 3] [--seed 42] [--out runs/distributions]
       python experiments/distribution_coverage.py --rescore   (score the saved forecasts.csv again, no training)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _backtest_common import load_bundled
from sklearn.base import clone
from sklearn.linear_model import QuantileRegressor
from sklearn.utils.validation import check_is_fitted

import forecast
from forecast.intervals import check_levels
from forecast.models.base import Forecaster, bound_probabilities, with_bounds
from forecast.models.conformal import ConformalForecaster
from forecast.models.estimators import RNNForecaster
from forecast.models.lagged import LagRegressor
from forecast.models.random_walk import EmpiricalRandomWalk

LEVELS = (0.8, 0.95)
RUNS = {  # name: (dataset, spec settings, the random walk's kind)
    "seattle_h1": ("seattle-weather", {"target": "temp_max", "horizon": 1}, "changes"),
    "seattle_h7": ("seattle-weather", {"target": "temp_max", "horizon": 7}, "changes"),
    # a random walk in the price forecasts tomorrow's log return from the past log returns themselves
    "stocks_logret_h1": ("stocks", {"target": "log_return", "horizon": 1, "id_col": "ticker"}, "values"),
}


class Sampled(Forecaster):
    """A distributional RNNForecaster whose forecasts also carry `samples` seeded draws (sample_<k>
    columns), so the leaderboard scores crps_sample beside the quantile-based crps."""

    def __init__(self, *, forecaster=None, samples: int = 200) -> None:
        self.forecaster = forecaster
        self.samples = samples

    def fit(self, frame: pd.DataFrame, spec) -> Sampled:
        self.forecaster_ = clone(self.forecaster).fit(frame, spec)
        return self

    def predict(self, frame: pd.DataFrame, *, origin="last") -> pd.DataFrame:
        check_is_fitted(self, "forecaster_")
        return self.forecaster_.predict(frame, origin=origin, samples=self.samples)


class QuantileLags(Forecaster):
    """Linear quantile regression on lag features (sklearn QuantileRegressor, pinball loss, no penalty),
    one LagRegressor per quantile: the median and the bounds of `levels`; crossings sorted away."""

    def __init__(self, *, levels=LEVELS) -> None:
        self.levels = levels

    def _probabilities(self) -> list[float]:
        return bound_probabilities(check_levels(self.levels))

    def fit(self, frame: pd.DataFrame, spec) -> QuantileLags:
        self.models_ = [LagRegressor(estimator=QuantileRegressor(quantile=q, alpha=0.0, solver="highs")).fit(frame, spec)
                        for q in self._probabilities()]
        return self

    def predict(self, frame: pd.DataFrame, *, origin="last") -> pd.DataFrame:
        check_is_fitted(self, "models_")
        outs = [m.predict(frame, origin=origin) for m in self.models_]
        probs = self._probabilities()
        order = np.argsort(probs)
        values = np.sort(np.stack([o["forecast"].to_numpy() for o in outs], axis=1)[:, order], axis=1)
        values = values[:, np.argsort(order)]  # back to the order of `probs`, now monotone in the level
        result = outs[0].assign(forecast=values[:, 0])
        return with_bounds(result, values, check_levels(self.levels))


def models(epochs: int, patience: int | None, seed: int, walk: str) -> dict[str, Forecaster]:
    rnn = {"cell": "gru", "head": "direct", "task": "distribution", "levels": LEVELS, "max_epochs": epochs,
           "patience": patience, "seed": seed, "progress_bar": False}
    normal = RNNForecaster(distribution="normal", **rnn)
    studentt = RNNForecaster(distribution="studentt", **rnn)
    return {
        "gru_normal": Sampled(forecaster=normal),
        "gru_studentt": Sampled(forecaster=studentt),
        "gru_studentt+aci": ConformalForecaster(forecaster=studentt, levels=LEVELS, method="aci"),
        "qr_lags": QuantileLags(levels=LEVELS),
        "random_walk": EmpiricalRandomWalk(levels=LEVELS, kind=walk),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20, help="GRU max epochs (default 20, the training default)")
    p.add_argument("--patience", type=int, default=3, help="early stopping on the validation NLL (default 3; 0: none)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--runs", default=",".join(RUNS), help=f"which runs (default {','.join(RUNS)})")
    p.add_argument("--models", default=None, help="comma-separated subset of the models (default all)")
    p.add_argument("--out", default="runs/distributions")
    p.add_argument("--rescore", action="store_true", help="score each run's saved forecasts.csv again")
    args = p.parse_args()
    for name in args.runs.split(","):
        data, spec_settings, walk = RUNS[name]
        frame = load_bundled(data, spec_settings["target"])
        spec = forecast.WindowSpec(lookback=30, **spec_settings)
        if args.rescore:
            _print(name, vars(args), rescore(Path(args.out) / name / "forecasts.csv", frame, spec), None, None)
            continue
        chosen = models(args.epochs, args.patience or None, args.seed, walk)
        if args.models:
            chosen = {k: v for k, v in chosen.items() if k in args.models.split(",")}
        started = time.perf_counter()
        result = forecast.backtest(chosen, frame, spec, test_size=0.2, progress=False)
        result.write(Path(args.out) / name)
        _print(name, vars(args), result.leaderboard, len(result.origins), time.perf_counter() - started)


def rescore(path: Path, frame: pd.DataFrame, spec) -> pd.DataFrame:
    """Overall scores per model of a saved forecasts.csv (the same metrics as the backtest's leaderboard)."""
    from forecast.metrics import score_forecasts

    forecasts = pd.read_csv(path, parse_dates=["origin", "timestamp"])
    scores = score_forecasts(forecasts, frame, target=spec.targets[0], id_col=spec.id_col)
    return scores[scores["step"].isna()].reset_index(drop=True)


def _print(name: str, args: dict, board: pd.DataFrame, n_origins: int | None, seconds: float | None) -> None:
    columns = [c for c in ("coverage_80", "coverage_95", "width_80", "width_95", "winkler_80", "winkler_95",
                           "unbounded_95", "crps", "crps_sample", "mae") if c in board]
    print(json.dumps({"run": name, "epochs": args["epochs"], "patience": args["patience"], "n_origins": n_origins,
                      "seconds": None if seconds is None else round(seconds, 1),
                      "models": {row["model"]: {c: round(float(row[c]), 4) for c in columns}
                                 for _, row in board.iterrows()}}), flush=True)


if __name__ == "__main__":
    main()
