"""Bad input through the command line: exit code 2, exactly one stderr line naming the file/column/row,
no traceback, and no output file left behind. Run in-process through `forecast.cli.main`, plus one
subprocess to check the real console behaviour.

Decision on unexpected extra columns: they are ignored with a one-line note (exit 0), so a file with
more variables than the model reads can be forecast as is; the note lists them so a typo is noticed.
"""

from __future__ import annotations

import json
import os
import re
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
    cases["truncated weights"] = (truncated, ["does not match the SHA-256", "damaged"])  # hash checked first
    unhashed = root / "unhashed"  # saved before model.json recorded the weights' hash
    shutil.copytree(truncated, unhashed)
    (unhashed / "model.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "weights_sha256"}))
    cases["truncated weights, no hash"] = (unhashed, ["cannot read the model weights"])
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


# ---------------------------------------------------------------------------------------------------------
# Issue 14, items 15-16 (branch d-data): hints name real flags; ;/tab-separated files; cache sidecars.


FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]+")
DATA_COMMANDS = ("fit", "predict", "backtest")


def _command_parsers() -> dict[str, object]:
    import argparse

    from forecast.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    from forecast.sweeps.worker import build_parser as worker_parser

    # the sweep's worker processes are started through their own entry point, with their own options
    return {"": parser, **sub.choices, "sweeps.worker": worker_parser()}


