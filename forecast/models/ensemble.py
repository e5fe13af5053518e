"""EnsembleForecaster: the mean, median or a stacked (non-negative weighted) combination of named members.

Registered as `ensemble_mean`, `ensemble_median` and `ensemble_stacked`; a name like
`ensemble_mean:ridge+autoets+gru` picks the members from the registry (`parse_ensemble_name`), in the CLI
(`--models 'ensemble_stacked:ridge+autoets,naive'`), in Python and in a sweep config alike.

Stacked weights come from scipy.optimize.nnls on out-of-sample forecasts: fit holds back the last
`validation_size` of the frame's time steps, fits a clone of every member on the rows before them and
regresses the actuals of the held-back rows on the members' forecasts from origins at or after that
clone's last training row; then every member is fitted on the whole frame. The frame given to fit is the
training part (a backtest's rows before its first origin, a sweep's train + validation rows), so the
weights never see the test part. A forecast from origin t reads rows <= t only, as its members do.
"""

from __future__ import annotations

from collections.abc import Collection
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted

from forecast.config import WindowSpec
from forecast.data.panel import check_frame
from forecast.errors import InputError
from forecast.metrics import long_actuals
from forecast.models.base import Forecaster
from forecast.models.tasks import declared_task

COMBINERS = ("mean", "median", "stacked")
DEFAULT_VALIDATION = 0.2
"""Share of the training time steps a stacked ensemble holds back to fit its weights."""
NAME_PREFIX = "ensemble_"


def parse_ensemble_name(name: str, known: Collection[str] = ()) -> tuple[str, list[str]] | None:
    """'ensemble_mean:ridge+autoets' -> ('ensemble_mean', ['ridge', 'autoets']); None for other names.
    Tokens are joined back where `known` holds a name with '+' in it (lstm_state+ridge), longest first.
    A malformed ensemble name is an InputError saying the syntax."""
    if not name.startswith(NAME_PREFIX) or ":" not in name:
        return None
    base, _, listed = name.partition(":")
    tokens, members = [t.strip() for t in listed.split("+")], []
    while tokens:
        size = next((k for k in range(len(tokens), 1, -1) if "+".join(tokens[:k]) in known), 1)
        members.append("+".join(tokens[:size]))
        tokens = tokens[size:]
    combine = base[len(NAME_PREFIX):]
    if combine not in COMBINERS or len(members) < 2 or not all(members) or len(set(members)) < len(members):
        raise InputError(f"ensemble {name!r}: write ensemble_<{'|'.join(COMBINERS)}>:<model>+<model>[+...] with "
                         "two or more different registered models, e.g. ensemble_mean:ridge+autoets+gru")
    return base, members


