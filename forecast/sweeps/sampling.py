"""The study's sampler: TPE whose random stream is derived from (study seed, trial number).

One sampler seeded once per process made every worker propose the same parameters in lockstep (two workers:
trials 0/1, 2/3, ... identical) and made a resumed worker replay trial 0. Trial numbers are unique within a
study, handed out by the storage, so seeding each trial from (seed, number) gives every trial its own stream
on any number of workers and machines running the same command, needs no worker index, and stays
reproducible: one worker run twice proposes the same trials.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState


def trial_seed(seed: int, number: int | None) -> int:
    """A 32-bit seed for trial `number` of a study seeded `seed` (numpy SeedSequence: independent streams);
    number None: the stream used before any trial starts."""
    entropy = [seed] if number is None else [seed, number + 1]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


class TrialSeededSampler(BaseSampler):
    """Multivariate, grouped TPE (it suits the family branches), rebuilt for each trial with `trial_seed`."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._tpe = self._build(trial_seed(seed, None))  # only used before the first trial starts

    @staticmethod
    def _build(seed: int) -> TPESampler:
        with warnings.catch_warnings():  # multivariate/group TPE is "experimental"
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return TPESampler(seed=seed, multivariate=True, group=True)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._tpe = self._build(trial_seed(self.seed, trial.number))
        self._tpe.before_trial(study, trial)

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self._tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._tpe.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._tpe.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Nothing to do: each trial's stream comes from its number, not from this process."""
