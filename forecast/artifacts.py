"""Model artifacts: a folder with `weights.safetensors` and `model.json`. Loading never unpickles.

A *model folder* is a folder holding `model.json` (a JSON object with `format_version` and `class`) and
nothing but our two files. Saving replaces only such a folder (or an empty one), writing the new folder
beside it and swapping it in, so a crash leaves the old or the new model whole; any other existing path,
the current folder and its parents are refused before any work. model.json records the weights' SHA-256.

Each saveable model class provides `_artifact_state() -> (metadata dict, tensors dict)` and a classmethod
`_from_artifact(metadata, tensors)`; `read_model` dispatches on the class name stored in the JSON, and only
to the classes it is given (`forecast.models.loading.load_model` gives the registry's saveable ones), so
this module never imports the models above it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from forecast.errors import InputError
from forecast.io import (
    check_name_length,
    check_output_parent,
    remove_stale_temps,
    replace_dir,
    temp_prefix,
    umask,
    writing,
)

FORMAT_VERSION = 1
WEIGHTS, METADATA = "weights.safetensors", "model.json"

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


def is_model_folder(path: str | os.PathLike[str]) -> bool:
    """True when `path` is a folder of ours: model.json (a JSON object naming format_version and class)
    and no file other than model.json and weights.safetensors. Only such folders are ever replaced."""
    folder = Path(path)
    if not folder.is_dir() or folder.is_symlink():
        return False
    if any(entry.name not in (METADATA, WEIGHTS) or not entry.is_file() for entry in folder.iterdir()):
        return False
    try:
        metadata = json.loads((folder / METADATA).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(metadata, dict) and {"format_version", "class"} <= metadata.keys()


def check_model_dir(path: str | os.PathLike[str]) -> Path:
    """Fail before any work unless `path` may receive a model: a new folder, an empty folder or a model
    folder (see `is_model_folder`), never the current folder or one above it, in a writable place."""
    target, shown = Path(path), str(path)
    check_name_length(target, shown)
    here = Path.cwd().resolve()
    resolved = target.resolve()
    if resolved == here or resolved in here.parents:
        raise InputError(f"{shown}: is the current folder or one above it; give a new folder name, "
                         "e.g. --out models/my-model")
    if target.is_symlink():
        raise InputError(f"{shown}: is a symbolic link; give the folder itself or a new folder name")
    if target.exists():
        if not target.is_dir():
            raise InputError(f"{shown}: exists and is a file, not a model folder; choose a new --out folder")
        entries = sorted(entry.name for entry in target.iterdir())
        if entries and not is_model_folder(target):
            listed = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise InputError(f"{shown}: exists and is not a model folder (it holds {listed}); forecast only "
                             f"replaces a folder holding just {METADATA} and {WEIGHTS}: choose a new --out folder")
    check_output_parent(target, shown)
    return target


def save_model(model, path: str | os.PathLike[str]) -> Path:
    """Write `model` to folder `path`: a temporary folder beside it, swapped in whole (see module doc).

    Folder 0777 and files 0666 minus the umask (0755/0644 under the usual 022), like any other output.
    """
    from safetensors.torch import save_file

    target = check_model_dir(path)
    metadata, tensors = model._artifact_state()
    metadata = {"format_version": FORMAT_VERSION, "class": type(model).__name__,
                "versions": library_versions(), **metadata}
    with writing(path):
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target, keep_dir=lambda folder: not _only_ours(folder))
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=".tmp", dir=target.parent))
    try:
        with writing(path):
            save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp / WEIGHTS)
            metadata["weights_sha256"] = _sha256(tmp / WEIGHTS)
            (tmp / METADATA).write_text(json.dumps(metadata, indent=2, default=json_default))
            mask = umask()
            for name in (WEIGHTS, METADATA):
                os.chmod(tmp / name, 0o666 & ~mask)
            os.chmod(tmp, 0o777 & ~mask)
            replace_dir(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _only_ours(folder: Path) -> bool:
    """A leftover temporary folder may be deleted only when it holds nothing but our two files."""
    return all(entry.name in (METADATA, WEIGHTS) and entry.is_file() for entry in folder.iterdir())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_model(path: str | os.PathLike[str], loadable: Mapping[str, type]):
    """Load a model saved by `save_model`, built by its class in `loadable` ({name in model.json: class});
    weights on the CPU whatever device trained them.

    Refuses, as a damaged folder, weights whose SHA-256 differs from the one in model.json (models saved
    before the hash was recorded load unchecked) and descriptions that contradict themselves.
    """
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
    if not isinstance(metadata, dict):
        raise InputError(f"{meta_file}: not a JSON object; the model folder is damaged")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise InputError(
            f"{folder}: model format version {version!r} is not supported by this forecast "
            f"(expects {FORMAT_VERSION}); retrain or use the matching forecast release"
        )
    name = metadata.get("class")
    if name not in loadable:
        raise InputError(f"{meta_file}: unknown model class {name!r}; known: {sorted(loadable)}")
    recorded = metadata.get("weights_sha256")
    if recorded is not None and recorded != _sha256(weights_file):
        raise InputError(f"{folder}: {WEIGHTS} does not match the SHA-256 recorded in {METADATA}; the model "
                         "folder is damaged: save or retrain the model")
    cls = loadable[name]
    tensors = load_file(weights_file, device="cpu")
    try:
        return cls._from_artifact(metadata, tensors)
    except InputError as exc:
        raise InputError(f"{folder}: {exc}") from None


def json_default(value):
    """numpy scalars and arrays as JSON values (json.dumps' default=)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in model.json")
