"""Bad input through the command line: exit code 2, exactly one stderr line naming the file/column/row,
no traceback, and no output file left behind. Run in-process through `forecast.cli.main`, plus one
subprocess to check the real console behaviour.

Decision on unexpected extra columns: they are ignored with a one-line note (exit 0), so a file with
more variables than the model reads can be forecast as is; the note lists them so a typo is noticed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from forecast.cli import main
from tests._cli_data import long_frame, tiny_model

HEADER = "date,y,x\n"
GOOD_ROWS = "".join(f"2021-01-{d:02d},{d * 1.5},{d % 3}\n" for d in range(1, 21))

# name -> (file bytes or None for "no file", substrings the one error line must contain)
BAD_FILES = {
    "missing path": (None, ["file not found"]),
    "empty file": (b"", ["file is empty"]),
    "header only": (HEADER.encode(), ["no data rows"]),
    "no time column": (b"when,y,x\n" + b"".join(f"day{d},{d},1\n".encode() for d in range(20)),
                       ["no time column", "--time-col"]),
    "non-UTF-8": ((HEADER.replace("x", "x,label") + "".join(
        f"2021-01-{d:02d},{d},1,caf\xe9\n" for d in range(1, 21))).encode("latin-1"), ["not UTF-8"]),
    "unparsable date": ((HEADER + GOOD_ROWS.replace("2021-01-03", "2021-13-45")).encode(),
                        ["column 'date' row 3", "'2021-13-45' is not a timestamp"]),
    "duplicate timestamp": ((HEADER + GOOD_ROWS.replace("2021-01-05", "2021-01-04")).encode(),
                            ["duplicate timestamp", "row 5"]),
    "unsorted timestamps": ((HEADER + GOOD_ROWS.replace("2021-01-04", "2021-01-0X").replace("2021-01-05", "2021-01-04")
                             .replace("2021-01-0X", "2021-01-05")).encode(),
                            ["row 5", "comes before row 4", "sort the file"]),
    "non-numeric value": ((HEADER + GOOD_ROWS.replace("6.0,", "six,")).encode(),
                          ["column 'y' row 4", "'six' is not a number"]),
    "missing feature column": (("date,y\n" + "".join(f"2021-01-{d:02d},{d}\n" for d in range(1, 21))).encode(),
                               ["missing column", "'x'"]),
    "malformed CSV": ((HEADER + GOOD_ROWS + "2021-01-21,1,2,3,4\n").encode(), ["malformed CSV"]),
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny single-series model (target y, feature x) saved to a folder."""
    folder = tmp_path_factory.mktemp("model") / "m"
    tiny_model(long_frame(n_series=1), id_col=None).save(folder)
    return folder


