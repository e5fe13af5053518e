"""ONNX export (`RNNForecaster.to_onnx`, `forecast export`) and prediction through ONNX Runtime without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import forecast as fc
from forecast.cli import main
from forecast.errors import InputError
from forecast.models.networks import RecurrentNetwork
from forecast.models.onnx_runtime import load_onnx

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

TINY = {"hidden_size": 8, "num_layers": 2, "max_epochs": 1, "batch_size": 64, "progress_bar": False, "seed": 0}
SPEC = fc.WindowSpec(target="temp_max", features=["precipitation", "wind"], lookback=12, horizon=3)


def _recent(frame: pd.DataFrame, rows: int = 400) -> pd.DataFrame:
    return frame.iloc[-rows:]


def _max_diff(a: pd.DataFrame, b: pd.DataFrame) -> float:
    assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0
    numeric = a.select_dtypes("number").columns
    assert (a.drop(columns=numeric) == b.drop(columns=numeric)).all().all()  # ids, origins, timestamps
    return float(np.abs(a[numeric].to_numpy() - b[numeric].to_numpy()).max())


def _with_network(model, **changes):
    """`model` with a fresh network of another shape (options the estimator does not expose yet):
    export parity is about the graph, so untrained weights serve."""
    torch.manual_seed(1)
    config = replace(model.network_config_, **changes)
    model.network_, model.network_config_ = RecurrentNetwork(config).eval(), config
    return model


def _parity(model, frame, tmp_path, spec=SPEC) -> float:
    path = model.to_onnx(tmp_path / "model.onnx")
    return _max_diff(model.predict(frame, origin="all"), load_onnx(path).predict(frame, origin="all"))


@pytest.mark.slow
@pytest.mark.parametrize("head", ["direct", "transducer"])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_onnx_runtime_forecasts_equal_torch_forecasts(seattle, tmp_path, cell, head):
    frame = _recent(seattle)
    model = fc.RNNForecaster(cell=cell, head=head, **TINY).fit(frame, SPEC)
    assert _parity(model, frame, tmp_path) < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("options", [
    {"head": "segments", "segment": 3},  # SegRNN: segment recurrence + parallel segment decoding
    {"head": "segments", "channel_independent": True, "channel_embedding_dim": 2, "normalize": "revin"},
    {"head": "direct", "segment": 2, "normalize": "last", "skip": "linear"},
    {"head": "segments", "segment": 3, "normalize": "revin", "skip": "ridge"},  # the frozen ridge highway
])
def test_onnx_exports_the_segment_and_normalization_options(seattle, tmp_path, cell, options):
    frame = _recent(seattle)
    spec = replace(SPEC, target=("temp_max", "temp_min"), features=("precipitation",))
    model = fc.RNNForecaster(cell=cell, head="direct", **TINY).fit(frame, spec)
    assert _parity(_with_network(model, **options), frame, tmp_path) < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("settings", [
    {"cell": "lstm", "task": "quantile", "quantiles": (0.1, 0.5, 0.9)},
    {"cell": "gru", "task": "direction"},  # the classify head: P(up)
])
def test_onnx_exports_quantile_and_classify_heads(seattle, tmp_path, settings):
    frame = _recent(seattle)
    spec = replace(SPEC, horizon=1) if settings["task"] == "direction" else SPEC
    model = fc.RNNForecaster(head="direct", **TINY, **settings).fit(frame, spec)
    assert _parity(model, frame, tmp_path) < 1e-5


@pytest.mark.slow
def test_onnx_panel_with_embeddings_and_known_future(tmp_path):
    frame = fc.datasets.load("stocks").groupby("ticker").tail(200)
    frame = frame.assign(dow=frame.index.dayofweek.astype(float), month=frame.index.month_name())
    spec = fc.WindowSpec(target="close", features=["volume"], known_future=["dow"], categorical=["month"],
                         id_col="ticker", lookback=10, horizon=2)
    model = fc.RNNForecaster(cell="gru", head="direct", series_embedding_dim=3, scaler="standard",
                             per_series_scaling=True, **TINY).fit(frame, spec)
    path = model.to_onnx(tmp_path / "panel.onnx")
    session = load_onnx(path).session_
    assert {i.name for i in session.get_inputs()} == {"x", "series", "codes", "future"}
    assert {i.name for i in session.get_overridable_initializers()} == {"h0"}  # optional: zeros by default
    torch_out = model.predict(frame, origin="all")
    # Prices near $600 (forecast from the origin's value, normalize="last"): one float32 step there is 6e-5,
    # so parity is asked relative to the level (float32's epsilon is 1.2e-7); Seattle's tests keep 1e-5.
    relative = _max_diff(torch_out, load_onnx(path).predict(frame, origin="all")) / torch_out["forecast"].abs().max()
    assert relative < 1e-7


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny GRU transducer fit on recent Seattle weather, its model folder and its model.onnx."""
    folder = tmp_path_factory.mktemp("onnx")
    frame = _recent(fc.datasets.load("seattle-weather"))
    model = fc.RNNForecaster(cell="gru", head="transducer", **TINY).fit(frame, SPEC)
    model.save(folder / "model")
    return model, folder / "model", model.to_onnx(folder / "model.onnx"), frame


