"""The ETTh1 benchmark reproduces the published protocol: split rows, training-only scaling, metric averaging."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import forecast
from forecast.benchmarks import etth1
from forecast.benchmarks.window_models import RidgeLookback, repeat_last
from forecast.cli import main
from forecast.config import WindowSpec
from forecast.data.panel import build_panel
from forecast.data.splits import Split


@pytest.fixture(scope="module")
def raw():
    return forecast.datasets.load("etth1")


@pytest.fixture(scope="module")
def multivariate(raw):
    return etth1.load_protocol("multivariate", raw)


def test_windows_follow_the_row_split(multivariate):
    lookback, horizon = 96, 24
    train, val, test = (etth1.protocol_windows(multivariate, lookback, horizon, p) for p in ("train", "val", "test"))
    # Informer's Dataset_ETT_hour: each part's rows [border1, border2) give len - L - H + 1 windows, where the
    # validation and test parts start L rows early (inputs reach back) so their first target is the border.
    assert (len(train), len(val), len(test)) == (8640 - lookback - horizon + 1, 2880 - horizon + 1, 2880 - horizon + 1)
    for windows, first_target, last_target in ((train, lookback, 8639), (val, 8640, 11519), (test, 11520, 14399)):
        assert windows.origins[0] + 1 == first_target
        assert windows.origins[-1] + horizon == last_target
        assert np.all(np.diff(windows.origins) == 1)
    assert test.origins[0] - lookback + 1 == 11520 - lookback  # the first test input starts in validation rows
    assert len(multivariate.panel.times) == 14400  # rows after 14400 are not used


def test_scaler_is_fit_on_training_rows_only(raw, multivariate):
    train = raw.iloc[:8640][list(etth1.COLUMNS)]
    np.testing.assert_allclose(multivariate.scaler.center_[0], train.mean(), rtol=1e-6)
    np.testing.assert_allclose(multivariate.scaler.scale_[0], train.std(ddof=0), rtol=1e-6)
    values = multivariate.panel.values
    np.testing.assert_allclose(values[:8640].mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(values[:8640].std(axis=0), 1.0, atol=1e-4)
    # Changing validation and test rows changes nothing in the statistics.
    tampered = raw.copy()
    tampered.iloc[8640:, :] = 1e6
    again = etth1.load_protocol("multivariate", tampered)
    np.testing.assert_array_equal(again.scaler.center_, multivariate.scaler.center_)
    np.testing.assert_array_equal(again.panel.values[:8640], values[:8640])


def test_univariate_reads_ot_only(raw):
    data = etth1.load_protocol("univariate", raw)
    assert data.panel.columns == ("OT",)
    assert data.panel.values.shape == (14400, 1)


def test_scores_average_over_windows_steps_and_columns():
    forecast_ = np.zeros((2, 2, 2))
    truth = np.array([[[1.0, -1.0], [2.0, 0.0]], [[0.0, 0.0], [0.0, 4.0]]])  # [N=2, H=2, T=2]
    # errors: 1, 1, 2, 0, 0, 0, 0, 4 -> MSE (1+1+4+16)/8, MAE (1+1+2+4)/8
    assert etth1.scores(forecast_, truth) == {"mse": 22 / 8, "mae": 8 / 8}


@pytest.mark.parametrize("horizon", etth1.DLINEAR_HORIZONS)
def test_repeat_reproduces_the_published_repeat_row(multivariate, horizon):
    # DLinear's code builds its test loader with batch_size=32, drop_last=True, so its published rows leave out
    # the last len % 32 test windows; doing the same reproduces its Repeat row to the third decimal, which
    # pins down the split, the window assignment and the scaling. Our own numbers use every window.
    test = etth1.protocol_windows(multivariate, 1, horizon, "test")
    keep = len(test) - len(test) % 32
    got = etth1.scores(repeat_last(test)[:keep], test.targets(slice(None))[:keep])
    published_mse, published_mae = etth1.PUBLISHED[("multivariate", "Repeat (last value)")][horizon]
    assert got["mse"] == pytest.approx(published_mse, abs=0.0006)
    assert got["mae"] == pytest.approx(published_mae, abs=0.0006)


def test_split_cuts_match_the_protocol_boundaries(multivariate):
    assert isinstance(multivariate.split, Split)
    assert multivariate.split.train_rows(multivariate.panel).sum() == 8640


def test_channel_independent_ridge_keeps_columns_apart():
    # Two columns on very different levels: mixing them up in a reshape would show at once.
    t = np.arange(400, dtype=np.float64)
    frame = pd.DataFrame({"a": np.sin(t / 5), "b": 10 + np.cos(t / 7)},
                         index=pd.date_range("2020-01-01", periods=400, freq="h"))
    spec = WindowSpec(target=("a", "b"), lookback=20, horizon=5)
    panel = build_panel(frame, spec)
    split = Split(train_end=np.array([300]), val_end=np.array([350]))
    train, val, test = (split.windows(panel, spec, p) for p in ("train", "val", "test"))
    for independent in (True, False):
        model = RidgeLookback(alphas=(1e-3,), channel_independent=independent).fit(train, val)
        pred = model.predict(test)
        assert pred.shape == (len(test), 5, 2)
        np.testing.assert_allclose(pred, test.targets(slice(None)), atol=0.05)


def test_quick_run_gives_finite_numbers_in_the_json_schema(raw):
    config = etth1.ETTh1Config.quick(horizons=(24,), models=etth1.MODELS)
    result = json.loads(json.dumps(etth1.run(config, frame=raw)))
    assert {"benchmark", "protocol", "config", "results", "summary", "published", "environment", "seconds"} <= set(result)
    assert result["complete"] is True
    assert len(result["results"]) == len(etth1.SETTINGS) * len(etth1.MODELS)  # one lookback, one seed
    for row in result["results"]:
        assert {"setting", "horizon", "model", "lookback", "seed", "mse", "mae", "n_test_windows"} <= set(row)
        assert math.isfinite(row["mse"]) and math.isfinite(row["mae"]) and row["mse"] >= 0
        assert row["n_test_windows"] == len(range(0, 2880 - 24 + 1, 24))
        assert (row["seed"] is None) == (row["model"] in etth1.DETERMINISTIC)
    table = etth1.markdown_table(result)
    assert "| model | L | H | MSE mean | MSE std | MAE mean | MAE std | runs |" in table
    assert "published: LSTMa" in table and "| ours: LSTM | 48 | 24 |" in table


def test_cells_cover_lookbacks_and_seeds_and_run_deterministic_models_once():
    config = etth1.ETTh1Config(horizons=(96, 720), lookbacks=(96, 336), seeds=(1, 2, 3), models=("repeat", "ridge", "gru"),
                               settings=("multivariate",))
    cells = etth1.cells(config)
    assert sum(c.model == "repeat" for c in cells) == 2  # one per horizon, no lookback, no seed
    assert sum(c.model == "ridge" for c in cells) == 4 and all(c.seed is None for c in cells if c.model != "gru")
    assert sorted((c.lookback, c.horizon, c.seed) for c in cells if c.model == "gru") == [
        (lb, h, s) for lb in (96, 336) for h in (96, 720) for s in (1, 2, 3)]
    assert (cells[0].model, cells[0].lookback, cells[0].horizon) == ("gru", 336, 720)  # most expensive first


def test_seeds_differ_and_the_table_gives_their_mean_and_std(multivariate):
    config = etth1.ETTh1Config.quick(settings=("multivariate",), models=("gru",), seeds=(1, 2))
    rows = [etth1.run_model(multivariate, etth1.Cell("multivariate", "gru", 48, 24, seed), config) for seed in (1, 2, 1)]
    assert rows[0]["mse"] != rows[1]["mse"]  # another seed, other weights and batches
    assert rows[0]["mse"] == rows[2]["mse"]  # the same seed, the same numbers
    summary = etth1.summarize(rows[:2])
    assert len(summary) == 1 and summary[0]["runs"] == 2 and summary[0]["seeds"] == [1, 2]
    mses = [rows[0]["mse"], rows[1]["mse"]]
    assert summary[0]["mse_mean"] == pytest.approx(np.mean(mses))
    assert summary[0]["mse_std"] == pytest.approx(np.std(mses, ddof=1)) and summary[0]["mse_std"] > 0
    table = etth1.markdown_table({"summary": summary})
    assert f"| ours: GRU | 48 | 24 | {np.mean(mses):.3f} | {np.std(mses, ddof=1):.3f} |" in table
    assert "| published: SegRNN (L=96, README table) | | 96 |" not in table  # only the horizons that ran


@pytest.mark.slow
def test_two_workers_give_the_same_rows_as_one(raw):
    config = etth1.ETTh1Config.quick(settings=("univariate",), models=("ridge", "gru"), seeds=(1, 2))
    one, two = etth1.run(config, frame=raw), etth1.run(config, frame=raw, workers=2)
    assert two["environment"]["workers"] == 2
    for a, b in zip(one["results"], two["results"], strict=True):
        assert (a["model"], a["seed"], a["mse"]) == (b["model"], b["seed"], pytest.approx(b["mse"], rel=1e-6))


@pytest.mark.parametrize("cell", etth1.RECURRENT)
def test_quick_run_takes_the_segment_options(multivariate, cell):
    # The SegRNN-style settings reach the network: a GRU/LSTM/RNN over segments of 12, decoded in parallel,
    # each column its own series with a channel embedding, RevIN; the row records them in the config.
    quick = etth1.ETTh1Config.quick()
    recurrent = replace(quick.recurrent, head="segments", segment=12, channel_independent=True,
                        channel_embedding_dim=4, normalize="revin", skip="none", lr_schedule="cosine")
    config = replace(quick, recurrent=recurrent)
    row = etth1.run_model(multivariate, etth1.Cell("multivariate", cell, 48, 24, 1), config)
    assert math.isfinite(row["mse"]) and row["lookback"] == 48
    assert config.to_dict()["recurrent"]["segment"] == 12


def test_the_default_recipe_is_segrnns_with_a_decaying_rate_and_early_stopping():
    config = etth1.ETTh1Config()
    assert (config.horizons, config.lookbacks, config.seeds) == ((96, 192, 336, 720), (96, 336), (1, 2, 3))
    recipe = config.recurrent
    assert (recipe.head, recipe.segment, recipe.channel_independent, recipe.lr_schedule) == (
        "segments", 24, True, "decay")
    assert recipe.patience and recipe.max_epochs > recipe.patience


def test_cli_writes_json_and_table(tmp_path, capsys):
    code = main(["benchmark", "etth1", "--quick", "--setting", "univariate", "--models", "repeat,ridge,gru",
                 "--seeds", "1,2", "--out", str(tmp_path)])
    assert code == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed == json.loads((tmp_path / "results.json").read_text())
    assert printed["command"].startswith("forecast benchmark etth1 --horizons 24 --lookbacks 48 --seeds 1,2 "
                                         "--setting univariate")
    assert [r["runs"] for r in printed["summary"]] == [1, 1, 2]  # repeat, ridge, gru over two seeds
    table = (tmp_path / "results.md").read_text()
    assert "ours: repeat last value" in table and "MSE std" in table
    assert captured.err == ""  # progress lines go to a terminal only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]


@pytest.mark.parametrize("argv, message", [
    (["--horizons", "24,x"], "--horizons '24,x' must be comma-separated integers, e.g. 96,192,336,720"),
    (["--horizons", "0"], "horizons [0] must be integers in [1, 2880]"),
    (["--lookbacks", "96,0"], "lookbacks [0] must be integers in [1, 4320]"),
    (["--seeds", "1,two"], "--seeds '1,two' must be comma-separated integers"),
    (["--seeds", "-1"], "seeds [-1] must be integers >= 0"),
    (["--models", "lstm,arima"], "models ['arima'] must be chosen from"),
])
def test_cli_rejects_bad_options(tmp_path, capsys, argv, message):
    assert main(["benchmark", "etth1", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("forecast: error: ")
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_cli_options_reach_the_config():
    from forecast.cli import build_parser
    from forecast.cli.benchmark import config_from_args

    args = build_parser().parse_args(["benchmark", "etth1", "--horizons", "24,96", "--setting", "multivariate",
                                      "--models", "ridge,gru", "--rnn-skip", "linear", "--seeds", "3",
                                      "--lookbacks", "96,720"])
    config = config_from_args(args)
    assert (config.horizons, config.settings, config.models, config.seeds, config.lookbacks) == (
        (24, 96), ("multivariate",), ("ridge", "gru"), (3,), (96, 720))
    assert (config.recurrent.skip, config.recurrent.normalize, config.recurrent.head) == ("linear", "revin", "segments")
    assert config.eval_stride == 1  # the full protocol unless --quick
    pointwise = config_from_args(build_parser().parse_args(["benchmark", "etth1", "--recipe", "pointwise"]))
    assert pointwise.recurrent == etth1.RECIPES["pointwise"] and pointwise.recipe == "pointwise"
    # SegRNN's own budget: the segments recipe's network at SegRNN's width, normalization and epochs
    segrnn = config_from_args(build_parser().parse_args(["benchmark", "etth1", "--recipe", "segrnn"])).recurrent
    segments = etth1.RECIPES["segments"]
    assert (segrnn.hidden_size, segrnn.channel_embedding_dim, segrnn.normalize, segrnn.max_epochs, segrnn.patience) == (
        512, 256, "last", 30, 10)
    assert replace(segrnn, hidden_size=segments.hidden_size, channel_embedding_dim=segments.channel_embedding_dim,
                   normalize=segments.normalize, max_epochs=segments.max_epochs, patience=segments.patience) == segments
    # the highway recipe differs from the segments recipe in the skip (a ridge-fitted, frozen highway) and in
    # SegRNN's last-value normalization; --rnn-normalize revin still gives its first, RevIN version
    highway = config_from_args(build_parser().parse_args(["benchmark", "etth1", "--recipe", "highway"])).recurrent
    assert (highway.skip, highway.normalize) == ("ridge", "last")
    assert replace(highway, skip=segments.skip, normalize=segments.normalize) == segments
    highway_revin = config_from_args(build_parser().parse_args(
        ["benchmark", "etth1", "--recipe", "highway", "--rnn-normalize", "revin"])).recurrent
    assert highway_revin == replace(highway, normalize="revin")
    assert segrnn.ema_half_life is None  # weight averaging is off unless asked for
    averaged = config_from_args(build_parser().parse_args(
        ["benchmark", "etth1", "--recipe", "segrnn", "--rnn-ema-half-life", "1"])).recurrent
    assert averaged == replace(segrnn, ema_half_life=1.0)
