"""Statistical opponents from statsforecast (Nixtla): AutoETS, AutoARIMA, AutoTheta and MSTL under the
one Forecaster contract.

fit estimates one model per (series, target) with statsforecast's own vectorized fitting across series
(`StatsForecast(...).fit`, `n_jobs` worker processes), on the last `max_history` rows of each series.
predict keeps those parameters fixed and forecasts from every origin t by running the fitted model over
the rows up to t (statsforecast's `forward`, what its own `cross_validation(refit=False)` does per
window), so a forecast from t reads rows <= t only. MSTL keeps its fitted seasonal profiles (the last
cycle of each seasonal component, continued by phase, as statsforecast forecasts them) and runs its
trend model forward on the history with those profiles removed.

statsforecast is an optional extra (`pip install 'forecast[stats]'`); it is imported only here, only when
a model is fitted, so `import forecast` works without it (and on pandas 3, which statsforecast 2 refuses).
Gaps inside the used history are filled by linear interpolation (statsforecast needs complete series).
Forecasts are NaN from origins whose history is too short for the fitted model (ARIMA's differences),
and for series the model was not fitted on (one that starts after the training rows).
These models are not saved: refitting takes seconds; `save` refuses with that message.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from forecast.data.gaps import infer_step
from forecast.data.panel import Panel
from forecast.data.windows import Windows
from forecast.errors import InputError
from forecast.models.naive import infer_season
from forecast.models.windowed import WindowedForecaster

STAT_MODELS = ("autoets", "autoarima", "autotheta", "mstl")
DEFAULT_MAX_HISTORY = 1000
"""Rows of each series a statistical model is fitted on and forecasts from (the latest ones): keeps
AutoARIMA's search and every refit of a backtest fast on long hourly series; None uses every row."""
INSTALL_HINT = "pip install 'forecast[stats]'"


def require_statsforecast() -> Any:
    """The statsforecast module, or an InputError naming the extra to install."""
    try:
        import statsforecast
    except ImportError:
        raise InputError(f"the statistical models (autoets, autoarima, autotheta, mstl) need statsforecast; "
                         f"install it with: {INSTALL_HINT}") from None
    return statsforecast


def season_lengths(times: np.ndarray, offsets: np.ndarray, model: str) -> tuple[int, ...]:
    """Season lengths in steps from the time step: one (`infer_season`) for ETS/ARIMA/Theta; for MSTL the
    daily and weekly cycles of sub-daily data (hourly: 24, 168), else the inferred season and a year
    (daily: 7, 365; trading days: 5, 252)."""
    season = infer_season(times, offsets)
    if model != "mstl":
        return (season,)
    kind, step = infer_step(times, offsets)
    if kind == "business":
        return (5, 252)
    if step < np.timedelta64(1, "D"):
        return (season, 7 * season)
    if step == np.timedelta64(1, "D"):
        return (7, 365)
    return (season,)


def _filled(y: np.ndarray) -> np.ndarray:
    """`y` with inner gaps linearly interpolated and leading/trailing missing values dropped."""
    finite = np.isfinite(y)
    if finite.all():
        return y
    idx = np.flatnonzero(finite)
    if idx.size == 0:
        return y[:0]
    y = y[idx[0]:idx[-1] + 1]
    rows = np.arange(len(y))
    ok = np.isfinite(y)
    return np.interp(rows, rows[ok], y[ok])


