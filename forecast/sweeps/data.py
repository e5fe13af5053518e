"""The sweep's data: read like every other command (forecast.data.reading), keep the columns the spec
reads, and apply the config's missing-value policy to those columns only."""

from __future__ import annotations

import pandas as pd

from forecast.data.reading import read_data
from forecast.data.sources.files import apply_missing
from forecast.errors import InputError
from forecast.sweeps.config import SweepConfig


def prepare(frame: pd.DataFrame, config: SweepConfig) -> pd.DataFrame:
    """The columns `config.spec` reads (and its series column), with `config.missing` applied to them."""
    spec, source = config.spec, frame.attrs.get("source", config.data)
    needed = [*([spec.id_col] if spec.id_col else []), *spec.columns]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise InputError(f"{source}: no column(s) {', '.join(map(repr, absent))}; columns are "
                         f"{', '.join(map(str, frame.columns))}; check the config's spec")
    if spec.id_col is None and frame.index.has_duplicates:
        raise InputError(f"{source}: several rows share a timestamp; name the series column as spec.id_col "
                         "in the sweep config")
    kept = frame[needed]
    kept.attrs = {**frame.attrs, "source": source}
    holes = kept.drop(columns=[spec.id_col] if spec.id_col else []).isna().to_numpy().any()
    if config.missing in ("ffill", "interpolate") or (holes and config.missing != "keep"):
        kept = apply_missing(kept, source, config.missing, spec.id_col)  # reading announced the gaps already
        kept.attrs = {**frame.attrs, "source": source}
    return kept


def load(config: SweepConfig) -> pd.DataFrame:
    """Read `config.data` (file or bundled name) as the other commands do, then `prepare` it."""
    spec = config.spec
    frame = read_data(config.data, config.time_col, spec.id_col, numeric=spec.numeric_inputs, missing="keep",
                      sort=config.sort)
    return prepare(frame, config)
