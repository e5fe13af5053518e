"""Ctrl-C anywhere in training: `forecast: interrupted`, exit 130, nothing partial left (issue 14, item 5).

Lightning catches KeyboardInterrupt inside `trainer.fit` and calls `sys.exit(1)`; these tests send a real
SIGINT to a `forecast` process once its first training step has run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from forecast.cli import main
from tests._cli_data import long_frame

ROOT = Path(__file__).resolve().parents[1]

# Runs `forecast ARGS...` after making the first training step touch MARKER, so the test knows training started.
LAUNCHER = textwrap.dedent("""
    import pathlib, sys
    from forecast.models.lightning import ForecastModule
    marker = pathlib.Path(sys.argv[1])
    step = ForecastModule.training_step
    def touching(self, *args, **kwargs):
        marker.touch()
        return step(self, *args, **kwargs)
    ForecastModule.training_step = touching
    from forecast.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def _interrupt_after_training_starts(args: list[str], cwd: Path, timeout: float = 120,
                                     started=None) -> tuple[int, str]:
    """Run `forecast ARGS` in `cwd`, send SIGINT to it alone once `started()` (default: its first training
    step ran), and return its exit code and stderr."""
    marker = cwd / "training-started"
    started = started or marker.exists
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(marker), *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while not started() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started(), f"training never started (exit {proc.poll()})"
        marker.unlink(missing_ok=True)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


@pytest.fixture
def data_csv(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    long_frame(n_series=2, n_rows=400).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_ctrl_c_during_fit_exits_130_and_writes_nothing(data_csv, tmp_path):
    code, err = _interrupt_after_training_starts(
        ["fit", str(data_csv), "--id-col", "site", "--target", "y", "--lookback", "8", "--epochs", "1000",
         "--batch-size", "4", "--out", "model"], tmp_path)
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "forecast: interrupted", err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]  # no model folder, no temp files


@pytest.mark.slow
def test_ctrl_c_during_backtest_exits_130(data_csv, tmp_path):
    code, err = _interrupt_after_training_starts(
        ["backtest", str(data_csv), "--id-col", "site", "--target", "y", "--lookback", "8", "--epochs", "1000",
         "--models", "lstm", "--no-plots", "--out", "report"], tmp_path)
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "forecast: interrupted", err
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob(".*.tmp"))


def test_fit_trainer_turns_lightnings_exit_back_into_keyboard_interrupt():
    """In process: an interrupt raised inside a training step reaches the caller as KeyboardInterrupt, and
    SIGINT's handler is the one from before (Lightning sets it to SIG_IGN)."""
    from forecast import RNNForecaster
    from forecast.models.lightning import ForecastModule
    from tests._cli_data import spec

    frame = long_frame(n_series=1, n_rows=60).set_index("date")
    before = signal.getsignal(signal.SIGINT)
    step = ForecastModule.training_step

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    ForecastModule.training_step = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            RNNForecaster(hidden_size=4, max_epochs=1, progress_bar=False).fit(frame, spec())
    finally:
        ForecastModule.training_step = step
    assert signal.getsignal(signal.SIGINT) is before


def test_cli_maps_interrupt_in_training_to_130(tmp_path, capsys, monkeypatch):
    from forecast.models.lightning import ForecastModule

    path = tmp_path / "data.csv"
    long_frame(n_series=1, n_rows=60).to_csv(path, index=False)

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ForecastModule, "training_step", interrupted)
    code = main(["fit", str(path), "--target", "y", "--lookback", "8", "--epochs", "1", "--out",
                 str(tmp_path / "m")])
    assert code == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "forecast: interrupted" and "Traceback" not in err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_ctrl_c_during_a_sweep_with_workers_stops_them_all(tmp_path):
    """SIGINT to the parent alone (as `kill -INT` sends it): the workers are stopped too, exit 130."""
    import yaml

    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({
        "data": "seattle-weather", "spec": {"target": "temp_max", "lookback": 7, "horizon": 1},
        "families": ["lstm"], "n_trials": 50, "max_epochs": 200, "val_size": 0.15, "test_size": 0.15,
        "benchmarks": [], "study_name": "t", "out_dir": str(tmp_path / "out")}))
    db = tmp_path / "out" / "study.db"

    def running() -> list[int]:
        """Trial numbers the workers are running (they are separate processes, so no training marker)."""
        if not db.exists():
            return []
        with contextlib.closing(sqlite3.connect(db, timeout=5)) as con:
            try:
                return [n for (n,) in con.execute("select number from trials where state = 'RUNNING'")]
            except sqlite3.OperationalError:  # tables not created yet
                return []

    code, err = _interrupt_after_training_starts(["sweep", str(config), "--workers", "2", "--no-progress"],
                                                 tmp_path, timeout=240, started=lambda: bool(running()))
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "forecast: interrupted", err
    assert "Traceback" not in err
    assert not running()  # the workers stopped, and told the study: their trials are failed, not running


def test_an_interrupt_swallowed_by_a_finalizer_is_raised_again_without_a_traceback(capfd):
    """Ctrl-C landing in a weakref callback or __del__ is 'ignored' by Python with a printed traceback and
    the interrupt lost; the CLI's hook re-raises it in the main code and prints nothing."""
    import sys

    from forecast.interrupts import keep_interrupts

    class Finalized:
        def __del__(self):
            raise KeyboardInterrupt

    previous = sys.unraisablehook
    keep_interrupts()
    try:
        with pytest.raises(KeyboardInterrupt):
            Finalized()  # dropped at once: __del__ raises inside the finalizer
            time.sleep(2)  # the interrupt comes back within milliseconds
    finally:
        sys.unraisablehook = previous
    assert "Traceback" not in capfd.readouterr().err
