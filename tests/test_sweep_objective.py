"""The sweep's objective metric (config key `metric`: mae | crps | interval_score): checked in one line,
scored on the validation part only, and each choosing what it measures."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from forecast.config import WindowSpec
from forecast.data.splits import FrameSplit
from forecast.errors import InputError
from forecast.sweeps.config import SweepConfig
from forecast.sweeps.objective import Objective, validation_score

SPEC = WindowSpec(target="temp_max", lookback=7, horizon=1)
LEVELS = (0.8, 0.95)


def test_metric_key_is_checked_in_one_line():
    with pytest.raises(InputError, match=r"key 'metric' 'crps' scores intervals: add the key 'intervals'"):
        SweepConfig(data="x", spec=SPEC, metric="crps")
    with pytest.raises(InputError, match="key 'metric' must be one of mae, crps, interval_score"):
        SweepConfig(data="x", spec=SPEC, metric="rmse", intervals=LEVELS)
    config = SweepConfig(data="x", spec=SPEC, metric="interval_score", intervals=LEVELS)
    assert SweepConfig.from_dict(config.to_dict()).metric == "interval_score"


def test_each_metric_prefers_what_it_measures():
    """Model a: the better median, absurd bounds; model b: a worse median, bounds that fit the noise."""
    index = pd.date_range("2000-01-01", periods=300, freq="D", name="date")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"temp_max": rng.normal(0.0, 1.0, 300)}, index=index)
    split = FrameSplit.by_fraction(frame, SPEC, 0.3, 0.2)
    base = pd.DataFrame({"origin": index[:-1], "timestamp": index[1:], "step": 1})
    a = base.assign(forecast=0.0, lower_80=-50.0, upper_80=50.0, lower_95=-80.0, upper_95=80.0)
    b = base.assign(forecast=0.3, lower_80=0.3 - 1.28, upper_80=0.3 + 1.28, lower_95=0.3 - 1.96, upper_95=0.3 + 1.96)
    scores = {m: (validation_score(a, split, 1, m, LEVELS), validation_score(b, split, 1, m, LEVELS))
              for m in ("mae", "crps", "interval_score")}
    assert scores["mae"][0] < scores["mae"][1]
    assert scores["crps"][1] < scores["crps"][0]
    assert scores["interval_score"][1] < scores["interval_score"][0]


def _trial_value(frame: pd.DataFrame, metric: str) -> float:
    split = FrameSplit.by_fraction(frame, SPEC, 0.2, 0.2)
    study = optuna.create_study()
    study.enqueue_trial({"family": "ridge", "ridge.alpha": 1.0})
    study.optimize(Objective(split, ("ridge",), metric=metric, levels=LEVELS), n_trials=1)
    return study.trials[0].value


def test_crps_objective_scores_validation_intervals_and_never_reads_the_test_part(seattle):
    frame = seattle.iloc[:500]
    crps = _trial_value(frame, "crps")
    mae = _trial_value(frame, "mae")
    assert np.isfinite(crps) and 0 < crps < mae  # CRPS of a calibrated spread is below the point's MAE
    poisoned = frame.copy()
    poisoned.iloc[int(0.8 * len(frame)):, :4] = 1e9  # the test part (last 20%), every numeric column
    assert _trial_value(poisoned, "crps") == pytest.approx(crps, rel=1e-12)
    assert _trial_value(poisoned, "interval_score") == pytest.approx(_trial_value(frame, "interval_score"),
                                                                     rel=1e-12)


def test_a_crps_sweep_reports_what_it_chose_by(tmp_path, seattle):
    from forecast.sweeps.runner import evaluate_best, optimize

    config = SweepConfig(data="x", spec=SPEC, families=("ridge", "mean"), n_trials=2, out_dir=str(tmp_path),
                         metric="crps", intervals=list(LEVELS))
    frame = seattle.iloc[:500]
    result = evaluate_best(config, optimize(config, frame, progress_bar=False), frame, plots=False, write=False)
    board = result.leaderboard
    assert "val_crps" in board and "val_mae" not in board
    assert "Chosen by validation CRPS" in result.summary
    searched = board[board["val_crps"].notna()]
    assert searched.loc[searched["val_crps"].idxmin(), "chosen"]  # the lowest validation CRPS is chosen
    assert board.loc[board["status"] == "scored", "coverage_80"].notna().all()
