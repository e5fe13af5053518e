"""Issue 16 on the command line: the network options and --max-epochs/--patience reach the model, the
still-improving note, and option combinations the network cannot honour fail with one line (exit 2)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from forecast.cli import main
from tests._cli_data import long_frame, run_cli


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("rnn-options") / "long.csv"
    long_frame(n_series=2, n_rows=80).to_csv(path, index=False)
    return path


def _fit(data, out, *extra):
    return ["fit", str(data), "--id-col", "site", "--target", "y", "--features", "x", "--lookback", "8",
            "--horizon", "3", "--hidden-size", "8", "--no-progress", "--out", str(out), *extra]


def test_fit_flags_reach_the_network_and_the_saved_model(data, tmp_path, capsys):
    out = tmp_path / "model"
    code, stdout, err = run_cli(_fit(data, out, "--model", "gru", "--segment", "4", "--head", "segments",
                                  "--normalize", "revin", "--max-epochs", "2", "--patience", "1"), capsys)
    assert code == 0, err
    saved = json.loads((out / "model.json").read_text())
    assert {k: saved["params"][k] for k in ("segment", "head", "normalize", "max_epochs", "patience")} == {
        "segment": 4, "head": "segments", "normalize": "revin", "max_epochs": 2, "patience": 1}
    assert saved["network"]["segment"] == 4 and saved["network"]["head"] == "segments"
    assert saved["network"]["skip"] == "none"

    forecasts = tmp_path / "forecasts.csv"
    assert main(["predict", "--model", str(out), str(data), "--out", str(forecasts),
                 "--no-progress"]) == 0
    got = pd.read_csv(forecasts)
    assert len(got) == 2 * 3 and sorted(got["step"].unique()) == [1, 2, 3]  # 2 series x horizon 3


def test_skip_ridge_fits_the_highway_before_training_and_is_saved(data, tmp_path, capsys):
    out = tmp_path / "model"
    code, _, err = run_cli(_fit(data, out, "--model", "gru", "--head", "segments", "--normalize", "revin",
                                "--skip", "ridge", "--max-epochs", "2"), capsys)
    assert code == 0, err
    saved = json.loads((out / "model.json").read_text())
    assert saved["params"]["skip"] == saved["network"]["skip"] == "ridge"
    assert main(["predict", "--model", str(out), str(data), "--out", str(tmp_path / "f.csv"), "--no-progress"]) == 0


def test_old_epochs_flag_still_works_and_means_max_epochs(data, tmp_path, capsys):
    code, stdout, err = run_cli(_fit(data, tmp_path / "m", "--epochs", "1"), capsys)
    assert code == 0, err
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert saved["params"]["max_epochs"] == 1
    # The defaults: direct head on origin-relative inputs (normalize="auto" resolved), step by step.
    assert {k: saved["network"][k] for k in ("head", "normalize", "skip", "segment")} == {
        "head": "direct", "normalize": "last", "skip": "none", "segment": 1}
    assert "for 1 epochs" in stdout


def test_note_when_the_best_epoch_is_the_last_and_not_otherwise(data, tmp_path, capsys):
    note = "still improving: raise --max-epochs"
    code, _, err = run_cli(_fit(data, tmp_path / "a", "--max-epochs", "3", "--lr", "0.01"), capsys)
    assert code == 0 and sum(note in line for line in err) == 1, err
    assert [line for line in err if note in line][0].startswith("forecast: note: ")
    # A learning rate too small to move float32 weights: the loss never falls after the first epoch.
    code, _, err = run_cli(_fit(data, tmp_path / "b", "--max-epochs", "3", "--lr", "1e-12", "--patience", "0"), capsys)
    assert code == 0 and not any(note in line for line in err), err
    # No validation windows: nothing to say.
    code, _, err = run_cli(_fit(data, tmp_path / "c", "--max-epochs", "3", "--val-size", "0"), capsys)
    assert code == 0 and not any(note in line for line in err), err
    # One epoch is a probe, not a budget: nothing to compare, no note (tests and smoke runs stay quiet).
    code, _, err = run_cli(_fit(data, tmp_path / "d", "--max-epochs", "1"), capsys)
    assert code == 0 and not any(note in line for line in err), err


@pytest.mark.parametrize("extra, words", [
    (["--head", "transducer", "--segment", "4"], "segment=4 needs a head that reads the final state"),
    (["--segment", "9"], "segment=9 is longer than the lookback (8)"),
    (["--head", "transducer", "--normalize", "last"], "normalize='last'"),
    (["--channel-embedding-dim", "2"], "channel_embedding_dim > 0 needs channel_independent=True"),
    (["--head", "segments", "--known-future", "x"], "known-future covariates"),
])
def test_bad_combinations_fail_with_one_line(data, tmp_path, capsys, extra, words):
    args = _fit(data, tmp_path / "bad", "--max-epochs", "1", *extra)
    if "--known-future" in extra:
        args.remove("--features"), args.remove("x")
    code, _, err = run_cli(args, capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("forecast: error: ") and words in err[0]


def test_backtest_passes_the_options_to_the_recurrent_models_only(data, tmp_path, capsys):
    out = tmp_path / "report"
    code, stdout, err = run_cli(["backtest", str(data), "--id-col", "site", "--target", "y", "--lookback", "8",
                              "--horizon", "2", "--models", "gru,ridge", "--segment", "2", "--head", "segments",
                              "--channel-independent", "--max-epochs", "3", "--hidden-size", "4",
                              "--test-size", "0.2", "--no-plots", "--no-progress", "--out", str(out)], capsys)
    assert code == 0, err
    refits = pd.read_csv(out / "refits.csv")
    assert refits.set_index("model").loc["gru", "epochs"] == 3
    assert any("gru: the best validation loss came at the last epoch" in line for line in err), err


def test_ema_half_life_reaches_the_saved_model_and_a_bad_value_is_one_line(data, tmp_path, capsys):
    out = tmp_path / "model"
    code, _, err = run_cli(_fit(data, out, "--model", "gru", "--max-epochs", "2", "--ema-half-life", "0.5"), capsys)
    assert code == 0, err
    saved = json.loads((out / "model.json").read_text())
    assert saved["params"]["ema_half_life"] == 0.5
    assert main(["predict", "--model", str(out), str(data), "--out", str(tmp_path / "f.csv"), "--no-progress"]) == 0
    with pytest.raises(SystemExit) as stop:  # argparse's own usage error: one line, exit 2
        main(_fit(data, tmp_path / "bad", "--ema-half-life", "0"))
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert stop.value.code == 2 and "--ema-half-life" in err[-1] and "> 0" in err[-1], err
    assert not (tmp_path / "bad").exists()
