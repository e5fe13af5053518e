"""Load a saved model folder: the registry says which classes may be built from it (never a pickle)."""

from __future__ import annotations

import os

from forecast.artifacts import read_model
from forecast.models.registry import loadable_classes


def load_model(path: str | os.PathLike[str]):
    """Load a model saved by `model.save(path)`, as the class of one of the registry's saveable entries;
    weights on the CPU whatever device trained them. A damaged or foreign folder is an InputError."""
    return read_model(path, loadable_classes())
