"""Point, direction and interval accuracy metrics, and scoring of forecasts frames against actuals.

Array metrics take 1-D arrays of equal length and return a float; they use scikit-learn's implementation
where one exists. `score_forecasts` joins a forecasts frame (the contract every model's `predict`
returns: [id_col], origin, timestamp, step, [target], forecast, [q0.1, q0.9, ...], plus a `model`
column when several models are scored together) with the actual data and returns one row per
(model, target, step) and one pooled row per (model, target) with `step` = <NA>.

Classification models (task="classification") give `forecast` as the probability of class 1 and the
actuals hold 0/1 labels; they are scored by accuracy (at p >= 0.5), Brier score and log loss.

Conventions: MAPE and sMAPE are percentages; MAPE is NaN when any actual is 0 (it is undefined
there, and scikit-learn's epsilon would report an absurd number instead); sMAPE treats 0/0 as 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_pinball_loss,
    root_mean_squared_error,
)

from forecast.crps import sample_crps
from forecast.errors import InputError
from forecast.intervals import interval_columns, interval_levels, interval_metrics

QUANTILE_COLUMN = re.compile(r"^q(0?\.\d+)$")
"""Quantile columns are named `q` + the quantile level in (0, 1): `q0.1`, `q0.5`, `q0.9`."""

Task = Literal["regression", "classification"]
HIGHER_IS_BETTER = frozenset({"directional_accuracy", "accuracy"})
"""Metrics where a larger value is better; the others are losses, except coverage_*, best near its level."""


def _pair(y_true: ArrayLike, y_pred: ArrayLike, what: str = "y_pred") -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=float).ravel()
    b = np.asarray(y_pred, dtype=float).ravel()
    if a.shape != b.shape:
        raise InputError(f"y_true has {a.size} values but {what} has {b.size}; they must align one to one")
    if a.size == 0:
        raise InputError("cannot score an empty set of forecasts")
    return a, b


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error, in the target's units."""
    return float(mean_absolute_error(*_pair(y_true, y_pred)))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error, in the target's units; punishes large misses more than MAE."""
    return float(root_mean_squared_error(*_pair(y_true, y_pred)))


def mape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute percentage error, in percent; NaN when any actual is 0 (undefined there)."""
    a, b = _pair(y_true, y_pred)
    if np.any(a == 0):
        return float("nan")
    return 100.0 * float(mean_absolute_percentage_error(a, b))


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric MAPE in percent (0..200): mean of 2|y - f| / (|y| + |f|), with 0/0 counted as 0."""
    a, b = _pair(y_true, y_pred)
    return 100.0 * float(np.mean(_smape_terms(a, b)))


def _smape_terms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    denom = np.abs(a) + np.abs(b)
    return np.divide(2.0 * np.abs(a - b), denom, out=np.zeros_like(denom), where=denom > 0)


def naive_scale(y_train: ArrayLike, season: int = 1) -> float:
    """In-sample MAE of the (seasonal) naive forecast y[t] = y[t - season]: the MASE denominator."""
    y = np.asarray(y_train, dtype=float).ravel()
    if not isinstance(season, int) or isinstance(season, bool) or season < 1:
        raise InputError(f"season must be a positive integer, got {season!r}")
    if y.size <= season:
        raise InputError(
            f"the training series has {y.size} values; MASE with season={season} needs more than {season}"
        )
    return float(np.mean(np.abs(y[season:] - y[:-season])))


