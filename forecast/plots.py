"""PNG figures for forecasts, residuals, leaderboards and training diagnostics.

Figures are built on `matplotlib.figure.Figure` (the Agg canvas; no pyplot state, never shown) and
written through `forecast.io.save_figure`, so a failing plot leaves no file behind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from forecast.errors import InputError
from forecast.intervals import coverage_columns, interval_columns, interval_levels
from forecast.io import save_figure
from forecast.metrics import HIGHER_IS_BETTER, join_actuals, quantile_columns, stack_forecasts

PathLike = str | os.PathLike[str]
Forecasts = pd.DataFrame | Mapping[str, pd.DataFrame]


def _with_model(forecasts: Forecasts) -> pd.DataFrame:
    """A stacked frame with a `model` column; a lone model's frame is labelled 'forecast'."""
    if isinstance(forecasts, pd.DataFrame) and "model" not in forecasts.columns:
        return forecasts.assign(model="forecast")
    return stack_forecasts(forecasts)


def _pick(frame: pd.DataFrame, column: str, value: object, what: str) -> tuple[pd.DataFrame, object]:
    """Rows whose `column` equals `value`, or the first value in sort order when `value` is None."""
    choices = sorted(frame[column].dropna().unique().tolist())
    if value is None:
        if not choices:
            raise InputError(f"the forecasts have no {what} to plot")
        value = choices[0]
    elif value not in choices:
        raise InputError(
            f"{what} {value!r} is not in the forecasts' {column!r} column; choose from {choices}"
        )
    return frame[frame[column] == value], value