class StatisticalForecaster(WindowedForecaster):
    """A statsforecast model (AutoETS, AutoARIMA, AutoTheta or MSTL) per series and target.

    model: one of STAT_MODELS. season_length: steps per cycle (MSTL: a tuple of cycles); None infers it from
        the time step (`season_lengths`); MSTL drops cycles longer than half the fitted history.
    max_history: fit on, and forecast from, the latest `max_history` rows of each series (None: all).
    n_jobs: statsforecast worker processes for fitting across series (1: in this process).
    """

    _parameter_constraints: dict = {
        "model": [StrOptions(set(STAT_MODELS))],
        "season_length": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "max_history": [Interval(Integral, 2, None, closed="left"), None],
        "n_jobs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, *, model: str = "autoets", season_length: int | tuple[int, ...] | None = None,
                 max_history: int | None = DEFAULT_MAX_HISTORY, n_jobs: int = 1) -> None:
        self.model = model
        self.season_length = season_length
        self.max_history = max_history
        self.n_jobs = n_jobs

    # -- fitting ---------------------------------------------------------------------------------------
    def _seasons(self, panel: Panel) -> tuple[int, ...]:
        if self.season_length is None:
            return season_lengths(panel.times, panel.offsets, self.model)
        seasons = (self.season_length,) if isinstance(self.season_length, Integral) else self.season_length
        return tuple(int(s) for s in seasons)

    def _estimator(self, seasons: tuple[int, ...]) -> Any:
        from statsforecast.models import MSTL, AutoARIMA, AutoETS, AutoTheta

        if self.model == "mstl":
            return MSTL(season_length=list(seasons), trend_forecaster=AutoETS(model="ZZN"))
        return {"autoets": AutoETS, "autoarima": AutoARIMA, "autotheta": AutoTheta}[self.model](
            season_length=seasons[0])

    def _history(self, y: np.ndarray) -> np.ndarray:
        return _filled(y if self.max_history is None else y[-self.max_history:])

    def _fit_panel(self, panel: Panel, frame: pd.DataFrame) -> None:
        require_statsforecast()
        from statsforecast import StatsForecast

        targets = panel.column_index(self.spec_.targets)
        seasons = self._seasons(panel)
        histories = [self._history(panel.values[o:o + n, j].astype(np.float64))
                     for o, n in zip(panel.offsets[:-1], panel.n_observed, strict=True) for j in targets]
        shortest = min(len(h) for h in histories)
        if self.model == "mstl":
            seasons = tuple(m for m in seasons if 2 * m <= shortest)
            if not seasons:
                raise InputError(f"training frame: mstl needs two full cycles of a season per series; the "
                                 f"shortest series has {shortest} usable rows; pass season_length= or use autoets")
        if shortest < 3:
            raise InputError(f"training frame: a series has only {shortest} usable target values; "
                             f"{self.model} needs at least 3")
        self.seasons_ = seasons
        data = pd.DataFrame({"unique_id": np.repeat(np.arange(len(histories)), [len(h) for h in histories]),
                             "ds": np.concatenate([np.arange(len(h)) for h in histories]),
                             "y": np.concatenate(histories)})
        sf = StatsForecast(models=[self._estimator(seasons)], freq=1, n_jobs=self.n_jobs).fit(data)
        self.fitted_ = list(sf.fitted_[:, 0])  # [S * T] statsforecast models, series-major
        self.n_series_ = panel.n_series
        # MSTL: the seasonal profile (sum of every component's last cycle), indexed by phase from each
        # history's last row, so predict continues it at any later (or earlier) row by its distance.
        self.profiles_ = [self._profile(m) for m in self.fitted_] if self.model == "mstl" else None
        self.fit_end_ = panel.times[panel.offsets[:-1] + panel.n_observed - 1]  # [S] last training time
        self.fit_series_ = [None if s is None else str(s) for s in panel.series]  # order of fitted_ and fit_end_

    def _profile(self, fitted: Any) -> list[tuple[int, np.ndarray]]:
        parts = fitted.model_.filter(regex="^seasonal")
        return [(m, parts[column].to_numpy()[-m:]) for m, column in zip(self.seasons_, parts.columns, strict=True)]

    # -- forecasting -----------------------------------------------------------------------------------
    def _predict_windows(self, windows: Windows) -> np.ndarray:
        panel, spec = windows.panel, self.spec_
        horizon, targets = spec.horizon, panel.column_index(spec.targets)
        known = {s: k for k, s in enumerate(self.fit_series_)}
        ids = [None if s is None else str(s) for s in panel.series]
        series = np.searchsorted(panel.offsets, windows.origins, side="right") - 1  # [N]
        out = np.full((len(windows.origins), horizon, len(targets)), np.nan)  # NaN: a series it was not fit on
        for i, (o, s) in enumerate(zip(windows.origins, series, strict=True)):  # statsforecast forwards per origin
            if ids[s] not in known:
                continue
            start = panel.offsets[s] if self.max_history is None else max(panel.offsets[s], o - self.max_history + 1)
            for j, column in enumerate(targets):
                k = known[ids[s]] * len(targets) + j
                out[i, :, j] = self._forward(k, panel.values[start:o + 1, column].astype(np.float64),
                                             self._lag(panel, s, o, known[ids[s]]), horizon)
        return out

    def _lag(self, panel: Panel, s: int, origin: int, fitted: int) -> int:
        """Rows from fitted series `fitted`'s last training row to `origin` in panel series `s` (negative:
        before it); the panel's calendar is regular, so rows count steps."""
        times = panel.times[panel.offsets[s]:panel.offsets[s + 1]]
        end = np.searchsorted(times, self.fit_end_[fitted], side="right") - 1
        return int(origin - panel.offsets[s] - end)

    def _forward(self, k: int, y: np.ndarray, lag: int, horizon: int) -> np.ndarray:
        """[H] forecast of fitted model k from history `y` ending `lag` rows after its fitted history."""
        y = _filled(y)
        if len(y) < 2:
            return np.full(horizon, np.nan)
        if self.profiles_ is None:
            try:
                return np.asarray(self.fitted_[k].forward(y=y, h=horizon)["mean"], dtype=np.float64)
            except ValueError:  # statsforecast: "Not enough data" (ARIMA's differences need more rows)
                return np.full(horizon, np.nan)
        rows = lag + np.arange(-len(y) + 1, horizon + 1)  # history rows, then the H steps, from the fit end
        seasonal = sum(cycle[(rows - 1) % m] for m, cycle in self.profiles_[k])  # cycle[-1]: the fit end
        trend = self.fitted_[k].trend_forecaster.forward(y=y - seasonal[:len(y)], h=horizon)["mean"]
        return np.asarray(trend, dtype=np.float64) + seasonal[len(y):]

    def save(self, path) -> None:
        """Refuse: statistical models are refitted (seconds), not saved; nothing is pickled."""
        raise InputError(f"{self.model} cannot be saved (statsforecast models would need pickle); refit it, "
                         "e.g. with `forecast backtest --models "
                         f"{self.model}`, or save a saveable model (see `forecast fit --help`)")
