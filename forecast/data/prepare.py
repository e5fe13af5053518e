"""The one preparation path: frame -> scaled panel -> windows, and forecasts back to the data's units.

`Preparation` is a small fitted object. `fit` learns, from the training rows only, the category
vocabularies, the series ids and the scaler (after the target transform), and returns the training and
validation windows; `prediction_windows` prepares a frame for forecasting (known-future values filled in,
windows made once); `to_original` turns scaled forecasts back into the target's units. `to_dict` /
`from_dict` keep what a saved model needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from forecast.config import WindowSpec
from forecast.data.panel import Panel, build_panel, fit_vocabularies
from forecast.data.splits import Split, time_split
from forecast.data.transforms import ColumnScaler, inverse_target, transform_target
from forecast.data.windows import Windows, forecast_windows, make_windows
from forecast.errors import InputError


class TrainingData(NamedTuple):
    """What `Preparation.fit` returns: the scaled training panel, its split and the window sets."""

    panel: Panel
    split: Split
    train: Windows
    val: Windows | None  # None when nothing is held out


class PredictionData(NamedTuple):
    """What `Preparation.prediction_windows` returns for forecasting a frame."""

    panel: Panel  # scaled, with H future rows appended per series
    raw_target: np.ndarray  # [T, n_targets] target values in original units
    windows: Windows  # the chosen origins, every one with finite inputs
    skipped: list[str]  # series too short, or (origin='last') whose last window has gaps


@dataclass(kw_only=True)
class Preparation:
    """Scaling, target transform, vocabularies and windowing of one model, fit on training rows only.

    scaler: a name in `forecast.data.transforms.SCALERS`; per_series_scaling: one scaler row per training
    series (new series use the pooled row); target_transform: see `transform_target`; min_lookback: the
    shortest history a window may have (left-padded), None for full windows only. The model that owns a
    Preparation declares their defaults (its constructor's parameters).
    """

    spec: WindowSpec
    scaler: str
    per_series_scaling: bool
    target_transform: str
    min_lookback: int | None
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    series_ids: list[str | None] = field(default_factory=lambda: [None])
    scaler_: ColumnScaler | None = None

    # -- fitting ---------------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, *, val_size: float, val_frame: pd.DataFrame | None = None) -> TrainingData:
        """Learn vocabularies, series ids and the scaler from the rows before the last `val_size` of each series.

        val_frame: validation data instead of held-out rows: its windows whose targets lie after the end
        of each series in `frame` (val_size is then ignored).
        """
        spec = self.spec
        self.vocabularies = fit_vocabularies(frame, spec.categorical)
        # Same order as the panel's series (sorted), stored as text so artifacts round-trip them.
        self.series_ids = [str(s) for s in pd.factorize(frame[spec.id_col], sort=True)[1]] if spec.id_col else [None]
        held_out = 0.0 if val_frame is not None else float(val_size)
        panel = build_panel(frame, spec, vocabularies=self.vocabularies, future_steps=0, source="training frame")
        values, _ = self._transformed(panel)
        split = time_split(panel, val_size=held_out, test_size=0.0)
        train_rows = split.train_rows(panel) & np.isfinite(values).all(axis=1)
        self.scaler_ = ColumnScaler(self.scaler, self.per_series_scaling).fit(values, panel.series_of_row(), train_rows)
        panel = self._restrict_vocabularies(replace(panel, values=self._scaled(panel, values)),
                                            split.train_rows(panel))
        short = {"min_lookback": self.shortest_history}
        train = split.windows(panel, spec, "train", **short)
        if val_frame is not None:
            val = self._windows_after(val_frame, panel)
        else:
            val = split.windows(panel, spec, "val", **short) if held_out > 0 else None
        return TrainingData(panel, split, train, val)

    @property
    def shortest_history(self) -> int | None:
        """Shortest history a window may have (left-padded, packed for the RNN); None: full lookback only."""
        return None if self.min_lookback is None else min(int(self.min_lookback), self.spec.lookback)

    def _transformed(self, panel: Panel) -> tuple[np.ndarray, np.ndarray]:
        """(values with the target transformed [T, F], raw target values [T, n_targets])."""
        target_idx = panel.column_index(self.spec.targets)
        raw_target = panel.values[:, target_idx].astype(np.float64)
        values = panel.values.copy()
        if self.target_transform != "none":
            for k, col in enumerate(target_idx):
                values[:, col] = transform_target(raw_target[:, k], panel.offsets, self.target_transform)
        return values, raw_target

    def _scaled(self, panel: Panel, values: np.ndarray) -> np.ndarray:
        return self.scaler_.transform(values, self.scaler_rows(panel))

    def _restrict_vocabularies(self, panel: Panel, train_rows: np.ndarray) -> Panel:
        """Keep only the categories seen in training rows (like the scalers); the rest map to code 0, "unseen"."""
        if not panel.codes.shape[1]:
            return panel
        codes = panel.codes.copy()
        for k, col in enumerate(self.spec.categorical):
            vocab = self.vocabularies[col]
            seen = np.zeros(len(vocab) + 1, dtype=bool)
            seen[np.unique(codes[train_rows, k])] = True
            seen[0] = False
            remap = np.zeros(len(vocab) + 1, dtype=np.int64)  # old code -> new code, 0 when unseen
            remap[seen] = np.arange(1, int(seen.sum()) + 1)
            codes[:, k] = remap[codes[:, k]]
            self.vocabularies[col] = [v for v, keep in zip(vocab, seen[1:], strict=True) if keep]
        return replace(panel, codes=codes)

    def _windows_after(self, val_frame: pd.DataFrame, train_panel: Panel) -> Windows:
        """Windows of `val_frame` whose targets lie after the last training timestamp of their series."""
        val_panel, _ = self.panel(val_frame, future_steps=0, source="validation frame")
        last_train = {sid: train_panel.times[train_panel.offsets[k + 1] - 1]
                      for k, sid in enumerate(train_panel.series)}
        first_target = np.array([
            np.searchsorted(val_panel.times[o:o + n], last_train[sid], side="right") if sid in last_train else n
            for sid, o, n in zip(val_panel.series, val_panel.offsets[:-1], val_panel.n_observed, strict=True)
        ], dtype=np.int64)
        return make_windows(val_panel, self.spec, first_target=first_target, min_lookback=self.shortest_history)

    # -- applying --------------------------------------------------------------------------------------
    def panel(self, frame: pd.DataFrame, *, future_steps: int, source: str,
              future: pd.DataFrame | None = None) -> tuple[Panel, np.ndarray]:
        """Scaled panel of `frame` (target transformed) and its raw target values [T, n_targets].

        `future` fills the known-future columns of the `future_steps` rows appended after each series.
        """
        panel = build_panel(frame, self.spec, vocabularies=self.vocabularies, future_steps=future_steps,
                            source=source)
        if future is not None:
            panel = replace(panel, values=panel.values.copy())
            self._fill_future(panel, panel.values, future)
        values, raw_target = self._transformed(panel)
        return replace(panel, values=self._scaled(panel, values)), raw_target

    def prediction_windows(self, frame: pd.DataFrame, *, origin: str | pd.Timestamp = "last",
                           future: pd.DataFrame | None = None) -> PredictionData:
        """Prepare `frame` for forecasting from `origin` ('last', 'all' or a date): H rows appended per series.

        Known-future values of the appended rows come from `future`; origins that lack them are kept here
        (the model decides: `forecast.models.inference.with_known_future`).
        """
        spec = self.spec
        panel, raw_target = self.panel(frame, future_steps=spec.horizon, source="prediction frame", future=future)
        windows, skipped = forecast_windows(panel, spec, origin, min_lookback=self.shortest_history)
        return PredictionData(panel, raw_target, windows, skipped)

    def _fill_future(self, panel: Panel, values: np.ndarray, future: pd.DataFrame) -> None:
        """Write the known-future covariates of `future` into the appended rows of `values` (in place).

        Rows are matched on time (and series id for panels); appended rows without a match stay NaN.
        """
        spec, source = self.spec, "future frame"
        if not spec.known_future:
            raise InputError(f"{source}: this model has no known_future columns, so it takes no future values")
        if not isinstance(future.index, pd.DatetimeIndex):
            raise InputError(f"{source}: the index must be a DatetimeIndex, like the data's")
        needed = [*spec.known_future, *([spec.id_col] if spec.id_col else [])]
        missing = [c for c in needed if c not in future.columns]
        if missing:
            raise InputError(f"{source}: missing column(s) {missing}; available: {list(future.columns)}")
        index = future.index
        times = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
        if spec.id_col:
            keys = pd.MultiIndex.from_arrays([future[spec.id_col].astype(str).to_numpy(), times])
        else:
            keys = pd.Index(times)
        if keys.has_duplicates:
            raise InputError(f"{source}: repeated timestamps{' per series' if spec.id_col else ''}; keep one row each")
        series = panel.series_of_row()
        local = np.arange(len(panel.times)) - np.repeat(panel.offsets[:-1], panel.lengths)
        rows = np.flatnonzero(local >= panel.n_observed[series])  # the appended rows
        row_times = pd.DatetimeIndex(panel.times[rows])
        if spec.id_col:
            ids = np.asarray([str(s) for s in panel.series], dtype=object)[series[rows]]
            wanted = pd.MultiIndex.from_arrays([ids, row_times])
        else:
            wanted = pd.Index(row_times)
        pos = keys.get_indexer(wanted)  # [R] row of `future` for each appended row, -1 if absent
        found = pos >= 0
        given = future[list(spec.known_future)].to_numpy(dtype=np.float64)
        values[np.ix_(rows[found], panel.column_index(spec.known_future))] = given[pos[found]]

    def training_series(self, panel: Panel) -> np.ndarray:
        """[S] index of each panel series among the training series, -1 for a series not seen in training."""
        known = {sid: k for k, sid in enumerate(self.series_ids)}
        return np.array([known.get(None if sid is None else str(sid), -1) for sid in panel.series], dtype=np.int64)

    def scaler_rows(self, panel: Panel) -> np.ndarray:
        """[T] scaler row of every panel row: the training series' own, or -1 (pooled) for a new series."""
        if not self.per_series_scaling:
            return np.zeros(len(panel.times), np.int64)
        return self.training_series(panel)[panel.series_of_row()]

    def scaled_thresholds(self, panel: Panel, threshold: float) -> tuple[float, ...]:
        """`threshold` (target units) in the scaled units of each panel series' first target (indexed by series)."""
        col = int(panel.column_index(self.spec.targets)[0])
        rows = self.scaler_rows(panel)[panel.offsets[:-1]]  # [S] scaler row of each series
        center, scale = self.scaler_._stats(rows)  # [S, F] each
        return tuple(((threshold - center[:, col]) / scale[:, col]).tolist())

    def to_original(self, values: np.ndarray, data: PredictionData) -> np.ndarray:
        """Scaled forecasts [N, H, T, Q] at `data.windows`' origins -> the target's original units (a new array)."""
        windows = data.windows
        series_rows = self.scaler_rows(data.panel)[windows.origins]
        values = self.scaler_.inverse_columns(values, series_rows, windows.target_idx)
        if self.target_transform != "none":
            level = data.raw_target[windows.origins]  # [N, T] target at each origin, original units
            for k in range(values.shape[2]):  # a few targets and quantiles: whole-array operations each
                for q in range(values.shape[3]):
                    values[:, :, k, q] = inverse_target(values[:, :, k, q], level[:, k], self.target_transform)
        return values

    # -- artifacts -------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The fitted state as JSON-ready values (the spec and options are stored with the model's params)."""
        return {"vocabularies": self.vocabularies, "series_ids": list(self.series_ids),
                "scaler": self.scaler_.to_dict()}

    @classmethod
    def from_dict(cls, data: dict, spec: WindowSpec, **options) -> Preparation:
        """Inverse of `to_dict`; `options` are the constructor's (scaler, per_series_scaling, ...)."""
        scaler = ColumnScaler.from_dict(data["scaler"])
        if not (np.isfinite(scaler.center_).all() and np.isfinite(scaler.scale_).all()):
            raise InputError("model.json holds a scaler with non-finite values (NaN or infinity); the model "
                             "folder is damaged: save or retrain the model")
        return cls(spec=spec, vocabularies=data["vocabularies"], series_ids=data["series_ids"], scaler_=scaler,
                   **options)
