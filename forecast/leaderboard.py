"""The leaderboard: every model's overall scores, its Diebold-Mariano test against the persistence
benchmark and its timings in one frame, a plain-language verdict, and the CSV + PNG written to disk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import InputError
from forecast.io import write_table
from forecast.metrics import HIGHER_IS_BETTER, Task, join_actuals, score_joined
from forecast.plots import plot_leaderboard
from forecast.significance import Loss, diebold_mariano

ALPHA = 0.05
"""Significance level of the verdict: a model "beats" the benchmark when its one-sided DM p < ALPHA."""


def loss_per_origin(joined: pd.DataFrame, loss: Loss = "squared") -> pd.DataFrame:
    """Mean loss per (model, target, origin) over steps and series: the time series the DM test compares.

    Averaging the H steps (and a panel's series) of one origin gives one loss a forecast date, so the
    test sees time-ordered losses whose autocorrelation reaches at most H-1 lags.
    """
    if loss not in ("squared", "absolute"):
        raise InputError(f"loss must be 'squared' or 'absolute', got {loss!r}")
    error = joined["actual"] - joined["forecast"]
    value = error.abs() if loss == "absolute" else error**2
    return (
        joined.assign(loss=value)
        .groupby(["model", "target", "origin"], as_index=False, sort=True)
        .agg(loss=("loss", "mean"))
    )


def dm_against(
    joined: pd.DataFrame, benchmark: str, *, loss: Loss = "squared", horizon: int | None = None
) -> pd.DataFrame:
    """One row per (model, target): DM statistic and p-values of the model against `benchmark`.

    Only origins both forecast are compared; with h or fewer (or under 3) of them the row holds NaN.
    Columns: model, target, dm_statistic, dm_p_value, dm_p_better (one-sided, "model more accurate"),
    dm_n. The benchmark's own row holds NaN.
    """
    models = sorted(joined["model"].unique())
    if benchmark not in models:
        raise InputError(f"benchmark model {benchmark!r} is not among the forecasts' models {models}")
    h = int(joined["step"].max()) if horizon is None else horizon
    per_origin = loss_per_origin(joined, loss)
    wide = per_origin.pivot_table(index=["target", "origin"], columns="model", values="loss")
    rows = []
    for target, block in wide.groupby(level="target", sort=True):  # one iteration per target and model
        for model in models:
            row = {
                "model": model,
                "target": target,
                "dm_statistic": np.nan,
                "dm_p_value": np.nan,
                "dm_p_better": np.nan,
                "dm_n": 0,
            }
            if model != benchmark:
                both = block[[model, benchmark]].dropna()
                if len(both) > max(h, 2):
                    # the losses are already |e|^p: compare them as "errors" with power 1
                    result = diebold_mariano(both[model], both[benchmark], h=h, loss="absolute")
                    row |= {
                        "dm_statistic": result.statistic,
                        "dm_p_value": result.p_value,
                        "dm_p_better": result.p_value_better,
                        "dm_n": result.n,
                    }
            rows.append(row)
    return pd.DataFrame(rows)


def _timings_frame(timings: pd.DataFrame | Mapping[str, Mapping[str, float]] | None) -> pd.DataFrame:
    columns = ["fit_seconds", "predict_seconds"]
    if timings is None:
        return pd.DataFrame(columns=["model", *columns])
    frame = (
        pd.DataFrame.from_dict(timings, orient="index").rename_axis("model").reset_index()
        if isinstance(timings, Mapping)
        else timings
    )
    missing = [c for c in ["model", *columns] if c not in frame.columns]
    if missing:
        raise InputError(f"timings need columns model, fit_seconds, predict_seconds; missing {missing}")
    return frame[["model", *columns]].astype({"model": str})


def build_leaderboard(
    forecasts: pd.DataFrame | Mapping[str, pd.DataFrame],
    actuals: pd.DataFrame,
    *,
    target: str | None = None,
    id_col: str | None = None,
    benchmark: str = "naive",
    season: int = 1,
    train_end: pd.Timestamp | str | None = None,
    timings: pd.DataFrame | Mapping[str, Mapping[str, float]] | None = None,
    sort_by: str | None = None,
    loss: Loss = "squared",
    task: Task = "regression",
) -> pd.DataFrame:
    """Rank models by `sort_by` on all their forecasts, each tested against `benchmark` (persistence).

    forecasts/actuals/target/id_col/season/train_end: as for `forecast.metrics.score_forecasts`.
    timings: {model: {"fit_seconds": s, "predict_seconds": s}} or a frame with those columns and `model`.
    sort_by: a metric column; default "mase" (regression) or "brier" (classification, task="classification",
    where the DM loss on actual - probability is the Brier score's).
    Returns one row per (model, target): rank, model, target, n, mae, rmse, mape, smape, mase,
    directional_accuracy, [pinball, pinball_q*, coverage_*], dm_statistic, dm_p_value, dm_p_better, dm_n,
    beats_benchmark (dm_p_better < 0.05), fit_seconds, predict_seconds; best first within each target.
    """
    joined = join_actuals(
        forecasts, actuals, target=target, id_col=id_col, season=season, train_end=train_end
    )
    scores = score_joined(joined, task)
    sort_by = sort_by or ("brier" if task == "classification" else "mase")
    overall = scores[scores["step"].isna()].drop(columns="step")
    if sort_by not in overall.columns:
        metrics = [c for c in overall.columns if c not in ("model", "target", "n")]
        raise InputError(f"cannot sort the leaderboard by {sort_by!r}; choose one of {metrics}")
    board = overall.merge(dm_against(joined, benchmark, loss=loss), on=["model", "target"], how="left")
    board["beats_benchmark"] = board["dm_p_better"] < ALPHA
    board = board.merge(_timings_frame(timings), on="model", how="left")
    board = board.sort_values(
        ["target", sort_by, "model"],
        ascending=[True, sort_by not in HIGHER_IS_BETTER, True],
        ignore_index=True,
    )
    board.insert(0, "rank", board.groupby("target").cumcount() + 1)
    board.attrs |= {"benchmark": benchmark, "sort_by": sort_by, "loss": loss, "alpha": ALPHA}
    return board


def summarize(leaderboard: pd.DataFrame, *, benchmark: str | None = None) -> str:
    """A few plain sentences per target: the best model, and which models (if any) beat the benchmark
    at the 5% level by the one-sided Diebold-Mariano test; says so plainly when none does."""
    benchmark = benchmark or leaderboard.attrs.get("benchmark", "naive")
    sort_by = leaderboard.attrs.get("sort_by", "mase")
    loss = leaderboard.attrs.get("loss", "squared")
    if leaderboard.empty:
        return "No forecasts were scored."
    lines = []
    for target, board in leaderboard.groupby("target", sort=True):
        best = board.iloc[0]
        lines.append(f"{target}: best by {sort_by} is {best['model']} ({sort_by} {best[sort_by]:.4g}).")
        contenders = board[board["model"] != benchmark]
        winners = contenders[contenders["dm_p_better"] < ALPHA]
        losers = contenders[(contenders["dm_p_value"] < ALPHA) & (contenders["dm_statistic"] > 0)]
        test = f"one-sided Diebold-Mariano test, {loss} loss, 5% level"
        if winners.empty:
            lines.append(f"No model beats {benchmark} (persistence) significantly ({test}).")
        else:
            listed = ", ".join(
                f"{m} (p={p:.3g})" for m, p in zip(winners["model"], winners["dm_p_better"], strict=True)
            )
            lines.append(f"Beat {benchmark} significantly ({test}): {listed}.")
            rest = len(contenders) - len(winners)
            if rest:
                lines.append(f"The other {rest} model(s) do not.")
        if not losers.empty:
            lines.append(f"Significantly worse than {benchmark}: {', '.join(losers['model'])}.")
    return "\n".join(lines)


def write_leaderboard(
    leaderboard: pd.DataFrame, out_dir: str | os.PathLike[str], *, metric: str | None = None, plot: bool = True
) -> dict[str, Path]:
    """Write leaderboard.csv and, with `plot`, leaderboard.png (a bar chart of `metric`, default the sort
    metric) atomically."""
    out = Path(out_dir)
    paths = {"csv": write_table(leaderboard, out / "leaderboard.csv")}
    if plot:
        metric = metric or leaderboard.attrs.get("sort_by", "mase")
        paths["png"] = plot_leaderboard(
            leaderboard, out / "leaderboard.png", metric=metric, benchmark=leaderboard.attrs.get("benchmark")
        )
    return paths
