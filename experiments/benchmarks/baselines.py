"""Speed of the baselines on ETTh1 (17,420 hourly rows, 7 columns): forecasts from every origin.

The naive family is vectorized (prefix sums and fancy indexing, no per-origin loop), so forecasting
all ~17k origins should take milliseconds; lag models are timed for fit and predict. Prints JSON.

    PYTHONPATH=. python experiments/benchmarks/baselines.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import time

import forecast
from forecast.config import WindowSpec
from forecast.models import registry


def best_of(repeats: int, fn) -> float:
    """Fastest of `repeats` runs, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lookback", type=int, default=96)
    parser.add_argument("--horizon", type=int, default=24)
    parser.add_argument("--models", default="naive,seasonal_naive,drift,moving_average,mean,ridge")
    args = parser.parse_args(argv)

    frame = forecast.datasets.load("etth1")
    spec = WindowSpec("OT", lookback=args.lookback, horizon=args.horizon,
                      features=("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"))
    result: dict = {"dataset": "etth1", "rows": len(frame), "lookback": args.lookback, "horizon": args.horizon,
                    "fit_seconds": {}, "predict_all_seconds": {}, "origins": None}
    for name in args.models.split(","):
        model = registry.build(name)
        result["fit_seconds"][name] = round(best_of(args.repeats, lambda m=model: m.fit(frame, spec)), 4)
        out = model.predict(frame, origin="all")
        result["origins"] = int(out["origin"].nunique())
        result["predict_all_seconds"][name] = round(
            best_of(args.repeats, lambda m=model: m.predict(frame, origin="all")), 4)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
