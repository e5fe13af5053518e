"""`forecast predict --dask`: a partitioned Parquet dataset forecast on a local Dask cluster of worker processes
(started here) gives the single-process rows; bad rows and split series fail with one line, exit 2."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from forecast.errors import InputError
from tests._cli_data import long_frame, run_cli, tiny_model
from tests.test_stream_predict import _panel

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # starting worker processes (each imports torch) takes seconds


@pytest.fixture(scope="module")
def cluster():
    """A local cluster of 2 worker processes, reached by its address like a real one."""
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("dask") / "model"
    tiny_model(long_frame(n_series=4)).save(path)
    return path


def _dataset(frame: pd.DataFrame, folder, groups) -> None:
    """One Parquet file per group of series (rows left in their shuffled order)."""
    folder.mkdir()
    for k, sites in enumerate(groups):
        frame[frame["site"].isin(sites)].to_parquet(folder / f"part-{k}.parquet", index=False)


def test_distributed_equals_single_process_row_for_row(cluster, model_dir, tmp_path, capsys):
    frame = _panel()
    frame.to_parquet(tmp_path / "all.parquet", index=False)
    _dataset(frame, tmp_path / "ds", [["S0", "S5", "S2"], ["S1", "S3"], ["S4", "S6", "S7", "S8"]])
    code, _, err = run_cli(["predict", "--model", str(model_dir), str(tmp_path / "all.parquet"), "--sort",
                         "--out", str(tmp_path / "single.csv")], capsys)
    assert code == 0, err
    code, stdout, err = run_cli(["predict", "--model", str(model_dir), str(tmp_path / "ds"), "--sort",
                              "--dask", cluster, "--out", str(tmp_path / "dist.csv")], capsys)
    assert code == 0, err
    assert "for 7 series" in stdout
    assert [line for line in err if "skipped" in line] == [
        "forecast: note: skipped 2 of 9 series: 1 too short for lookback 8 (S2); 1 missing values or time gaps "
        "(S3); --fill ffill|interpolate fills holes"]
    single = pd.read_csv(tmp_path / "single.csv")
    dist = pd.read_csv(tmp_path / "dist.csv")  # file after file: rows grouped by file, then by series
    assert list(dist["site"].unique()) == ["S0", "S5", "S1", "S4", "S6", "S7", "S8"]
    keys = ["site", "origin", "step"]
    pd.testing.assert_frame_equal(dist.sort_values(keys, ignore_index=True), single)


def test_bad_rows_and_split_series_fail_with_one_line(cluster, model_dir, tmp_path, capsys):
    from forecast.models.distributed import distributed_predict

    frame = _panel().astype({"y": "string"})
    frame.loc[frame.index[frame["site"] == "S4"][2], "y"] = "oops"
    _dataset(frame, tmp_path / "bad", [["S0", "S1"], ["S4", "S5"]])
    bad_file = tmp_path / "bad" / "part-1.parquet"
    code, _, single_err = run_cli(["predict", "--model", str(model_dir), str(bad_file), "--sort",
                                "--out", str(tmp_path / "a.csv")], capsys)
    code_dist, _, err = run_cli(["predict", "--model", str(model_dir), str(tmp_path / "bad"), "--sort",
                              "--dask", cluster, "--out", str(tmp_path / "b.csv")], capsys)
    assert code == code_dist == 2
    assert err[-1] == single_err[-1] and "'oops' is not a number" in err[-1]
    assert not (tmp_path / "b.csv").exists()
    _dataset(_panel(), tmp_path / "split", [["S0", "S1"], ["S1", "S2"]])
    with pytest.raises(InputError, match="series 'S1' is in .*part-0.parquet and in .*part-1.parquet"):
        distributed_predict(model_dir, tmp_path / "split", tmp_path / "c.csv", address=cluster, sort=True)
    assert not (tmp_path / "c.csv").exists()


def test_without_dask_the_error_names_the_extra(model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    code, _, err = run_cli(["predict", "--model", str(model_dir), str(tmp_path), "--dask", "local:2",
                         "--out", str(tmp_path / "o.csv")], capsys)
    assert code == 2
    assert err == ["forecast: error: --dask needs Dask, which is not installed: pip install 'forecast[distributed]'"]
