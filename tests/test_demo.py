"""The demo pipeline end to end on a small slice (seconds), and through the CLI."""

import pandas as pd

from forecast.cli import main
from forecast.demo import run_demo


def test_demo_on_a_slice_writes_forecasts_and_plot(tmp_path, seattle):
    result = run_demo(tmp_path, frame=seattle.iloc[:300], max_epochs=2, progress_bar=False)
    table = pd.read_csv(tmp_path / "forecasts.csv", parse_dates=["timestamp"])
    assert list(table.columns) == ["timestamp", "actual", "lstm", "persistence"]
    assert len(table) == result["test_rows"] == 300 - int(0.8 * 300)
    assert table["timestamp"].min() == seattle.index[int(0.8 * 300)]
    assert table.notna().all().all()
    # persistence is yesterday's value
    expected = seattle["temp_max"].shift(1).reindex(table["timestamp"]).to_numpy()
    assert (table["persistence"].to_numpy() == expected).all()
    assert (tmp_path / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_is_repeatable(tmp_path, seattle):
    a = run_demo(tmp_path / "a", frame=seattle.iloc[:250], max_epochs=1, progress_bar=False)
    b = run_demo(tmp_path / "b", frame=seattle.iloc[:250], max_epochs=1, progress_bar=False)
    assert a["mae_lstm"] == b["mae_lstm"]


def test_persistence_reference_number(seattle):
    """The shared data README's anchor: persistence MAE on the last 20% is 2.3563 degC."""
    cut = int(0.8 * len(seattle))
    y = seattle["temp_max"]
    mae = (y.shift(1) - y).iloc[cut:].abs().mean()
    assert round(mae, 4) == 2.3563


def test_demo_command(tmp_path, capsys, monkeypatch):
    import forecast.demo as demo

    real = demo.run_demo
    monkeypatch.setattr(demo, "run_demo", lambda out, **kw: real(out, frame=demo.datasets.load(
        "seattle-weather").iloc[:200], **{**kw, "max_epochs": 1}))
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "persistence MAE" in out and (tmp_path / "forecasts.csv").exists()
