"""Frames whose values say where they came from, for the window, split and datamodule tests.

Series s, local row t: target y = s*10_000 + t, observed feature f = -(s*10_000 + t), known-future
feature k = 0.5 + s*10_000 + t (all exact in float32). Decoding a value gives back (series, row), so a
test can check exactly which rows a window read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.config import WindowSpec
from forecast.data.panel import Panel, build_panel

CODE = 10_000


def coded_frame(lengths: list[int], *, freq: str = "D", start: str = "2021-01-01", tz: str | None = None,
                shuffle_rows: bool = False, seed: int = 0) -> pd.DataFrame:
    """A long frame with one series per entry of `lengths` (ids "s0", "s1", ...), coded values."""
    parts = []
    for s, n in enumerate(lengths):
        t = np.arange(n)
        code = s * CODE + t
        idx = pd.date_range(start, periods=n, freq=freq, tz=tz)
        parts.append(pd.DataFrame(
            {"id": f"s{s}", "y": code.astype(float), "f": -code.astype(float), "k": code + 0.5,
             "cat": np.where(t % 3 == 0, "a", "b")},
            index=idx,
        ))
    frame = pd.concat(parts)
    if shuffle_rows:
        frame = frame.iloc[np.random.default_rng(seed).permutation(len(frame))]
    return frame


def coded_panel(lengths: list[int], spec: WindowSpec, **kwargs) -> Panel:
    """build_panel of `coded_frame(lengths)` for `spec` (which should use id_col="id")."""
    frame = coded_frame(lengths, **kwargs)
    return build_panel(frame, spec, vocabularies={"cat": ["a", "b"]} if spec.categorical else None)


def decode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(series, local row) of coded target values."""
    code = np.rint(values).astype(np.int64)
    return code // CODE, code % CODE
