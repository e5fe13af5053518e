"""How much of the gap to PatchTST's published ETTh1 rows is how the test windows are counted.

PatchTST's test loader (PatchTST_supervised/data_provider/data_factory.py) uses drop_last=True with the
training batch size (128 in its ETTh1 scripts), so the last len % 128 test windows are never scored; our
protocol scores every window. This refits `--recipe highway` (GRU, L=336, seeds 1-3: the same fits as the
3-seed table) and our Ridge at H=336 and 720 and prints each one's test MSE both ways, as JSON lines.
Context only: the issue's targets are judged on every window.

usage: python experiments/benchmarks/etth1_drop_last.py [--normalize last|revin]   (about 6 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

LOOKBACK, HORIZONS, SEEDS, PATCHTST_BATCH = 336, (720, 336), (1, 2, 3), 128


def score(horizon: int, seed: int | None, normalize: str) -> dict:
    """Test MSE of the highway GRU (seed) or Ridge (None) on every window and on the drop_last windows."""
    from dataclasses import replace

    import torch

    from forecast.benchmarks import etth1
    from forecast.benchmarks.window_models import RidgeLookback, fit_recurrent, predict_network

    torch.set_num_threads(1)
    data = etth1.load_protocol("multivariate")
    train, val, test = (etth1.protocol_windows(data, LOOKBACK, horizon, p) for p in ("train", "val", "test"))
    if seed is None:
        forecast = RidgeLookback(alphas=etth1.ETTh1Config().ridge_alphas).fit(train, val).predict(test)
    else:
        recipe = replace(etth1.RECIPES["highway"], normalize=normalize)
        forecast = predict_network(fit_recurrent("gru", recipe, train, val, seed=seed).network, test)
    truth = test.targets(slice(None))
    kept = len(test) // PATCHTST_BATCH * PATCHTST_BATCH
    model = "ridge" if seed is None else f"gru, --recipe highway --rnn-normalize {normalize}"
    return {"model": model, "lookback": LOOKBACK, "horizon": horizon,
            "seed": seed, "n_test_windows": len(test), "kept_with_drop_last": kept,
            "mse_every_window": float(np.mean((forecast - truth) ** 2)),
            "mse_drop_last": float(np.mean((forecast[:kept] - truth[:kept]) ** 2))}


if __name__ == "__main__":
    from forecast.benchmarks.etth1 import RECIPES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normalize", choices=("last", "revin"), default=RECIPES["highway"].normalize,
                        help="the recipe's normalization (default last, the recipe's; revin: its first version)")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        jobs = [pool.submit(score, h, s, args.normalize) for h in HORIZONS for s in (*SEEDS, None)]
        for done in as_completed(jobs):
            print(json.dumps(done.result()), flush=True)
