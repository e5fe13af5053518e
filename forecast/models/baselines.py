"""Everything an RNN is compared with, in one import: the naive family, lag-feature models and
recurrent-state pipelines (registered by name in `forecast.models.registry`), and the wrapper that
fits any of them on a transformed target (log, differences, returns).

    from forecast.models.baselines import Naive, SeasonalNaive, LagRegressor
    Naive().fit(train, spec).predict(history, origin="all")
"""

from __future__ import annotations

from forecast.models.lagged import LagRegressor, lag_features
from forecast.models.naive import Drift, HistoricalMean, MovingAverage, Naive, SeasonalNaive, infer_season
from forecast.models.state_features import RNNStateFeatures, StatePipelineForecaster
from forecast.models.transformed import TransformedTargetForecaster

__all__ = [
    "Drift",
    "HistoricalMean",
    "LagRegressor",
    "MovingAverage",
    "Naive",
    "RNNStateFeatures",
    "SeasonalNaive",
    "StatePipelineForecaster",
    "TransformedTargetForecaster",
    "infer_season",
    "lag_features",
]