class EnsembleForecaster(_BaseComposition, Forecaster):
    """Combine the forecasts of `members`, a list of (name, forecaster) pairs.

    combine: "mean" or "median" of the members' forecasts (per row), or "stacked": sum_k w_k f_k with
        non-negative weights fitted by least squares on held-back forecasts (see the module docstring).
    validation_size: fraction (or number) of the training time steps held back to fit stacked weights.
    Every member's parameters are reachable as `<name>__<param>` (get_params/set_params, registry.build).
    A forecast is NaN where any member's is (no silent change of the members).
    """

    _parameter_constraints: dict = {
        "members": [list],
        "combine": [StrOptions(set(COMBINERS))],
        "validation_size": [Interval(RealNotInt, 0, 1, closed="neither"), Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, *, members: list | None = None, combine: str = "mean",
                 validation_size: float | int = DEFAULT_VALIDATION) -> None:
        self.members = members
        self.combine = combine
        self.validation_size = validation_size

    def get_params(self, deep: bool = True) -> dict:
        """Parameters, with each member's as `<name>__<param>` when deep."""
        return self._get_params("members", deep=deep)

    def set_params(self, **params) -> EnsembleForecaster:
        """Set parameters, including members' (`<name>__<param>`)."""
        self._set_params("members", **params)
        return self

    def _check_members(self) -> list[tuple[str, object]]:
        members = list(self.members or [])
        if len(members) < 2:
            raise InputError("an ensemble needs two or more members, e.g. ensemble_mean:ridge+naive")
        self._validate_names([name for name, _ in members])
        direction = [name for name, model in members if declared_task(model) == "direction"]
        if direction:
            raise InputError(f"ensemble members {direction} forecast the direction (P(up)); ensembles combine "
                             "value forecasts: drop them")
        return members

    def fit(self, frame: pd.DataFrame, spec: WindowSpec) -> EnsembleForecaster:
        """Fit every member on `frame` (stacked: first its weights on the held-back end). Returns self."""
        self._validate_params()
        spec = self._check_spec(spec)
        members = self._check_members()
        check_frame(frame, spec, source="training frame")
        self.spec_ = spec
        self.weights_ = np.full(len(members), 1.0 / len(members)) if self.combine == "mean" else None
        if self.combine == "stacked":
            self.weights_ = self._stacked_weights(members, frame, spec)
        self.members_ = [(name, clone(model).fit(frame, spec)) for name, model in members]
        return self

    def _stacked_weights(self, members: list, frame: pd.DataFrame, spec: WindowSpec) -> np.ndarray:
        times = frame.index.unique().sort_values()
        n_val = (int(len(times) * self.validation_size) if isinstance(self.validation_size, Real)
                 and not isinstance(self.validation_size, Integral) else int(self.validation_size))
        if not spec.horizon <= n_val < len(times):
            raise InputError(f"validation_size={self.validation_size!r} holds back {n_val} of {len(times)} time "
                             f"steps; it must hold back at least the horizon ({spec.horizon}) and leave rows to fit")
        early = frame[frame.index < times[-n_val]]
        since = _ns([early.index.max()])[0]  # zoned data: UTC, as forecasts frames hold their times
        outs = [clone(model).fit(early, spec).predict(frame, origin="all") for _, model in members]
        outs = [out[_ns(out["origin"]) >= since] for out in outs]
        weights = nnls_weights(stack_forecasts(outs, spec), frame, spec)
        if weights is None:
            raise InputError(f"a stacked ensemble needs forecasts to score in the last {n_val} time steps; "
                             "use a larger validation_size or a shorter lookback/horizon")
        return weights

    def _stack(self, models: list, frame: pd.DataFrame, origin: str | pd.Timestamp = "all") -> pd.DataFrame:
        return stack_forecasts([model.predict(frame, origin=origin) for model in models], self.spec_)

    def predict(self, frame: pd.DataFrame, *, origin: str | pd.Timestamp = "last") -> pd.DataFrame:
        """The combined forecasts frame (the members' origins; reads rows up to each origin only)."""
        check_is_fitted(self, "members_")
        stacked = self._stack([model for _, model in self.members_], frame, origin)
        columns = [f"_m{k}" for k in range(len(self.members_))]
        values = stacked[columns].to_numpy(dtype=np.float64)  # [R, M]
        combined = np.median(values, axis=1) if self.combine == "median" else values @ self.weights_
        result = stacked.drop(columns=columns).assign(forecast=combined)
        result.attrs = dict(stacked.attrs)
        return result

    def check_columns(self, frame: pd.DataFrame, source: str = "frame") -> None:
        """Every member's column check."""
        check_is_fitted(self, "members_")
        for _, model in self.members_:
            model.check_columns(frame, source)


def _ns(values) -> np.ndarray:
    """Timestamps as int64 nanoseconds (UTC for zoned ones)."""
    return pd.DatetimeIndex(pd.to_datetime(values)).as_unit("ns").asi8


def stack_forecasts(outs: list[pd.DataFrame], spec: WindowSpec) -> pd.DataFrame:
    """The first forecasts frame's rows with every frame's forecast as `_m0`, `_m1`, ... (matched on
    [id], origin, timestamp, step[, target]; NaN where a frame lacks the row)."""
    keys = [c for c in ([spec.id_col] if spec.id_col else []) + ["origin", "timestamp", "step", "target"]
            if c in outs[0].columns]
    base = outs[0][keys].copy()
    for k, out in enumerate(outs):
        base = base.merge(out[[*keys, "forecast"]].rename(columns={"forecast": f"_m{k}"}), on=keys, how="left")
    base.attrs = dict(outs[0].attrs)
    return base


def nnls_weights(stacked: pd.DataFrame, frame: pd.DataFrame, spec: WindowSpec) -> np.ndarray | None:
    """Non-negative least-squares weights of the `_m*` forecast columns of `stacked` (see `stack_forecasts`)
    against the actuals `frame` holds at their timestamps; None when fewer rows than members can be scored.
    The caller chooses which forecasts to pass: held-back ones, never the test part's."""
    from scipy.optimize import nnls

    columns = [c for c in stacked.columns if c.startswith("_m")]
    actual = long_actuals(frame, list(spec.targets), spec.id_col)
    keys = [*([spec.id_col] if spec.id_col else []), "target"]
    if "target" not in stacked:
        stacked = stacked.assign(target=spec.targets[0])
    joined = stacked.assign(timestamp=pd.to_datetime(stacked["timestamp"]).dt.as_unit("ns")).merge(
        actual, on=[*keys, "timestamp"], how="inner")
    joined = joined[np.isfinite(joined[[*columns, "actual"]].to_numpy(dtype=np.float64)).all(axis=1)]
    if len(joined) < len(columns):
        return None
    weights, _ = nnls(joined[columns].to_numpy(dtype=np.float64), joined["actual"].to_numpy(dtype=np.float64))
    return weights
