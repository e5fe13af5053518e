"""SweepConfig: what a sweep searches and where it stores the study (read from YAML by the CLI).

Every key is checked here, by one small table, before any study, folder or file exists: a wrong type, an
unknown family or an out-of-range size is one InputError naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from forecast.config import WindowSpec
from forecast.data.sources.files import MISSING_POLICIES
from forecast.errors import InputError
from forecast.models.ensemble import COMBINERS
from forecast.models.training import DEFAULT_TRAIN

PRUNERS = ("median", "hyperband", "none")
METRICS = ("mae", "crps", "interval_score")
"""What the objective returns on the validation part (lower is better, in the data's units): MAE of the
point forecasts; CRPS (from the median and the interval bounds as quantiles) or the interval score (the
Winkler score averaged over the `intervals` levels) of each trial's intervals: its own for a distributional
model, conformal ones calibrated before each validation origin for every other."""


@dataclass(frozen=True)
class SweepConfig:
    """A sweep: data, window spec, families, budget and storage. The seed is fixed per study, never searched.

    val_size / test_size: fractions of each series, from its end (time-ordered; test is never touched
    during the search). lookbacks: candidate lookbacks searched for every family (spec.lookback if empty).
    storage: None -> a SQLite file `<out_dir>/study.db`; or any Optuna RDB URL (postgresql://...).
    time_col / sort / missing: how DATA is read, as the other commands' --time-col/--sort/--missing;
    `missing` applies to the columns the spec reads only ("error" names the first hole).
    intervals: nominal levels (e.g. [0.8, 0.95]): the test-part leaderboard wraps each family's best and
    the benchmarks in conformal intervals and scores their coverage, width, Winkler score and CRPS.
    mlflow: an MLflow tracking URI (e.g. sqlite:///runs/mlflow.db): every trial becomes an MLflow run
    (forecast.sweeps.tracking); None records nothing there.
    metric: what trials are chosen by on the validation part (METRICS); crps and interval_score need
    `intervals` (the levels they score).
    ensemble_top_k: 0 (none), or k >= 2: the test-part leaderboard adds the `ensemble` (mean, median or
    stacked: non-negative weights fitted on validation forecasts) of the k families best on validation.
    """

    data: str
    spec: WindowSpec
    families: tuple[str, ...] = ("rnn", "gru", "lstm", "ridge")
    n_trials: int = 20
    timeout: float | None = None
    study_name: str = "forecast-sweep"
    storage: str | None = None
    seed: int = 0
    val_size: float = 0.15
    test_size: float = 0.15
    lookbacks: tuple[int, ...] = ()
    max_epochs: int = DEFAULT_TRAIN.max_epochs
    pruner: str = "median"
    metric: str = "mae"
    benchmarks: tuple[str, ...] = ("naive",)
    out_dir: str = "runs/sweep"
    heartbeat_interval: int = 30
    grace_period: int = 90
    max_retry: int = 2
    time_col: str | None = None
    sort: bool = False
    missing: str = "error"
    intervals: tuple[float, ...] = ()
    mlflow: str | None = None
    ensemble_top_k: int = 0
    ensemble: str = "stacked"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_keys({f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("spec", "extra")},
                   "sweep")
        object.__setattr__(self, "families", tuple(self.families))
        object.__setattr__(self, "intervals", tuple(self.intervals))
        object.__setattr__(self, "lookbacks", tuple(self.lookbacks))
        # Persistence is always the benchmark the leaderboard's Diebold-Mariano tests compare against.
        object.__setattr__(self, "benchmarks", ("naive", *(b for b in self.benchmarks if b != "naive")))

    def with_overrides(self, **changes: Any) -> SweepConfig:
        """A copy with the non-None `changes` applied (command-line overrides)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready keys, the inverse of `from_dict` (how the runner hands a config to its workers)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("spec", "extra")}
        return {**{k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}, "spec": self.spec.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> SweepConfig:
        """Build from a plain dict (a parsed YAML file); unknown keys are errors naming the key."""
        data = dict(data)
        spec_data = data.pop("spec", None)
        if not isinstance(spec_data, dict):
            raise InputError(f"{source}: needs a 'spec' mapping (target, lookback, horizon, ...)")
        known = {f.name for f in fields(cls)} - {"spec", "extra"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{source}: unknown key(s) {unknown}; known keys: {sorted(known | {'spec'})}")
        if "data" not in data:
            raise InputError(f"{source}: needs 'data' (a bundled dataset name or a CSV/Parquet path)")
        defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        check_keys({**defaults, **data}, source)
        try:
            spec = WindowSpec(**spec_data)
        except TypeError as exc:  # an unknown spec key
            raise InputError(f"{source}: key 'spec': {exc}".replace("WindowSpec.__init__() ", "")) from None
        except ValueError as exc:
            raise InputError(f"{source}: key 'spec': {str(exc).replace('WindowSpec.', 'spec.')}") from None
        return cls(spec=spec, **data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SweepConfig:
        """Read a YAML sweep config; paths inside it are taken relative to the current folder."""
        import yaml

        file = Path(path)
        if not file.is_file():
            raise InputError(f"{file}: sweep config not found")
        try:
            loaded = yaml.safe_load(file.read_text())
        except yaml.YAMLError as exc:
            raise InputError(f"{file}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise InputError(f"{file}: a sweep config must be a YAML mapping")
        return cls.from_dict(loaded, source=str(file))


# -- the check table: key -> a function returning None (fine) or what the value should have been ----------

def _whole(low: int) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        ok = isinstance(v, int) and not isinstance(v, bool) and v >= low
        return None if ok else f"a whole number >= {low}"
    return check


def _number(low: float, high: float | None = None, *, optional: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        ok = isinstance(v, int | float) and not isinstance(v, bool) and v > low and (high is None or v < high)
        return None if ok else f"a number > {low}" + (f" and < {high}" if high is not None else "") + \
            (" (or omit it)" if optional else "")
    return check


def _text(*, optional: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        ok = (v is None and optional) or (isinstance(v, str) and v.strip() != "")
        return None if ok else "a non-empty text" + (" (or omit it)" if optional else "")
    return check


def _choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: None if isinstance(v, str) and v in options else f"one of {', '.join(options)}"


def _models(*, empty_ok: bool) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if not isinstance(v, list | tuple) or not all(isinstance(n, str) for n in v):
            return "a list of model names like [lstm, ridge]"
        if not v and not empty_ok:
            return "a list of at least one model name like [lstm, ridge]"
        from forecast.models import registry

        unknown = [n for n in v if n not in registry.names()]
        if unknown:
            return f"registered model names ({', '.join(registry.names())}); unknown: {', '.join(unknown)}"
        if len(set(v)) < len(v):
            return "a list without repeated names"
        return None
    return check


def _levels(v: Any) -> str | None:
    ok = isinstance(v, list | tuple) and all(
        isinstance(x, int | float) and not isinstance(x, bool) and 0 < x < 1 for x in v)
    return None if ok else "a list of nominal levels strictly between 0 and 1 like [0.8, 0.95]"


def _lookbacks(v: Any) -> str | None:
    ok = isinstance(v, list | tuple) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in v)
    return None if ok else "a list of whole numbers >= 1 like [14, 30]"


CHECKS: dict[str, Callable[[Any], str | None]] = {
    "data": _text(), "families": _models(empty_ok=False), "n_trials": _whole(1),
    "timeout": _number(0, optional=True), "study_name": _text(), "storage": _text(optional=True),
    "seed": _whole(0), "val_size": _number(0, 1), "test_size": _number(0, 1), "lookbacks": _lookbacks,
    "max_epochs": _whole(1), "pruner": _choice(PRUNERS), "metric": _choice(METRICS),
    "benchmarks": _models(empty_ok=True), "out_dir": _text(), "heartbeat_interval": _whole(1),
    "grace_period": _whole(1), "max_retry": _whole(0), "time_col": _text(optional=True),
    "sort": lambda v: None if isinstance(v, bool) else "true or false",
    "missing": _choice(MISSING_POLICIES), "intervals": _levels, "mlflow": _text(optional=True),
    "ensemble_top_k": lambda v: None if isinstance(v, int) and not isinstance(v, bool) and v != 1 and v >= 0
    else "0 (no ensemble) or a whole number >= 2 (the families best on validation it combines)",
    "ensemble": _choice(COMBINERS),
}


def check_keys(values: dict[str, Any], source: str) -> None:
    """Check every key's type and range, then the rules across keys; the first problem is an InputError.

    `values` holds every key (defaults included), so the rules across keys always see both sides.
    """
    for key, value in values.items():
        wanted = CHECKS[key](value) if key in CHECKS else None
        if wanted:
            raise InputError(f"{source}: key {key!r} must be {wanted}, got {value!r}")
    val, test = values["val_size"], values["test_size"]
    if val + test >= 1:
        raise InputError(f"{source}: keys 'val_size' + 'test_size' must be < 1 (got {val} + {test}); "
                         "some rows must stay for training")
    if values["metric"] != "mae" and not values["intervals"]:
        raise InputError(f"{source}: key 'metric' {values['metric']!r} scores intervals: add the key 'intervals' "
                         "with the levels to score, e.g. intervals: [0.8, 0.95]")
    heartbeat, grace = values["heartbeat_interval"], values["grace_period"]
    if grace <= heartbeat:
        raise InputError(f"{source}: key 'grace_period' ({grace}) must be longer than 'heartbeat_interval' "
                         f"({heartbeat})")
