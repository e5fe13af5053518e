"""Inference of a trained RecurrentNetwork: which origins it can forecast, its forecasts in bounded batches
(CPU, no gradients), and rebuilding it from saved weights."""

from __future__ import annotations

import numpy as np
import torch

from forecast.config import WindowSpec
from forecast.data.prepare import PredictionData
from forecast.data.windows import Windows
from forecast.errors import InputError
from forecast.models.networks import NetworkConfig, RecurrentNetwork


@torch.no_grad()
def forecast_windows(network: RecurrentNetwork, windows: Windows, series_map: np.ndarray, *, classify: bool,
                     batch_size: int = 4096) -> np.ndarray:
    """[N, H, T, Q] scaled forecasts, or [N, 1, 1, 1] P(class 1) when `classify`, as float64.

    series_map: [S] index of each panel series among the training series (-1: unseen), for the embedding.
    """
    net = network.eval()
    outs = []
    for start in range(0, len(windows), batch_size):
        idx = np.arange(start, min(start + batch_size, len(windows)))
        batch = {k: torch.from_numpy(v) for k, v in windows.batch(idx).items() if k != "y"}
        batch["series"] = torch.from_numpy(series_map[batch["series"].numpy()])
        y = net.forecast(batch["x"], series=batch["series"], codes=batch.get("codes"),
                         future=batch.get("future"), lengths=batch.get("lengths"))
        if classify:
            y = torch.softmax(y, dim=-1)[:, 1].reshape(-1, 1, 1, 1)  # [B, 2] -> [B, 1, 1, 1] P(up/event)
        outs.append(y.float().numpy())
    if not outs:
        return np.zeros((0, net.config.horizon, net.config.n_targets, net.config.n_outputs))
    return np.concatenate(outs).astype(np.float64)


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


def network_from_state(config: dict, tensors: dict[str, torch.Tensor]) -> RecurrentNetwork:
    """Rebuild a saved network from its config dict and weights, refusing weights of another shape."""
    config = {**config, "category_sizes": tuple(config["category_sizes"])}
    network = RecurrentNetwork(NetworkConfig(**config))
    expected = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    if expected != {k: tuple(v.shape) for k, v in tensors.items()}:
        raise InputError("model weights do not match the network described in model.json; the model "
                         "folder is damaged: save it again")
    network.load_state_dict(tensors)
    return network.eval()
