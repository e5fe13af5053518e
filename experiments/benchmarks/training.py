"""Training throughput: RNNForecaster (Lightning) beside a raw PyTorch loop of the same network.

Both train an LSTM (hidden 64, 2 layers, direct head) on the Seattle daily windows (lookback 30, horizon 1,
batch 64) with Adam and gradient-norm clipping at 1.0. The raw loop is the ceiling: the batches are slices of
tensors built once, with no framework around the step. Repetitions alternate between the two so that a
change in machine load hits both alike. Prints one JSON object:

    python experiments/benchmarks/training.py [--epochs 6] [--repeats 3] [--threads N]
    python experiments/benchmarks/training.py --device cuda --precision bf16-mixed

samples/s counts training windows per second over the epochs after the first (warm-up) one; the Lightning
figure also reports the whole `fit` call (data preparation and Trainer start-up included). "ratio" is the
median over repetitions of Lightning / raw; "ratio_cpu_time" uses this process's CPU time instead of wall
time, which other processes on a shared machine disturb far less (exact with --threads 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

import forecast
from forecast.config import WindowSpec
from forecast.models.estimators import RNNForecaster
from forecast.models.networks import RecurrentNetwork

SPEC = WindowSpec(target="temp_max", lookback=30, horizon=1, features=("precipitation", "temp_min", "wind"))


class EpochTimer(L.Callback):
    """Wall and CPU time of every training epoch (device work included: it syncs before reading the clock)."""

    def __init__(self, device: str) -> None:
        self.device, self.seconds, self.cpu_seconds = device, [], []
        self._start = self._cpu_start = 0.0

    def _sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def on_train_epoch_start(self, trainer, module) -> None:
        self._sync()
        self._start, self._cpu_start = time.perf_counter(), time.process_time()

    def on_train_epoch_end(self, trainer, module) -> None:
        self._sync()
        self.seconds.append(time.perf_counter() - self._start)
        self.cpu_seconds.append(time.process_time() - self._cpu_start)


def model_params(args: argparse.Namespace) -> dict:
    return dict(
        cell="lstm", hidden_size=64, num_layers=2, head="direct", optimizer="adam", lr=1e-3,
        gradient_clip_val=1.0, gradient_clip_algorithm="norm", batch_size=args.batch_size,
        max_epochs=args.epochs, val_size=0.0, seed=0, progress_bar=args.progress_bar,
        accelerator="gpu" if args.device == "cuda" else "cpu", precision=args.precision,
    )


def lightning_run(frame, args: argparse.Namespace) -> dict:
    """One fit of RNNForecaster; per-epoch times from a callback."""
    timer = EpochTimer(args.device)
    model = RNNForecaster(**model_params(args))
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # a progress bar must not mix with the JSON on stdout
        model.fit(frame, SPEC, callbacks=[timer])
    if args.device == "cuda":
        torch.cuda.synchronize()
    total = time.perf_counter() - started
    n = model.n_train_windows_
    return {"n_windows": n, "epoch_seconds": timer.seconds, "epoch_cpu_seconds": timer.cpu_seconds,
            "fit_seconds": total, "config": model.network_config_}


def raw_run(x: torch.Tensor, y: torch.Tensor, config, args: argparse.Namespace) -> tuple[list, list]:
    """The same network, batches and recipe in a bare loop; returns per-epoch wall and CPU seconds."""
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = RecurrentNetwork(config).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = x.to(device), y.to(device)
    gen = torch.Generator().manual_seed(0)
    autocast = torch.autocast(device_type=args.device, dtype=torch.bfloat16,
                              enabled=args.precision.startswith("bf16"))
    seconds, cpu_seconds = [], []
    for _ in range(args.epochs):
        if args.device == "cuda":
            torch.cuda.synchronize()
        start, cpu_start = time.perf_counter(), time.process_time()
        for idx in torch.randperm(len(x), generator=gen).split(args.batch_size):
            idx = idx.to(device)
            with autocast:
                pred, _ = net(x[idx])  # [B, L, F] -> [B, H, T, 1]
                loss = F.mse_loss(pred.squeeze(-1).float(), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        if args.device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
    return seconds, cpu_seconds


def training_tensors(frame) -> tuple[torch.Tensor, torch.Tensor]:
    """Every training window as one tensor pair, prepared exactly as RNNForecaster prepares them."""
    model = RNNForecaster(**{**model_params(argparse.Namespace(
        batch_size=64, epochs=1, progress_bar=False, device="cpu", precision="32-true")), "max_epochs": 1})
    model._validate_params()
    windows = model._preparation(SPEC).fit(frame, val_size=0.0).train
    batch = windows.batch(np.arange(len(windows)))
    return torch.from_numpy(batch["x"]), torch.from_numpy(batch["y"])  # [N, L, F], [N, H, T]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", default="32-true", help="Lightning precision, e.g. bf16-mixed")
    parser.add_argument("--progress-bar", action="store_true", help="time Lightning with its progress bar")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
    frame = forecast.datasets.load("seattle-weather")
    x, y = training_tensors(frame)

    def rate(seconds: list[float]) -> float:  # samples/s over the epochs after the first
        return len(x) * (len(seconds) - 1) / sum(seconds[1:])

    rates = {"lightning": [], "raw": [], "lightning_cpu": [], "raw_cpu": []}
    fit_rates = []
    for _ in range(args.repeats):  # interleaved: lightning, raw, lightning, raw, ...
        run = lightning_run(frame, args)
        rates["lightning"].append(rate(run["epoch_seconds"]))
        rates["lightning_cpu"].append(rate(run["epoch_cpu_seconds"]))
        fit_rates.append(run["n_windows"] * args.epochs / run["fit_seconds"])
        wall, cpu = raw_run(x, y, run["config"], args)
        rates["raw"].append(rate(wall))
        rates["raw_cpu"].append(rate(cpu))

    def paired_ratio(a: str, b: str) -> float:  # median over repetitions of each pair's ratio
        return statistics.median(p / q for p, q in zip(rates[a], rates[b], strict=True))

    lightning_rate = statistics.median(rates["lightning"])
    raw_rate = statistics.median(rates["raw"])
    result = {
        "benchmark": "training",
        "model": "lstm hidden 64, 2 layers, direct head, Adam, clip norm 1.0",
        "data": f"seattle-weather, lookback {SPEC.lookback}, horizon {SPEC.horizon}, "
                f"{len(SPEC.numeric_inputs)} inputs, {len(x)} training windows",
        "batch_size": args.batch_size,
        "epochs_per_run": args.epochs,
        "repeats": args.repeats,
        "device": args.device,
        "precision": args.precision,
        "progress_bar": args.progress_bar,
        "threads": torch.get_num_threads(),
        "lightning_samples_per_s": round(lightning_rate, 1),
        "raw_samples_per_s": round(raw_rate, 1),
        "ratio": round(paired_ratio("lightning", "raw"), 3),
        # Per CPU-second of this process: with one thread, the figure least disturbed by other processes.
        "lightning_samples_per_cpu_s": round(statistics.median(rates["lightning_cpu"]), 1),
        "raw_samples_per_cpu_s": round(statistics.median(rates["raw_cpu"]), 1),
        "ratio_cpu_time": round(paired_ratio("lightning_cpu", "raw_cpu"), 3),
        "lightning_whole_fit_samples_per_s": round(statistics.median(fit_rates), 1),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "runs": {k: [round(v, 1) for v in vals] for k, vals in rates.items()},
        "versions": {"torch": torch.__version__, "lightning": L.__version__, "python": platform.python_version()},
    }
    if args.device == "cuda":
        result["gpu"] = torch.cuda.get_device_name()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
