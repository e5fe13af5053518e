"""--intervals on the command line: fit saves a calibrated model, predict writes its interval columns,
backtest scores every model's intervals and draws calibration.png; a model saved without calibration
refuses --intervals with a message that says how to get them."""

from __future__ import annotations

import pandas as pd

from tests._cli_data import run_cli


def _run(argv, capsys):
    return run_cli(argv, capsys, split_err=False)


def test_fit_and_predict_with_intervals(tmp_path, capsys, seattle):
    data = tmp_path / "seattle.csv"
    seattle.iloc[-300:].reset_index().to_csv(data, index=False)
    model_dir, out = tmp_path / "model", tmp_path / "f.csv"
    code, text, err = _run(["fit", str(data), "--target", "temp_max", "--model", "ridge", "--lookback", "10",
                            "--horizon", "3", "--intervals", "0.8,0.95", "--out", str(model_dir)], capsys)
    assert code == 0, err
    assert "conformal intervals at 0.8, 0.95" in text
    code, _, err = _run(["predict", "--model", str(model_dir), str(data), "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    got = pd.read_csv(out)
    assert list(got.columns)[4:] == ["lower_80", "upper_80", "lower_95", "upper_95"]
    assert (got["lower_95"] <= got["lower_80"]).all() and (got["upper_80"] <= got["upper_95"]).all()
    code, _, err = _run(["predict", "--model", str(model_dir), str(data), "--out", str(out), "--no-progress",
                         "--intervals", "0.5"], capsys)
    assert code == 0, err
    assert {"lower_50", "upper_50"} <= set(pd.read_csv(out).columns)

    plain = tmp_path / "plain"
    assert _run(["fit", str(data), "--target", "temp_max", "--model", "ridge", "--lookback", "10",
                 "--out", str(plain)], capsys)[0] == 0
    code, _, err = _run(["predict", "--model", str(plain), str(data), "--out", str(tmp_path / "g.csv"),
                         "--intervals", "0.8"], capsys)
    assert code != 0 and "fit it again with --intervals" in err and "Traceback" not in err
    assert not (tmp_path / "g.csv").exists()


def test_backtest_with_intervals_writes_columns_scores_and_calibration(tmp_path, capsys, seattle):
    data = tmp_path / "seattle.csv"
    seattle.iloc[-400:].reset_index().to_csv(data, index=False)
    out = tmp_path / "report"
    code, text, err = _run(["backtest", str(data), "--target", "temp_max", "--models", "ridge", "--lookback", "10",
                            "--horizon", "2", "--intervals", "0.8,0.95", "--interval-method", "aci", "--calibration-window", "200",
                            "--no-progress", "--out", str(out)], capsys)
    assert code == 0, err
    assert "coverage_80" in text and "crps" in text
    assert (out / "calibration.png").is_file()
    board = pd.read_csv(out / "leaderboard.csv")
    assert {"coverage_80", "width_80", "winkler_80", "coverage_95", "crps"} <= set(board.columns)
    assert board["coverage_80"].between(0.6, 0.95).all()  # calibrated, not degenerate
    assert {"lower_80", "upper_95"} <= set(pd.read_csv(out / "forecasts.csv").columns)