def _options(parser) -> set[str]:
    """The parser's options, with those of its own subcommands (`forecast fetch prices ...`)."""
    import argparse

    found = set()
    for action in parser._actions:
        found |= set(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _options(child)
    return found


# Hints that name another command's option on purpose: (module, flag) -> the command that has it.
ABOUT_ANOTHER_COMMAND = {("cli/predict.py", "--known-future"): "fit", ("cli/predict.py", "--id-col"): "fit"}


def _flags_in(path: Path) -> dict[str, list[str]]:
    """flag -> lines of `path` that mention it, leaving out the lines that define options."""
    found: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "add_argument(" in line:
            continue
        for flag in FLAG.findall(line):
            found.setdefault(flag, []).append(line.strip())
    return found


def test_every_flag_a_message_names_exists():
    """Walk every `--flag` in forecast/: it is an option of the command that prints it (a hint in the data
    loader or the shared CLI reader: of every data-reading command; a line naming `forecast OTHER`: of OTHER)."""
    root = Path(__file__).resolve().parents[1] / "forecast"
    parsers = _command_parsers()
    options = {name: _options(p) for name, p in parsers.items()}
    everywhere = set().union(*options.values())
    wrong = []
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        for flag, lines in _flags_in(path).items():
            if flag not in everywhere:
                wrong.append(f"{module}: {flag} is no option of any command")
                continue
            if module.startswith("data/") or module == "cli/common.py" and flag in ("--sort", "--missing",
                                                                                    "--time-col"):
                wrong += [f"{module}: {flag} missing on {c}" for c in DATA_COMMANDS if flag not in options[c]]
            elif module.startswith("cli/") and module[4:-3] in parsers:
                for line in lines:
                    named = re.findall(r"forecast (\w+)", line[:line.index(flag)])  # `forecast predict --model`
                    command = named[-1] if named and named[-1] in parsers else module[4:-3]
                    command = ABOUT_ANOTHER_COMMAND.get((module, flag), command)
                    if flag not in options[command] | options[""]:
                        wrong.append(f"{module}: {flag} is not an option of `forecast {command}`: {line}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_sort_and_missing_exist_on_every_data_command(command, model_dir, tmp_path, capsys):
    """The loader's hints (`--sort`, `--missing`) work where they are printed."""
    rows = GOOD_ROWS.replace("2021-01-04", "2021-01-0X").replace("2021-01-05", "2021-01-04").replace(
        "2021-01-0X", "2021-01-05").replace("2021-01-10,15.0,", "2021-01-10,,")
    data = tmp_path / "data.csv"
    data.write_text(HEADER + rows)
    out = tmp_path / ("m" if command == "fit" else "f.csv" if command == "predict" else "bt")
    argv = {
        "fit": ["fit", str(data), "--target", "y", "--features", "x", "--lookback", "3", "--epochs", "1",
                "--out", str(out)],
        "predict": ["predict", "--model", str(model_dir), str(data), "--out", str(out)],
        "backtest": ["backtest", str(data), "--target", "y", "--models", "naive", "--lookback", "3",
                     "--test-size", "5", "--no-plots", "--out", str(out)],
    }[command] + ["--no-progress"]
    code, err, _ = _run(argv, capsys)
    _assert_one_line_error(code, err, [str(data), "comes before row 4", "(--sort)"])
    code, err, _ = _run([*argv, "--sort", "--missing", "error"], capsys)
    _assert_one_line_error(code, err, [str(data), "column 'y' at 2021-01-10", "missing='drop'", "'keep'",
                                       "(--missing)"])
    assert not out.exists()
    code, err, _ = _run([*argv, "--sort", "--missing", "interpolate"], capsys)
    assert code == 0, err
    assert err[:2] == [f"forecast: note: {data}: column 'date' row 5: 2021-01-04 00:00:00 comes before row 4's 2021-01-05 "
                       "00:00:00; sorted 1 out-of-order rows",
                       f"forecast: note: {data}: filled 1 missing values (interpolate)"], err
    assert out.exists()


@pytest.mark.parametrize("command", ["fit", "predict"])
@pytest.mark.parametrize("sep, name", [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_semicolon_and_tab_separated_files_are_read_and_named(sep, name, command, model_dir, tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text((HEADER + GOOD_ROWS).replace(",", sep))
    out = tmp_path / ("m" if command == "fit" else "f.csv")
    argv = (["fit", str(data), "--target", "y", "--features", "x", "--lookback", "3", "--epochs", "1"]
            if command == "fit" else ["predict", "--model", str(model_dir), str(data)])
    code, err, _ = _run([*argv, "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    assert err == [f"forecast: note: {data}: read as {name}-separated"]
    if command == "predict":
        comma = tmp_path / "comma.csv"
        comma.write_text(HEADER + GOOD_ROWS)
        code, _, _ = _run(["predict", "--model", str(model_dir), str(comma), "--out", str(tmp_path / "g.csv"),
                           "--no-progress"], capsys)
        pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(tmp_path / "g.csv"))


def test_decimal_commas_and_ragged_semicolon_files(model_dir, tmp_path, capsys):
    from forecast.data.sources.files import load_table

    data = tmp_path / "eu.csv"
    data.write_text("date;y;x\n" + "".join(f"2021-01-{d:02d};{d},5;{d % 3}\n" for d in range(1, 21)))
    with pytest.warns(UserWarning, match="read as semicolon-separated with decimal commas"):
        assert load_table(data)["y"].iloc[:2].tolist() == [1.5, 2.5]
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("date;y;x\n" + "".join(f"2021-01-{d:02d};{d};{d % 3}{';' * (d % 2)}\n" for d in range(1, 21)))
    code, err, _ = _run(["predict", "--model", str(model_dir), str(ragged), "--out", str(tmp_path / "f.csv")], capsys)
    _assert_one_line_error(code, err, [str(ragged), "do not split evenly on commas or semicolons"])
    assert not (tmp_path / "f.csv").exists()


@pytest.mark.parametrize("sidecar", ["[]", '"text"', "null"])
def test_fetch_offline_with_a_broken_cache_sidecar(sidecar, tmp_path, capsys, monkeypatch):
    """A sidecar that is JSON but not an object is ignored with one note, like a corrupt Parquet file, and the
    offline error then names the unreadable cached copy instead of claiming that nothing is cached."""
    from requests.exceptions import ConnectionError

    from forecast.data.sources import yahoo
    from tests.fakes import FakeDownloader, recorded_history

    monkeypatch.setenv("FORECAST_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    monkeypatch.setattr(yahoo, "yfinance_download", FakeDownloader({"AAPL": recorded_history("yf_history_AAPL_1d.csv")}))
    argv = ["fetch", "prices", "AAPL", "--start", "2024-01-02", "--end", "2024-01-31"]
    assert main([*argv, "--out", str(tmp_path / "first.csv")]) == 0
    [meta] = list((tmp_path / "cache" / "yahoo").glob("*.json"))
    meta.write_text(sidecar)
    monkeypatch.setattr(yahoo, "yfinance_download", FakeDownloader({}, failures=[ConnectionError("down")] * 4))
    capsys.readouterr()
    out = tmp_path / "p.csv"
    code = main([*argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists(), err
    assert re.search(f"forecast: note: ignoring unreadable cache entry .*{meta.name} holds a JSON", err), err
    last = err.strip().splitlines()[-1]
    assert last.startswith("forecast: error: AAPL: cannot reach the server (ConnectionError) and the cached copy ")
    assert "is unreadable (ignored)" in last and "nothing is cached" not in last
# -- issue 14 items 12-13 (honest numbers): a target transform a model cannot honour is refused ----------


def test_target_transform_on_a_direction_classifier_is_refused(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text(HEADER + GOOD_ROWS)
    out = tmp_path / "report"
    code, err, _ = _run(["backtest", str(data), "--target", "y", "--models", "always_up", "--task", "direction",
                         "--target-transform", "log_return", "--lookback", "3", "--out", str(out),
                         "--no-progress"], capsys)
    _assert_one_line_error(code, err, ["model 'always_up'", "makes no sense", "--target-transform none"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]

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
