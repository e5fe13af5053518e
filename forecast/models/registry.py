"""The model registry: one table of name -> estimator class, defaults, capabilities and search space.

The CLI, the backtest, the sweep, artifact loading and the conformance test all read this table, so a new
model is added here and nowhere else. What a model can do (be saved, train epoch by epoch, classify
direction, take known-future values, forecast through a target transform) is declared on its entry and
read from there, never guessed from the object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from forecast.errors import InputError
from forecast.models.tasks import declared_task

SearchSpace = Callable[[Any], dict[str, Any]]  # optuna.Trial -> build() overrides

TRANSFORM_SUPPORT = ("parameter", "wrapper", "refused")
"""How a registered model honours a target transform (log, differences, returns):
parameter: its own `target_transform` parameter (RNNForecaster);
wrapper: fit and forecast inside a TransformedTargetForecaster (every other value forecaster);
refused: a transform makes no sense (direction classifiers); asking for one is an InputError.
A backtest's benchmark is the one exception: persistence is the yardstick, on the target itself."""

TASK_SUPPORT = ("regression", "direction", "parameter")
"""What a registered model forecasts: values (regression), P(up) (direction), or what its own `task`
parameter says (RNNForecaster: task="direction" classifies, every other task forecasts values)."""


INTERVAL_SETTINGS = {"intervals": "levels", "interval_method": "method", "calibration_size": "calibration_size",
                     "calibration_window": "window"}
"""build() settings that ask for conformal intervals, and the ConformalForecaster parameter each sets:
intervals=(0.8, 0.95) wraps the model (`forecast.models.conformal`); the others tune the wrapper."""


@dataclass(frozen=True)
class ModelEntry:
    """How to build one registered model, what it can do, and what a sweep may change about it.

    cls: the estimator class (keyword-only constructor; its name is what model.json records).
    defaults: constructor arguments; estimator values (an encoder, a regressor) are cloned per build.
    saveable: `save` writes it and `forecast.load_model` reads it back (weights + JSON, no pickle).
    recurrent: an RNNForecaster: trains a network epoch by epoch (fit takes `val_frame` and Lightning
        `callbacks`, the sweep's pruning; `val_size` holds out early-stopping data) and forecasts in
        batches of windows (predict takes `batch_size`) from the last `lookback` rows only.
    task: one of TASK_SUPPORT. known_future: predict takes the known-future values after the data
        (`predict(frame, future=...)`). target_transform: one of TRANSFORM_SUPPORT.
    requires: the module of an optional extra the model needs (its fit says which extra to install).
    """

    name: str
    cls: type
    defaults: dict[str, Any] = field(default_factory=dict)
    search_space: SearchSpace | None = None
    family: str = ""
    description: str = ""
    target_transform: str = "wrapper"
    task: str = "regression"
    saveable: bool = False
    recurrent: bool = False
    known_future: bool = False
    requires: str = ""

    def build(self, *, shared: Mapping[str, Any] | None = None, **overrides: Any) -> Any:
        """A new, unfitted model: the defaults, then `shared`, then `overrides` (see `build`)."""
        from sklearn.base import clone

        settings = {**(shared or {}), **overrides}
        transform = settings.pop("target_transform", None)
        intervals = {k: settings.pop(k) for k in INTERVAL_SETTINGS if k in settings}
        model = self.cls(**{k: clone(v, safe=False) for k, v in self.defaults.items()})
        known = model.get_params(deep=True)
        chosen: dict[str, Any] = {}
        unknown = []
        for key, value in settings.items():
            targets = [key] if key in known else [p for p in known if p.endswith(f"__{key}")]
            if not targets and key in overrides:
                unknown.append(key)
            chosen.update(dict.fromkeys(targets, value))
        if unknown:
            raise InputError(f"model {self.name!r} has no setting(s) {', '.join(unknown)}; drop those options")
        model = self.transformed(model.set_params(**chosen) if chosen else model, transform)
        return self.conformal(model, intervals, asked=bool(intervals.keys() & overrides.keys()))

    def conformal(self, model: Any, settings: Mapping[str, Any], *, asked: bool = True) -> Any:
        """`model` wrapped in a ConformalForecaster when settings["intervals"] names levels (see
        INTERVAL_SETTINGS); direction classifiers refuse when `asked` (an override), else stay unwrapped."""
        if settings.get("intervals") is None:
            if asked and settings.keys() - {"intervals"}:
                raise InputError(f"{', '.join(sorted(settings.keys() - {'intervals'}))} tune conformal intervals; "
                                 "ask for them with intervals=(0.8, 0.95) (CLI: --intervals 0.8,0.95)")
            return model
        if declared_task(model) == "direction":
            if asked:
                raise InputError(f"model {self.name!r} forecasts the direction of the target (P(up)); "
                                 "conformal intervals are for value forecasts: drop intervals for it")
            return model
        from forecast.models.conformal import ConformalForecaster

        return ConformalForecaster(forecaster=model, levels=settings["intervals"],
                                   **{INTERVAL_SETTINGS[k]: v for k, v in settings.items() if k != "intervals"})

    def transformed(self, model: Any, transform: str | None) -> Any:
        """`model` (built from this entry) made to forecast through `transform` as `target_transform` says;
        None or "none" returns it unchanged."""
        from forecast.data.transforms import TARGET_TRANSFORMS

        if transform is None or transform == "none":
            return model
        if transform not in TARGET_TRANSFORMS:
            raise InputError(f"target transform {transform!r} is not one of {TARGET_TRANSFORMS}")
        if self.target_transform == "parameter":
            return model.set_params(target_transform=transform)
        if self.target_transform == "wrapper":
            from forecast.models.transformed import TransformedTargetForecaster

            return TransformedTargetForecaster(forecaster=model, transform=transform)
        raise InputError(f"model {self.name!r} forecasts the direction of the target, so a target transform "
                         f"({transform!r}) makes no sense for it; leave the target transform out "
                         "(--target-transform none) or drop the model")

    def matches(self, model: Any) -> bool:
        """Whether `model` is of this entry's class with its defaults (an estimator default matches an
        estimator of the same class and parameters): how an estimator passed in gets its registry name."""
        if type(model) is not self.cls:
            return False
        return _same_params(model.get_params(deep=False), self.defaults)


