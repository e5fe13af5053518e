"""Issue 14, items 17-19: no third-party noise, one --threads everywhere, backtests that keep finished models."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from forecast.cli import build_parser, main
from forecast.cli.common import DEFAULT_THREADS
from tests._cli_data import long_frame

ROOT = Path(__file__).resolve().parents[1]
DATA_ARGS = ["--id-col", "site", "--target", "y", "--lookback", "8"]


@pytest.fixture
def data_csv(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    long_frame(n_series=2, n_rows=80).drop(columns="x").to_csv(path, index=False)
    return path


# -- 17: progress bars, warnings, third-party log lines, --no-plots ----------------------------------------


@pytest.mark.slow
def test_fit_off_a_terminal_writes_no_progress_bars(data_csv, tmp_path):
    """stdout and stderr are pipes: no bars (before: 103 stdout lines for 20 epochs, from Lightning's bar),
    only the summary on stdout and our own lines on stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "forecast", "fit", str(data_csv), *DATA_ARGS, "--epochs", "5",
                           "--hidden-size", "4", "--out", str(tmp_path / "m")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert all(line.startswith("forecast: ") for line in lines), done.stderr
    assert len(lines) <= 2, done.stderr
    out = done.stdout.replace("\r", "\n").splitlines()
    assert [line.split()[0] for line in out] == ["trained", "saved"], done.stdout


def test_library_warnings_become_one_note_each(data_csv, tmp_path, capsys, monkeypatch):
    import forecast.cli.fit as fit_command

    read = fit_command.read

    def noisy_read(*args, **kwargs):
        for _ in range(3):
            warnings.warn("some library is unhappy\nwith a second line", UserWarning, stacklevel=1)
        return read(*args, **kwargs)

    monkeypatch.setattr(fit_command, "read", noisy_read)
    code = main(["fit", str(data_csv), *DATA_ARGS, "--epochs", "1", "--hidden-size", "4", "--val-size", "0",
                 "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.splitlines().count("forecast: note: some library is unhappy") == 1, err
    assert "UserWarning" not in err and "second line" not in err


def test_lightning_skipping_validation_says_nothing(data_csv, tmp_path, capsys):
    """RNNStateFeatures trains without validation data on purpose; Lightning warned about it on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["backtest", str(data_csv), *DATA_ARGS, "--epochs", "1", "--hidden-size", "4",
                     "--models", "lstm_state+ridge", "--no-plots", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "val_dataloader" not in err + "".join(str(w.message) for w in caught), err


def test_backtest_no_plots_writes_no_png(data_csv, tmp_path, capsys):
    out = tmp_path / "r"
    code = main(["backtest", str(data_csv), *DATA_ARGS, "--models", "ridge", "--no-plots", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert (out / "leaderboard.csv").is_file()
    assert not list(out.glob("*.png"))


def test_demo_no_plots_writes_no_png(tmp_path, monkeypatch):
    import forecast.demo as demo

    frame = long_frame(n_series=1, n_rows=120).drop(columns=["site", "x"]).set_index("date")
    frame = frame.rename(columns={"y": "temp_max"}).assign(precipitation=0.0, temp_min=0.0, wind=1.0)
    result = demo.run_demo(tmp_path / "d", frame=frame, max_epochs=1, progress_bar=False, plots=False)
    assert (Path(result["out_dir"]) / "forecasts.csv").is_file()
    assert not list(Path(result["out_dir"]).glob("*.png"))


class _FakeTicker:
    """yfinance.Ticker stand-in whose history() logs what yfinance logs on a flaky connection."""

    messages: list[str] = []

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker

    def history(self, **kwargs) -> pd.DataFrame:
        for message in self.messages:
            logging.getLogger("yfinance").warning(message)
        index = pd.DatetimeIndex(["2024-01-02"], name="Date")
        return pd.DataFrame({"Open": [1.0], "High": [1.0], "Low": [1.0], "Close": [1.0], "Volume": [1.0]},
                            index=index)


@pytest.mark.parametrize("messages, expected", [
    (["Cookie/crumb fetch failed (ConnectionError), continuing without crumb"] * 2, None),
    (["Cookie/crumb fetch failed (ReadTimeout), continuing without crumb", "AAPL: odd thing", "again"],
     "AAPL: yfinance says: AAPL: odd thing (and 1 more yfinance messages)"),
])
def test_yfinance_log_lines_become_at_most_one_warning(messages, expected, monkeypatch, capsys, caplog):
    import yfinance

    from forecast.data.sources.yahoo import yfinance_download
    from forecast.errors import DataWarning

    monkeypatch.setattr(_FakeTicker, "messages", messages)
    monkeypatch.setattr(yfinance, "Ticker", _FakeTicker)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yfinance_download("AAPL", start="2024-01-01", end="2024-01-05", interval="1d", auto_adjust=True)
    # before: each line went up the logging tree (to logging's last resort, which printed it on stderr)
    assert capsys.readouterr().err == "" and not [r for r in caplog.records if r.name.startswith("yfinance")]
    got = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert got == ([expected] if expected else [])


# -- 18: --threads --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["fit", "predict", "backtest", "experiment", "demo", "benchmark"])
def test_threads_is_on_every_command_that_trains_or_predicts(command):
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    threads = next((a for a in sub._actions if "--threads" in a.option_strings), None)
    assert threads is not None, f"forecast {command} has no --threads"
    assert threads.default == DEFAULT_THREADS and threads.help != "==SUPPRESS=="


def test_threads_is_applied_and_checked(data_csv, tmp_path, capsys):
    import torch

    before = torch.get_num_threads()
    try:
        code = main(["fit", str(data_csv), *DATA_ARGS, "--epochs", "1", "--hidden-size", "4", "--threads", "2",
                     "--out", str(tmp_path / "m")])
        assert code == 0, capsys.readouterr().err
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(data_csv), *DATA_ARGS, "--threads", "-1", "--out", str(tmp_path / "m2")])
    assert exc.value.code == 2
    assert "--threads" in capsys.readouterr().err


# -- 19: a stopped backtest keeps its finished models ---------------------------------------------------


def test_backtest_stopped_at_the_third_model_keeps_the_first_two(data_csv, tmp_path, capsys, monkeypatch):
    import forecast.evaluate as evaluate

    fit_and_forecast, calls = evaluate._fit_and_forecast, []

    def stop_at_the_third(template, *args, **kwargs):  # one fit per model: the third call is the third model
        calls.append(template)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return fit_and_forecast(template, *args, **kwargs)

    monkeypatch.setattr(evaluate, "_fit_and_forecast", stop_at_the_third)
    out = tmp_path / "r"
    code = main(["backtest", str(data_csv), *DATA_ARGS, "--models", "drift,ridge,mean", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 130 and err.strip().splitlines()[-1] == "forecast: interrupted", err
    board = pd.read_csv(out / "leaderboard.csv")
    assert sorted(board["model"]) == ["drift", "naive"] and not board["complete"].any()
    assert sorted(pd.read_csv(out / "forecasts.csv")["model"].unique()) == ["drift", "naive"]
    assert (out / "summary.txt").read_text().startswith("partial: 2 of 4 models finished (naive, drift)")
    assert not list(out.glob(".*.tmp")) and not list(out.glob("*.png"))


def test_finished_backtest_leaderboard_is_marked_complete(data_csv, tmp_path, capsys):
    out = tmp_path / "r"
    code = main(["backtest", str(data_csv), *DATA_ARGS, "--models", "drift,ridge", "--no-plots", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    board = pd.read_csv(out / "leaderboard.csv")
    assert sorted(board["model"]) == ["drift", "naive", "ridge"] and board["complete"].all()
    assert not (out / "summary.txt").read_text().startswith("partial")


def test_experiment_no_plots_writes_no_png(tmp_path, capsys):
    code = main(["experiment", "order-sensitivity", "--quick", "--no-plots", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "order-sensitivity.json").is_file() and not list(tmp_path.glob("*.png"))
