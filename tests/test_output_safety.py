"""Output safety (issue 14, items 1-4): never lose a user's file, check --out before any work, replace a
model folder whole, usual permissions, and refuse damaged model folders on load."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch

import forecast.io
from forecast.artifacts import METADATA, WEIGHTS, check_model_dir, is_model_folder
from forecast.cli import main
from forecast.errors import InputError
from forecast.io import atomic_path, check_output_dir, check_output_file, write_table
from forecast.models.loading import load_model
from tests._cli_data import long_frame, run_cli, tiny_model

DATA_ROWS = "date,y,x\n" + "".join(f"2021-01-{d:02d},{10 + d % 7},{d % 3}\n" for d in range(1, 31))
FIT = ["--target", "y", "--features", "x", "--lookback", "3", "--epochs", "1", "--no-progress"]


@pytest.fixture(scope="module")
def models():
    """Two tiny fitted models with different weights (so a replaced folder is recognisable)."""
    frame = long_frame(n_series=1)
    return frame.set_index("date"), tiny_model(frame, id_col=None), tiny_model(frame, id_col=None, seed=1)


def _run(argv, capsys):
    code, _, err = run_cli(argv, capsys)
    return code, err


def _one_line(code, err, *needles):
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("forecast: error: "), err
    for needle in needles:
        assert needle in err[0], (needle, err[0])
    assert ".tmp" not in err[0]


def _tree(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- item 1: a folder that is not a model folder is refused, before any work ---------------------------
def test_fit_refuses_a_folder_holding_user_files_before_reading_data(tmp_path, capsys):
    thesis = tmp_path / "work" / "thesis.txt"
    thesis.parent.mkdir()
    thesis.write_text("three years of work")
    # DATA does not exist: the --out error must come first, so nothing was read or trained.
    code, err = _run(["fit", str(tmp_path / "missing.csv"), *FIT, "--out", str(thesis.parent)], capsys)
    _one_line(code, err, str(thesis.parent), "not a model folder", "thesis.txt", "--out")
    assert thesis.read_text() == "three years of work"
    assert sorted(p.name for p in thesis.parent.iterdir()) == ["thesis.txt"]


def test_fit_refuses_an_existing_file_as_out(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    code, err = _run(["fit", str(tmp_path / "missing.csv"), *FIT, "--out", str(target)], capsys)
    _one_line(code, err, str(target), "is a file")
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("out", [".", "..", "./", "sub/.."])
def test_out_dot_and_dotdot_never_delete_anything(out, tmp_path, monkeypatch, capsys, models):
    here = tmp_path / "project" / "cwd"
    (here / "sub").mkdir(parents=True)
    (here / "data.csv").write_text(DATA_ROWS)
    (here / "thesis.txt").write_text("x")
    (tmp_path / "project" / "sibling.txt").write_text("y")
    before = _tree(tmp_path)
    monkeypatch.chdir(here)
    code, err = _run(["fit", "data.csv", *FIT, "--out", out], capsys)
    _one_line(code, err, out)
    with pytest.raises(InputError, match="current folder or one above it|not a model folder"):
        models[1].save(out)
    assert _tree(tmp_path) == before


def test_save_refuses_a_foreign_folder_and_a_file(tmp_path, models):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("x")
    with pytest.raises(InputError, match=r"mine: exists and is not a model folder \(it holds thesis.txt\)"):
        models[1].save(folder)
    # our two file names plus a user's file: still not ours to delete
    models[1].save(tmp_path / "m")
    (tmp_path / "m" / "README.md").write_text("my notes")
    with pytest.raises(InputError, match="not a model folder"):
        models[2].save(tmp_path / "m")
    assert (tmp_path / "m" / "README.md").read_text() == "my notes"
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        models[1].save(tmp_path / "f")


def test_model_folder_definition(tmp_path, models):
    models[1].save(tmp_path / "m")
    assert is_model_folder(tmp_path / "m")
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / METADATA).write_text('{"hello": 1}')  # a model.json that is not ours
    assert not is_model_folder(tmp_path / "fake")
    with pytest.raises(InputError, match="not a model folder"):
        check_model_dir(tmp_path / "fake")
    (tmp_path / "empty").mkdir()
    assert check_model_dir(tmp_path / "empty") == tmp_path / "empty"  # an empty folder may receive a model
    models[1].save(tmp_path / "empty")
    assert is_model_folder(tmp_path / "empty")


def test_saving_over_a_model_folder_replaces_it_whole(tmp_path, models):
    frame, first, second = models
    first.save(tmp_path / "m")
    second.save(tmp_path / "m")
    pd.testing.assert_frame_equal(load_model(tmp_path / "m").predict(frame), second.predict(frame))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.parametrize("where", ["weights", "metadata", "swap"])
def test_a_crash_mid_save_leaves_the_old_model_whole(where, tmp_path, models, monkeypatch):
    frame, first, second = models
    first.save(tmp_path / "m")
    expected = first.predict(frame)
    if where == "weights":
        monkeypatch.setattr(safetensors.torch, "save_file", _raise)
    elif where == "metadata":
        monkeypatch.setattr(json, "dumps", _raise)
    else:  # no atomic exchange on this system, and the rename of the new folder into place fails
        monkeypatch.setattr(forecast.io, "_exchange", lambda a, b: False)
        real = os.replace

        def failing(src, dst):
            if str(src).endswith(".tmp"):
                raise KeyboardInterrupt  # killed between the two renames
            return real(src, dst)

        monkeypatch.setattr(os, "replace", failing)
    with pytest.raises((RuntimeError, KeyboardInterrupt)):
        second.save(tmp_path / "m")
    monkeypatch.undo()
    pd.testing.assert_frame_equal(load_model(tmp_path / "m").predict(frame), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folder left behind


def _raise(*args, **kwargs):
    raise RuntimeError("crash")


# -- item 2: output locations checked first; errors name the user's path; stale temps removed ----------
def test_predict_out_checks_come_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    (tmp_path / "adir").mkdir()
    missing_model = str(tmp_path / "no-model")  # loading it would fail: the --out error must come first
    for out, needle in [(str(blocker / "f.csv"), "afile is a file, not a folder"),
                        (str(tmp_path / "adir"), "is a folder")]:
        code, err = _run(["predict", "--model", missing_model, str(blocker), "--out", out], capsys)
        _one_line(code, err, out, needle)
    assert blocker.read_text() == "x" and list((tmp_path / "adir").iterdir()) == []


@pytest.mark.parametrize("command", [
    ["backtest", "DATA", "--target", "y", "--models", "naive"],
    ["demo"],
    ["experiment", "vanishing-gradients", "--quick"],
    ["benchmark", "etth1", "--quick"],
    ["fetch", "prices", "AAPL", "--start", "2020-01-01"],
])
def test_report_out_that_is_a_file_is_refused_first(command, tmp_path, capsys):
    blocker = tmp_path / "report"
    blocker.write_text("keep")
    data = tmp_path / "data.csv"
    data.write_text(DATA_ROWS)
    argv = [str(data) if a == "DATA" else a for a in command]
    out = str(blocker / "p.csv") if command[0] == "fetch" else str(blocker)
    code, err = _run([*argv, "--out", out], capsys)
    _one_line(code, err, out)
    assert blocker.read_text() == "keep" and sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "report"]


def test_sweep_out_that_is_a_file_is_refused_before_a_study_exists(tmp_path, capsys):
    blocker = tmp_path / "report"
    blocker.write_text("keep")
    config = tmp_path / "sweep.yaml"
    config.write_text("data: seattle-weather\nspec: {target: temp_max, lookback: 7}\nfamilies: [ridge]\n"
                      "n_trials: 1\n")
    code, err = _run(["sweep", str(config), "--out", str(blocker), "--no-progress"], capsys)
    _one_line(code, err, str(blocker))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "sweep.yaml"]


def test_report_folders_keep_the_users_files(tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    data = tmp_path / "data.csv"
    data.write_text(DATA_ROWS)
    code = main(["backtest", str(data), "--target", "y", "--models", "naive", "--lookback", "3",
                 "--no-plots", "--no-progress", "--out", str(out)])
    capsys.readouterr()
    assert code == 0 and (out / "notes.md").read_text() == "mine" and (out / "leaderboard.csv").is_file()


def test_write_errors_name_the_users_path_not_a_temporary_one(tmp_path, monkeypatch):
    def full_disk(self, path, *args, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    target = tmp_path / "f.csv"
    with pytest.raises(InputError) as caught:
        write_table(pd.DataFrame({"a": [1]}), target)
    assert str(caught.value).startswith(f"{target}: cannot write (No space left on device)")
    assert ".tmp" not in str(caught.value) and list(tmp_path.iterdir()) == []


def test_check_output_file_and_dir(tmp_path):
    (tmp_path / "file").write_text("x")
    assert check_output_file(tmp_path / "new" / "deeper" / "f.parquet") == tmp_path / "new" / "deeper" / "f.parquet"
    with pytest.raises(InputError, match=r"unsupported output extension '\.xlsx'"):
        check_output_file(tmp_path / "f.xlsx")
    with pytest.raises(InputError, match="file is a file, not a folder"):
        check_output_file(tmp_path / "file" / "f.csv")
    with pytest.raises(InputError, match="exists and is a file, not a folder"):
        check_output_dir(tmp_path / "file")
    assert check_output_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # checking creates nothing


def test_killed_writers_temporaries_are_removed_by_the_next_write(tmp_path, models):
    legacy = tmp_path / ".f.csv.7cijm6kp.tmp"  # the pid-less name of earlier releases
    dead = tmp_path / ".f.csv.999999999.abc123.tmp"  # no such process
    live = tmp_path / f".f.csv.{os.getpid()}.abc123.tmp"  # a writer still running: keep
    unrelated = tmp_path / ".f.csv.backup"
    for path in (legacy, dead, live, unrelated):
        path.write_text("partial")
    write_table(pd.DataFrame({"a": [1]}), tmp_path / "f.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, unrelated.name, "f.csv"])
    # model folders: a killed save's folder holding only our files goes; one holding anything else stays
    stale = tmp_path / ".m.abcd1234"
    stale.mkdir()
    (stale / WEIGHTS).write_bytes(b"half")
    foreign = tmp_path / ".m.999999999.zz.tmp"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("x")
    models[1].save(tmp_path / "m")
    assert not stale.exists() and (foreign / "thesis.txt").is_file()


# -- item 3: usual permissions ----------------------------------------------------------------------
def test_model_folder_and_files_get_the_usual_permissions(tmp_path, models):
    old = os.umask(0o022)
    try:
        models[1].save(tmp_path / "m")
        models[2].save(tmp_path / "m")  # a replacement too
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m").stat().st_mode) == 0o755
    for name in (WEIGHTS, METADATA):
        assert stat.S_IMODE((tmp_path / "m" / name).stat().st_mode) == 0o644, name


def test_atomic_path_refuses_to_replace_a_folder(tmp_path):
    (tmp_path / "x.csv").mkdir()
    with pytest.raises(InputError, match="is a folder"), atomic_path(tmp_path / "x.csv") as tmp:
        tmp.write_text("a")
    assert (tmp_path / "x.csv").is_dir()


# -- item 4: integrity on load; no checkpoint_dir restored; resume never unpickles ----------------------
def _edit(folder, change) -> None:
    meta = json.loads((folder / METADATA).read_text())
    change(meta)
    (folder / METADATA).write_text(json.dumps(meta))


def test_weights_hash_is_recorded_and_a_mismatch_refused(tmp_path, models):
    models[1].save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / METADATA).read_text())
    assert len(meta["weights_sha256"]) == 64
    tensors = safetensors.torch.load_file(tmp_path / "m" / WEIGHTS)
    name = next(iter(tensors))
    tensors[name] = tensors[name] + 1.0  # still a valid file, other numbers
    safetensors.torch.save_file(tensors, tmp_path / "m" / WEIGHTS)
    with pytest.raises(InputError, match=r"m: weights.safetensors does not match the SHA-256.*damaged"):
        load_model(tmp_path / "m")


def test_non_finite_scaler_is_refused(tmp_path, models):
    models[1].save(tmp_path / "m")
    _edit(tmp_path / "m", lambda meta: meta["scaler"]["scale"][0].__setitem__(0, float("nan")))
    with pytest.raises(InputError, match=r"m: model.json holds a scaler with non-finite values.*damaged"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize("key, value", [("hidden_size", 16), ("cell", "gru"), ("num_layers", 2)])
def test_params_that_disagree_with_the_network_are_refused(key, value, tmp_path, models):
    models[1].save(tmp_path / "m")
    _edit(tmp_path / "m", lambda meta: meta["params"].__setitem__(key, value))
    with pytest.raises(InputError, match=rf"params disagree with its network block \({key}=.*damaged"):
        load_model(tmp_path / "m")


def test_damaged_folder_is_one_cli_line(tmp_path, models, capsys):
    models[1].save(tmp_path / "m")
    _edit(tmp_path / "m", lambda meta: meta["params"].__setitem__("hidden_size", 16))
    data = tmp_path / "data.csv"
    data.write_text(DATA_ROWS)
    code, err = _run(["predict", "--model", str(tmp_path / "m"), str(data), "--out", str(tmp_path / "f.csv")], capsys)
    _one_line(code, err, str(tmp_path / "m"), "damaged")


def test_checkpoint_dir_is_neither_saved_nor_restored(tmp_path, models):
    frame = models[0]
    model = tiny_model(long_frame(n_series=1), id_col=None, checkpoint_dir=str(tmp_path / "ckpt"))
    model.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / METADATA).read_text())["params"]["checkpoint_dir"] is None
    _edit(tmp_path / "m", lambda meta: meta["params"].__setitem__("checkpoint_dir", str(tmp_path / "elsewhere")))
    loaded = load_model(tmp_path / "m")
    assert loaded.checkpoint_dir is None
    assert len(loaded.predict(frame)) == 3


def test_resuming_from_a_checkpoint_never_unpickles(tmp_path, monkeypatch):
    frame = long_frame(n_series=1)
    tiny_model(frame, id_col=None, checkpoint_dir=str(tmp_path))
    seen = []
    real = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    resumed = tiny_model(frame, id_col=None, checkpoint_dir=str(tmp_path), max_epochs=2)
    assert seen and all(flag is True for flag in seen), seen
    assert [h["epoch"] for h in resumed.history_] == [0, 1]
    assert np.isfinite(resumed.best_val_loss_ or 0.0)


def test_state_pipeline_with_non_finite_scaling_is_refused(tmp_path, models):
    import hashlib

    from forecast.config import WindowSpec
    from forecast.models import registry

    frame = models[0]
    spec = WindowSpec("y", lookback=5, features=("x",))
    registry.build("lstm_state+ridge", max_epochs=1, hidden_size=4).fit(frame, spec).save(tmp_path / "m")
    tensors = safetensors.torch.load_file(tmp_path / "m" / WEIGHTS)
    tensors["scaling.x_scale"] = torch.full_like(tensors["scaling.x_scale"], float("inf"))
    safetensors.torch.save_file(tensors, tmp_path / "m" / WEIGHTS)  # re-hashed: damage the hash cannot see
    digest = hashlib.sha256((tmp_path / "m" / WEIGHTS).read_bytes()).hexdigest()
    _edit(tmp_path / "m", lambda meta: meta.__setitem__("weights_sha256", digest))
    with pytest.raises(InputError, match=r"m: the encoder's x_scale scaling holds non-finite values.*damaged"):
        load_model(tmp_path / "m")


def test_long_file_names_get_short_temporaries_and_too_long_ones_are_refused(tmp_path):
    name = "f" * 246 + ".csv"  # 250 bytes: fine for the file, too long for `.<name>.<pid>.<random>.tmp`
    write_table(pd.DataFrame({"a": [1]}), tmp_path / name)
    assert [p.name for p in tmp_path.iterdir()] == [name]
    with pytest.raises(InputError, match="over 255 bytes"):
        check_output_file(tmp_path / ("g" * 256 + ".csv"))
