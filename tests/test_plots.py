"""Every plot writes a valid PNG, and a failing plot leaves no file (not even a temporary one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from forecast.errors import InputError
from forecast.plots import plot_forecast, plot_gradient_norms, plot_leaderboard, plot_residuals

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def actuals():
    idx = pd.date_range("2021-01-01", periods=60, freq="D", name="date")
    return pd.DataFrame({"temp": 10 + 5 * np.sin(np.arange(60) / 6.0)}, index=idx)


@pytest.fixture
def forecasts(actuals):
    """Two models' 1- and 2-step forecasts from origins 30..57; one model has an 80% interval."""
    origins = np.arange(30, 58)
    o, s = np.repeat(origins, 2), np.tile([1, 2], len(origins))
    y = actuals["temp"].to_numpy()
    base = pd.DataFrame({"origin": actuals.index[o], "timestamp": actuals.index[o + s], "step": s})
    naive = base.assign(forecast=y[o], model="naive")
    banded = base.assign(forecast=y[o + s] + 0.3, model="lstm")
    banded["q0.1"], banded["q0.9"] = banded["forecast"] - 1.0, banded["forecast"] + 1.0
    return pd.concat([naive, banded], ignore_index=True)


def _is_png(path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


def test_forecast_plot_with_bands(forecasts, actuals, tmp_path):
    assert _is_png(plot_forecast(forecasts, actuals, tmp_path / "fc.png", target="temp", step=2))
    single = forecasts[forecasts["model"] == "lstm"].drop(columns="model")
    assert _is_png(plot_forecast(single, actuals, tmp_path / "one.png", target="temp", start="2021-02-05"))


def test_plots_of_utc_hourly_data_with_naive_dates(tmp_path):
    idx = pd.date_range("2013-01-01", periods=48, freq="h", tz="UTC", name="timestamp")
    actuals = pd.DataFrame({"temperature": np.linspace(30.0, 40.0, 48)}, index=idx)
    fc = pd.DataFrame({"origin": idx[20:46], "timestamp": idx[21:47], "step": 1, "forecast": 35.0})
    path = plot_forecast(fc, actuals, tmp_path / "utc.png", target="temperature", start="2013-01-02")
    assert _is_png(path)
    assert _is_png(plot_residuals(fc, actuals, tmp_path / "utc_res.png", target="temperature"))


def test_residual_plot(forecasts, actuals, tmp_path):
    assert _is_png(plot_residuals(forecasts, actuals, tmp_path / "res.png", target="temp"))
    assert _is_png(plot_residuals(forecasts, actuals, tmp_path / "res1.png", target="temp", step=1))


def test_leaderboard_plot(tmp_path):
    board = pd.DataFrame(
        {
            "model": ["lstm", "naive", "ridge"],
            "mase": [0.9, 1.0, np.nan],
            "beats_benchmark": [True, False, False],
        }
    )
    assert _is_png(plot_leaderboard(board, tmp_path / "board.png"))


def test_gradient_norm_plot_marks_divergence(tmp_path):
    norms = {
        "lstm clip=1": [3.0, 2.0, 1.5, 1.2],
        "rnn no clip": [3.0, 30.0, 900.0, float("inf"), float("nan")],
    }
    assert _is_png(plot_gradient_norms(norms, tmp_path / "grads.png"))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda f, a, p: plot_forecast(f, a, p, target="temp", step=5), "no step-5 forecasts"),
        (lambda f, a, p: plot_forecast(f, a, p, target="rain"), "'rain'"),
        (lambda f, a, p: plot_residuals(f.drop(columns="forecast"), a, p, target="temp"), "'forecast'"),
        (lambda f, a, p: plot_leaderboard(pd.DataFrame({"model": ["x"]}), p), "'mase'"),
        (lambda f, a, p: plot_gradient_norms({}, p), "no gradient norms"),
        (lambda f, a, p: plot_gradient_norms({"run": []}, p), "'run'"),
    ],
)
def test_bad_input_leaves_no_file(forecasts, actuals, tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        make(forecasts, actuals, tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_saving_leaves_no_file(forecasts, actuals, tmp_path, monkeypatch):
    def broken_savefig(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(InputError, match=r"fc.png: cannot write \(disk full\)"):  # the user's name, exit 2
        plot_forecast(forecasts, actuals, tmp_path / "fc.png", target="temp")
    assert list(tmp_path.iterdir()) == []
