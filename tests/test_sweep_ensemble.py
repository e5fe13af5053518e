"""A sweep emits the ensemble of its top-k families (issue 18): members chosen by validation, stacked
weights non-negative and fitted on validation forecasts only, scored on test beside its members."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.config import WindowSpec
from forecast.data.splits import FrameSplit
from forecast.errors import InputError
from forecast.sweeps.config import SweepConfig
from forecast.sweeps.ensemble import top_families, validation_weights
from forecast.sweeps.objective import Objective
from forecast.sweeps.runner import best_per_family, evaluate_best, optimize

SPEC = {"target": "temp_max", "lookback": 7, "horizon": 1, "features": ["wind"]}
FAMILIES = ("ridge", "moving_average", "drift")


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    import forecast

    frame = forecast.datasets.load("seattle-weather").iloc[:600]
    config = SweepConfig(data="x", spec=WindowSpec(**SPEC), families=FAMILIES, n_trials=8,
                         out_dir=str(tmp_path_factory.mktemp("sweep")), ensemble_top_k=2)
    return config, frame, optimize(config, frame, progress_bar=False)


@pytest.mark.slow
def test_the_top_k_ensemble_is_scored_on_test_beside_its_members(swept):
    config, frame, study = swept
    best = best_per_family(study)
    assert len(best) >= 2
    members = top_families(best, 2)
    assert all(best[m].value <= min(best[f].value for f in best if f not in members) for m in members)
    board = evaluate_best(config, study, frame, plots=False).leaderboard
    row = board[board["model"] == f"ensemble_stacked (top 2: {'+'.join(members)})"]
    assert len(row) == 1 and row["status"].iloc[0] == "scored" and np.isfinite(row["mae"].iloc[0])
    assert row["n"].iloc[0] == board[board["model"] == "naive"]["n"].iloc[0]  # the same test forecasts


@pytest.mark.slow
def test_stacked_weights_never_see_the_test_part(swept):
    """Poisoning every test-part target changes neither the members (chosen by validation) nor the weights."""
    config, frame, study = swept
    best = best_per_family(study)
    trials = [best[f] for f in top_families(best, 2)]
    spec = WindowSpec(**SPEC)

    def weights(data):
        split = FrameSplit.by_fraction(data, spec, config.val_size, config.test_size)
        objective = Objective(split, config.families, lookbacks=config.lookbacks, seed=0, max_epochs=1)
        return validation_weights(split, objective, trials, seed=0, max_epochs=1), split

    clean, split = weights(frame)
    poisoned = frame.copy()
    poisoned.loc[split.part == 2, "temp_max"] = 1e6
    dirty, _ = weights(poisoned)
    assert (clean >= 0).all() and clean.sum() > 0
    np.testing.assert_array_equal(clean, dirty)


def test_ensemble_keys_are_checked_in_one_line():
    with pytest.raises(InputError, match="'ensemble_top_k' must be 0 .* or a whole number >= 2"):
        SweepConfig(data="x", spec=WindowSpec(**SPEC), ensemble_top_k=1)
    with pytest.raises(InputError, match="'ensemble' must be one of mean, median, stacked"):
        SweepConfig(data="x", spec=WindowSpec(**SPEC), ensemble="vote")
