"""The ridge highway of `--recipe highway` on its own: how much of the recipe is the linear map, how much the GRU.

For every cell of the long-horizon table it builds the recipe's network, fits its highway exactly as
training does (`forecast.models.highway.fit_ridge_highway`: training windows, penalty chosen on the
validation windows) and scores the network before any gradient step, when its recurrent output layer is
still zero, so the forecast is the highway's alone (with last-value normalization, the recipe's, it is
ridge on NLinear's inputs; with `--normalize revin`, the recipe's first version, RLinear). Deterministic,
seconds per cell; prints JSON.

usage: python experiments/benchmarks/etth1_highway_alone.py [--lookbacks 96,336] [--horizons 96,192,336,720]
           [--normalize last|revin]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch

from forecast.benchmarks import etth1
from forecast.benchmarks.window_models import network_config, predict_network
from forecast.models.highway import fit_ridge_highway
from forecast.models.networks import RecurrentNetwork


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lookbacks", type=_ints, default=list(etth1.LOOKBACKS))
    p.add_argument("--horizons", type=_ints, default=list(etth1.DLINEAR_HORIZONS))
    p.add_argument("--normalize", choices=("last", "revin"), default=etth1.RECIPES["highway"].normalize,
                   help="the network's instance normalization, which the highway reads (default: the recipe's)")
    args = p.parse_args()
    torch.set_num_threads(1)
    recipe = replace(etth1.RECIPES["highway"], normalize=args.normalize)
    rows = []
    for setting in etth1.SETTINGS:
        data = etth1.load_protocol(setting)
        for lookback in args.lookbacks:
            for horizon in args.horizons:
                started = time.process_time()
                train, val, test = (etth1.protocol_windows(data, lookback, horizon, part)
                                    for part in ("train", "val", "test"))
                network = RecurrentNetwork(network_config("gru", recipe, train))
                penalty = fit_ridge_highway(network, train, val)  # also zeroes the recurrent output layer
                rows.append({"setting": setting, "lookback": lookback, "horizon": horizon,
                             "model": f"ridge highway alone ({args.normalize} + ridge)", "highway_penalty": penalty,
                             "val_mse": etth1.scores(predict_network(network, val), val.targets(slice(None)))["mse"],
                             **etth1.scores(predict_network(network, test), test.targets(slice(None))),
                             "cpu_seconds": round(time.process_time() - started, 2)})
                print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"benchmark": "etth1 ridge highway alone", "threads": 1, "results": rows}, indent=1))


if __name__ == "__main__":
    main()