def _as_time(value: pd.Timestamp | str, tz: object) -> pd.Timestamp:
    """A user's start/end as a timestamp comparable with the data (naive dates read in the data's zone)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize(tz) if tz is not None and stamp.tz is None else stamp


def plot_forecast(
    forecasts: Forecasts,
    actuals: pd.DataFrame,
    path: PathLike,
    *,
    target: str | None = None,
    id_col: str | None = None,
    series: object = None,
    step: int = 1,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> Path:
    """Plot the actual series and each model's `step`-ahead forecasts over [start, end], with bands for
    every symmetric quantile pair (q0.1/q0.9 ...) and every interval (lower_80/upper_80 ...) the
    forecasts carry.

    target: which target when the forecasts hold several (default: the only one / the first);
    series: which series of a panel (default: the first id).
    """
    frame = _with_model(forecasts)
    for col in ("timestamp", "step", "forecast"):
        if col not in frame.columns:
            raise InputError(f"the forecasts frame has no {col!r} column; it has {list(frame.columns)}")
    if "target" in frame.columns:
        frame, target = _pick(frame, "target", target, "target")
    elif target is None:
        raise InputError("the forecasts frame has no 'target' column; pass target=<the target column>")
    if target not in actuals.columns:
        raise InputError(f"the actuals frame has no column {target!r}; it has {list(actuals.columns)}")
    observed = actuals
    if id_col is not None:
        if id_col not in frame.columns or id_col not in actuals.columns:
            raise InputError(f"id column {id_col!r} must be in both the forecasts and the actuals")
        frame, series = _pick(frame, id_col, series, "series")
        observed = actuals[actuals[id_col] == series]
    frame = frame[frame["step"] == step].assign(timestamp=lambda f: pd.to_datetime(f["timestamp"]))
    tz = frame["timestamp"].dt.tz
    lo = _as_time(start, tz) if start is not None else frame["timestamp"].min()
    hi = _as_time(end, tz) if end is not None else frame["timestamp"].max()
    frame = frame[frame["timestamp"].between(lo, hi)].sort_values("timestamp")
    if frame.empty:
        raise InputError(f"no step-{step} forecasts between {lo} and {hi}; check step, start and end")
    observed = observed[(observed.index >= lo) & (observed.index <= hi)]

    quantiles = quantile_columns(frame)
    pairs = [
        (c, hc, 1 - 2 * q)
        for c, q in quantiles.items()
        if q < 0.5
        for hc in quantiles
        if quantiles[hc] == round(1 - q, 10)
    ] + [(*interval_columns(level), level) for level in reversed(interval_levels(frame))]
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    ax.plot(
        observed.index.to_numpy(),
        observed[target].to_numpy(dtype=float),
        color="black",
        lw=1.2,
        label="actual",
    )
    for model, rows in frame.groupby("model", sort=True):
        x = rows["timestamp"].to_numpy()
        (line,) = ax.plot(x, rows["forecast"].to_numpy(dtype=float), lw=1.0, label=str(model))
        for lo_col, hi_col, nominal in pairs:  # outermost pair first, so inner bands draw on top
            if rows[[lo_col, hi_col]].notna().all(axis=None):
                bounds = rows[[lo_col, hi_col]].to_numpy(dtype=float)
                bounds[~np.isfinite(bounds)] = np.nan  # an unbounded conformal interval leaves a gap
                ax.fill_between(
                    x,
                    bounds[:, 0],
                    bounds[:, 1],
                    color=line.get_color(),
                    alpha=0.15,
                    lw=0,
                    label=f"{model} {nominal:.0%} interval",
                )
    where = f" ({id_col}={series})" if id_col is not None else ""
    ax.set_title(f"{target}{where}: actual vs {step}-step-ahead forecast")
    ax.set_xlabel("time")
    ax.set_ylabel(str(target))
    ax.legend(loc="best", fontsize="small")
    fig.autofmt_xdate()
    return save_figure(fig, path)


def plot_residuals(
    forecasts: Forecasts, actuals: pd.DataFrame, path: PathLike, *, step: int | None = None, **join_options: Any
) -> Path:
    """Plot residuals (actual - forecast) over time and as a histogram, per model; one step or all.
    join_options: `join_actuals`'s (target, id_col) to match forecasts with actuals."""
    joined = join_actuals(_with_model(forecasts), actuals, **join_options)
    if step is not None:
        joined = joined[joined["step"] == step]
        if joined.empty:
            raise InputError(f"the forecasts have no step {step}")
    joined = joined.assign(residual=joined["actual"] - joined["forecast"]).sort_values("timestamp")
    fig = Figure(figsize=(11, 4))
    over_time, histogram = fig.subplots(1, 2, width_ratios=[2, 1])
    bins = np.histogram_bin_edges(joined["residual"].to_numpy(), bins="auto")
    for model, rows in joined.groupby("model", sort=True):
        residual = rows["residual"].to_numpy()
        over_time.plot(rows["timestamp"].to_numpy(), residual, ".", ms=3, alpha=0.6, label=str(model))
        histogram.hist(residual, bins=bins, histtype="step", lw=1.2, label=str(model))
    over_time.axhline(0.0, color="black", lw=0.8)
    which = f"step {step}" if step is not None else "all steps"
    over_time.set_title(f"residuals over time ({which})")
    over_time.set_ylabel("actual - forecast")
    histogram.set_title("residual distribution")
    histogram.set_xlabel("actual - forecast")
    over_time.legend(loc="best", fontsize="small")
    over_time.tick_params(axis="x", labelrotation=30)  # only the time axis; the histogram keeps its labels
    return save_figure(fig, path)