def mase(y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error: MAE over the training series' in-sample naive MAE (< 1 beats naive).

    NaN when the training series is constant (the naive scale is 0).
    """
    scale = naive_scale(y_train, season)
    return mae(y_true, y_pred) / scale if scale > 0 else float("nan")


def directional_accuracy(y_true: ArrayLike, y_pred: ArrayLike, y_origin: ArrayLike) -> float:
    """Share of forecasts whose change from the origin value has the sign of the actual change.

    A zero change counts as its own sign, so a flat forecast is right only when nothing moved.
    """
    a, b = _pair(y_true, y_pred)
    _, o = _pair(y_true, y_origin, "y_origin")
    return float(np.mean(np.sign(b - o) == np.sign(a - o)))


def pinball_loss(y_true: ArrayLike, y_quantile: ArrayLike, quantile: float) -> float:
    """Pinball (quantile) loss of a forecast of the given quantile level in (0, 1)."""
    if not 0.0 < quantile < 1.0:
        raise InputError(f"quantile must lie strictly between 0 and 1, got {quantile!r}")
    return float(mean_pinball_loss(*_pair(y_true, y_quantile, "y_quantile"), alpha=quantile))


def coverage(y_true: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Empirical coverage: share of actuals inside [lower, upper] (compare with the nominal level)."""
    a, lo = _pair(y_true, lower, "lower")
    _, hi = _pair(y_true, upper, "upper")
    if np.any(lo > hi):
        raise InputError("some interval lower bounds exceed their upper bounds; check the quantile columns")
    return float(np.mean((a >= lo) & (a <= hi)))


def _labels(y_true: ArrayLike, proba: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y, p = _pair(y_true, proba, "probabilities")
    if not np.isin(y, (0.0, 1.0)).all():
        raise InputError("classification actuals must be 0/1 labels (1 = up / event)")
    if np.any((p < 0.0) | (p > 1.0)):
        raise InputError("classification forecasts must be probabilities of class 1, within [0, 1]")
    return y, p


def accuracy(y_true: ArrayLike, proba: ArrayLike) -> float:
    """Share of correct class calls, calling class 1 when its probability is at least 0.5."""
    y, p = _labels(y_true, proba)
    return float(accuracy_score(y, (p >= 0.5).astype(float)))


def brier(y_true: ArrayLike, proba: ArrayLike) -> float:
    """Brier score: mean squared error of the class-1 probability (0 is perfect, 0.25 a coin flip)."""
    y, p = _labels(y_true, proba)
    return float(brier_score_loss(y, p, labels=[0.0, 1.0]))


def binary_log_loss(y_true: ArrayLike, proba: ArrayLike) -> float:
    """Log loss (cross-entropy, natural log) of class-1 probabilities; punishes confident mistakes."""
    y, p = _labels(y_true, proba)
    return float(log_loss(y, p, labels=[0.0, 1.0]))


# ---------------------------------------------------------------------------------------------------------
# Forecasts frames


def quantile_columns(frame: pd.DataFrame) -> dict[str, float]:
    """Map each quantile column of a forecasts frame (`q0.1`, ...) to its level, in ascending order."""
    found = {c: float(m.group(1)) for c in frame.columns if (m := QUANTILE_COLUMN.match(str(c)))}
    return dict(sorted(found.items(), key=lambda kv: kv[1]))


def stack_forecasts(forecasts: pd.DataFrame | Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One forecasts frame with a `model` column, from a frame that has one or a {model name: frame} map."""
    if isinstance(forecasts, Mapping):
        if not forecasts:
            raise InputError("no forecasts to score: the mapping of model name -> forecasts is empty")
        parts = [f.assign(model=str(name)) for name, f in forecasts.items()]
        return pd.concat(parts, ignore_index=True)
    if "model" not in forecasts.columns:
        raise InputError(
            "the forecasts frame has no 'model' column; add one or pass a {model name: forecasts} mapping"
        )
    return forecasts.reset_index(drop=True)


def _as_ns(values: pd.Series | pd.Index, where: str) -> pd.Series | pd.Index:
    try:
        converted = pd.to_datetime(values)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where} does not hold timestamps: {exc}") from None
    return converted.as_unit("ns") if hasattr(converted, "as_unit") else converted.dt.as_unit("ns")


def long_actuals(actuals: pd.DataFrame, targets: list[str], id_col: str | None) -> pd.DataFrame:
    """Actual data (time index, target columns[, id column]) -> rows of (id, timestamp, target, actual)."""
    if not isinstance(actuals.index, pd.DatetimeIndex):
        raise InputError("the actuals frame must have a DatetimeIndex (one row a time step)")
    missing = [c for c in [*targets, *([id_col] if id_col else [])] if c not in actuals.columns]
    if missing:
        raise InputError(f"the actuals frame has no column(s) {missing}; it has {list(actuals.columns)}")
    keep = [*([id_col] if id_col else []), *targets]
    frame = actuals[keep].copy()
    frame["timestamp"] = _as_ns(actuals.index, "the actuals index").to_numpy()
    long = frame.melt(
        id_vars=[*([id_col] if id_col else []), "timestamp"], var_name="target", value_name="actual"
    )
    long["actual"] = pd.to_numeric(long["actual"], errors="coerce").astype(float)
    return long.reset_index(drop=True)


def _scales(long: pd.DataFrame, cutoff: pd.DataFrame, keys: list[str], season: int) -> pd.DataFrame:
    """Naive MAE per (id, target) over the actuals up to each series' cutoff: the MASE denominators."""
    train = long.merge(cutoff, on=keys, how="inner")
    train = train[train["timestamp"] <= train["cutoff"]].sort_values([*keys, "timestamp"])
    lagged = train.groupby(keys, sort=False)["actual"].shift(season)
    train = train.assign(naive_error=(train["actual"] - lagged).abs())
    return train.groupby(keys, as_index=False).agg(scale=("naive_error", "mean"))


def join_actuals(
    forecasts: pd.DataFrame | Mapping[str, pd.DataFrame],
    actuals: pd.DataFrame,
    *,
    target: str | None = None,
    id_col: str | None = None,
    season: int = 1,
    train_end: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Attach to every forecast row its `actual`, the actual at its origin (`origin_actual`) and the
    MASE `scale` of its series.

    forecasts: a frame with a `model` column or a {model: frame} map (see module docstring).
    actuals: the data the forecasts are about: DatetimeIndex, the target column(s)[, id_col].
    target: the target column when the forecasts have no `target` column (single-target models).
    train_end: the MASE scale is the naive MAE of each series up to here; default: its earliest origin.
    Raises InputError when a forecast has no actual, or a column is missing or not numeric.
    """
    frame = stack_forecasts(forecasts)
    required = ["origin", "timestamp", "step", "forecast", *([id_col] if id_col else [])]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"the forecasts frame has no column(s) {missing}; it has {list(frame.columns)}")
    if "target" not in frame.columns:
        if target is None:
            raise InputError("the forecasts frame has no 'target' column; pass target=<the target column>")
        frame = frame.assign(target=target)
    frame["target"] = frame["target"].astype(str)
    bounds = [c for level in interval_levels(frame) for c in interval_columns(level)]
    for col in ["forecast", *quantile_columns(frame), *bounds]:
        values = pd.to_numeric(frame[col], errors="coerce").astype(float)
        missing_value = values.isna()
        if col != "forecast":
            # a model without intervals leaves its interval columns empty when stacked with one that has them
            missing_value &= ~missing_value.groupby(frame["model"]).transform("all")
        if missing_value.any():
            bad = frame.loc[missing_value, "model"].unique().tolist()
            raise InputError(
                f"column {col!r} of the forecasts has missing or non-numeric values (models {bad})"
            )
        frame[col] = values
    frame["origin"] = _as_ns(frame["origin"], "the forecasts' 'origin' column")
    frame["timestamp"] = _as_ns(frame["timestamp"], "the forecasts' 'timestamp' column")

    keys = [*([id_col] if id_col else []), "target"]
    repeated = frame.duplicated(["model", *keys, "origin", "step"])
    if repeated.any():
        first = frame.loc[repeated].iloc[0]
        raise InputError(
            f"{int(repeated.sum())} forecast rows repeat a (model, series, target, origin, step) (first: model "
            f"{first['model']!r}, origin {first['origin']}, step {first['step']}); each must appear once"
        )
    long = long_actuals(actuals, sorted(frame["target"].unique()), id_col)
    repeated = long.duplicated([*keys, "timestamp"])
    if repeated.any():
        first = long.loc[repeated].iloc[0]
        where = f" of series {first[id_col]!r}" if id_col else ""
        raise InputError(f"the actuals repeat timestamp {first['timestamp']}{where}; each must appear once")
    joined = frame.merge(long, on=[*keys, "timestamp"], how="left", validate="many_to_one")
    lost = joined["actual"].isna()
    if lost.any():
        first = joined.loc[lost].iloc[0]
        raise InputError(
            f"{int(lost.sum())} forecast rows have no actual value (first: target {first['target']!r} at "
            f"{first['timestamp']}); the actuals must cover every forecast timestamp"
        )
    at_origin = long.rename(columns={"timestamp": "origin", "actual": "origin_actual"})
    joined = joined.merge(at_origin, on=[*keys, "origin"], how="left", validate="many_to_one")

    if train_end is None:
        cutoff = joined.groupby(keys, as_index=False).agg(cutoff=("origin", "min"))
    else:
        cutoff = joined[keys].drop_duplicates().assign(cutoff=_as_ns(pd.Series([train_end]), "train_end")[0])
    return joined.merge(_scales(long, cutoff, keys, season), on=keys, how="left")


def _class_scores(block: pd.DataFrame) -> dict[str, float]:
    """Classification metrics of one group of joined rows."""
    y, p = block["actual"].to_numpy(), block["forecast"].to_numpy()
    return {
        "n": len(block),
        "accuracy": accuracy(y, p),
        "brier": brier(y, p),
        "log_loss": binary_log_loss(y, p),
    }


def _block_scores(block: pd.DataFrame, quantiles: dict[str, float]) -> dict[str, float]:
    """All regression metrics of one group of joined rows."""
    y, f = block["actual"].to_numpy(), block["forecast"].to_numpy()
    origin_known = block["origin_actual"].notna().to_numpy()
    scale = block["scale"].to_numpy()
    scores = {
        "n": len(block),
        "mae": mae(y, f),
        "rmse": rmse(y, f),
        "mape": mape(y, f),
        "smape": smape(y, f),
        # pooled MASE: mean of errors scaled per series, so a panel's series count equally per row
        "mase": float(np.mean(np.abs(y - f) / np.where(scale > 0, scale, np.nan))),
        "directional_accuracy": (
            directional_accuracy(
                y[origin_known], f[origin_known], block["origin_actual"].to_numpy()[origin_known]
            )
            if origin_known.any()
            else float("nan")
        ),
    }
    scores.update(interval_metrics(y, f, block))
    scores.update(sample_crps(y, block))  # crps_sample, when the forecasts carry sample_<k> columns
    if quantiles:
        losses = {
            f"pinball_{c}": pinball_loss(y, block[c].to_numpy(), q)
            if block[c].notna().all()
            else float("nan")
            for c, q in quantiles.items()
        }
        scores["pinball"] = float(np.mean(list(losses.values())))
        scores.update(losses)
        levels = dict(zip(quantiles.values(), quantiles, strict=True))
        for lo_col, q in quantiles.items():
            hi_col = levels.get(round(1.0 - q, 10))
            if q < 0.5 and hi_col is not None:
                bounds = block[[lo_col, hi_col]]
                scores[f"coverage_{round(1.0 - 2.0 * q, 6):g}"] = (
                    coverage(y, bounds[lo_col].to_numpy(), bounds[hi_col].to_numpy())
                    if bounds.notna().all(axis=None)
                    else float("nan")
                )
    return scores


def score_joined(joined: pd.DataFrame, task: Task = "regression") -> pd.DataFrame:
    """Metrics per (model, target, step) and pooled over steps (step <NA>) from `join_actuals` output."""
    if task == "classification":
        _labels(joined["actual"], joined["forecast"])  # fail once, up front, on labels or probabilities
        score = _class_scores
    elif task == "regression":
        quantiles = quantile_columns(joined)

        def score(block: pd.DataFrame) -> dict[str, float]:
            return _block_scores(block, quantiles)
    else:
        raise InputError(f"task must be 'regression' or 'classification', got {task!r}")
    rows = []
    # one Python iteration per (model, target, step) group, never per forecast row
    for (model, target, step), block in joined.groupby(["model", "target", "step"], sort=True):
        rows.append({"model": model, "target": target, "step": step, **score(block)})
    for (model, target), block in joined.groupby(["model", "target"], sort=True):
        rows.append({"model": model, "target": target, "step": pd.NA, **score(block)})
    scores = pd.DataFrame(rows)
    scores["step"] = scores["step"].astype("Int64")
    return scores.sort_values(["model", "target", "step"], na_position="first", ignore_index=True)


def score_forecasts(
    forecasts: pd.DataFrame | Mapping[str, pd.DataFrame],
    actuals: pd.DataFrame,
    *,
    task: Task = "regression",
    **join_options: Any,
) -> pd.DataFrame:
    """Score forecasts against actuals per horizon step and overall, per model and target:
    `join_actuals` (whose keyword options target, id_col, season and train_end it takes) then `score_joined`.

    Returns a tidy frame, one row per (model, target, step) plus an overall row per (model, target)
    whose `step` is <NA>, with columns: model, target, step, n, mae, rmse, mape, smape, mase,
    directional_accuracy, and when quantile columns exist: pinball (mean over levels), pinball_q<level>
    and coverage_<nominal> for each symmetric pair (q0.1 + q0.9 -> coverage_0.8); when lower_<level> /
    upper_<level> columns exist (conformal intervals): coverage_80, width_80, winkler_80 per level and crps
    (from the bounds as quantiles, see `forecast.intervals`); when sample_<k> columns exist
    (`RNNForecaster.predict(samples=n)`): crps_sample (see `forecast.crps`).
    With task="classification" the metric columns are accuracy, brier and log_loss instead.
    """
    return score_joined(join_actuals(forecasts, actuals, **join_options), task)
