"""The rolling-origin backtest: no model sees data after its origin, all models share the origins,
refits follow the schedule, scores per step and overall, panels, direction classification, the command.

The promise the fast path relies on (predict(origin="all") from origin t reads rows up to t only) is
checked for every registered model in tests/test_conformance.py (later rows added, or poisoned)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import forecast
from forecast.config import WindowSpec
from forecast.data.panel import build_panel
from forecast.data.windows import make_windows
from forecast.errors import InputError
from forecast.evaluate import backtest, model_name, resolve_models
from forecast.models import registry
from forecast.models.base import forecasts_frame, select_origins
from forecast.models.direction import AlwaysUp, PersistDirection
from forecast.models.estimators import RNNForecaster

FEATURES = ("precipitation", "temp_min", "wind")
TINY_RNN = {"max_epochs": 1, "hidden_size": 8, "batch_size": 64, "progress_bar": False, "seed": 0}


class Persist(BaseEstimator):
    """Test-only persistence: the last target value, repeated for every step (same origins as the RNNs)."""

    def fit(self, frame: pd.DataFrame, spec: WindowSpec) -> Persist:
        self.spec_ = spec
        return self

    def predict(self, frame: pd.DataFrame, *, origin: str = "last") -> pd.DataFrame:
        spec = self.spec_
        panel = build_panel(frame, spec, vocabularies={c: [] for c in spec.categorical},
                            future_steps=spec.horizon)
        origins = select_origins(panel, make_windows(panel, spec, require_targets=False).origins, origin)
        level = panel.values[origins][:, panel.column_index(spec.targets)].astype(float)  # [N, T]
        return forecasts_frame(panel, spec, origins, np.repeat(level[:, None, :], spec.horizon, axis=1))


class Recorder(Persist):
    """Persistence that logs the last timestamp of every frame it is given (class-level: clones share it)."""

    log: list[dict] = []

    def fit(self, frame, spec):
        Recorder.log.append({"call": "fit", "seen": frame.index.max(), "rows": len(frame)})
        return super().fit(frame, spec)

    def predict(self, frame, *, origin="last"):
        out = super().predict(frame, origin=origin)
        Recorder.log.append({"call": "predict", "seen": frame.index.max(), "origin": origin,
                             "origins": set(out["origin"])})
        return out


@pytest.fixture
def recorder():
    Recorder.log = []
    return Recorder()


@pytest.fixture(scope="module")
def weather():
    return forecast.datasets.load("seattle-weather").iloc[:400]


@pytest.fixture(scope="module")
def panel_frame():
    """Three tickers, the last 160 trading days each (long format)."""
    stocks = forecast.datasets.load("stocks")
    stocks = stocks[stocks["ticker"].isin(["AAPL", "GOOG", "MSFT"])]
    return stocks.groupby("ticker", group_keys=False).tail(160)


SPEC = WindowSpec(target="temp_max", lookback=10, horizon=1, features=FEATURES)


def _fits(log):
    return [e for e in log if e["call"] == "fit"]


def _predicts(log):
    return [e for e in log if e["call"] == "predict"]


# -- no look-ahead ------------------------------------------------------------------------------------


def test_single_fit_sees_only_rows_before_the_test_period(weather, recorder):
    result = backtest({"rec": recorder, "naive": Persist()}, weather, SPEC, test_size=0.2, progress=False)
    first_origin = result.origins["origin"].min()
    (fit,) = _fits(Recorder.log)
    assert fit["seen"] == first_origin == weather.index[int(0.8 * 400) - 1]
    assert fit["rows"] == int(0.8 * 400)  # exactly the rows before the test period
    assert all(p["seen"] <= result.origins["origin"].max() for p in _predicts(Recorder.log))
    # every test target is forecast once, from the row just before it
    assert len(result.origins) == 400 - int(0.8 * 400)
    rec = result.forecasts[result.forecasts["model"] == "rec"]
    assert (rec["timestamp"] > rec["origin"]).all()
    assert rec["timestamp"].tolist() == weather.index[int(0.8 * 400):].tolist()


def test_each_origin_mode_never_hands_predict_data_after_the_origin(weather, recorder):
    result = backtest({"rec": recorder, "naive": Persist()}, weather, SPEC, test_size=30, refit_every=10,
                      predict_each_origin=True, progress=False)
    calls = _predicts(Recorder.log)
    assert len(calls) == 30  # one per origin
    for call in calls:
        assert call["origin"] == "last"
        assert call["origins"] == {call["seen"]}  # the forecast's origin is the last row it was given
    # and every scored forecast came from such a call
    assert set(result.forecasts["origin"]) == {c["seen"] for c in calls}
    fits = _fits(Recorder.log)
    starts = result.refits.loc[result.refits["model"] == "rec", "first_origin"].tolist()
    assert [f["seen"] for f in fits] == starts


def test_refit_schedule_expanding_window(weather, recorder):
    result = backtest({"rec": recorder, "naive": Persist()}, weather, SPEC, test_size=0.25, refit_every=30,
                      progress=False)
    dates = sorted(result.origins["origin"])
    assert len(dates) == 100
    fits = _fits(Recorder.log)
    assert len(fits) == math.ceil(100 / 30) == 4
    # fit k ends at the k-th block's first origin, and the training window only grows
    assert [f["seen"] for f in fits] == [dates[i] for i in (0, 30, 60, 90)]
    assert [f["rows"] for f in fits] == [300, 330, 360, 390]
    refits = result.refits[result.refits["model"] == "rec"]
    assert refits["n_origins"].tolist() == [30, 30, 30, 10]
    assert (refits["fit_end"] == refits["first_origin"]).all()
    # each predict call is cut at its block's last origin
    assert [p["seen"] for p in _predicts(Recorder.log)] == refits["last_origin"].tolist()
    # every forecast comes from the fit whose block holds its origin, which ended at or before it
    rec = result.forecasts[result.forecasts["model"] == "rec"]
    block = np.searchsorted(refits["first_origin"].to_numpy(), rec["origin"].to_numpy(), side="right") - 1
    assert (refits["fit_end"].to_numpy()[block] <= rec["origin"].to_numpy()).all()
    assert (result.timings.set_index("model").loc["rec", "n_fits"]) == 4


def test_rnn_refits_see_only_their_past(weather):
    """A real RNN with refits: its scaler is refit on each expanding window (it lives inside the model)."""
    result = backtest({"gru": registry.build("gru", **TINY_RNN), "naive": Persist()}, weather, SPEC,
                      test_size=40, refit_every=20, progress=False)
    refits = result.refits[result.refits["model"] == "gru"]
    assert len(refits) == 2
    assert (refits["fit_end"] == refits["first_origin"]).all()
    assert refits["first_origin"].tolist() == [weather.index[359], weather.index[379]]


# -- same origins, scores, leaderboard ----------------------------------------------------------------


@pytest.fixture(scope="module")
def weather_result(weather):
    models = {"naive": Persist(), "rnn": RNNForecaster(cell="rnn", **TINY_RNN)}
    return backtest(models, weather, WindowSpec(target="temp_max", lookback=10, horizon=3, features=FEATURES),
                    test_size=0.2, progress=False)


def test_all_models_forecast_from_the_same_origins(weather_result):
    f = weather_result.forecasts
    per_model = {m: set(zip(g["origin"], g["step"], strict=True)) for m, g in f.groupby("model")}
    assert per_model["naive"] == per_model["rnn"]
    assert set(f["origin"]) == set(weather_result.origins["origin"])
    # horizon 3: every origin's three targets lie in the test period
    assert f["timestamp"].min() == weather_result.test_start
    assert f.groupby(["model", "origin"]).size().eq(3).all()


def test_scores_per_step_and_overall(weather_result, weather):
    scores = weather_result.scores
    n = len(weather_result.origins)
    for model in ("naive", "rnn"):
        rows = scores[scores["model"] == model]
        assert rows["step"].isna().sum() == 1
        assert sorted(rows["step"].dropna().tolist()) == [1, 2, 3]
        assert rows.loc[rows["step"].isna(), "n"].item() == 3 * n
    # persistence's step-h error, by hand
    y = weather["temp_max"]
    naive = weather_result.forecasts.query("model == 'naive' and step == 2")
    expected = np.mean(np.abs(y.reindex(naive["timestamp"]).to_numpy() - y.reindex(naive["origin"]).to_numpy()))
    got = scores.query("model == 'naive' and step == 2")["mae"].item()
    assert got == pytest.approx(expected)


def test_leaderboard_and_summary(weather_result):
    board = weather_result.leaderboard
    assert set(board["model"]) == {"naive", "rnn"}
    assert board.loc[board["model"] == "naive", "dm_p_better"].isna().all()
    assert board.loc[board["model"] == "rnn", "dm_n"].item() == len(weather_result.origins)
    assert (board["fit_seconds"] >= 0).all() and (board["predict_seconds"] > 0).all()
    assert "benchmark: naive" in weather_result.summary
    beats = board.loc[board["model"] == "rnn", "beats_benchmark"].item()
    assert ("No model beats naive" in weather_result.summary) == (not beats)


def test_persistence_matches_the_reference_number():
    """On the full Seattle data the backtest's persistence MAE is the shared README's 2.3563 degC."""
    seattle = forecast.datasets.load("seattle-weather")
    result = backtest({"naive": Persist()}, seattle, SPEC, test_size=0.2, progress=False)
    assert len(result.origins) == 293
    assert round(result.leaderboard["mae"].item(), 4) == 2.3563


def test_stride_keeps_every_kth_origin_date(weather):
    result = backtest({"naive": Persist()}, weather, SPEC, test_size=60, stride=7, progress=False)
    dates = pd.DatetimeIndex(sorted(result.origins["origin"]))
    assert len(dates) == math.ceil(60 / 7)
    assert (np.diff(dates.asi8) == 7 * 86_400 * 10**9).all()


def test_interval_forecasts_are_scored_and_plotted(weather, tmp_path):
    class Band(Persist):
        """Persistence with an 80% band of +-3 degrees."""

        def predict(self, frame, *, origin="last"):
            out = super().predict(frame, origin=origin)
            return out.assign(**{"q0.1": out["forecast"] - 3.0, "q0.5": out["forecast"], "q0.9": out["forecast"] + 3.0})

    result = backtest({"naive": Persist(), "band": Band()}, weather, SPEC, test_size=0.2, progress=False)
    board = result.leaderboard.set_index("model")
    y = weather["temp_max"]
    moves = (y - y.shift(1)).iloc[int(0.8 * 400):].abs()
    assert board.loc["band", "coverage_0.8"] == pytest.approx((moves <= 3.0).mean())
    assert np.isnan(board.loc["naive", "coverage_0.8"])
    result.write(tmp_path)
    assert (tmp_path / "forecast.png").stat().st_size > 0


def test_origins_a_model_cannot_forecast_are_dropped_for_all(weather):
    class Gappy(Persist):
        def predict(self, frame, *, origin="last"):
            out = super().predict(frame, origin=origin)
            return out.assign(forecast=out["forecast"].where(out["origin"].dt.day != 1))  # NaN on the 1st

    result = backtest({"gappy": Gappy(), "naive": Persist()}, weather, SPEC, test_size=0.2, progress=False)
    assert (result.forecasts["origin"].dt.day != 1).all()
    assert result.dropped == {"gappy": 3, "naive": 0}
    assert "dropped for every model (missed: gappy 3)" in result.summary


def test_models_passed_in_are_not_fitted(weather):
    model = RNNForecaster(cell="rnn", **TINY_RNN)
    backtest([model, Persist()], weather.iloc[:200], SPEC, test_size=10, progress=False,
             benchmark="persist")
    with pytest.raises(NotFittedError):
        check_is_fitted(model, "network_")


# -- panels ---------------------------------------------------------------------------------------------


def test_panel_of_stocks(panel_frame, recorder):
    spec = WindowSpec(target="close", lookback=10, horizon=2, features=("volume",), id_col="ticker")
    result = backtest({"naive": Persist(), "rec": recorder, "rnn": RNNForecaster(cell="rnn", **TINY_RNN)},
                      panel_frame, spec, test_size=30, refit_every=15, progress=False)
    f = result.forecasts
    assert sorted(f["ticker"].unique()) == ["AAPL", "GOOG", "MSFT"]
    keys = {m: set(zip(g["ticker"], g["origin"], g["step"], strict=True)) for m, g in f.groupby("model")}
    assert keys["naive"] == keys["rec"] == keys["rnn"]
    assert len(result.origins) == 3 * (30 - 1)  # horizon 2: the last test row is no origin
    assert len(_fits(Recorder.log)) == 2
    assert all(fit["seen"] == start for fit, start in zip(
        _fits(Recorder.log), result.refits.query("model == 'rec'")["first_origin"], strict=True))
    # persistence in a panel: each ticker's own last close
    naive = f[(f["model"] == "naive")].merge(
        panel_frame.reset_index().rename(columns={"date": "origin", "close": "at_origin"})[
            ["ticker", "origin", "at_origin"]], on=["ticker", "origin"])
    assert np.allclose(naive["forecast"], naive["at_origin"])
    assert set(result.leaderboard["model"]) == {"naive", "rec", "rnn"}
    assert "3 series" in result.summary


# -- direction as classification ----------------------------------------------------------------------


def test_direction_baselines_by_hand():
    idx = pd.date_range("2021-01-01", periods=8, freq="D")
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0, 2.0, 3.0, 4.0, 5.0, 4.0]}, index=idx)
    spec = WindowSpec(target="y", lookback=2)
    # moves: up up down up up up down -> 5 of 7 up; repeats of the previous direction: 3 of 6
    up = AlwaysUp().fit(frame, spec)
    assert up.rate_[0, 0] == pytest.approx(5 / 7)
    falling = frame.assign(y=-frame["y"])  # 2 of 7 up: still calls up, at a coin flip
    assert AlwaysUp().fit(falling, spec).rate_[0, 0] == 0.5
    persist = PersistDirection().fit(frame, spec)
    assert persist.rate_[0, 0] == pytest.approx(3 / 6)
    out = PersistDirection(confidence=0.8).fit(frame, spec).predict(frame, origin="all")
    # origin rows 1..7; the last move into each origin: up up down up up up down
    assert out["forecast"].tolist() == pytest.approx([0.8, 0.8, 0.2, 0.8, 0.8, 0.8, 0.2])


def test_direction_backtest_scores_accuracy_and_brier():
    msft = forecast.datasets.load("msft").iloc[-400:]
    spec = WindowSpec(target="close", lookback=10, horizon=1)
    rnn = RNNForecaster(cell="gru", task="direction", **TINY_RNN)
    result = backtest({"gru_direction": rnn, "always_up": "always_up"}, msft, spec, test_size=0.25,
                      progress=False)
    board = result.leaderboard
    assert result.task == "direction" and result.benchmark == "persist_direction"
    assert set(board["model"]) == {"gru_direction", "always_up", "persist_direction"}
    assert {"accuracy", "brier", "log_loss"} <= set(board.columns)
    y = msft["close"]
    up = (y > y.shift(1)).astype(float)
    labels = up.reindex(result.forecasts["timestamp"]).to_numpy()
    assert np.array_equal(result.actuals["close"].reindex(result.forecasts["timestamp"]).to_numpy(), labels)
    always = result.forecasts[result.forecasts["model"] == "always_up"]
    assert (always["forecast"] >= 0.5).all()  # always calls up: its accuracy is the share of up days
    share = up.reindex(always["timestamp"]).mean()
    assert board.loc[board["model"] == "always_up", "accuracy"].item() == pytest.approx(share)


def test_direction_and_value_models_do_not_mix(weather):
    with pytest.raises(InputError, match="cannot score direction classifiers"):
        backtest({"up": AlwaysUp(), "naive": Persist()}, weather, SPEC, progress=False)


# -- names and bad input ------------------------------------------------------------------------------


def test_persistence_is_always_included(weather):
    result = backtest(["rnn"], weather, SPEC, test_size=20, params=TINY_RNN, progress=False)
    assert set(result.leaderboard["model"]) == {"rnn", "naive"}
    # the registered persistence and the test-only one agree
    ours = backtest({"naive": Persist()}, weather, SPEC, test_size=20, progress=False).forecasts
    pd.testing.assert_frame_equal(result.forecasts.query("model == 'naive'").reset_index(drop=True), ours)


@pytest.mark.parametrize("task", ["regression", "direction"])
def test_without_models_the_library_picks_the_defaults_of_the_task(weather, monkeypatch, task):
    """backtest(None, ...) compares DEFAULT_MODELS of the task: the CLI no longer chooses them."""
    import forecast.evaluate as evaluate

    built = []
    monkeypatch.setattr(evaluate, "resolve_models", lambda models, params: built.append(models) or {
        "naive": Persist()})
    backtest(None, weather, SPEC, test_size=20, params={"task": task}, progress=False)
    assert built == [list(evaluate.DEFAULT_MODELS[task])]
    assert evaluate.DEFAULT_MODELS["direction"][-1] == "always_up" and "naive" in evaluate.DEFAULT_MODELS["regression"]


def test_models_by_name_and_instance():
    assert model_name(RNNForecaster(cell="gru")) == "gru"
    assert model_name(RNNForecaster()) == "lstm"
    assert model_name(Persist()) == "persist"
    models = resolve_models(["rnn", AlwaysUp()], params={"max_epochs": 3, "not_a_param": 1})
    assert list(models) == ["rnn", "always_up"]
    assert models["rnn"].max_epochs == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"models": ["no_such_model"]}, "unknown model 'no_such_model'"),
        ({"refit_every": 0}, "refit_every must be a positive"),
        ({"stride": 0}, "stride must be a positive"),
        ({"test_size": 1.5}, "test_size 1.5 must be a fraction"),
        ({"benchmark": "nope"}, "unknown model 'nope'"),
        ({"models": {"a": Persist(), "b": object()}}, "has no fit/predict"),
    ],
)
def test_bad_arguments_fail_with_one_clear_line(weather, kwargs, message):
    args = {"models": {"naive": Persist()}, **kwargs}
    with pytest.raises(InputError, match=message):
        backtest(args.pop("models"), weather, SPEC, progress=False, **args)


def test_a_test_period_without_origins_is_reported(weather):
    spec = WindowSpec(target="temp_max", lookback=10, horizon=5)
    with pytest.raises(InputError, match="no test origins"):
        backtest({"naive": Persist()}, weather, spec, test_size=3, progress=False)


def test_result_writes_its_files(weather_result, tmp_path):
    paths = weather_result.write(tmp_path)
    for name in ("leaderboard.csv", "leaderboard.png", "forecasts.csv", "scores.csv", "refits.csv",
                 "summary.txt", "forecast.png", "residuals.png"):
        assert (tmp_path / name).is_file(), name
    assert set(paths) >= {"leaderboard.csv", "forecast.png"}
    assert "naive" in (tmp_path / "summary.txt").read_text()
    assert not list(tmp_path.glob(".*.tmp"))


# -- the command ----------------------------------------------------------------------------------------


def test_command_end_to_end_on_a_small_slice(tmp_path, capsys, weather, monkeypatch):
    from forecast.cli import main

    for stream in (sys.stdout, sys.stderr):  # progress bars are for terminals only (issue 14)
        monkeypatch.setattr(stream, "isatty", lambda: True)
    data = tmp_path / "seattle.csv"
    weather.iloc[:250].to_csv(data)
    out = tmp_path / "report"
    code = main(["backtest", str(data), "--target", "temp_max", "--features", "precipitation,wind",
                 "--models", "rnn,gru", "--epochs", "1", "--hidden-size", "8", "--lookback", "7",
                 "--horizon", "2", "--test-size", "0.2", "--refit-every", "25", "--threads", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for name in ("leaderboard.csv", "leaderboard.png", "forecasts.csv", "scores.csv", "summary.txt",
                 "forecast.png", "residuals.png"):
        assert (out / name).is_file(), name
    board = pd.read_csv(out / "leaderboard.csv")
    assert sorted(board["model"]) == ["gru", "naive", "rnn"]
    assert (board["n"] == 2 * (50 - 1)).all()
    forecasts = pd.read_csv(out / "forecasts.csv")
    assert sorted(forecasts["step"].unique()) == [1, 2]
    assert "rank" in captured.out and "benchmark: naive" in captured.out
    assert (out / "summary.txt").read_text().strip() in captured.out
    assert "backtest" in captured.err  # the progress bar


def test_command_reads_bundled_panels_with_their_series_column(tmp_path, capsys):
    from forecast.cli import main

    code = main(["backtest", "stocks", "--target", "close", "--models", "naive", "--lookback", "5",
                 "--test-size", "20", "--out", str(tmp_path), "--no-progress", "--no-plots"])
    assert code == 0, capsys.readouterr().err
    forecasts = pd.read_csv(tmp_path / "forecasts.csv")
    assert sorted(forecasts["ticker"].unique()) == ["AAPL", "FB", "GOOG", "MSFT"]
    assert not (tmp_path / "forecast_AAPL.png").exists()


def test_command_direction_task(tmp_path, capsys):
    from forecast.cli import main

    data = tmp_path / "msft.csv"
    forecast.datasets.load("msft").iloc[-200:].to_csv(data)
    code = main(["backtest", str(data), "--target", "close", "--task", "direction", "--models", "gru",
                 "--epochs", "1", "--hidden-size", "8", "--lookback", "5", "--test-size", "30",
                 "--out", str(tmp_path / "r"), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    board = pd.read_csv(tmp_path / "r" / "leaderboard.csv")
    assert sorted(board["model"]) == ["gru", "persist_direction"]
    assert {"accuracy", "brier"} <= set(board.columns)
    assert "brier" in captured.out and "benchmark: persist_direction" in captured.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", "rnn,nope"], "unknown model(s) 'nope' in --models; choose from: "),
        (["--target", "temp_maxx"], "no column(s) 'temp_maxx'; columns are "),
        (["--features", "rain"], "no column(s) 'rain'"),
    ],
)
def test_command_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, weather, argv, message):
    from forecast.cli import main

    data = tmp_path / "seattle.csv"
    weather.iloc[:100].to_csv(data)
    args = {"--target": "temp_max", "--models": "rnn"}
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        args[flag] = value
    out = tmp_path / "report"
    code = main(["backtest", str(data), *[x for kv in args.items() for x in kv], "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("forecast: error: ") and message in err[0]
    assert not out.exists()


def test_command_keeps_missing_values_and_names_text_in_a_number_column(tmp_path, capsys, weather):
    from forecast.cli import main

    holes = weather.iloc[:120].copy()
    holes.iloc[110, holes.columns.get_loc("temp_max")] = np.nan  # inside the test period
    data = tmp_path / "holes.csv"
    holes.to_csv(data)
    argv = ["backtest", str(data), "--target", "temp_max", "--models", "naive", "--lookback", "5",
            "--test-size", "20", "--no-plots", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "ok")]) == 0, capsys.readouterr().err
    forecasts = pd.read_csv(tmp_path / "ok" / "forecasts.csv", parse_dates=["origin", "timestamp"])
    hole = holes.index[110]
    assert hole not in set(forecasts["timestamp"]) and hole not in set(forecasts["origin"])

    text = holes.astype({"temp_max": object})
    text.iloc[50, text.columns.get_loc("temp_max")] = "hot"
    text.to_csv(data)
    capsys.readouterr()
    code = main([*argv, "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("forecast: error: ")
    assert str(data) in err[-1] and "temp_max" in err[-1] and "not a number" in err[-1]
    assert not (tmp_path / "bad").exists()