def _run(argv: list[str], capsys) -> tuple[int, list[str], str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, [line for line in captured.err.splitlines() if line.strip()], captured.out


def _assert_one_line_error(code: int, err: list[str], needles: list[str]) -> None:
    assert code == 2, err
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("forecast: error: "), line
    assert "Traceback" not in line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"


@pytest.mark.parametrize("command", ["fit", "predict"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_data_file(case, command, tmp_path, model_dir, capsys):
    content, needles = BAD_FILES[case]
    data = tmp_path / "data.csv"
    if content is not None:
        data.write_bytes(content)
    out = tmp_path / ("model_out" if command == "fit" else "forecasts.csv")
    if command == "fit":
        argv = ["fit", str(data), "--target", "y", "--features", "x", "--lookback", "3", "--epochs", "1",
                "--no-progress", "--out", str(out)]
    else:
        argv = ["predict", "--model", str(model_dir), str(data), "--out", str(out), "--no-progress"]
    code, err, _ = _run(argv, capsys)
    _assert_one_line_error(code, err, [str(data), *needles])
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["data.csv"] if content is not None else [])


def _broken_models(good: Path, root: Path) -> dict[str, tuple[Path, list[str]]]:
    cases = {}
    cases["no such folder"] = (root / "absent", ["not a complete model folder", "model.json is missing"])
    no_weights = root / "no_weights"
    shutil.copytree(good, no_weights)
    (no_weights / "weights.safetensors").unlink()
    cases["no weights"] = (no_weights, ["weights.safetensors is missing"])
    future = root / "future"
    shutil.copytree(good, future)
    meta = json.loads((future / "model.json").read_text())
    (future / "model.json").write_text(json.dumps({**meta, "format_version": 99}))
    cases["newer format"] = (future, ["format version 99 is not supported"])
    lacking = root / "lacking"
    shutil.copytree(good, lacking)
    (lacking / "model.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "spec"}))
    cases["model.json lacks the spec"] = (lacking, ["missing entry 'spec'", "another version"])
    garbled = root / "garbled"
    shutil.copytree(good, garbled)
    (garbled / "model.json").write_text("{not json")
    cases["damaged json"] = (garbled, ["not valid JSON"])
    truncated = root / "truncated"
    shutil.copytree(good, truncated)
    (truncated / "weights.safetensors").write_bytes((good / "weights.safetensors").read_bytes()[:40])
    cases["truncated weights"] = (truncated, ["cannot read the model weights"])
    return cases


def test_broken_model_folders(model_dir, tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text(HEADER + GOOD_ROWS)
    for name, (folder, needles) in _broken_models(model_dir, tmp_path).items():
        out = tmp_path / "f.csv"
        code, err, _ = _run(["predict", "--model", str(folder), str(data), "--out", str(out)], capsys)
        _assert_one_line_error(code, err, [folder.name, *needles])
        assert not out.exists(), name


def test_extra_columns_are_ignored_with_a_note(model_dir, tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("date,y,x,station_name,pressure\n" + "".join(
        f"2021-01-{d:02d},{d * 1.5},{d % 3},north,{1000 + d}\n" for d in range(1, 21)))
    out = tmp_path / "f.csv"
    code, err, stdout = _run(["predict", "--model", str(model_dir), str(data), "--out", str(out),
                              "--no-progress"], capsys)
    assert code == 0, err
    assert err == [f"forecast: note: {data}: ignoring 2 column(s) the model does not read: station_name, pressure"]
    assert len(pd.read_csv(out)) == 3 and "wrote 3 forecast rows" in stdout


def test_bad_arguments_name_the_option(model_dir, tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text(HEADER + GOOD_ROWS)
    cases = {
        "unknown model": (["fit", str(data), "--target", "y", "--model", "transformer", "--out", str(tmp_path / "m")],
                          ["unknown model 'transformer'", "lstm"]),
        "bad output extension": (["predict", "--model", str(model_dir), str(data), "--out", str(tmp_path / "f.xlsx")],
                                 ["unsupported output extension '.xlsx'"]),
        "bad origin": (["predict", "--model", str(model_dir), str(data), "--origin", "someday",
                        "--out", str(tmp_path / "f.csv")], ["origin must be 'last', 'all' or a date"]),
        "origin not in data": (["predict", "--model", str(model_dir), str(data), "--origin", "2030-01-01",
                                "--out", str(tmp_path / "f.csv")], ["no series could be forecast", "no row at the origin"]),
        "long data without --id-col": (["fit", "stocks", "--target", "close", "--out", str(tmp_path / "m")],
                                       ["stocks: several rows share a timestamp", "--id-col"]),
        "unknown target": (["fit", str(data), "--target", "temp", "--out", str(tmp_path / "m")],
                           [str(data), "missing column(s) 'temp'"]),
        "series shorter than the lookback": (["predict", "--model", str(model_dir), str(data), "--out",
                                              str(tmp_path / "f.csv")], None),
    }
    short = tmp_path / "short.csv"
    short.write_text(HEADER + GOOD_ROWS.split("2021-01-05")[0])
    cases["series shorter than the lookback"] = (
        ["predict", "--model", str(model_dir), str(short), "--out", str(tmp_path / "f.csv"), "--no-progress"],
        ["no series could be forecast", "1 too short for lookback 8"])
    for name, (argv, needles) in cases.items():
        code, err, _ = _run(argv, capsys)
        _assert_one_line_error(code, err, needles)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "short.csv"], name


def test_other_failures_exit_1_and_debug_shows_the_traceback(model_dir, tmp_path, capsys, monkeypatch):
    from forecast.models.estimators import RNNForecaster

    def boom(*args, **kwargs):
        raise RuntimeError("out of memory\nmore detail")

    monkeypatch.setattr(RNNForecaster, "predict", boom)
    data = tmp_path / "data.csv"
    data.write_text(HEADER + GOOD_ROWS)
    argv = ["predict", "--model", str(model_dir), str(data), "--out", str(tmp_path / "f.csv"), "--no-progress"]
    code, err, _ = _run(argv, capsys)
    assert code == 1 and err == ["forecast: error: out of memory"]
    for debug in (["--debug", *argv], [*argv, "--debug"]):  # before or after the command name
        code, err, _ = _run(debug, capsys)
        assert code == 1 and err[0].startswith("Traceback") and err[-1] == "forecast: error: out of memory"
    assert not (tmp_path / "f.csv").exists()


def test_interrupted_write_leaves_no_file(model_dir, tmp_path, capsys, monkeypatch):
    data = tmp_path / "data.csv"
    data.write_text(HEADER + GOOD_ROWS)
    out = tmp_path / "f.csv"

    def interrupted(self, path, *args, **kwargs):
        Path(path).write_text("origin,timestamp\n2021-")  # half a file, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    code, err, _ = _run(["predict", "--model", str(model_dir), str(data), "--out", str(out), "--no-progress"],
                        capsys)
    assert code == 130 and err == ["forecast: interrupted"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_console_error_is_one_line_without_traceback(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text(HEADER + GOOD_ROWS)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "forecast", "predict", "--model", str(tmp_path / "nope"), str(data),
         "--out", str(tmp_path / "f.csv")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)}, cwd=tmp_path, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"forecast: error: {tmp_path / 'nope'}: not a complete model folder (model.json is missing); save it again"
    ]
    assert not (tmp_path / "f.csv").exists()


# ---- forecast sweep: the whole config and its data are checked before a study or file exists (issue 14, item 9)

SWEEP_GOOD = {"data": "seattle-weather", "spec": {"target": "temp_max", "lookback": 7}, "families": ["ridge"],
              "n_trials": 1, "benchmarks": []}

# name -> (changes to the good config, substrings the one error line must contain)
BAD_SWEEP_CONFIGS = {
    "n_trials as text": ({"n_trials": "ten"}, ["key 'n_trials'", "whole number >= 1", "'ten'"]),
    "n_trials zero": ({"n_trials": 0}, ["key 'n_trials'", ">= 1"]),
    "families as one string": ({"families": "lstm"}, ["key 'families'", "a list of model names", "'lstm'"]),
    "unregistered family": ({"families": ["lstm", "lstmm"]}, ["key 'families'", "unknown: lstmm"]),
    "empty families": ({"families": []}, ["key 'families'", "at least one"]),
    "benchmarks as one string": ({"benchmarks": "naive"}, ["key 'benchmarks'", "a list of model names"]),
    "max_epochs zero": ({"max_epochs": 0}, ["key 'max_epochs'", ">= 1"]),
    "max_epochs fractional": ({"max_epochs": 2.5}, ["key 'max_epochs'", "whole number"]),
    "val_size as text": ({"val_size": "big"}, ["key 'val_size'", "a number > 0 and < 1"]),
    "sizes too large": ({"val_size": 0.6, "test_size": 0.5}, ["'val_size' + 'test_size' must be < 1"]),
    "lookbacks with zero": ({"lookbacks": [14, 0]}, ["key 'lookbacks'", "whole numbers >= 1"]),
    "negative timeout": ({"timeout": -5}, ["key 'timeout'", "a number > 0"]),
    "seed as text": ({"seed": "x"}, ["key 'seed'"]),
    "unknown pruner": ({"pruner": "mean"}, ["key 'pruner'", "median, hyperband, none"]),
    "sort as text": ({"sort": "yes"}, ["key 'sort'", "true or false"]),
    "unknown missing policy": ({"missing": "maybe"}, ["key 'missing'", "error, drop, ffill, interpolate, keep"]),
    "spec lookback as text": ({"spec": {"target": "temp_max", "lookback": "ten"}}, ["key 'spec'", "spec.lookback"]),
    "unknown spec key": ({"spec": {"target": "temp_max", "lookback": 7, "lookbak": 3}}, ["key 'spec'", "lookbak"]),
    "bad storage URL": ({"storage": "nosuchdb://host/x"}, ["storage nosuchdb://host/x", "cannot open"]),
    "missing data column": ({"spec": {"target": "temp_maxx", "lookback": 7}},
                            ["seattle-weather: no column(s) 'temp_maxx'"]),
    "data file not found": ({"data": "nope.csv"}, ["nope.csv", "file not found"]),
}


@pytest.mark.parametrize("name", list(BAD_SWEEP_CONFIGS))
def test_bad_sweep_config_is_one_line_naming_the_file_and_key(name, tmp_path, capsys):
    import yaml

    changes, needles = BAD_SWEEP_CONFIGS[name]
    out = tmp_path / "out"
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({**SWEEP_GOOD, "out_dir": str(out), **changes}))
    code, err, _ = _run(["sweep", str(config), "--no-progress"], capsys)
    sources = {"missing data column": "seattle-weather", "data file not found": "nope.csv",
               "bad storage URL": "storage"}  # the URL may come from --storage too: the line names the URL
    source = sources.get(name, str(config))
    _assert_one_line_error(code, err, [source, *needles])
    assert not out.exists()  # no study.db, no folder: nothing was started
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]


def test_sweep_data_with_holes_in_the_spec_columns_names_the_flag(tmp_path, capsys):
    import yaml

    data = tmp_path / "d.csv"
    data.write_text(HEADER + GOOD_ROWS.replace("2021-01-04,6.0,", "2021-01-04,,"))
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({**SWEEP_GOOD, "data": str(data), "spec": {"target": "y", "lookback": 2},
                                      "out_dir": str(tmp_path / "out")}))
    code, err, _ = _run(["sweep", str(config), "--no-progress"], capsys)
    _assert_one_line_error(code, err, [f"{data}: column 'y'", "missing value", "--missing"])
    assert not (tmp_path / "out").exists()
