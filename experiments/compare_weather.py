"""Seattle next-day maximum temperature: RNN, GRU, LSTM against persistence and simple baselines.

Rolling-origin backtest on the bundled daily weather (2012-2015), with an LSTM that also gives 80%
prediction intervals (quantile loss): every model is fit on the first 80%
and forecasts each day of the last 20% (293 days) from the data up to the day before; each is tested
against persistence (Diebold-Mariano, 5%). Writes the report to runs/compare_weather/ and prints JSON.

usage: python experiments/compare_weather.py [--epochs 20] [--seed 42] [--refit-every K] [--quick]
"""

from __future__ import annotations

import json
import time

from _backtest_common import build, parser, report, setup

MODELS = ["rnn", "gru", "lstm", "naive", "seasonal_naive", "ridge", "lstm_state+ridge"]


def main() -> dict:
    args = parser(__doc__.splitlines()[0], "runs/compare_weather", epochs=20).parse_args()
    setup(args)
    import forecast

    started = time.perf_counter()
    frame = forecast.datasets.load("seattle-weather")
    if args.quick:
        frame, args.epochs = frame.iloc[:400], 1
    spec = forecast.WindowSpec(target="temp_max", lookback=30, horizon=1,
                               features=("precipitation", "temp_min", "wind"))
    seed = {"seed": args.seed}
    recurrent = {**seed, "max_epochs": args.epochs, "hidden_size": args.hidden_size, "progress_bar": False}
    models, skipped = build(MODELS, {"recurrent": recurrent, "state": {**seed, "max_epochs": args.epochs},
                                     "lagged": seed})
    # an LSTM with 80% prediction intervals (pinball loss on the 0.1/0.5/0.9 quantiles)
    models["lstm_quantile"] = forecast.RNNForecaster(cell="lstm", task="quantile", quantiles=(0.1, 0.5, 0.9),
                                                     **recurrent)
    result = forecast.backtest(models, frame, spec, test_size=0.2, refit_every=args.refit_every,
                               progress=not args.no_progress)
    return report(result, name="seattle next-day temp_max", started=started, args=args, skipped=skipped)


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
