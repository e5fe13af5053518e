"""Rolling-origin backtests: every model forecasts the same test origins from the data up to each origin,
and is then scored per horizon step, tested against persistence and ranked.

Protocol. The test period starts at one date for all series (the last `test_size` of the time steps, or
`test_start`). An origin t forecasts rows t+1..t+H; the test origins are the rows whose H targets lie in
the test period and are observed, with a full, finite lookback window (every `stride`-th origin date).
The origin dates are cut into refit blocks of `refit_every` consecutive dates (one block when None).
For each block, every model is cloned and fit on the rows dated up to the block's first origin (an
expanding window; scalers and target transforms refit with it, since they live inside the estimator),
then forecasts the block with `predict(frame cut at the block's last origin, origin="all")`. Models
promise that a forecast from origin t reads rows up to t only; tests/test_conformance.py checks that
promise for every registered model. `predict_each_origin=True` does not rely on it: it calls `predict` once per
origin date, on the frame cut at that date (slower; for models of your own).
"""

from __future__ import annotations

import copy
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from forecast.config import WindowSpec
from forecast.data.panel import Panel, build_panel, fit_vocabularies
from forecast.data.reuse import reusing_panels
from forecast.data.splits import backtest_start
from forecast.data.windows import make_windows
from forecast.errors import InputError
from forecast.intervals import coverage_columns, interval_columns, interval_levels
from forecast.io import atomic_path, write_table
from forecast.leaderboard import rank_joined, summarize, write_leaderboard
from forecast.metrics import join_actuals, quantile_columns, score_joined
from forecast.models import registry
from forecast.models.training import still_improving
from forecast.plots import plot_calibration

Task = Literal["regression", "direction"]
BENCHMARKS: dict[str, str] = {"regression": "naive", "direction": "persist_direction"}
"""The persistence benchmark every backtest includes, by task: last value, or last move's direction."""
DEFAULT_MODELS: dict[str, tuple[str, ...]] = {"regression": ("rnn", "gru", "lstm", "naive"),
                                              "direction": ("rnn", "gru", "lstm", "always_up")}
"""What `backtest(models=None)` compares, by task (params["task"] == "direction" picks the classifiers)."""

ModelsArg = str | Any | Sequence[str | Any] | Mapping[str, str | Any]


# ---------------------------------------------------------------------------------------------------------
# Models by name or instance


def model_name(model: Any) -> str:
    """The registry name whose class and defaults match `model` (RNNForecaster(cell="gru") -> "gru"),
    else the class name in lower case."""
    entry = registry.entry_of(model)
    return entry.name if entry is not None and entry.matches(model) else type(model).__name__.lower()


