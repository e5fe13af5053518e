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
from forecast.significance import Loss, diebold_mariano, loss_for_metric

ALPHA = 0.05
"""Significance level of the verdict (see `verdict`)."""

DM_COLUMNS = ("dm_loss", "dm_statistic", "dm_p_better", "dm_p_worse", "dm_n", "verdict")
"""The one significance convention of every leaderboard (backtest and sweep, CSV and printed):

dm_loss: the loss the Diebold-Mariano test compares ("absolute" or "squared" error), chosen to match
    the ranking metric (`forecast.significance.loss_for_metric`: absolute for MAE/MASE, squared for RMSE);
dm_statistic: the HLN-corrected statistic, negative when the model's loss is lower than the benchmark's;
dm_p_better: one-sided p-value of "the model is more accurate than the benchmark";
dm_p_worse: one-sided p-value of "the model is less accurate than the benchmark";
verdict: "better" when dm_p_better < ALPHA, "worse" when dm_p_worse < ALPHA, else "not significant"
    ("benchmark" on the benchmark's own row, "untested" with too few origins). It is derived from the
    two p-values shown beside it, so the two cannot disagree. beats_benchmark is verdict == "better".
"""

VERDICTS = ("better", "worse", "not significant", "benchmark", "untested")


def verdict(p_better: float, p_worse: float, *, is_benchmark: bool = False, alpha: float = ALPHA) -> str:
    """The plain verdict of one leaderboard row from its one-sided DM p-values (see DM_COLUMNS)."""
    if is_benchmark:
        return "benchmark"
    if not (np.isfinite(p_better) and np.isfinite(p_worse)):
        return "untested"
    if p_better < alpha:
        return "better"
    if p_worse < alpha:
        return "worse"
    return "not significant"


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
    joined: pd.DataFrame, benchmark: str, *, loss: Loss = "absolute", horizon: int | None = None
) -> pd.DataFrame:
    """One row per (model, target): the DM test of the model against `benchmark` (columns DM_COLUMNS).

    Only origins both forecast are compared; with h or fewer (or under 3) of them the row holds NaN
    ("untested"). The benchmark's own row holds NaN ("benchmark").
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
                "dm_loss": loss,
                "dm_statistic": np.nan,
                "dm_p_better": np.nan,
                "dm_p_worse": np.nan,
                "dm_n": 0,
            }
            if model != benchmark:
                both = block[[model, benchmark]].dropna()
                if len(both) > max(h, 2):
                    # the losses are already |e|^p: compare them as "errors" with power 1
                    result = diebold_mariano(both[model], both[benchmark], h=h, loss="absolute")
                    row |= {
                        "dm_statistic": result.statistic,
                        "dm_p_better": result.p_value_better,
                        "dm_p_worse": result.p_value_worse,
                        "dm_n": result.n,
                    }
            row["verdict"] = verdict(row["dm_p_better"], row["dm_p_worse"], is_benchmark=model == benchmark)
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
    loss: Loss | None = None,
    task: Task = "regression",
) -> pd.DataFrame:
    """Rank models by `sort_by` on all their forecasts, each tested against `benchmark` (persistence).

    forecasts/actuals/target/id_col/season/train_end: as for `forecast.metrics.score_forecasts`.
    timings: {model: {"fit_seconds": s, "predict_seconds": s}} or a frame with those columns and `model`.
    sort_by: a metric column; default "mase" (regression) or "brier" (classification, task="classification",
    where the DM loss on actual - probability is the Brier score's).
    loss: the DM test's loss; default: the one matching `sort_by` (absolute error for MAE/MASE, squared
    for RMSE and Brier), so the test and the ranking judge the same thing.
    Returns one row per (model, target): rank, model, target, n, mae, rmse, mape, smape, mase,
    directional_accuracy, [pinball, pinball_q*, coverage_*], [coverage_80, width_80, winkler_80 per interval
    level, crps], the DM_COLUMNS (dm_loss, dm_statistic,
    dm_p_better, dm_p_worse, dm_n, verdict), beats_benchmark (verdict == "better"), fit_seconds,
    predict_seconds; best first within each target.
    """
    joined = join_actuals(
        forecasts, actuals, target=target, id_col=id_col, season=season, train_end=train_end
    )
    return rank_joined(joined, score_joined(joined, task), benchmark=benchmark, timings=timings,
                       sort_by=sort_by, loss=loss, task=task)


def rank_joined(
    joined: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    benchmark: str = "naive",
    timings: pd.DataFrame | Mapping[str, Mapping[str, float]] | None = None,
    sort_by: str | None = None,
    loss: Loss | None = None,
    task: Task = "regression",
) -> pd.DataFrame:
    """`build_leaderboard` from forecasts already joined to their actuals (`join_actuals`) and scored
    (`score_joined`), so a backtest joins once for its scores and its leaderboard."""
    sort_by = sort_by or ("brier" if task == "classification" else "mase")
    overall = scores[scores["step"].isna()].drop(columns="step")
    if sort_by not in overall.columns:
        metrics = [c for c in overall.columns if c not in ("model", "target", "n")]
        raise InputError(f"cannot sort the leaderboard by {sort_by!r}; choose one of {metrics}")
    loss = loss or loss_for_metric(sort_by)
    board = overall.merge(dm_against(joined, benchmark, loss=loss), on=["model", "target"], how="left")
    board["beats_benchmark"] = board["verdict"] == "better"
    board = board.merge(_timings_frame(timings), on="model", how="left")
    board = board.sort_values(
        ["target", sort_by, "model"],
        ascending=[True, sort_by not in HIGHER_IS_BETTER, True],
        ignore_index=True,
    )
    board.insert(0, "rank", board.groupby("target").cumcount() + 1)
    board.attrs |= {"benchmark": benchmark, "sort_by": sort_by, "loss": loss, "alpha": ALPHA}
    return board


def dm_legend(leaderboard: pd.DataFrame, *, benchmark: str | None = None) -> str:
    """One sentence naming the test, its loss, its sidedness and level, for under a printed leaderboard."""
    benchmark = benchmark or leaderboard.attrs.get("benchmark", "naive")
    loss = _loss_of(leaderboard)
    sort_by = leaderboard.attrs.get("sort_by")
    if not sort_by:
        matched = ""
    elif loss_for_metric(sort_by) == loss:
        matched = f", matching the ranking by {sort_by}"
    else:
        matched = f", although the ranking is by {sort_by}"
    return (f"dm_p_better / dm_p_worse: one-sided Diebold-Mariano p-values that a model is more / less "
            f"accurate than {benchmark}, on {loss}-error loss{matched}; verdict at the "
            f"{leaderboard.attrs.get('alpha', ALPHA):.0%} level.")


def format_leaderboard(leaderboard: pd.DataFrame, metrics: list[str]) -> str:
    """The leaderboard as aligned text: rank, model, [target], n, `metrics`, the DM p-values and the verdict
    (DM_COLUMNS), timings. Every command prints its leaderboard through this one function."""
    columns = ["rank", "model", *(["target"] if leaderboard["target"].nunique() > 1 else []), "n", *metrics,
               "dm_p_better", "dm_p_worse", "verdict", "fit_seconds", "predict_seconds"]
    shown = leaderboard[[c for c in columns if c in leaderboard.columns]]
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-")


def _loss_of(leaderboard: pd.DataFrame) -> str:
    if "dm_loss" in leaderboard and leaderboard["dm_loss"].notna().any():
        return str(leaderboard["dm_loss"].dropna().iloc[0])
    return str(leaderboard.attrs.get("loss", "absolute"))


def summarize(leaderboard: pd.DataFrame, *, benchmark: str | None = None) -> str:
    """A few plain sentences per target: the best model, and which models (if any) are significantly
    better or worse than the benchmark, each with the one-sided p-value of that very claim (the
    `verdict` column); says so plainly when none beats it."""
    benchmark = benchmark or leaderboard.attrs.get("benchmark", "naive")
    sort_by = leaderboard.attrs.get("sort_by", "mase")
    if leaderboard.empty:
        return "No forecasts were scored."
    test = f"one-sided Diebold-Mariano test, {_loss_of(leaderboard)}-error loss, {ALPHA:.0%} level"
    lines = []
    for target, board in leaderboard.groupby("target", sort=True):
        best = board.iloc[0]
        lines.append(f"{target}: best by {sort_by} is {best['model']} ({sort_by} {best[sort_by]:.4g}).")
        contenders = board[board["model"] != benchmark]
        winners = contenders[contenders["verdict"] == "better"]
        losers = contenders[contenders["verdict"] == "worse"]
        if winners.empty:
            lines.append(f"No model beats {benchmark} (persistence) significantly ({test}).")
        else:
            lines.append(f"Beat {benchmark} significantly ({test}): {_with_p(winners, 'dm_p_better')}.")
            rest = len(contenders) - len(winners)
            if rest:
                lines.append(f"The other {rest} model(s) do not.")
        if not losers.empty:
            lines.append(f"Significantly worse than {benchmark}: {_with_p(losers, 'dm_p_worse')}.")
    return "\n".join(lines)


def _with_p(rows: pd.DataFrame, column: str) -> str:
    """'a (p_worse=0.01), b (p_worse=2e-05)': each model with the p-value of the claim made about it."""
    name = column.removeprefix("dm_")
    return ", ".join(f"{m} ({name}={p:.3g})" for m, p in zip(rows["model"], rows[column], strict=True))


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