def test_state_is_optional_and_streams_across_chunks(exported):
    """Leaving h0 out equals zeros; feeding a chunk's state into the next continues the recurrence."""
    model, _, path, frame = exported
    onnx_model = load_onnx(path)
    windows = model.preparation_.prediction_windows(frame, origin="last").windows
    x = windows.batch(np.arange(len(windows)))["x"]  # [1, 12, F] scaled
    full, (h_full,) = onnx_model.run_network({"x": x})
    zeros = np.zeros((2, 1, 8), np.float32)
    np.testing.assert_allclose(onnx_model.run_network({"x": x}, (zeros,))[0], full, atol=1e-6)
    _, state = onnx_model.run_network({"x": x[:, :7]})
    streamed, (h_streamed,) = onnx_model.run_network({"x": x[:, 7:]}, state)
    np.testing.assert_allclose(streamed, full, atol=1e-5)
    np.testing.assert_allclose(h_streamed, h_full, atol=1e-5)
    with torch.no_grad():
        torch_forecast = model.network_.forecast(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(full, torch_forecast, atol=1e-5)


def test_metadata_is_embedded(exported):
    import onnx

    model, _, path, _ = exported
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    meta = json.loads(props["forecast.model"])
    assert meta["spec"] == model.spec_.to_dict()
    assert meta["scaler"] == model.scaler_.to_dict()
    assert meta["columns"] == list(model.feature_names_in_)
    assert meta["params"]["cell"] == "gru" and meta["network"]["head"] == "transducer"


def test_cli_predict_with_onnx_never_imports_torch(exported, tmp_path):
    """`forecast predict --model model.onnx` in a fresh interpreter: same columns and values as the model
    folder, and neither torch nor Lightning (nor scikit-learn, the next slowest import) in sys.modules."""
    model, folder, path, frame = exported
    data = tmp_path / "data.csv"
    frame.to_csv(data, index_label="date")
    script = ("import json, sys\nfrom forecast.cli import main\n"
              f"rc = main(['predict', '--model', {str(path)!r}, {str(data)!r}, '--origin', 'all', "
              f"'--out', {str(tmp_path / 'onnx.csv')!r}])\n"
              "print(json.dumps({'rc': rc, 'loaded': sorted({m.split('.')[0] for m in sys.modules} & "
              "{'torch', 'lightning', 'pytorch_lightning', 'sklearn'})}))")
    env = {"PYTHONPATH": str(Path(fc.__file__).parents[1]), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"rc": 0, "loaded": []}
    assert main(["predict", "--model", str(folder), str(data), "--origin", "all",
                 "--out", str(tmp_path / "torch.csv")]) == 0
    assert _max_diff(pd.read_csv(tmp_path / "onnx.csv"), pd.read_csv(tmp_path / "torch.csv")) < 1e-5


def test_cli_export_writes_and_replaces_only_its_own_file(exported, tmp_path, capsys):
    _, folder, _, _ = exported
    out = tmp_path / "m.onnx"
    assert main(["export", "--model", str(folder), "--format", "onnx", "--out", str(out)]) == 0
    assert main(["export", "--model", str(folder), "--out", str(out)]) == 0  # ours: replaced
    assert load_onnx(out).spec_ == SPEC
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(b"not ours")
    capsys.readouterr()
    assert main(["export", "--model", str(folder), "--out", str(foreign)]) == 2
    assert "was not written by forecast export" in capsys.readouterr().err
    assert foreign.read_bytes() == b"not ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.onnx", "m.onnx"]  # no temporaries left


def test_export_refuses_models_it_cannot_export(exported, tmp_path):
    model, _, _, frame = exported
    naive = fc.registry.build("naive").fit(frame, SPEC)
    with pytest.raises(InputError, match="recurrent forecasters"):
        from forecast.models.onnx_export import export_onnx

        export_onnx(naive, tmp_path / "naive.onnx")
    with pytest.raises(InputError, match=r"\.onnx"):
        model.to_onnx(tmp_path / "model.bin")


@pytest.mark.parametrize(("command", "extra"), [("predict", "onnxruntime"), ("export", "onnx")])
def test_missing_extra_is_one_line_naming_it(exported, tmp_path, monkeypatch, capsys, command, extra):
    _, folder, path, _ = exported
    monkeypatch.setitem(sys.modules, extra, None)  # import fails as if the package were not installed
    argv = (["predict", "--model", str(path), "seattle-weather", "--out", str(tmp_path / "f.csv")]
            if command == "predict" else ["export", "--model", str(folder), "--out", str(tmp_path / "m.onnx")])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'forecast[onnx]'" in err[0] and repr(extra) in err[0]
