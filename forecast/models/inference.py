"""Inference of a trained RecurrentNetwork: which origins it can forecast, its forecasts in bounded batches
(CPU, no gradients), and rebuilding it from saved weights."""

from __future__ import annotations

import numpy as np
import torch

from forecast.data.windows import Windows
from forecast.errors import InputError
from forecast.models.networks import NetworkConfig, RecurrentNetwork
from forecast.models.window_inputs import window_batches, with_known_future  # noqa: F401  (re-exported)


@torch.no_grad()
def forecast_windows(network: RecurrentNetwork, windows: Windows, series_map: np.ndarray, *, classify: bool,
                     batch_size: int = 4096) -> np.ndarray:
    """[N, H, T, Q] scaled forecasts, or [N, 1, 1, 1] P(class 1) when `classify`, as float64.

    series_map: [S] index of each panel series among the training series (-1: unseen), for the embedding.
    """
    net = network.eval()
    outs = []
    for arrays in window_batches(windows, series_map, batch_size):
        batch = {k: torch.from_numpy(v) for k, v in arrays.items()}
        y = net.forecast(batch["x"], series=batch["series"], codes=batch.get("codes"),
                         future=batch.get("future"), lengths=batch.get("lengths"))
        if classify:
            y = torch.softmax(y, dim=-1)[:, 1].reshape(-1, 1, 1, 1)  # [B, 2] -> [B, 1, 1, 1] P(up/event)
        outs.append(y.float().numpy())
    if not outs:
        return np.zeros((0, net.config.horizon, net.config.n_targets, net.config.n_outputs))
    return np.concatenate(outs).astype(np.float64)


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
