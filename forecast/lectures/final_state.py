"""The final state as features: is a trained RNN's last hidden state a good summary of the window?

On the same time-ordered split (train / validation / test = 70 / 10 / 20%, scaler fit on training rows),
we compare, by test MAE in the data's units:
  - the RNN's own head (the network trained end to end on the training windows),
  - Ridge on the RNN's final hidden state (features from the same trained network),
  - Ridge on the raw lags (the same scaled window, flattened),
  - persistence (the last observed value; zero for returns) as the floor to beat.
Model selection uses the validation windows only: the network keeps the weights of its best validation
epoch, Ridge's alpha is the one with the lowest validation MAE (Ridge is fit on training windows only).

The head and the Ridge read the *same* trained network (its state via `RecurrentNetwork.final_state`), so
the comparison isolates the readout. For state features in a scikit-learn pipeline, use
`forecast.models.state_features.RNNStateFeatures`, which trains its own encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error

from forecast import datasets
from forecast.config import WindowSpec
from forecast.data.returns import log_returns
from forecast.lectures.common import (
    CELL_LABELS,
    PreparedData,
    lightning_fit,
    make_network,
    new_figure,
    prepare,
    tensors,
    write_outputs,
)
from forecast.models.lightning import ForecastModule

NAME = "final-state-features"
ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


def stock_returns(ticker_frame: pd.DataFrame, column: str = "close") -> pd.DataFrame:
    """Daily log returns in percent, 100 * log(p_t / p_{t-1}), as a frame with one column `return`."""
    percent = 100.0 * log_returns(ticker_frame[column].astype(float))
    return percent.iloc[1:].to_frame("return")  # the first row has no previous price


def problems(quick: bool) -> dict[str, tuple[pd.DataFrame, WindowSpec, str]]:
    """The bundled series to forecast: (frame, spec, what persistence means for it)."""
    weather = datasets.load("seattle-weather")
    # From 1996 on: earlier split-adjusted prices are rounded to a few digits, so 15-50% of their
    # daily returns are exactly zero.
    msft = stock_returns(datasets.load("msft")).loc["1996-01-01":]
    if quick:
        msft = msft.iloc[-1500:]
    return {
        "seattle temp_max": (
            weather, WindowSpec(target="temp_max", lookback=30, features=("temp_min", "precipitation", "wind")),
            "last value"),
        "msft daily log return (%), 1996-2017": (msft, WindowSpec(target="return", lookback=20), "zero"),
    }


def ridge_mae(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
              test_x: np.ndarray, data: PreparedData, test_y_units: np.ndarray) -> tuple[float, float]:
    """Test MAE (data units) of Ridge fit on the training rows with alpha picked on validation; (mae, alpha)."""
    scores = {a: mean_absolute_error(val_y, Ridge(alpha=a).fit(train_x, train_y).predict(val_x)) for a in ALPHAS}
    alpha = min(scores, key=scores.get)
    pred = Ridge(alpha=alpha).fit(train_x, train_y).predict(test_x)
    return float(mean_absolute_error(test_y_units, data.unscale_target(pred))), alpha


def compare(data: PreparedData, cells: tuple[str, ...], *, hidden: int, epochs: int, seed: int,
            persistence: str) -> dict:
    """MAEs of persistence, Ridge on lags, and per cell: the RNN head and Ridge on its final state."""
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (tensors(w) for w in (data.train, data.val, data.test))
    y_tr, y_va = y_tr[:, 0, 0].numpy(), y_va[:, 0, 0].numpy()  # [N, H, T] -> [N] next value (scaled)
    truth = data.unscale_target(y_te[:, 0, 0].numpy())
    last = data.unscale_target(x_te[:, -1, 0].numpy())  # the target is input column 0
    result: dict = {
        "n_windows": {"train": len(x_tr), "val": len(x_va), "test": len(x_te)},
        "persistence": float(mean_absolute_error(truth, last if persistence == "last value" else 0 * truth)),
    }
    flat = [x.flatten(1).numpy() for x in (x_tr, x_va, x_te)]  # [N, L, F] -> [N, L*F]
    result["ridge_on_lags"], result["ridge_on_lags_alpha"] = ridge_mae(flat[0], y_tr, flat[1], y_va, flat[2],
                                                                       data, truth)
    for cell in cells:
        net = make_network(cell, x_tr.shape[-1], hidden, seed=seed)
        # The epoch with the lowest validation loss is kept, as Ridge's alpha is picked on val.
        fit = lightning_fit(ForecastModule(net, lr=1e-3, max_epochs=epochs), data.train, data.val, epochs=epochs,
                            seed=seed)
        with torch.no_grad():
            head = data.unscale_target(net.forecast(x_te)[:, 0, 0, 0].numpy())
            states = [net.final_state(x).numpy() for x in (x_tr, x_va, x_te)]  # each [N, hidden]
        mae, alpha = ridge_mae(states[0], y_tr, states[1], y_va, states[2], data, truth)
        result[cell] = {"rnn_head": float(mean_absolute_error(truth, head)), "ridge_on_state": mae,
                        "ridge_on_state_alpha": alpha, "best_epoch": fit.best_epoch}
    return result


def run(out_dir: str | Path, *, quick: bool = False, seed: int = 0, plots: bool = True) -> dict:
    """Compare the RNN head, Ridge on its final state and Ridge on lags on weather and stock returns."""
    hidden = 32
    cells, epochs = (("lstm",), 2) if quick else (("rnn", "gru", "lstm"), 50)
    results = {}
    for name, (frame, spec, persistence) in problems(quick).items():
        results[name] = compare(prepare(frame, spec), cells, hidden=hidden, epochs=epochs, seed=seed,
                                persistence=persistence)

    fig, axes = new_figure(len(results), width=5.5, height=3.8)
    for ax, (name, r) in zip(axes, results.items(), strict=True):
        labels = ["persistence", "Ridge on lags"]
        values = [r["persistence"], r["ridge_on_lags"]]
        colors = ["tab:gray", "tab:olive"]
        for cell in cells:
            labels += [f"{CELL_LABELS[cell]} head", f"Ridge on {CELL_LABELS[cell]} state"]
            values += [r[cell]["rnn_head"], r[cell]["ridge_on_state"]]
            colors += ["tab:blue", "tab:cyan"]
        ax.barh(labels[::-1], values[::-1], color=colors[::-1])
        for i, v in enumerate(values[::-1]):
            ax.text(v, i, f" {v:.3f}", va="center", fontsize=7)
        ax.set_xlim(min(values) * 0.9, max(values) * 1.08)
        ax.set_xlabel("test MAE (lower is better)")
        ax.set_title(name, fontsize=9)
    numbers = {
        "split": "time-ordered 70/10/20 (train/val/test), scaler on training rows; "
                 "network epoch and Ridge alpha picked on val",
        "hidden_size": hidden, "epochs": epochs, "cells": list(cells), "alphas": list(ALPHAS),
        "mae": results,
    }
    return write_outputs(out_dir, NAME, fig, numbers, quick=quick, seed=seed, plots=plots)
