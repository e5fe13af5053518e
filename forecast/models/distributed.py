"""Batch prediction over a partitioned Parquet dataset on a Dask cluster (the `distributed` extra).

Why Dask: it is pure Python, installs with pip, runs the same code on a local multi-process cluster and
on a real one given its scheduler address, and its worker plugins give each worker one copy of the model.
The model folder travels inside the plugin (its files are small), so workers need no shared copy of it;
the dataset's files must be readable by the workers at the same paths (a shared or object file system).
Each worker process loads the model once (`ModelPlugin.setup`) and forecasts whole files with the
in-memory path (`read_data` + `batch_predict`, so messages name the file and row as they do there); the
client writes each file's forecasts, in file order, to a temporary output renamed at the end.
Each file must hold whole series (partition the data by series); a series found in two files is an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from forecast.errors import DataWarning, InputError
from forecast.io import table_appender
from forecast.models.batch import BatchForecast
from forecast.models.streaming import stream_forecasts

PLUGIN = "forecast-model"
"""Name of the worker plugin holding the loaded model."""
LOCAL = "local:"
"""`--dask local:N` starts a cluster of N worker processes on this machine."""


def _dask():
    try:
        import distributed
    except ImportError:
        raise InputError("--dask needs Dask, which is not installed: pip install 'forecast[distributed]'") from None
    return distributed


def _plugin_base():
    try:
        from distributed.diagnostics.plugin import WorkerPlugin
    except ImportError:  # the module still imports without Dask; _dask() says what to install
        return object
    return WorkerPlugin


class ModelPlugin(_plugin_base()):
    """Carries a model folder's files to each worker and loads the model there once, with `threads` torch
    threads (0: torch's own choice)."""

    name = PLUGIN

    def __init__(self, model_dir: str | os.PathLike[str], threads: int = 1) -> None:
        root = Path(model_dir)
        if not root.is_dir():
            raise InputError(f"{model_dir}: not a model folder; give the folder written by `forecast fit`")
        self.files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        self.threads = threads
        self.model = None

    def setup(self, worker=None) -> None:
        import torch

        from forecast.models.loading import load_model

        if self.threads:
            torch.set_num_threads(self.threads)
        folder = Path(tempfile.mkdtemp(prefix="forecast-model-"))
        try:
            for name, content in self.files.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(content)
            self.model = load_model(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def dataset_files(data: str | os.PathLike[str]) -> list[Path]:
    """The Parquet files of a dataset folder (recursively, sorted; hidden and `_` files such as _metadata
    left out), or the one file given."""
    path = Path(data)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{data}: no such file or folder; --dask reads a folder of Parquet files")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".parquet", ".pq")
                   and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
    if not files:
        raise InputError(f"{data}: holds no .parquet files; --dask reads a folder of Parquet files")
    return files


def forecast_file(path: str, read_options: dict, options: dict) -> tuple[BatchForecast, list[str], list[str]]:
    """On a worker: forecast every series of one file with the worker's model. Returns the forecasts, the
    data warnings raised on the way (as text: the client shows them) and the file's series ids."""
    from distributed import get_worker

    from forecast.data.reading import read_data
    from forecast.models.batch import batch_predict

    model = get_worker().plugins[PLUGIN].model
    spec = model.spec_
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        frame = read_data(path, read_options["time_col"], spec.id_col, numeric=spec.numeric_inputs,
                          missing=read_options["missing"], sort=read_options["sort"])
        result = batch_predict(model, frame, **options)
    ids = [str(v) for v in frame[spec.id_col].unique()] if spec.id_col else [path]
    return result, [str(w.message) for w in caught if issubclass(w.category, DataWarning)], ids


@contextlib.contextmanager
def dask_client(address: str, threads: int = 1) -> Iterator:
    """A Dask client: on a new local cluster of N worker processes for "local:N" (each with one thread
    of Dask tasks), else connected to the scheduler at `address`."""
    distributed = _dask()
    if address.startswith(LOCAL):
        count = address[len(LOCAL):]
        if not count.isdigit() or int(count) < 1:
            raise InputError(f"--dask {address}: expected local:N with N >= 1 worker processes, e.g. local:2")
        with distributed.LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None,
                                      silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(address, timeout="30s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"--dask {address}: cannot reach a Dask scheduler there ({type(exc).__name__}: {exc}); "
                         "check the address, or use local:N for N processes on this machine") from None
    with client:
        yield client


def distributed_predict(model_dir: str | os.PathLike[str], data: str | os.PathLike[str],
                        out: str | os.PathLike[str], *, address: str, threads: int = 1, time_col: str | None = None,
                        missing: str = "keep", sort: bool = False,
                        check: Callable[[BatchForecast], None] | None = None, **options) -> BatchForecast:
    """Forecast every series of a Parquet dataset (a folder of files, each holding whole series) with the
    model saved in `model_dir`, on the Dask cluster at `address` (or "local:N"), and write the forecasts to
    `out`, file after file, renamed into place at the end. Returns the run's summary.

    threads: torch threads per worker process. options: batch_predict's (origin, fill, batch_size,
    intervals). check: called with the summary before `out` is put in place; raise there to leave none.
    """
    _dask()  # the missing extra first: it is the more useful message
    files = dataset_files(data)
    read_options = {"time_col": time_col, "missing": missing, "sort": sort}
    with dask_client(address, threads) as client:
        client.register_plugin(ModelPlugin(model_dir, threads), name=PLUGIN)
        futures = client.map(forecast_file, [str(f) for f in files], read_options=read_options, options=options,
                             pure=False)
        owner: dict[str, str] = {}

        def collect(pair) -> BatchForecast:
            path, future = pair
            result, messages, ids = future.result()
            future.release()
            for message in messages:
                warnings.warn(message, DataWarning, stacklevel=2)
            for series in ids:
                if owner.setdefault(series, path) != path:
                    raise InputError(f"{data}: series {series!r} is in {owner[series]} and in {path}; each file "
                                     "of the dataset must hold whole series (partition it by the series column)")
            return result

        with table_appender(out) as write:
            result = stream_forecasts(zip(map(str, files), futures, strict=True), collect, write)
            if check is not None:
                check(result)
    return result
