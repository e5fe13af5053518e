"""Darts' figures for the windows benchmark; run by windows.py in a scratch interpreter that has darts.

Same task as windows.py: target column 0 and 7 past covariates, L=64, H=8, shuffled batches of 256
through a torch DataLoader with Darts' own training collate function (what its block RNN models use).
Imports nothing from this project. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc

import numpy as np
import torch
from darts import TimeSeries, __version__
from darts.utils.data import SequentialTorchTrainingDataset
from darts.utils.data.torch_datasets.utils import _batch_collate_fn_train
from torch.utils.data import DataLoader


def _timed(fn, repeats):
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def _peak_mb(fn):
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return round(peak / 2**20, 2)


def main() -> dict:
    parser = argparse.ArgumentParser()
    for name, default in (("steps", 1_000_000), ("features", 8), ("lookback", 64), ("horizon", 8),
                          ("batch-size", 256), ("batches", 200), ("repeats", 3), ("seed", 0), ("threads", 1)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    values = np.random.default_rng(args.seed).standard_normal((args.steps, args.features), dtype=np.float32)

    def series():
        return TimeSeries.from_values(values[:, :1]), TimeSeries.from_values(values[:, 1:])

    wall, cpu, (target, covariates) = _timed(series, args.repeats)
    out = {"darts": __version__, "timeseries_from_values": {"seconds": round(wall, 4), "cpu_seconds": round(cpu, 4),
                                                             "extra_peak_mb": _peak_mb(series)}}

    def dataset():
        return SequentialTorchTrainingDataset(series=target, past_covariates=covariates,
                                              input_chunk_length=args.lookback, output_chunk_length=args.horizon)

    wall, cpu, ds = _timed(dataset, args.repeats)
    out["windows_build"] = {"seconds": round(wall, 4), "cpu_seconds": round(cpu, 4),
                            "extra_peak_mb": _peak_mb(dataset), "windows": len(ds)}

    n = args.batches * args.batch_size

    def loader_epoch():
        loader = DataLoader(ds, batch_size=args.batch_size, shuffle=True, collate_fn=_batch_collate_fn_train,
                            generator=torch.Generator().manual_seed(args.seed))
        for k, _batch in enumerate(loader):
            if k + 1 == args.batches:
                break

    wall, cpu, _ = _timed(loader_epoch, args.repeats)
    out["batch_loader"] = {"windows": n, "seconds": round(wall, 4), "cpu_seconds": round(cpu, 4),
                           "windows_per_s": round(n / wall), "windows_per_cpu_s": round(n / max(cpu, 1e-9))}
    return out


if __name__ == "__main__":
    json.dump(main(), sys.stdout, indent=2)
    print()
