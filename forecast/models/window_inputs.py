"""What a recurrent forecaster does around its network at prediction time, without torch: the windows'
numpy inputs in bounded batches, the known-future check, and scaled outputs -> the forecasts frame.

Shared by the torch path (`RNNForecaster.predict`) and the ONNX Runtime path (`OnnxForecaster.predict`), so
both give the same columns from the same windows; importing this module never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from forecast.config import WindowSpec
from forecast.data.prepare import PredictionData
from forecast.data.windows import Windows
from forecast.errors import InputError
from forecast.models.frames import forecasts_frame
from forecast.models.tasks import CLASSIFY_TASKS

RunNetwork = Callable[[Windows, np.ndarray], np.ndarray]
"""(windows, series map) -> [N, H, T, Q] scaled forecasts (or [N, 1, 1, 1] P(class 1)), float64."""


def window_batches(windows: Windows, series_map: np.ndarray, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """The network inputs of `windows` in batches of at most `batch_size`: x [B, L, F], series [B] (index
    among the training series, -1 unseen), and codes / future / lengths where the windows have them."""
    for start in range(0, len(windows), batch_size):
        batch = {k: v for k, v in windows.batch(np.arange(start, min(start + batch_size, len(windows)))).items()
                 if k != "y"}
        batch["series"] = series_map[batch["series"]]
        yield batch


def with_known_future(data: PredictionData, spec: WindowSpec, origin) -> PredictionData:
    """Leave out (origin='all') or refuse origins whose known-future values for the next H rows are missing."""
    windows = data.windows
    if not spec.known_future or not len(windows):
        return data
    known = windows.future(slice(None))[:, :, : len(spec.known_future)]  # [N, H, K_known]
    complete = np.isfinite(known).all(axis=(1, 2))
    if origin == "all":
        return data._replace(windows=windows.subset(complete))
    if not complete.all():
        first = windows.origins[~complete][0]
        raise InputError(
            f"prediction frame: known-future column(s) {list(spec.known_future)} have no values for the "
            f"{spec.horizon} row(s) after origin {data.panel.timestamps(np.array([first]))[0]}; pass them "
            "with predict(frame, future=...), a time-indexed frame holding those columns (CLI: --future FILE)"
        )
    return data


def run_windows(model, frame: pd.DataFrame, run: RunNetwork, *, origin: str | pd.Timestamp = "last",
                future: pd.DataFrame | None = None) -> tuple[PredictionData, np.ndarray]:
    """The prediction windows of `frame` for a fitted recurrent forecaster and its network's raw outputs
    [N, H, T, Q] on them (scaled, before any mapping back to the data's units)."""
    model.check_columns(frame)
    prep = model.preparation_
    data = with_known_future(prep.prediction_windows(frame, origin=origin, future=future), model.spec_, origin)
    return data, run(data.windows, prep.training_series(data.panel))


def predict_frame(model, frame: pd.DataFrame, run: RunNetwork, *, task: str, quantiles: tuple[float, ...],
                  origin: str | pd.Timestamp = "last", future: pd.DataFrame | None = None) -> pd.DataFrame:
    """The forecasts frame of a fitted recurrent forecaster (`preparation_`, `spec_`, `check_columns`) whose
    network is `run`: prepare the windows, run them, sort quantiles, back to the data's units."""
    data, values = run_windows(model, frame, run, origin=origin, future=future)
    prep = model.preparation_
    if task == "quantile":
        # Separate outputs may cross; sorting them (monotone rearrangement) never raises the pinball loss.
        values = np.sort(values, axis=-1)
    if task not in CLASSIFY_TASKS:
        values = prep.to_original(values, data)
    quantiles = quantiles if task == "quantile" else ()
    result = forecasts_frame(
        data.panel, model.spec_, data.windows.origins, values, quantiles=quantiles,
        # the point forecast is the quantile nearest the median (0.5 when it is asked for)
        point_index=int(np.argmin(np.abs(np.asarray(quantiles) - 0.5))) if quantiles else None,
    )
    result.attrs["skipped"] = data.skipped
    return result
