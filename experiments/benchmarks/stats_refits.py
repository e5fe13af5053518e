"""Issue 18: how long a backtest with refits of the statistical models takes, with statsforecast's
parallel fitting across series off (n_jobs=1) and on (n_jobs=2), on the stocks panel and NYC hourly.

Each run is `forecast.backtest` over the last `--test-size` of the time steps, refitting every
`--refit-every` origin dates on an expanding window (each fit: the latest DEFAULT_MAX_HISTORY rows per
series), forecasting every `--stride`-th origin date from the data cut at that date
(`predict_each_origin`: the statistical models run forward once per origin, so only the test origins). n_jobs parallelizes the fit across series only
(statsforecast's process pool); the per-origin forecasts run in this process. Prints JSON: per dataset,
model and n_jobs the fit and predict seconds summed over the refits, the number of fits and origins, and
the MAE (which must not depend on n_jobs).

    PYTHONPATH=. OMP_NUM_THREADS=1 python experiments/benchmarks/stats_refits.py
    PYTHONPATH=. python experiments/benchmarks/stats_refits.py --quick     # smoke run (numbers meaningless)
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import forecast
from forecast.config import WindowSpec
from forecast.evaluate import backtest
from forecast.models.statistical import DEFAULT_MAX_HISTORY

DATASETS = {  # name: (bundled data, spec, stride, refit_every)
    "stocks": ("stocks", {"target": "adj_close", "id_col": "ticker", "lookback": 30, "horizon": 1}, 1, 100),
    "nyc_hourly": ("nyc-weather-hourly", {"target": "temperature", "id_col": "station", "lookback": 48,
                                          "horizon": 24}, 24, 10),
}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="autoets,autotheta,mstl,autoarima")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--jobs", default="1,2", help="statsforecast n_jobs values to compare (default 1,2)")
    parser.add_argument("--test-size", type=float, default=0.1)
    parser.add_argument("--quick", action="store_true", help="smoke run: short data, two models")
    args = parser.parse_args(argv)

    runs = []
    for name in args.datasets.split(","):
        data, spec_settings, stride, refit_every = DATASETS[name]
        frame = forecast.datasets.load(data)
        models = args.models.split(",")
        if args.quick:
            frame = frame.groupby(spec_settings["id_col"]).tail(400)
            models = models[:2]
        spec = WindowSpec(**spec_settings)
        for model in models:
            for jobs in (int(j) for j in args.jobs.split(",")):
                started = time.perf_counter()
                result = backtest([model], frame, spec, test_size=args.test_size, stride=stride,
                                  refit_every=refit_every, params={"n_jobs": jobs}, progress=False,
                                  predict_each_origin=True)
                timings = result.timings.set_index("model").loc[model]
                board = result.leaderboard.set_index("model").loc[model]
                runs.append({"dataset": name, "model": model, "n_jobs": jobs,
                             "fit_seconds": round(float(timings["fit_seconds"]), 2),
                             "predict_seconds": round(float(timings["predict_seconds"]), 2),
                             "n_fits": int(timings["n_fits"]), "origins": int(len(result.origins)),
                             "mae": round(float(board["mae"]), 6),
                             "wall_seconds": round(time.perf_counter() - started, 1)})
                print(json.dumps(runs[-1]), flush=True)
    report = {"benchmark": "stats_refits", "max_history": DEFAULT_MAX_HISTORY, "test_size": args.test_size,
              "runs": runs, "cpus": os.cpu_count(), "omp_threads": os.environ.get("OMP_NUM_THREADS"),
              "load_average": [round(x, 2) for x in os.getloadavg()], "numpy": np.__version__}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