def _same_params(params: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    for key, want in expected.items():
        have = params.get(key)
        if hasattr(want, "get_params"):
            if type(have) is not type(want) or not _same_params(have.get_params(deep=False),
                                                                 want.get_params(deep=False)):
                return False
        elif key not in params or have != want:
            return False
    return True


_REGISTRY: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    """Add `entry` to the registry (names are unique)."""
    if entry.name in _REGISTRY:
        raise ValueError(f"model {entry.name!r} is already registered")
    if entry.target_transform not in TRANSFORM_SUPPORT:
        raise ValueError(f"model {entry.name!r}: target_transform must be one of {TRANSFORM_SUPPORT}")
    if entry.task not in TASK_SUPPORT:
        raise ValueError(f"model {entry.name!r}: task must be one of {TASK_SUPPORT}")
    _REGISTRY[entry.name] = entry
    return entry


def names() -> list[str]:
    """Registered model names."""
    _load_builtin()
    return list(_REGISTRY)


def get(name: str) -> ModelEntry:
    """The entry for `name`; the error lists the valid names. An ensemble of named members
    (`ensemble_mean:ridge+autoets`, see `forecast.models.ensemble`) gets its base entry with those members."""
    _load_builtin()
    if name in _REGISTRY:
        return _REGISTRY[name]
    from forecast.models.ensemble import parse_ensemble_name

    parsed = parse_ensemble_name(name, _REGISTRY)
    if parsed is None:
        raise KeyError(f"unknown model {name!r}; choose from: {', '.join(_REGISTRY)} "
                       "(or an ensemble such as ensemble_mean:ridge+naive)")
    base, members = parsed
    unknown = [m for m in members if m not in _REGISTRY]
    if unknown:
        raise KeyError(f"ensemble {name!r}: unknown member(s) {', '.join(map(repr, unknown))}; "
                       f"choose from: {', '.join(_REGISTRY)}")
    from dataclasses import replace

    entry = _REGISTRY[base]
    return replace(entry, name=name, defaults={**entry.defaults, "members": [(m, build(m)) for m in members]})


def known(name: str) -> bool:
    """Whether `name` is a registered model or a well-formed ensemble of registered ones (a malformed
    ensemble name raises the InputError that says the syntax)."""
    try:
        get(name)
    except KeyError:
        return False
    return True


def build(name: str, /, *, shared: Mapping[str, Any] | None = None, **overrides: Any) -> Any:
    """A new, unfitted model by registry name: the one way the CLI, backtest, sweep and tests build models.

    A setting reaches the parameter of that name, or, when the model has none, every nested parameter of
    that name in its components (`hidden_size` -> `encoder__hidden_size`, `alpha` -> `estimator__alpha`);
    nested names (`encoder__lr`) may also be given in full.
    overrides: settings meant for this model; one it lacks is an InputError naming it (a typo never
        passes silently).
    shared: settings offered to every model of a run (a backtest's params, the CLI's --seed/--epochs, the
        sweep's seed and epoch budget): applied where the model has them, skipped where it has not.
        `overrides` win over `shared`.
    `target_transform` (in either) is honoured by every model, as the entry's `target_transform` says.
    `intervals` (levels, e.g. (0.8, 0.95)) wraps every value forecaster in a ConformalForecaster
    (`interval_method` "split" or "aci", `calibration_size`, `calibration_window`: its other settings);
    P(up) classifiers refuse it as an override and are left unwrapped when it is shared.
    """
    try:
        entry = get(name)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    return entry.build(shared=shared, **overrides)


def entry_of(model: Any) -> ModelEntry | None:
    """The entry `model` was built from (by its class and defaults; else the first of its class), or None
    for a class the registry does not know."""
    entries = [e for e in (get(n) for n in names()) if type(model) is e.cls]
    return next((e for e in entries if e.matches(model)), entries[0] if entries else None)


def task_of(model: Any) -> str:
    """'direction' or 'regression': what `model` forecasts, as its entry declares; for a class the registry
    does not know, what the model itself declares (`tasks.declared_task`)."""
    entry = entry_of(model)
    if entry is None:
        return declared_task(model)
    if entry.task == "parameter":
        return "direction" if model.get_params(deep=False)["task"] == "direction" else "regression"
    return entry.task


def loadable_classes() -> dict[str, type]:
    """{class name in model.json: class} of the saveable models: the only classes `load_model` builds;
    ConformalForecaster too (it saves when the model it wraps does)."""
    from forecast.models.conformal import ConformalForecaster

    saveable = {entry.cls.__name__: entry.cls for entry in (get(n) for n in names()) if entry.saveable}
    return saveable | {ConformalForecaster.__name__: ConformalForecaster}


WINDOW_ATTR = "window"
"""The trial user attribute under which a sweep records the window a trial's model will read ({"lookback": L,
"known_future": bool}), so a search space can draw only options that fit it (sweeps/objective.py sets it)."""


_SEGMENT_WITHOUT_LOOKBACK = 8  # the longest segment drawn when the trial does not say its lookback


def _network_space(trial) -> dict[str, Any]:
    """RNNForecaster's network options, drawn so every combination is one the network accepts: segments and
    normalization only with a head that reads the final state, segment lengths that fit the lookback (up to
    half of it: at least two recurrent steps), the segments head only without known-future covariates."""
    window = trial.user_attrs.get(WINDOW_ATTR, {})
    heads = ["direct", "transducer"] if window.get("known_future") else ["direct", "segments", "transducer"]
    head = trial.suggest_categorical("head", heads)
    if head == "transducer":
        return {"head": head}  # normalize="auto" means none here; skip none, segment 1: what the trial records
    longest = max(1, window.get("lookback", 2 * _SEGMENT_WITHOUT_LOOKBACK) // 2)
    return {
        "head": head,
        "segment": trial.suggest_int("segment", 1, longest, log=True),
        "normalize": trial.suggest_categorical("normalize", ["none", "last", "revin"]),
        "skip": trial.suggest_categorical("skip", ["none", "linear", "ridge"]),
        "channel_independent": trial.suggest_categorical("channel_independent", [False, True]),
    }


def _rnn_space(trial) -> dict[str, Any]:
    return {
        **_network_space(trial),
        "hidden_size": trial.suggest_categorical("hidden_size", [16, 32, 64, 128]),
        "num_layers": trial.suggest_int("num_layers", 1, 2),
        "dropout": trial.suggest_float("dropout", 0.0, 0.3),
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "gradient_clip_val": trial.suggest_float("gradient_clip_val", 0.1, 5.0, log=True),
        "gradient_clip_algorithm": trial.suggest_categorical("gradient_clip_algorithm", ["norm", "value"]),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
    }


def _moving_average_space(trial) -> dict[str, Any]:
    return {"window": trial.suggest_int("window", 2, 60, log=True)}


def _ridge_space(trial) -> dict[str, Any]:
    return {"alpha": trial.suggest_float("alpha", 1e-3, 1e3, log=True)}  # -> estimator__alpha


def _hgb_space(trial) -> dict[str, Any]:
    return {  # each reaches the HistGradientBoostingRegressor inside (estimator__...)
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True),
        "max_iter": trial.suggest_int("max_iter", 50, 500, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 1.0, log=True),
    }


def _rf_space(trial) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 20),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
        "max_features": trial.suggest_categorical("max_features", [1.0, 0.5, "sqrt"]),
    }


