"""Small synthetic data and a tiny trained model shared by the CLI tests (not a test module)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast import RNNForecaster, WindowSpec
from forecast.cli import main

LOOKBACK, HORIZON = 8, 3


def long_frame(n_series: int = 4, n_rows: int = 60, seed: int = 0) -> pd.DataFrame:
    """Long frame: columns date, site, y (seasonal + noise), x (a covariate); daily; sorted by (site, date)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2021-01-01", periods=n_rows, freq="D")
    parts = []
    for s in range(n_series):
        t = np.arange(n_rows)
        y = 10 + s + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.3, n_rows)
        parts.append(pd.DataFrame({"date": dates, "site": f"S{s}", "y": y.round(3),
                                   "x": rng.normal(0, 1, n_rows).round(3)}))
    return pd.concat(parts, ignore_index=True)


def spec(id_col: str | None = "site") -> WindowSpec:
    return WindowSpec(target="y", features=("x",), lookback=LOOKBACK, horizon=HORIZON, id_col=id_col)


def tiny_model(frame: pd.DataFrame, id_col: str | None = "site", **params) -> RNNForecaster:
    """An LSTM with 4 hidden units trained for one epoch: enough to have real weights."""
    indexed = frame.set_index("date")
    settings = {"cell": "lstm", "hidden_size": 4, "max_epochs": 1, "batch_size": 64, "progress_bar": False,
                "seed": 0, **params}
    return RNNForecaster(**settings).fit(indexed, spec(id_col))


def run_cli(argv: list[str], capsys, *, split_err: bool = True) -> tuple[int, str, list[str] | str]:
    """Run `forecast argv` in-process: (exit code, stdout, stderr as its non-blank lines, or whole text
    with split_err=False)."""
    code = main(argv)
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if line.strip()] if split_err else captured.err
    return code, captured.out, err
