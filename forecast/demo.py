"""The walking-skeleton demo: an LSTM forecast of Seattle's next-day maximum temperature vs persistence."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import datasets
from forecast.config import WindowSpec
from forecast.io import save_figure, write_table
from forecast.models.estimators import RNNForecaster
from forecast.models.training import DEFAULT_TRAIN

DEMO_SPEC = WindowSpec(target="temp_max", lookback=30, horizon=1, features=("precipitation", "temp_min", "wind"))


def run_demo(
    out_dir: str | Path = "runs/demo",
    *,
    frame: pd.DataFrame | None = None,
    test_size: float = 0.2,
    max_epochs: int = DEFAULT_TRAIN.max_epochs,
    seed: int = 42,
    progress_bar: bool = True,
    plots: bool = True,
) -> dict:
    """Train an LSTM on the first 80% of Seattle daily weather and score next-day temp_max on the rest.

    Returns the test MAEs of the LSTM and of persistence (yesterday's value), and writes
    `forecasts.csv` (timestamp, actual, lstm, persistence) and, with `plots`, `forecast.png` to `out_dir`.
    """
    started = time.perf_counter()
    frame = datasets.load("seattle-weather") if frame is None else frame
    spec = DEMO_SPEC
    cut = int((1.0 - test_size) * len(frame))
    test_start = frame.index[cut]
    model = RNNForecaster(cell="lstm", hidden_size=64, num_layers=2, lr=1e-3, batch_size=64,
                          max_epochs=max_epochs, seed=seed, progress_bar=progress_bar)  # clipping on: the default
    model.fit(frame.iloc[:cut], spec)  # the test rows are never seen in training

    # One-step forecasts from true history: origin t reads rows up to t only.
    forecasts = model.predict(frame, origin="all")
    forecasts = forecasts[(forecasts["timestamp"] >= test_start) & (forecasts["timestamp"] <= frame.index[-1])]
    actual = frame[spec.targets[0]]
    table = pd.DataFrame({
        "timestamp": forecasts["timestamp"].to_numpy(),
        "actual": actual.reindex(forecasts["timestamp"]).to_numpy(),
        "lstm": forecasts["forecast"].to_numpy(),
        "persistence": actual.shift(1).reindex(forecasts["timestamp"]).to_numpy(),
    })
    mae = {name: float(np.mean(np.abs(table[name] - table["actual"]))) for name in ("lstm", "persistence")}

    out = Path(out_dir)
    write_table(table, out / "forecasts.csv")
    if plots:
        _plot(table, out / "forecast.png", mae)
    return {
        "test_start": str(test_start.date()),
        "test_rows": len(table),
        "mae_lstm": mae["lstm"],
        "mae_persistence": mae["persistence"],
        "lstm_beats_persistence": mae["lstm"] < mae["persistence"],
        "epochs": model.n_epochs_,
        "fit_seconds": model.fit_seconds_,
        "total_seconds": time.perf_counter() - started,
        "out_dir": str(out),
    }


def _plot(table: pd.DataFrame, path: Path, mae: dict[str, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot(table["timestamp"], table["actual"], color="black", lw=1.2, label="actual")
    ax.plot(table["timestamp"], table["lstm"], color="tab:blue", lw=1, label=f"LSTM (MAE {mae['lstm']:.2f})")
    ax.plot(table["timestamp"], table["persistence"], color="tab:orange", lw=0.8, alpha=0.8,
            label=f"persistence (MAE {mae['persistence']:.2f})")
    ax.set_title("Seattle next-day maximum temperature, test period")
    ax.set_ylabel("temp_max (°C)")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    save_figure(fig, path)