def _state_space(trial) -> dict[str, Any]:
    # The epoch budget is the sweep's max_epochs, as for the RNN families (it used to be searched here and
    # then overwritten by the budget: a search over an ignored parameter).
    return {
        "encoder__hidden_size": trial.suggest_categorical("encoder__hidden_size", [8, 16, 32, 64]),
        "encoder__lr": trial.suggest_float("encoder__lr", 1e-4, 1e-2, log=True),
        "regressor__alpha": trial.suggest_float("regressor__alpha", 1e-3, 1e3, log=True),
    }


_LOADED = False


def _load_builtin() -> None:
    """Register the built-in models on first use (keeps `import forecast` light)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import Ridge

    from forecast.models import naive
    from forecast.models.direction import AlwaysUp, PersistDirection
    from forecast.models.ensemble import EnsembleForecaster
    from forecast.models.estimators import RNNForecaster
    from forecast.models.lagged import LagRegressor
    from forecast.models.state_features import RNNStateFeatures, StatePipelineForecaster
    from forecast.models.statistical import DEFAULT_MAX_HISTORY, StatisticalForecaster

    for cell, text in (("rnn", "Elman RNN"), ("gru", "GRU"), ("lstm", "LSTM")):
        register(ModelEntry(cell, RNNForecaster, {"cell": cell}, _rnn_space, family="recurrent",
                            description=f"{text} forecaster (Lightning): direct head on origin-relative inputs, early stopping",
                            target_transform="parameter", task="parameter", saveable=True, recurrent=True,
                            known_future=True))
    for name, cls, defaults, space, text in (
        ("naive", naive.Naive, {}, None, "persistence: the last value"),
        ("seasonal_naive", naive.SeasonalNaive, {"season": None}, None,
         "the value one season earlier (season inferred from the time step)"),
        ("drift", naive.Drift, {"window": None}, None, "last value plus the average change so far"),
        ("moving_average", naive.MovingAverage, {"window": None}, _moving_average_space,
         "mean of the last `window` values (default: the lookback)"),
        ("mean", naive.HistoricalMean, {}, None, "mean of the whole history up to the origin"),
    ):
        register(ModelEntry(name, cls, defaults, space, family="naive", description=text, saveable=True))
    for name, estimator, space, saveable, text in (
        ("ridge", Ridge(alpha=1.0), _ridge_space, True, "Ridge regression on lag features"),
        ("hgb", HistGradientBoostingRegressor(learning_rate=0.1, max_iter=100), _hgb_space, False,
         "histogram gradient boosting on lag features (one model per output step and target)"),
        ("rf", RandomForestRegressor(n_estimators=50, max_features=1.0, n_jobs=1), _rf_space, False,
         "random forest on lag features (native multi-output; single-threaded)"),
    ):  # only linear models store their fit without pickle, so only ridge is saveable
        register(ModelEntry(name, LagRegressor, {"estimator": estimator}, space, family="lagged",
                            description=text, saveable=saveable))
    for cell, text in (("lstm", "LSTM"), ("gru", "GRU"), ("rnn", "Elman RNN")):
        register(ModelEntry(f"{cell}_state+ridge", StatePipelineForecaster,
                            {"encoder": RNNStateFeatures(cell=cell), "regressor": Ridge(alpha=1.0)}, _state_space,
                            family="state", description=f"Ridge on the final state of a {text} encoder",
                            saveable=True))
    for name, text in (("autoets", "AutoETS: exponential smoothing, state space, chosen by AICc"),
                       ("autoarima", "AutoARIMA: seasonal ARIMA, orders chosen stepwise"),
                       ("autotheta", "AutoTheta: the best of the Theta family"),
                       ("mstl", "MSTL: multiple seasonal decomposition, ETS on the trend")):
        register(ModelEntry(name, StatisticalForecaster, {"model": name}, family="statistical",
                            description=f"{text} (statsforecast; fits the latest {DEFAULT_MAX_HISTORY} rows)",
                            requires="statsforecast"))
    naive_members = [("naive", naive.Naive()), ("seasonal_naive", naive.SeasonalNaive()), ("drift", naive.Drift())]
    for combine, text in (("mean", "mean of its members' forecasts"), ("median", "median of its members' forecasts"),
                          ("stacked", "non-negative weights (NNLS) fitted on held-back forecasts before the test")):
        register(ModelEntry(f"ensemble_{combine}", EnsembleForecaster, {"members": naive_members, "combine": combine},
                            family="ensemble", description=f"ensemble: {text}; name the members as "
                            f"ensemble_{combine}:ridge+autoets+gru (default: naive+seasonal_naive+drift)"))
    register(ModelEntry("always_up", AlwaysUp, family="direction", target_transform="refused", task="direction",
                        description="direction benchmark: always up, P(up) = the training up share (at least 0.5)"))
    register(ModelEntry("persist_direction", PersistDirection, family="direction", target_transform="refused",
                        task="direction", description="direction benchmark: the last move's direction repeats"))
