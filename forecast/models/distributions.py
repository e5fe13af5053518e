"""Distributional heads: a network's raw outputs read as the parameters of a Gaussian or Student-t.

The network itself is unchanged: a head with `n_outputs = n_parameters(kind)` values per (step, target)
gives raw (loc, scale, [df]); this module turns them into a `torch.distributions` object for the negative
log-likelihood (training, as NeuralForecast's DistributionLoss and GluonTS DeepAR do) and into quantiles
and samples with NumPy/SciPy (prediction). Every number here is on the network's scale (the scaled,
transformed target); `Preparation.to_original` maps quantiles and samples back value by value, which is
exact because the scaler and the target transforms are increasing functions of one value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported by the training functions only: the CLI and ONNX predict read
    import torch  # DISTRIBUTIONS and the NumPy functions without it

DISTRIBUTIONS = ("normal", "studentt")
_N_PARAMETERS = {"normal": 2, "studentt": 3}
MIN_SCALE = 1e-4
"""Added to softplus(raw scale): a scale of exactly 0 has no likelihood (on the scaled target, 1e-4 of a
training standard deviation)."""
MIN_DF = 2.0
"""df = 2 + softplus(raw df): above 2 the Student-t has a finite variance (as in GluonTS' StudentTOutput)."""


def n_parameters(kind: str) -> int:
    """Raw outputs per (step, target) that a head of distribution `kind` needs."""
    if kind not in _N_PARAMETERS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {kind!r}")
    return _N_PARAMETERS[kind]


def torch_parameters(raw: torch.Tensor, kind: str) -> dict[str, torch.Tensor]:
    """Raw head outputs [..., P] -> {loc, scale[, df]} tensors [...], scale > 0 and df > 2."""
    from torch.nn import functional as F

    params = {"loc": raw[..., 0], "scale": F.softplus(raw[..., 1]) + MIN_SCALE}
    if kind == "studentt":
        params["df"] = F.softplus(raw[..., 2]) + MIN_DF
    return params


def distribution(raw: torch.Tensor, kind: str) -> torch.distributions.Distribution:
    """The torch distribution whose parameters the raw head outputs [..., P] give."""
    import torch

    p = torch_parameters(raw, kind)
    if kind == "studentt":
        return torch.distributions.StudentT(p["df"], p["loc"], p["scale"], validate_args=False)
    return torch.distributions.Normal(p["loc"], p["scale"], validate_args=False)


def nll_loss(raw: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean negative log-likelihood of `target` [...] under the distributions of `raw` [..., P]."""
    return -distribution(raw, kind).log_prob(target).mean()


def parameters(raw: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """NumPy version of `torch_parameters`: raw [..., P] -> {loc, scale[, df]} arrays [...] (float64)."""
    raw = np.asarray(raw, dtype=np.float64)
    params = {"loc": raw[..., 0], "scale": np.logaddexp(0.0, raw[..., 1]) + MIN_SCALE}  # softplus
    if kind == "studentt":
        params["df"] = np.logaddexp(0.0, raw[..., 2]) + MIN_DF
    return params


def _frozen(raw: np.ndarray, kind: str):
    from scipy import stats  # imported here: the CLI reads DISTRIBUTIONS without SciPy's start-up

    p = parameters(raw, kind)
    if kind == "studentt":
        return stats.t(p["df"][..., None], loc=p["loc"][..., None], scale=p["scale"][..., None])
    return stats.norm(loc=p["loc"][..., None], scale=p["scale"][..., None])


def quantiles(raw: np.ndarray, levels: Sequence[float], kind: str) -> np.ndarray:
    """[..., Q] quantiles at `levels` (increasing in (0, 1)) of the distributions of raw [..., P]: monotone
    in the level by construction."""
    return _frozen(raw, kind).ppf(np.asarray(levels, dtype=np.float64))


def sample(raw: np.ndarray, n: int, kind: str, seed: int | None = None) -> np.ndarray:
    """[..., n] draws from the distributions of raw [..., P]; the same `seed` gives the same draws."""
    rng = np.random.default_rng(seed)
    p = parameters(raw, kind)
    shape = (*p["loc"].shape, n)
    noise = rng.standard_t(p["df"][..., None], size=shape) if kind == "studentt" else rng.standard_normal(shape)
    return p["loc"][..., None] + p["scale"][..., None] * noise