def resolve_models(models: ModelsArg, *, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """{name: unfitted model} from registry names, estimators, or a {name: name-or-estimator} dict.

    params: settings for the models built from names (e.g. {"max_epochs": 5, "seed": 0}), applied where
    the model has such a parameter (`registry.build(name, shared=params)`); params["target_transform"] is
    honoured by every one of them (see `forecast.models.registry.TRANSFORM_SUPPORT`).
    """
    if isinstance(models, str) or hasattr(models, "fit"):
        models = [models]
    pairs = list(models.items()) if isinstance(models, Mapping) else [(None, m) for m in models]
    if not pairs:
        raise InputError("no models to backtest; pass registry names (e.g. ['lstm', 'naive']) or estimators")
    out: dict[str, Any] = {}
    for label, model in pairs:
        if isinstance(model, str):
            label = label or model
            model = registry.build(model, shared=params)
        elif not (hasattr(model, "fit") and hasattr(model, "predict")):
            raise InputError(f"model {label or model!r} has no fit/predict; pass a registry name or a forecaster")
        else:
            label = label or model_name(model)
        label = str(label)
        if label in out:
            raise InputError(f"two models are called {label!r}; pass a dict {{name: model}} to tell them apart")
        out[label] = model
    return out


def _task_of(models: Mapping[str, Any]) -> Task:
    """'direction' when the models classify up/down moves (as their registry entries declare), else
    'regression'; a mix of both is an InputError."""
    direction = [n for n, m in models.items() if registry.task_of(m) == "direction"]
    if direction and len(direction) < len(models):
        others = [n for n in models if n not in direction]
        raise InputError(
            f"cannot score direction classifiers {direction} with value forecasters {others} in one backtest; "
            "run them separately"
        )
    return "direction" if direction else "regression"


def _fresh(model: Any) -> Any:
    """An unfitted copy: sklearn's clone (same parameters), or a deep copy for other objects."""
    from sklearn.base import clone

    try:
        return clone(model)
    except TypeError:
        return copy.deepcopy(model)


# ---------------------------------------------------------------------------------------------------------
# The test origins


def _stamp(panel: Panel, t: np.datetime64) -> pd.Timestamp:
    """A panel time (naive; UTC for zoned data) as a timestamp comparable with the frame's index."""
    stamp = pd.Timestamp(t)
    return stamp.tz_localize("UTC").tz_convert(panel.tz) if panel.tz else stamp


def plan_origins(panel: Panel, spec: WindowSpec, cut: np.datetime64, stride: int = 1) -> pd.DataFrame:
    """The test origins: rows whose H targets lie at or after `cut` and are observed, with a full finite
    lookback window; every `stride`-th origin date, counted from the first.

    Returns one row per origin: [id column], origin (timestamp), _row (global panel row), _date (panel time).
    """
    starts = panel.offsets[:-1]
    first_test = np.array([
        np.searchsorted(panel.times[o:o + n], cut) for o, n in zip(starts, panel.n_observed, strict=True)
    ], dtype=np.int64)
    rows = make_windows(panel, spec, first_target=first_test, stride=1).origins
    dates = panel.times[rows]
    kept = np.unique(dates)[::stride]
    rows = rows[np.isin(dates, kept)]
    if len(rows) == 0:
        raise InputError(
            f"no test origins: no series has, from {_stamp(panel, cut)}, a forecast origin with a full "
            f"lookback of {spec.lookback} rows and {spec.horizon} observed target rows; "
            "use a larger test_size or a shorter lookback/horizon"
        )
    planned = pd.DataFrame({"origin": panel.timestamps(rows), "_row": rows, "_date": panel.times[rows]})
    if spec.id_col:
        series = np.searchsorted(panel.offsets, rows, side="right") - 1
        planned.insert(0, spec.id_col, np.asarray(panel.series, dtype=object)[series])
    return planned


def _as_ns(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.as_unit("ns")


def _align(forecasts: pd.DataFrame, planned: pd.DataFrame, panel: Panel, spec: WindowSpec, name: str) -> pd.DataFrame:
    """Keep a model's forecasts from the planned origins; timestamps become the data's own (origin row + step)."""
    keys = [spec.id_col] if spec.id_col else []
    missing = [c for c in [*keys, "origin", "step", "forecast"] if c not in forecasts.columns]
    if missing:
        raise InputError(f"model {name!r}: its forecasts frame lacks column(s) {missing}")
    frame = forecasts.assign(origin=_as_ns(forecasts["origin"]))
    frame = frame.merge(planned[[*keys, "origin", "_row"]], on=[*keys, "origin"], how="inner")
    steps = frame["step"].to_numpy(dtype=np.int64)
    if len(steps) and (steps.min() < 1 or steps.max() > spec.horizon):
        raise InputError(f"model {name!r} gave forecast steps outside 1..{spec.horizon}")
    frame["timestamp"] = panel.timestamps(frame["_row"].to_numpy() + steps)
    return frame.drop(columns="_row")


def _direction_actuals(panel: Panel, spec: WindowSpec) -> pd.DataFrame:
    """1.0 where the target rose from the previous row of its series, else 0.0 (NaN at a series' start)."""
    from forecast.models.direction import last_move_up

    labels = last_move_up(panel, panel.column_index(spec.targets))[:, 0]
    actuals = pd.DataFrame({spec.targets[0]: labels}, index=panel.timestamps(np.arange(len(labels))))
    if spec.id_col:
        actuals[spec.id_col] = np.repeat(np.asarray(panel.series, dtype=object), panel.lengths)
    return actuals


# ---------------------------------------------------------------------------------------------------------
# The result


@dataclass
class BacktestResult:
    """What `backtest` returns.

    forecasts: the stacked forecasts frame (`model` column) on the origins every model forecast.
    actuals: what was scored against: the target column(s)[, id column] by time; for task="direction"
        the target is 1.0 where the value rose from the previous row, else 0.0.
    scores: metrics per (model, target, step) plus an overall row (step <NA>), see `score_forecasts`.
    leaderboard: overall metrics, Diebold-Mariano test against the benchmark, timings; best first.
    summary: plain-language verdict; says so plainly when no model beats persistence at the 5% level.
    timings: per model: fit_seconds, predict_seconds (summed over refits), n_fits.
    refits: one row per (model, fit): fit_end (last training timestamp), first_origin, last_origin,
        n_origins, fit_seconds, predict_seconds, epochs (trained epochs of models that count them),
        still_improving (the best validation loss came at the last epoch: a higher max_epochs would help).
    origins: the scored origins ([id column], origin).
    dropped: per model, how many planned origins it gave no finite forecast for (removed for all models).
    """

    forecasts: pd.DataFrame = field(repr=False)
    actuals: pd.DataFrame = field(repr=False)
    scores: pd.DataFrame = field(repr=False)
    leaderboard: pd.DataFrame = field(repr=False)
    summary: str
    timings: pd.DataFrame = field(repr=False)
    refits: pd.DataFrame = field(repr=False)
    origins: pd.DataFrame = field(repr=False)
    dropped: dict[str, int]
    spec: WindowSpec
    task: Task
    benchmark: str
    test_start: pd.Timestamp

    @property
    def models(self) -> list[str]:
        """Model names, best first (leaderboard order of the first target)."""
        board = self.leaderboard
        return board[board["target"] == board["target"].iloc[0]]["model"].tolist()

    def write(self, out_dir: str | Path, *, plots: bool = True, max_series: int = 4,
              complete: bool = True) -> dict[str, Path]:
        """Write leaderboard.csv/.png, forecasts.csv, scores.csv, refits.csv, summary.txt and, for value
        forecasts, forecast plots (best model and benchmark vs actual, with intervals; one per series up
        to `max_series`), residuals.png and, when the models give intervals, calibration.png. Each file is written atomically. leaderboard.csv's `complete`
        column says whether every model of the backtest is in it (False in the reports written while it runs)."""
        out = Path(out_dir)
        board = self.leaderboard.assign(complete=complete)
        board.attrs = dict(self.leaderboard.attrs)
        paths = {f"leaderboard.{k}": p for k, p in write_leaderboard(board, out, plot=plots).items()}
        for name in ("forecasts", "scores", "refits"):
            paths[f"{name}.csv"] = write_table(getattr(self, name), out / f"{name}.csv")
        with atomic_path(out / "summary.txt") as tmp:
            tmp.write_text(self.summary + "\n", encoding="utf-8")
        paths["summary.txt"] = out / "summary.txt"
        if plots and self.task == "regression":
            paths |= self._plots(out, max_series)
        if plots and coverage_columns(self.leaderboard):
            paths["calibration.png"] = plot_calibration(self.leaderboard, out / "calibration.png")
        return paths

    def _plots(self, out: Path, max_series: int) -> dict[str, Path]:
        from forecast.plots import plot_forecast, plot_residuals

        # the best model, the benchmark, and the best model with intervals (when one has them)
        shown = [m for m in self.models if m != self.benchmark][:1] + [self.benchmark]
        bands = [*quantile_columns(self.forecasts),
                 *(c for level in interval_levels(self.forecasts) for c in interval_columns(level))]
        if bands:
            has = self.forecasts[bands].notna().all(axis=1).groupby(self.forecasts["model"]).all()
            shown += [m for m in self.models if has.get(m, False) and m not in shown][:1]
        subset = self.forecasts[self.forecasts["model"].isin(shown)]
        target, id_col = self.spec.targets[0], self.spec.id_col
        paths: dict[str, Path] = {}
        if id_col:
            for sid in sorted(subset[id_col].unique().tolist())[:max_series]:
                slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(sid))
                paths[f"forecast_{slug}.png"] = plot_forecast(
                    subset, self.actuals, out / f"forecast_{slug}.png", target=target, id_col=id_col, series=sid
                )
        else:
            paths["forecast.png"] = plot_forecast(subset, self.actuals, out / "forecast.png", target=target)
        paths["residuals.png"] = plot_residuals(
            subset, self.actuals, out / "residuals.png", target=target if "target" not in subset else None,
            id_col=id_col, step=1,
        )
        return paths


# ---------------------------------------------------------------------------------------------------------
# The backtest


def backtest(
    models: ModelsArg | None,
    frame: pd.DataFrame,
    spec: WindowSpec,
    *,
    test_size: float | int = 0.2,
    test_start: str | pd.Timestamp | None = None,
    refit_every: int | None = None,
    stride: int = 1,
    benchmark: str | None = None,
    params: Mapping[str, Any] | None = None,
    season: int = 1,
    predict_each_origin: bool = False,
    progress: bool = True,
    out: str | Path | None = None,
) -> BacktestResult:
    """Rolling-origin evaluation of `models` on `frame`: same origins for all, data up to each origin only.

    models: registry names ("lstm", "naive", ...), unfitted estimators, or a {name: name-or-estimator} dict;
        None: DEFAULT_MODELS of the task (direction when params["task"] is "direction").
        Persistence (`benchmark`, default "naive"; "persist_direction" for direction classifiers) is
        always added. Estimators are cloned for every fit; the ones passed in are left untouched.
    frame: time-indexed data (long format with spec.id_col for several series); spec: what windows read.
    test_size: fraction (or number) of the time steps at the end that form the test period;
        test_start: the test period's first date instead.
    refit_every: None fits once on the rows before the test period; k refits every k origin dates on an
        expanding window (each fit sees the rows up to its first origin).
    stride: forecast from every `stride`-th origin date.
    params: constructor overrides for models given by name (e.g. {"max_epochs": 5, "progress_bar": False}).
        params["target_transform"] (e.g. "log_return") is honoured by every one of them: through the
        model's own parameter or a TransformedTargetForecaster; direction classifiers refuse it. The
        benchmark alone stays persistence on the target itself (the summary says so).
        params["intervals"] (levels, e.g. (0.8, 0.95)) wraps every value model built from a name, the
        benchmark included, in a ConformalForecaster (`registry.build`); the leaderboard then scores
        coverage, width, Winkler score and CRPS, and `write` draws calibration.png.
    season: MASE scaling season (1: scaled by the in-sample naive error).
    predict_each_origin: call predict once per origin date on the frame cut there, instead of once per fit.
    progress: show a progress bar over the fits on stderr.
    out: a report folder to keep up to date while the backtest runs: after each model (persistence first)
        its forecasts, scores and a leaderboard marked partial are written there (`complete` column False,
        summary line "partial: k of n models"), so stopping a long backtest keeps the finished models.
        The complete report is the caller's `result.write(out)`.
    """
    from tqdm.auto import tqdm

    if not isinstance(spec, WindowSpec):
        raise InputError(f"spec must be a forecast.WindowSpec, got {type(spec).__name__}")
    if refit_every is not None and (not isinstance(refit_every, Integral) or refit_every < 1):
        raise InputError(f"refit_every must be a positive number of origins or None, got {refit_every!r}")
    if not isinstance(stride, Integral) or isinstance(stride, bool) or stride < 1:
        raise InputError(f"stride must be a positive integer, got {stride!r}")

    # Models built from names follow the backtest's own progress setting unless params say otherwise.
    params = {"progress_bar": progress, **(params or {})}
    if models is None:
        models = list(DEFAULT_MODELS["direction" if params.get("task") == "direction" else "regression"])
    named = resolve_models(models, params=params)
    task = _task_of(named)
    if task == "direction" and (spec.horizon != 1 or len(spec.targets) != 1):
        raise InputError("direction backtests forecast one step of one target; use horizon=1 and one target")
    benchmark = benchmark or BENCHMARKS[task]
    # The yardstick is persistence on the target itself, whatever target transform the models use.
    if benchmark not in named or _registry_name_of(models, benchmark) == benchmark:
        shared = {k: v for k, v in params.items() if k != "target_transform"}
        named[benchmark] = registry.build(benchmark, shared=shared)

    panel = build_panel(frame, spec, vocabularies=fit_vocabularies(frame, spec.categorical), source="backtest data")
    cut = backtest_start(panel, test_size, test_start)
    planned = plan_origins(panel, spec, cut, stride)
    dates = np.unique(planned["_date"].to_numpy())
    size = len(dates) if refit_every is None else int(refit_every)
    blocks = [dates[i:i + size] for i in range(0, len(dates), size)]

    parts: list[pd.DataFrame] = []
    refits: list[dict[str, Any]] = []
    # Persistence runs first, so that every partial report can test the finished models against it.
    order = [benchmark, *(n for n in named if n != benchmark)]
    context = dict(frame=frame, spec=spec, panel=panel, planned=planned, cut=cut, task=task, benchmark=benchmark,
                   season=season, refit_every=refit_every, n_blocks=len(blocks),
                   transform=params.get("target_transform"))
    # Every model gets the same frame slices, so each slice's panel is built once (forecast.data.reuse);
    # with many refits the slices are cut per fit instead, to keep memory at one frame's worth.
    slices = _BlockSlices(frame, spec, panel, keep=len(blocks) <= _REUSED_BLOCKS)
    with tqdm(total=len(named) * len(blocks), desc="backtest", unit="fit", file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar, reusing_panels(4 * _REUSED_BLOCKS):
        for done, name in enumerate(order, start=1):
            for k, block in enumerate(blocks):
                bar.set_postfix_str(f"{name} {k + 1}/{len(blocks)}")
                forecasts, record = _fit_and_forecast(named[name], slices, block, predict_each_origin)
                in_block = planned[planned["_date"].between(block[0], block[-1])]
                parts.append(_align(forecasts, in_block, panel, spec, name).assign(model=name))
                refits.append({"model": name, "refit": k, **record, "n_origins": len(in_block)})
                bar.update()
            if out is not None and done < len(order):
                _write_partial(parts, refits, order[:done], len(order), out, **context)
    return _assemble(parts, refits, list(named), **context)


def _write_partial(parts: list[pd.DataFrame], refits: list[dict[str, Any]], done: list[str], total: int,
                   out: str | Path, **context: Any) -> None:
    """Write the report of the models finished so far, marked partial (no plots: they come at the end)."""
    try:
        result = _assemble(parts, refits, done, **context)
    except InputError:  # e.g. no origin common to the finished models yet: nothing worth keeping
        return
    stopped = (f"partial: {len(done)} of {total} models finished ({', '.join(done)}); "
               "the backtest was stopped or is still running.")
    result.summary = stopped + "\n" + result.summary
    result.write(out, plots=False, complete=False)


def _assemble(parts: list[pd.DataFrame], refits: list[dict[str, Any]], names: list[str], *, frame: pd.DataFrame,
              spec: WindowSpec, panel: Panel, planned: pd.DataFrame, cut: Any, task: Task, benchmark: str,
              season: int, refit_every: int | None, n_blocks: int, transform: str | None) -> BacktestResult:
    """Score and rank the forecasts of `names` on the origins all of them forecast."""
    stacked, common, dropped = _common_origins(parts, planned, spec, names)
    actuals = _direction_actuals(panel, spec) if task == "direction" else frame
    score_task = "classification" if task == "direction" else "regression"
    target = spec.targets[0] if len(spec.targets) == 1 else None
    # One join of forecasts and actuals serves the scores and the leaderboard.
    joined = join_actuals(stacked, actuals, target=target, id_col=spec.id_col, season=season)
    scores = score_joined(joined, score_task)
    refit_frame = pd.DataFrame(refits)
    timings = refit_frame.groupby("model", sort=False).agg(
        fit_seconds=("fit_seconds", "sum"), predict_seconds=("predict_seconds", "sum"), n_fits=("refit", "size"),
    ).reset_index()
    board = rank_joined(joined, scores, benchmark=benchmark, timings=timings, task=score_task)
    test_start_stamp = _stamp(panel, cut)
    context = (
        f"Backtest of {len(names)} models on {len(common)} origins "
        f"({_stamp(panel, common['_date'].min()).date()} .. {_stamp(panel, common['_date'].max()).date()}"
        f"{f', {panel.n_series} series' if spec.id_col else ''}), horizon {spec.horizon}, "
        + ("one fit per model on the data before the test period"
           if refit_every is None else f"refit every {refit_every} origins ({n_blocks} fits per model)")
        + f"; benchmark: {benchmark}."
    )
    missed = ", ".join(f"{m} {n}" for m, n in dropped.items() if n)
    notes = [f"Origins some model did not forecast were dropped for every model (missed: {missed})."] if missed else []
    notes += _transform_note(benchmark, transform)
    return BacktestResult(
        forecasts=stacked, actuals=actuals, scores=scores, leaderboard=board,
        summary="\n".join([context, summarize(board), *notes]), timings=timings, refits=refit_frame,
        origins=common.drop(columns="_date").reset_index(drop=True), dropped=dropped, spec=spec, task=task,
        benchmark=benchmark, test_start=test_start_stamp,
    )


def _transform_note(benchmark: str, transform: str | None) -> list[str]:
    """Say that the benchmark alone forecasts the target in its own units (so nothing is silent)."""
    if transform in (None, "none"):
        return []
    return [f"Target transform {transform}: every model forecasts the transformed target and is scored in the "
            f"target's units, except the benchmark {benchmark}, which forecasts the target itself (the yardstick)."]


def _registry_name_of(models: ModelsArg, label: str) -> str | None:
    """The registry name given for model `label` in the `models` argument, or None (an estimator)."""
    if isinstance(models, str):
        return models if models == label else None
    if hasattr(models, "fit"):
        return None
    pairs = list(models.items()) if isinstance(models, Mapping) else [(None, m) for m in models]
    return next((m for lab, m in pairs if isinstance(m, str) and str(lab or m) == label), None)


_REUSED_BLOCKS = 16  # up to this many refit blocks, their frame slices are kept and shared by all models


class _BlockSlices:
    """`frame` cut at a date (rows up to it), the same object for every model when `keep`."""

    def __init__(self, frame: pd.DataFrame, spec: WindowSpec, panel: Panel, *, keep: bool) -> None:
        self.frame, self.spec, self.panel, self.keep = frame, spec, panel, keep
        self._cuts: dict[Any, pd.DataFrame] = {}

    def upto(self, date: np.datetime64) -> tuple[pd.Timestamp, pd.DataFrame]:
        at = _stamp(self.panel, date)
        if at in self._cuts:
            return at, self._cuts[at]
        cut = self.frame[self.frame.index <= at]
        if self.keep:
            self._cuts[at] = cut
        return at, cut


def _fit_and_forecast(
    template: Any, slices: _BlockSlices, block: np.ndarray, each_origin: bool
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit a fresh copy of `template` on the rows up to the block's first origin, forecast the block's
    origins from the rows up to its last one (or, with `each_origin`, from the rows up to each)."""
    spec, last = slices.spec, _stamp(slices.panel, block[-1])
    first, train = slices.upto(block[0])
    model = _fresh(template)
    started = time.perf_counter()
    model.fit(train, spec)
    fitted = time.perf_counter()
    if each_origin:
        parts = []
        for date in block:
            at, history = slices.upto(date)
            out = model.predict(history, origin="last")
            parts.append(out[_as_ns(out["origin"]) == at])
        forecasts = pd.concat(parts, ignore_index=True)
    else:
        forecasts = model.predict(slices.upto(block[-1])[1], origin="all")
    done = time.perf_counter()
    return forecasts, {"fit_end": train.index.max(), "first_origin": first, "last_origin": last,
                       "fit_seconds": fitted - started, "predict_seconds": done - fitted,
                       "epochs": getattr(model, "n_epochs_", None),
                       "still_improving": still_improving(getattr(model, "history_", None) or [])}


def _common_origins(
    parts: list[pd.DataFrame], planned: pd.DataFrame, spec: WindowSpec, names: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Stack the models' forecasts and keep the origins every model forecast completely (all steps and
    targets finite); also count, per model, the planned origins it missed."""
    keys = [*([spec.id_col] if spec.id_col else []), "origin"]
    stacked = pd.concat(parts, ignore_index=True)
    stacked = stacked[np.isfinite(pd.to_numeric(stacked["forecast"], errors="coerce").astype(float))]
    per_origin = spec.horizon * len(spec.targets)
    counts = stacked.groupby(["model", *keys], sort=False).size()
    complete = counts[counts == per_origin].reset_index()[["model", *keys]]
    dropped = {m: len(planned) - int((complete["model"] == m).sum()) for m in names}
    n_models = complete.groupby(keys, sort=False).size()
    common = planned.merge(n_models[n_models == len(names)].reset_index()[keys], on=keys, how="inner")
    if common.empty:
        worst = max(dropped, key=dropped.get)
        raise InputError(f"no test origin was forecast by every model ({worst!r} forecast none of them)")
    stacked = stacked.merge(common[keys], on=keys, how="inner")
    front = ["model", *keys, "timestamp", "step"]
    stacked = stacked[[*front, *[c for c in stacked.columns if c not in front]]]
    order = ["model", *keys, "step", *(["target"] if "target" in stacked else [])]
    return stacked.sort_values(order, ignore_index=True), common.sort_values(keys, ignore_index=True), dropped
