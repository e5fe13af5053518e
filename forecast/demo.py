"""The walking-skeleton demo: an LSTM forecast of Seattle's next-day maximum temperature vs persistence,
as a backtest (one fit on the first 80%, one-step forecasts of the rest from true history) plus a plot."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import datasets
from forecast.config import WindowSpec
from forecast.evaluate import backtest
from forecast.io import save_figure, write_table
from forecast.models.estimators import RNNForecaster

DEMO_SPEC = WindowSpec(target="temp_max", lookback=30, horizon=1, features=("precipitation", "temp_min", "wind"))


_UNSET = object()  # patience=None means "never stop early", so "not given" needs its own marker


def demo_model(*, max_epochs: int | None = None, patience: int | None | object = _UNSET, seed: int = 42,
               progress_bar: bool = True) -> RNNForecaster:
    """The demo's LSTM: two layers of 64 with the training defaults (gradient clipping on, lr, batch size,
    early stopping: models/training.TrainConfig); `max_epochs` None and `patience` not given keep them too."""
    chosen = {} if max_epochs is None else {"max_epochs": max_epochs}
    if patience is not _UNSET:
        chosen["patience"] = patience
    return RNNForecaster(cell="lstm", hidden_size=64, num_layers=2, seed=seed, progress_bar=progress_bar, **chosen)


def run_demo(
    out_dir: str | Path = "runs/demo",
    *,
    frame: pd.DataFrame | None = None,
    test_size: float = 0.2,
    max_epochs: int | None = None,
    patience: int | None | object = _UNSET,
    seed: int = 42,
    progress_bar: bool = True,
    plots: bool = True,
) -> dict:
    """Backtest the demo LSTM against persistence on Seattle daily weather: fit once on the first 80%, score
    next-day temp_max on the rest (origin t reads rows up to t only).

    Returns the test MAEs of the LSTM and of persistence (yesterday's value), and writes
    `forecasts.csv` (timestamp, actual, lstm, persistence) and, with `plots`, `forecast.png` to `out_dir`.
    """
    started = time.perf_counter()
    frame = datasets.load("seattle-weather") if frame is None else frame
    model = demo_model(max_epochs=max_epochs, patience=patience, seed=seed, progress_bar=progress_bar)
    result = backtest({"lstm": model}, frame, DEMO_SPEC, test_size=test_size, progress=False)
    lstm = result.forecasts[result.forecasts["model"] == "lstm"].set_index("timestamp")["forecast"]
    actual = frame[DEMO_SPEC.targets[0]]
    table = pd.DataFrame({
        "timestamp": lstm.index,
        "actual": actual.reindex(lstm.index).to_numpy(),
        "lstm": lstm.to_numpy(),
        # the backtest's benchmark, in the data's own float64 (its naive forecasts are float32 copies)
        "persistence": actual.shift(1).reindex(lstm.index).to_numpy(),
    })
    mae = {name: float(np.mean(np.abs(table[name] - table["actual"]))) for name in ("lstm", "persistence")}

    out = Path(out_dir)
    write_table(table, out / "forecasts.csv")
    if plots:
        _plot(table, out / "forecast.png", mae)
    fit = result.refits.set_index("model").loc["lstm"]
    return {
        "test_start": str(result.test_start.date()),
        "test_rows": len(table),
        "mae_lstm": mae["lstm"],
        "mae_persistence": mae["persistence"],
        "lstm_beats_persistence": mae["lstm"] < mae["persistence"],
        "epochs": int(fit["epochs"]),
        "fit_seconds": float(fit["fit_seconds"]),
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
