"""--distribution on the command line: fit saves a distributional GRU whose predict writes its own bounds
(--intervals picks other levels), backtest scores their coverage, and conflicting options are one line."""

from __future__ import annotations

import pandas as pd

from tests._cli_data import run_cli


def _run(argv, capsys):
    return run_cli(argv, capsys, split_err=False)


def test_fit_predict_and_backtest_a_distributional_gru(tmp_path, capsys, seattle):
    data = tmp_path / "seattle.csv"
    seattle.iloc[-300:].reset_index().to_csv(data, index=False)
    model_dir, out = tmp_path / "model", tmp_path / "f.csv"
    window = ["--target", "temp_max", "--lookback", "10", "--horizon", "2"]
    code, text, err = _run(["fit", str(data), *window, "--model", "gru", "--distribution", "studentt",
                            "--epochs", "1", "--hidden-size", "4", "--no-progress", "--out", str(model_dir)], capsys)
    assert code == 0, err
    assert "best validation loss" in text and "(scaled distribution)" in text
    code, _, err = _run(["predict", "--model", str(model_dir), str(data), "--out", str(out), "--no-progress",
                         "--intervals", "0.5,0.9"], capsys)
    assert code == 0, err
    got = pd.read_csv(out)
    assert sorted(got.columns[4:]) == ["lower_50", "lower_90", "upper_50", "upper_90"]
    assert (got["lower_90"] < got["lower_50"]).all() and (got["upper_50"] < got["upper_90"]).all()

    report = tmp_path / "report"
    code, text, err = _run(["backtest", str(data), *window, "--models", "gru", "--distribution", "normal",
                            "--epochs", "1", "--hidden-size", "4", "--no-progress", "--no-plots",
                            "--out", str(report)], capsys)
    assert code == 0, err
    board = pd.read_csv(report / "leaderboard.csv").set_index("model")
    assert board.loc["gru", ["coverage_80", "coverage_95", "winkler_80", "crps"]].notna().all()

    code, _, err = _run(["fit", str(data), *window, "--model", "gru", "--distribution", "normal",
                         "--quantiles", "0.1,0.9", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "keep one" in err and "Traceback" not in err
