"""Model artifacts: a folder with `weights.safetensors` and `model.json`. Loading never unpickles.

Each saveable model class provides `_artifact_state() -> (metadata dict, tensors dict)` and a classmethod
`_from_artifact(metadata, tensors)`; `load_model` dispatches on the class name stored in the JSON.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np

from forecast.errors import InputError

FORMAT_VERSION = 1
WEIGHTS, METADATA = "weights.safetensors", "model.json"

# Class name in model.json -> "module:attribute". Only these classes can be loaded.
LOADABLE = {
    "RNNForecaster": "forecast.models.estimators:RNNForecaster",
    "Naive": "forecast.models.naive:Naive",
    "SeasonalNaive": "forecast.models.naive:SeasonalNaive",
    "Drift": "forecast.models.naive:Drift",
    "MovingAverage": "forecast.models.naive:MovingAverage",
    "HistoricalMean": "forecast.models.naive:HistoricalMean",
    "LagRegressor": "forecast.models.lagged:LagRegressor",  # linear estimators only (coefficients)
    "StatePipelineForecaster": "forecast.models.state_features:StatePipelineForecaster",
}


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a model's numbers (recorded in every artifact)."""
    import lightning
    import pandas
    import sklearn
    import torch

    import forecast

    return {"forecast": forecast.__version__, "torch": torch.__version__, "lightning": lightning.__version__,
            "numpy": np.__version__, "pandas": pandas.__version__, "scikit-learn": sklearn.__version__,
            "python": platform.python_version()}


def save_model(model, path: str | os.PathLike[str]) -> Path:
    """Write `model` to folder `path` atomically (a temporary folder renamed into place)."""
    from safetensors.torch import save_file

    target = Path(path)
    metadata, tensors = model._artifact_state()
    metadata = {"format_version": FORMAT_VERSION, "class": type(model).__name__,
                "versions": library_versions(), **metadata}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp / WEIGHTS)
        (tmp / METADATA).write_text(json.dumps(metadata, indent=2, default=_json_default))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_model(path: str | os.PathLike[str]):
    """Load a model saved by `save`; weights on the CPU whatever device trained them."""
    from safetensors.torch import load_file

    folder = Path(path)
    meta_file, weights_file = folder / METADATA, folder / WEIGHTS
    for needed in (meta_file, weights_file):
        if not needed.is_file():
            raise InputError(f"{folder}: not a complete model folder ({needed.name} is missing); save it again")
    try:
        metadata = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{meta_file}: not valid JSON ({exc}); the model folder is damaged") from None
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise InputError(
            f"{folder}: model format version {version!r} is not supported by this forecast "
            f"(expects {FORMAT_VERSION}); retrain or use the matching forecast release"
        )
    name = metadata.get("class")
    if name not in LOADABLE:
        raise InputError(f"{meta_file}: unknown model class {name!r}; known: {sorted(LOADABLE)}")
    module_name, attr = LOADABLE[name].split(":")
    cls = getattr(importlib.import_module(module_name), attr)
    tensors = load_file(weights_file, device="cpu")
    return cls._from_artifact(metadata, tensors)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in model.json")
