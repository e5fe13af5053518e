"""Save a small RNNForecaster with the pre-issue-15 code, plus its predictions, as a loading fixture.

Run from a checkout of that code: python tests/data/legacy_rnn_v1/make.py OUT_DIR
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for _frames
from _frames import coded_frame

from forecast.config import WindowSpec
from forecast.models.estimators import RNNForecaster

out = sys.argv[1]
frame = coded_frame([40, 35])
frame["y"] = np.sin(np.arange(len(frame)) / 3.0) + 2.0 + 0.1 * np.arange(len(frame)) % 1.0
spec = WindowSpec(target="y", lookback=6, horizon=2, features=("f",), categorical=("cat",), id_col="id")
model = RNNForecaster(cell="gru", hidden_size=4, max_epochs=2, per_series_scaling=True, target_transform="log",
                      task="quantile", quantiles=(0.1, 0.5, 0.9), progress_bar=False, seed=3, series_embedding_dim=2)
model.fit(frame, spec)
model.save(out + "/model")
frame.to_csv(out + "/frame.csv", index_label="timestamp")
model.predict(frame, origin="all").to_csv(out + "/forecasts.csv", index=False)
