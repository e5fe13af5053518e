"""Shared plumbing of the compare_* experiment scripts: arguments, model building, the JSON report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import pandas as pd


def parser(description: str, default_out: str, epochs: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs, help=f"maximum training epochs of the RNNs (default {epochs})")
    p.add_argument("--hidden-size", type=int, default=64, help="hidden units of the RNNs (default 64)")
    p.add_argument("--seed", type=int, default=42, help="random seed of every model (default 42)")
    p.add_argument("--refit-every", type=int, help="refit every K origins (default: fit once before the test)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: reproducible numbers)")
    p.add_argument("--out", default=default_out, help=f"report folder (default {default_out})")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 epoch, short data (numbers meaningless)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def setup(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)


def build(names: list[str], settings: dict[str, dict[str, Any]]) -> tuple[dict, list]:
    """{name: model} for the registered names, each with `settings[its registry family]` applied where the
    model has such a parameter; and the names not (yet) registered, which are skipped."""
    from forecast.models import registry

    models, skipped = {}, []
    for name in names:
        if name not in registry.names():
            skipped.append(name)
            continue
        models[name] = registry.build(name, shared=settings.get(registry.get(name).family, {}))
    return models, skipped


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if pd.isna(value) else round(value, 6)
    if isinstance(value, pd.Timestamp):
        return str(value)
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def report(result, *, name: str, started: float, args: argparse.Namespace, skipped: list[str],
           extra: dict | None = None) -> dict:
    """Write the backtest's files plus result.json to args.out and return the JSON-ready summary."""
    out = Path(args.out)
    result.write(out)
    wanted = ("rank", "model", "target", "n", "mae", "rmse", "mase", "smape", "directional_accuracy", "pinball",
              "accuracy", "brier", "log_loss", "dm_loss", "dm_statistic", "dm_p_better", "dm_p_worse", "verdict",
              "beats_benchmark", "fit_seconds", "predict_seconds")
    columns = [c for c in result.leaderboard.columns if c in wanted or str(c).startswith("coverage_")]
    board = [{k: _clean(v) for k, v in row.items()} for row in result.leaderboard[columns].to_dict("records")]
    data = {
        "experiment": name,
        "spec": result.spec.to_dict(),
        "test_start": str(result.test_start),
        "origins": len(result.origins),
        "first_origin": str(result.origins["origin"].min()),
        "last_origin": str(result.origins["origin"].max()),
        "refit_every": args.refit_every,
        "epochs": args.epochs,
        "seed": args.seed,
        "benchmark": result.benchmark,
        "leaderboard": board,
        "summary": result.summary,
        "skipped_models": skipped,
        **(extra or {}),
        "total_seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "torch_threads": args.threads,
                    "load_average": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version()},
        "out": str(out),
    }
    (out / "result.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    return data


def load_bundled(data: str, target: str) -> pd.DataFrame:
    """A bundled frame; for target "log_return", each ticker's daily log return of adj_close (the first
    row of each ticker, which has none, dropped)."""
    import numpy as np

    import forecast

    frame = forecast.datasets.load(data)
    if target == "log_return":
        frame = frame.assign(log_return=np.log(frame["adj_close"]).groupby(frame["ticker"]).diff())
        frame = frame[frame["log_return"].notna()]
    return frame
