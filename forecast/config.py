"""Frozen, validated settings shared across the toolkit (stdlib only).

`WindowSpec` is the one contract between data and models: which columns a window reads, how far back
(lookback L) and how far ahead (horizon H). A window at origin t reads inputs at rows t-L+1..t and
targets at rows t+1..t+H; known-future features (calendar features, planned values) may also be read
at t+1..t+H; nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

CALENDAR_FEATURES = ("dayofweek", "dayofyear", "hour", "month")


def _as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class WindowSpec:
    """What a forecasting window reads.

    target: column(s) to forecast; always also an input.
    lookback: L, number of past rows an input window holds (origin included).
    horizon: H, number of future rows to forecast.
    stride: distance between consecutive training origins.
    features: covariates observed only up to the origin (read at t-L+1..t).
    known_future: covariates known in advance (read at t-L+1..t+H).
    calendar: calendar features computed from the time index, known in the future
        (any of "dayofweek", "dayofyear", "hour", "month"; encoded as sine/cosine pairs).
    categorical: text/categorical covariates, fed through embeddings (read at t-L+1..t).
    id_col: the series-id column of a long (panel) frame; None for a single series.
    """

    target: str | tuple[str, ...]
    lookback: int
    horizon: int = 1
    stride: int = 1
    features: tuple[str, ...] = ()
    known_future: tuple[str, ...] = ()
    calendar: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    id_col: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("target", "features", "known_future", "calendar", "categorical"):
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))
        if not self.target:
            raise ValueError("WindowSpec.target must name at least one column")
        for name in ("lookback", "horizon", "stride"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"WindowSpec.{name} must be a positive integer, got {value!r}")
        unknown = set(self.calendar) - set(CALENDAR_FEATURES)
        if unknown:
            raise ValueError(
                f"WindowSpec.calendar has unknown features {sorted(unknown)}; choose from {CALENDAR_FEATURES}"
            )
        overlap = (set(self.features) | set(self.categorical)) & set(self.known_future)
        if overlap:
            raise ValueError(f"columns {sorted(overlap)} are both observed-only and known-future; pick one")
        if self.id_col is not None and self.id_col in self.columns:
            raise ValueError(f"id column {self.id_col!r} cannot also be a target or feature")

    @property
    def targets(self) -> tuple[str, ...]:
        """Target columns as a tuple."""
        return self.target  # type: ignore[return-value]  # normalized in __post_init__

    @property
    def numeric_inputs(self) -> tuple[str, ...]:
        """Numeric columns read at every input step: targets, then observed features, then known-future ones."""
        seen: dict[str, None] = {}
        for col in (*self.targets, *self.features, *self.known_future):
            seen.setdefault(col, None)
        return tuple(seen)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every frame column the spec reads (without the time index and the id column)."""
        return (*self.numeric_inputs, *self.categorical)

    @property
    def window_length(self) -> int:
        """L + H: rows one training window spans."""
        return self.lookback + self.horizon

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation (for artifacts and sweep configs)."""
        data = asdict(self)
        data.pop("extra")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowSpec:
        """Inverse of `to_dict`."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
