"""Ridge on an RNN's final state vs Ridge on lags vs the RNN's own head vs persistence.

Seattle daily weather, next-day temp_max, the last 20% of days as the test set (the reference
protocol: persistence MAE 2.3563). Every model is fit on the first 80% only and forecasts every test
day from the day before. Prints one JSON object with the test MAE of each model.

    PYTHONPATH=. python experiments/state_features.py --epochs 20 --hidden 32
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

import forecast
from forecast.config import WindowSpec
from forecast.data.panel import build_panel
from forecast.data.windows import make_windows
from forecast.models import registry


def test_mae(forecasts: pd.DataFrame, actual: pd.Series, first_test: pd.Timestamp) -> float:
    """MAE of step-1 forecasts whose target day is in the test part."""
    f = forecasts[(forecasts["step"] == 1) & (forecasts["timestamp"] >= first_test)
                  & forecasts["timestamp"].isin(actual.index)]  # not the forecast past the data
    return float(np.abs(f["forecast"].to_numpy() - actual.loc[f["timestamp"]].to_numpy()).mean())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lookback", type=int, default=14)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    frame = forecast.datasets.load("seattle-weather")
    spec = WindowSpec("temp_max", lookback=args.lookback, horizon=1,
                      features=("temp_min", "precipitation", "wind"), calendar=("dayofyear",))
    cut = int(0.8 * len(frame))  # 1,168 training days, 293 test days
    train, first_test, actual = frame.iloc[:cut], frame.index[cut], frame["temp_max"]

    rnn = {"hidden_size": args.hidden, "max_epochs": args.epochs, "seed": args.seed, "progress_bar": False}
    models = {
        "persistence": registry.build("naive"),
        "ridge_on_lags": registry.build("ridge", alpha=args.alpha),
        "gru_state+ridge": registry.build("gru_state+ridge", alpha=args.alpha, **rnn),
        "lstm_state+ridge": registry.build("lstm_state+ridge", alpha=args.alpha, **rnn),
        "gru_forecaster": registry.build("gru", head="direct", **rnn),
    }
    result: dict = {"dataset": "seattle-weather", "target": "temp_max", "lookback": args.lookback,
                    "train_days": cut, "test_days": len(frame) - cut, "mae": {}, "fit_seconds": {}}
    for name, model in models.items():
        started = time.perf_counter()
        model.fit(train, spec)
        result["fit_seconds"][name] = round(time.perf_counter() - started, 2)
        result["mae"][name] = round(test_mae(model.predict(frame, origin="all"), actual, first_test), 4)
        if name.endswith("_state+ridge"):
            # The same encoder's own linear head on the same test windows.
            panel = build_panel(frame, spec)
            windows = make_windows(panel, spec, first_target=cut)
            idx = np.arange(len(windows))
            head = model.pipeline_.named_steps["rnn"].head_predict(windows.inputs(idx))[:, 0]
            truth = windows.targets(idx)[:, 0, 0]
            result["mae"][name.replace("+ridge", "_own_head")] = round(float(np.abs(head - truth).mean()), 4)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
