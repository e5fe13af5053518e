"""SweepConfig: what a sweep searches and where it stores the study (read from YAML by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from forecast.config import WindowSpec
from forecast.errors import InputError

PRUNERS = ("median", "hyperband", "none")


@dataclass(frozen=True)
class SweepConfig:
    """A sweep: data, window spec, families, budget and storage. The seed is fixed per study, never searched.

    val_size / test_size: fractions of each series, from its end (time-ordered; test is never touched
    during the search). lookbacks: candidate lookbacks searched for every family (spec.lookback if empty).
    storage: None -> a SQLite file `<out_dir>/study.db`; or any Optuna RDB URL (postgresql://...).
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
    max_epochs: int = 20
    pruner: str = "median"
    metric: str = "mae"
    benchmarks: tuple[str, ...] = ("naive",)
    out_dir: str = "runs/sweep"
    heartbeat_interval: int = 30
    grace_period: int = 90
    max_retry: int = 2
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", tuple(self.families))
        object.__setattr__(self, "lookbacks", tuple(int(v) for v in self.lookbacks))
        # Persistence is always the benchmark the leaderboard's Diebold-Mariano tests compare against.
        object.__setattr__(self, "benchmarks", ("naive", *(b for b in self.benchmarks if b != "naive")))
        if not self.families:
            raise InputError("sweep: families is empty; name at least one model family (e.g. lstm, ridge)")
        if self.pruner not in PRUNERS:
            raise InputError(f"sweep: pruner {self.pruner!r} is not one of {PRUNERS}")
        if self.n_trials < 1:
            raise InputError(f"sweep: n_trials must be >= 1, got {self.n_trials}")
        if not (0 < self.val_size < 1 and 0 < self.test_size < 1 and self.val_size + self.test_size < 1):
            raise InputError("sweep: val_size and test_size must be fractions with val_size + test_size < 1")
        if self.grace_period <= self.heartbeat_interval:
            raise InputError("sweep: grace_period must be longer than heartbeat_interval")

    def with_overrides(self, **changes: Any) -> SweepConfig:
        """A copy with the non-None `changes` applied (command-line overrides)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

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
        try:
            spec = WindowSpec(**spec_data)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{source}: bad spec: {exc}") from None
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
