"""The one preparation path (forecast.data.prepare) and panel reuse inside a backtest (forecast.data.reuse)."""

from __future__ import annotations

import numpy as np
import pytest

import forecast
import forecast.data.panel as panel_module
import forecast.data.windows as windows_module
import forecast.evaluate as evaluate_module
from forecast.config import WindowSpec
from forecast.data.panel import build_panel
from forecast.data.prepare import Preparation
from forecast.data.reuse import reusing_panels
from forecast.evaluate import backtest
from forecast.models.estimators import RNNForecaster

SPEC = WindowSpec(target="temp_max", lookback=10, horizon=2, features=("precipitation", "wind"))


@pytest.fixture(scope="module")
def weather():
    return forecast.datasets.load("seattle-weather").iloc[:300]


def _counting(monkeypatch, module, name):
    """Patch module.name with a wrapper that counts its calls; returns the list of calls."""
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_scaler_is_fit_on_training_rows_only_and_forecasts_come_back_in_original_units(weather):
    prep = Preparation(spec=SPEC, scaler="standard", per_series_scaling=False, target_transform="none",
                       min_lookback=None)
    data = prep.fit(weather, val_size=0.25)
    train_end = int(data.split.train_end[0])
    target = weather["temp_max"].to_numpy()
    assert prep.scaler_.center_[0][0] == pytest.approx(target[:train_end].mean(), rel=1e-5)
    assert data.val is not None and len(data.val) and len(data.train)
    # Scaled targets mapped back with to_original give the raw values again.
    predicted = prep.prediction_windows(weather, origin="all")
    scaled = predicted.windows.inputs(slice(None))[:, -1:, :1][:, :, :, None]  # [N, 1, 1, 1] last input target
    scaled = np.repeat(scaled, SPEC.horizon, axis=1).astype(np.float64)  # [N, H, 1, 1]
    back = prep.to_original(scaled, predicted)
    np.testing.assert_allclose(back[:, 0, 0, 0], target[predicted.windows.origins], atol=1e-5)


def test_preparation_round_trips_through_its_dict(weather):
    prep = Preparation(spec=SPEC, scaler="standard", per_series_scaling=False, target_transform="diff",
                       min_lookback=None)
    prep.fit(weather, val_size=0.1)
    options = {"scaler": "standard", "per_series_scaling": False, "target_transform": "diff", "min_lookback": None}
    again = Preparation.from_dict(prep.to_dict(), SPEC, **options)
    np.testing.assert_array_equal(again.scaler_.center_, prep.scaler_.center_)
    assert again.vocabularies == prep.vocabularies and again.series_ids == prep.series_ids


def test_predict_makes_its_windows_once(weather, monkeypatch):
    model = RNNForecaster(hidden_size=4, max_epochs=1, progress_bar=False).fit(weather, SPEC)
    calls = _counting(monkeypatch, windows_module, "make_windows")
    model.predict(weather, origin="last")
    assert len(calls) == 1


def test_reusing_panels_serves_the_same_frame_object_once(weather, monkeypatch):
    built = _counting(monkeypatch, panel_module, "check_frame")  # called once per panel really built
    with reusing_panels():
        first = build_panel(weather, SPEC, future_steps=2)
        assert build_panel(weather, SPEC, future_steps=2) is first
        assert build_panel(weather, SPEC, future_steps=0) is not first  # other appended rows: another panel
        assert build_panel(weather.copy(), SPEC, future_steps=2) is not first  # another frame object
    assert build_panel(weather, SPEC, future_steps=2) is not first  # outside the block nothing is kept
    assert len(built) == 4


def test_a_backtest_builds_each_slice_panel_once_and_joins_actuals_once(weather, monkeypatch):
    built = _counting(monkeypatch, panel_module, "check_frame")
    joins = _counting(monkeypatch, evaluate_module, "join_actuals")
    backtest(["naive", "drift", "mean"], weather, SPEC, test_size=0.2, progress=False)
    # The backtest's own panel, then per slice (training rows; rows up to the last origin + H future rows)
    # one panel for all four models (the three and the persistence benchmark), not one per model and call.
    assert len(built) == 3
    assert len(joins) == 1