def plot_leaderboard(
    leaderboard: pd.DataFrame, path: PathLike, *, metric: str = "mase", benchmark: str | None = "naive"
) -> Path:
    """Bar chart of one leaderboard metric per model, best on top; the benchmark is grey with a dashed
    reference line, and models that beat it significantly (`beats_benchmark`) are marked."""
    for col in ("model", metric):
        if col not in leaderboard.columns:
            raise InputError(f"the leaderboard has no {col!r} column; it has {list(leaderboard.columns)}")
    if leaderboard.empty:
        raise InputError("the leaderboard is empty; there is nothing to plot")
    # barh draws the first row at the bottom: worst first puts the best model on top
    board = leaderboard.sort_values(metric, ascending=metric in HIGHER_IS_BETTER, na_position="first")
    labels = board["model"].astype(str)
    if "target" in board.columns and board["target"].nunique() > 1:
        labels = labels + " (" + board["target"].astype(str) + ")"
    is_benchmark = (board["model"] == benchmark).to_numpy()
    beats = (
        board["beats_benchmark"].fillna(False).to_numpy(dtype=bool) if "beats_benchmark" in board else None
    )
    colors = np.where(is_benchmark, "tab:gray", "tab:blue")
    if beats is not None:
        colors = np.where(beats, "tab:green", colors)
    values = board[metric].to_numpy(dtype=float)

    fig = Figure(figsize=(7, 0.45 * len(board) + 1.5))
    ax = fig.add_subplot()
    ax.barh(np.arange(len(board)), np.nan_to_num(values), color=colors)
    ax.set_yticks(np.arange(len(board)), labels.tolist())
    for y, v in enumerate(values):
        ax.annotate(
            "n/a" if np.isnan(v) else f"{v:.3g}",
            (np.nan_to_num(v), y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    if is_benchmark.any() and not np.isnan(values[is_benchmark][0]):
        ax.axvline(values[is_benchmark][0], color="tab:gray", ls="--", lw=1, label=f"{benchmark}")
    note = " (green: beats the benchmark at 5%)" if beats is not None and beats.any() else ""
    better = "higher" if metric in HIGHER_IS_BETTER else "lower"
    ax.set_title(f"{metric} by model, {better} is better{note}", fontsize="medium")
    ax.set_xlabel(metric)
    return save_figure(fig, path)


def plot_calibration(leaderboard: pd.DataFrame, path: PathLike) -> Path:
    """Nominal vs observed coverage of the interval levels in `leaderboard` (coverage_80, ...), one line per
    model (and target): a calibrated model lies on the diagonal, an overconfident one below it."""
    levels = coverage_columns(leaderboard)
    if not levels:
        raise InputError("the leaderboard has no interval coverage columns (coverage_80, ...); "
                         "backtest with intervals to get them")
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    nominal = np.array(list(levels.values()))
    ax.plot([0, 1], [0, 1], color="tab:gray", ls="--", lw=1, label="calibrated")
    several = "target" in leaderboard.columns and leaderboard["target"].nunique() > 1
    for _, row in leaderboard.iterrows():  # one line per model
        observed = row[list(levels)].to_numpy(dtype=float)
        if np.isnan(observed).all():
            continue
        label = f"{row['model']} ({row['target']})" if several else str(row["model"])
        ax.plot(nominal, observed, marker="o", label=label)
    low = max(0.0, float(nominal.min()) - 0.2)
    ax.set_xlim(low, 1.0)
    ax.set_ylim(low, 1.0)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage")
    ax.set_title("interval calibration (on the diagonal is calibrated)", fontsize="medium")
    ax.legend(fontsize="small")
    return save_figure(fig, path)


def plot_gradient_norms(
    norms: Mapping[str, Sequence[float]], path: PathLike, *, title: str = "gradient norm per step"
) -> Path:
    """Plot per-step gradient norms of one or more training runs on a log axis; the first non-finite
    norm of a run (a diverged step) is marked with a vertical line."""
    if not norms:
        raise InputError("no gradient norms to plot: pass {run label: [norm per step, ...]}")
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    for label, values in norms.items():
        y = np.asarray(values, dtype=float)
        if y.ndim != 1 or y.size == 0:
            raise InputError(f"gradient norms of run {label!r} must be a non-empty list of numbers")
        (line,) = ax.plot(np.arange(y.size), np.where(y > 0, y, np.nan), lw=1.0, label=str(label))
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            ax.axvline(
                bad[0], color=line.get_color(), ls=":", lw=1, label=f"{label}: non-finite at step {bad[0]}"
            )
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("gradient norm")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return save_figure(fig, path)
