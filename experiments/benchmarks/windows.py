"""Windowing speed and memory: build windows over a long series, then serve shuffled training batches.

Task (issue 4): a 1,000,000-step by 8-feature float32 series, lookback L=64, horizon H=8, batches of 256.
Targets: building the windows copies nothing of the series and takes under 0.1 s; shuffled training
batches arrive at >= 1,000,000 windows per second. Prints one JSON object:

    python experiments/benchmarks/windows.py [--steps 1000000] [--batches 0 (a whole epoch)] [--repeats 3]
    python experiments/benchmarks/windows.py --darts-python /tmp/darts-venv/bin/python

Figures:
  panel_from_frame  build_panel from a DataFrame (one float32 copy of the columns; reported apart).
  windows_build     make_windows over the panel: seconds (best of repeats) and extra peak memory
                    (tracemalloc, in a separate run), and whether the windows share the panel's memory.
  batch_numpy       Windows.batch on shuffled index blocks (numpy arrays; the permutation is timed too).
  batch_loader      forecast.data.datamodule.batch_loader(shuffle=True): the DataLoader training uses,
                    torch tensors out.
Rates count windows per second of wall time and of this process's CPU time (the CPU figure is the
steadier one on a shared machine). With --darts-python, a script run in that interpreter measures Darts'
SequentialTorchTrainingDataset (the dataset of its block RNN models) with its own collate function on the
same task; Darts is never a dependency of this project.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecast.config import WindowSpec
from forecast.data.datamodule import batch_loader
from forecast.data.panel import build_panel
from forecast.data.windows import make_windows

DARTS_SCRIPT = Path(__file__).with_name("darts_windows.py")


def _timed(fn, repeats: int) -> tuple[float, float, object]:
    """(best wall seconds, best CPU seconds, last result) of `fn()` over `repeats` calls."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def _peak_bytes(fn) -> int:
    """Peak memory traced while `fn()` runs, beyond what was allocated before (numpy reports to tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak


def _rate(n_windows: int, wall: float, cpu: float) -> dict:
    return {"windows": n_windows, "seconds": round(wall, 4), "cpu_seconds": round(cpu, 4),
            "windows_per_s": round(n_windows / wall), "windows_per_cpu_s": round(n_windows / max(cpu, 1e-9))}


def measure(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed)
    values = rng.standard_normal((args.steps, args.features), dtype=np.float32)  # [T, F]
    columns = [f"x{i}" for i in range(args.features)]
    frame = pd.DataFrame(values, columns=columns, index=pd.date_range("2000-01-01", periods=args.steps, freq="min"))
    spec = WindowSpec(target=columns[0], lookback=args.lookback, horizon=args.horizon, features=tuple(columns[1:]))

    wall, cpu, panel = _timed(lambda: build_panel(frame, spec), args.repeats)
    panel_figures = {"seconds": round(wall, 4), "cpu_seconds": round(cpu, 4),
                     "extra_peak_mb": round(_peak_bytes(lambda: build_panel(frame, spec)) / 2**20, 2)}

    wall, cpu, windows = _timed(lambda: make_windows(panel, spec), args.repeats)
    build = {
        "seconds": round(wall, 4), "cpu_seconds": round(cpu, 4),
        "extra_peak_mb": round(_peak_bytes(lambda: make_windows(panel, spec)) / 2**20, 2),
        "series_mb": round(panel.values.nbytes / 2**20, 2),
        "windows": len(windows),
        "views_share_series_memory": bool(np.shares_memory(windows._past, panel.values)),
        "meets_target": wall < 0.1,
    }

    full_epoch = -(-len(windows) // args.batch_size)
    n_batches = min(args.batches, full_epoch) if args.batches else full_epoch

    def numpy_epoch() -> None:
        order = np.random.default_rng(args.seed).permutation(len(windows))  # shuffled, as in training
        for k in range(n_batches):
            windows.batch(order[k * args.batch_size:(k + 1) * args.batch_size])

    def loader_epoch() -> None:
        for k, _batch in enumerate(batch_loader(windows, args.batch_size, shuffle=True, seed=args.seed)):
            if k + 1 == n_batches:
                break

    numpy_epoch()  # warm-up: page in the series once
    n = min(n_batches * args.batch_size, len(windows))
    batch_numpy = _rate(n, *_timed(numpy_epoch, args.repeats)[:2])
    batch_torch = _rate(n, *_timed(loader_epoch, args.repeats)[:2])
    for figures in (batch_numpy, batch_torch):
        figures["meets_target"] = figures["windows_per_s"] >= 1_000_000
    return {"panel_from_frame": panel_figures, "windows_build": build,
            "batch_numpy": batch_numpy, "batch_loader": batch_torch}


def darts(args: argparse.Namespace) -> dict:
    """Darts' figures for the same task, measured in another interpreter (its own scratch environment)."""
    command = [args.darts_python, str(DARTS_SCRIPT), "--steps", str(args.steps), "--features", str(args.features),
               "--lookback", str(args.lookback), "--horizon", str(args.horizon), "--batch-size", str(args.batch_size),
               "--batches", str(args.darts_batches), "--repeats", str(args.repeats), "--seed", str(args.seed),
               "--threads", str(args.threads)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.darts_timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"error": f"{type(error).__name__}: {error}"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--lookback", type=int, default=64)
    parser.add_argument("--horizon", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=0, help="shuffled batches timed per repeat (0: an epoch)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--darts-python", default=None, help="interpreter of a scratch env with darts installed")
    parser.add_argument("--darts-batches", type=int, default=200)
    parser.add_argument("--darts-timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {
        "task": {"steps": args.steps, "features": args.features, "lookback": args.lookback,
                 "horizon": args.horizon, "batch_size": args.batch_size, "dtype": "float32"},
        "forecast": measure(args),
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
                    "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                    # Wall-clock rates are only final on a quiet machine; under load read the CPU-time rates.
                    "under_load": os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1)},
    }
    if args.darts_python:
        result["darts"] = darts(args)
    return result


if __name__ == "__main__":
    json.dump(main(), sys.stdout, indent=2)
    print()
