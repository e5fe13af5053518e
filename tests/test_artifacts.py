"""Model artifacts: safetensors weights + JSON metadata round-trip exactly, never unpickle, load on the CPU
whatever trained them, and fail clearly when damaged, from another format version, or fed other columns."""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch

import forecast
from forecast.artifacts import FORMAT_VERSION, METADATA, WEIGHTS
from forecast.config import WindowSpec
from forecast.errors import InputError
from forecast.models.estimators import RNNForecaster
from forecast.models.loading import load_model

SPEC = WindowSpec(target="temp_max", lookback=7, horizon=2, features=("precipitation",),
                  categorical=("weather",), calendar=("dayofyear",))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return forecast.datasets.load("seattle-weather").iloc[-200:]


@pytest.fixture(scope="module")
def fitted(frame) -> RNNForecaster:
    model = RNNForecaster(cell="gru", hidden_size=8, max_epochs=2, batch_size=32, task="quantile",
                          quantiles=(0.1, 0.5, 0.9), head="direct", progress_bar=False, seed=0)
    return model.fit(frame, SPEC)


@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "model"
    fitted.save(path)
    return path


def _edit_metadata(path, **changes) -> None:
    meta = json.loads((path / METADATA).read_text())
    for key, value in changes.items():
        target = meta
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    (path / METADATA).write_text(json.dumps(meta))


def test_save_load_gives_identical_predictions(fitted, saved, frame):
    loaded = load_model(saved)
    pd.testing.assert_frame_equal(loaded.predict(frame, origin="all"), fitted.predict(frame, origin="all"))
    assert loaded.get_params() == fitted.get_params()
    assert loaded.spec_ == fitted.spec_ and loaded.vocabularies_ == fitted.vocabularies_
    assert sorted(p.name for p in saved.iterdir()) == [METADATA, WEIGHTS]


def test_metadata_records_what_the_model_needs(saved):
    meta = json.loads((saved / METADATA).read_text())
    assert meta["format_version"] == FORMAT_VERSION and meta["class"] == "RNNForecaster"
    assert meta["columns"] == ["temp_max", "precipitation", "weather"]
    assert meta["dtypes"]["temp_max"] == "float64"
    assert {"forecast", "torch", "lightning", "numpy", "pandas", "scikit-learn", "python"} <= set(meta["versions"])
    assert "rain" in meta["vocabularies"]["weather"]


def test_loading_never_unpickles(saved, monkeypatch, frame):
    def refuse(*args, **kwargs):
        raise AssertionError("load_model must not unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert len(load_model(saved).predict(frame)) == 2


def test_gpu_trained_model_loads_and_predicts_on_cpu(fitted, saved, frame, monkeypatch):
    # What a GPU run writes: the trainer settings name the GPU, and the weights may come in another dtype
    # (bf16). Loading must read them onto the CPU and predict in float32 without touching a GPU.
    _edit_metadata(saved, **{"params.accelerator": "gpu", "params.precision": "bf16-mixed"})
    tensors = safetensors.torch.load_file(saved / WEIGHTS)
    safetensors.torch.save_file({k: v.to(torch.bfloat16) for k, v in tensors.items()}, saved / WEIGHTS)
    _edit_metadata(saved, weights_sha256=hashlib.sha256((saved / WEIGHTS).read_bytes()).hexdigest())
    devices = []
    real_load = safetensors.torch.load_file

    def spy(path, device="cpu"):
        devices.append(device)
        return real_load(path, device=device)

    monkeypatch.setattr(safetensors.torch, "load_file", spy)
    loaded = load_model(saved)
    assert devices == ["cpu"]
    assert loaded.accelerator == "gpu"  # kept for refitting; prediction runs on the CPU regardless
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in loaded.network_.parameters())
    np.testing.assert_allclose(loaded.predict(frame)["forecast"], fitted.predict(frame)["forecast"],
                               rtol=0.05, atol=0.3)  # bf16 keeps about 3 significant digits


def test_incompatible_format_version_is_a_clear_error(saved):
    _edit_metadata(saved, format_version=FORMAT_VERSION + 1)
    with pytest.raises(InputError, match=rf"model format version {FORMAT_VERSION + 1} is not supported.*"
                                         rf"expects {FORMAT_VERSION}.*retrain"):
        load_model(saved)


@pytest.mark.parametrize("name", [WEIGHTS, METADATA])
def test_missing_file_is_a_clear_error(saved, name):
    (saved / name).unlink()
    with pytest.raises(InputError, match=rf"not a complete model folder \({name} is missing\)"):
        load_model(saved)


def test_damaged_metadata_and_unknown_class(saved):
    _edit_metadata(saved, **{"class": "os.system"})
    with pytest.raises(InputError, match="unknown model class 'os.system'"):
        load_model(saved)
    (saved / METADATA).write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_model(saved)


def test_weights_that_do_not_match_the_description(saved):
    _edit_metadata(saved, **{"network.hidden_size": 16})
    with pytest.raises(InputError, match="weights do not match the network described in model.json"):
        load_model(saved)


def test_loaded_model_lists_column_differences(saved, frame):
    loaded = load_model(saved)
    with pytest.raises(InputError, match=r"missing column\(s\) \['precipitation', 'weather'\].*trained on"):
        loaded.predict(frame.drop(columns=["precipitation", "weather"]))


def test_saving_over_an_existing_model_replaces_it(fitted, saved, frame):
    other = RNNForecaster(**{**fitted.get_params(), "seed": 1}).fit(frame, SPEC)
    other.save(saved)
    pd.testing.assert_frame_equal(load_model(saved).predict(frame), other.predict(frame))
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]  # no temporary folder left behind


def test_model_folder_saved_before_the_redesign_still_loads_and_predicts_the_same():
    """tests/data/legacy_rnn_v1 was saved by the code before issue 15 split out training and preparation."""
    from pathlib import Path

    import pandas as pd

    from forecast.models.loading import load_model

    folder = Path(__file__).parent / "data" / "legacy_rnn_v1"
    frame = pd.read_csv(folder / "frame.csv", index_col="timestamp", parse_dates=True)
    expected = pd.read_csv(folder / "forecasts.csv")
    model = load_model(folder / "model")
    got = model.predict(frame, origin="all")
    got = got.assign(origin=got["origin"].astype(str), timestamp=got["timestamp"].astype(str))
    expected = expected.assign(id=expected["id"].astype(str))
    pd.testing.assert_frame_equal(got.reset_index(drop=True).astype({"id": str}), expected, check_dtype=False,
                                  rtol=1e-6)
