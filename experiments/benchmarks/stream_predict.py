"""Benchmark `forecast predict` at 100,000 and 1,000,000 series x 400 rows: in memory, streaming, Dask; prints JSON.

Setup (not timed): Parquet generated on the fly under --tmp (never committed; removed at the end), in
blocks of 10,000 stations: daily temperature and humidity (float32; seasonal cycle + AR(1) weather noise
+ station level), 0.5% of stations too short and 0.5% with a hole in their last window; inside each block
the rows are ordered by date, then station (as appended daily data is), so no series is contiguous and the
streaming path must regroup the rows. The same blocks are written twice: one file (in-memory and
streaming paths) and one file per block (the Dask dataset, whole series per file). The model is the
batch_predict.py LSTM (hidden 64, lookback 30, horizon 7, one epoch on 20 stations).

Timed, each path a `python -m forecast predict ... --sort --threads T` subprocess, end to end: wall
seconds, CPU seconds (user + system of the process and the descendants it waited for: what a busy
machine cannot steal), input rows/s, and peak resident memory of its whole process tree (the sum over the process and
its descendants, Dask's scheduler, nannies and workers included, sampled every 0.2 s with psutil). Paths:
in-memory (`--chunk-series 0`; only up to --in-memory-max series: it needs ~45 KiB a series), streaming
(`--chunk-series N`), Dask (`--dask local:W`, W worker processes of T threads). Forecasts of the paths
are compared value for value.
Usage: python experiments/benchmarks/stream_predict.py [--series 100000 1000000] [--threads 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

BLOCK = 10_000


def station_block(block: int, n_series: int, n_rows: int):
    """Stations block*BLOCK ... as a pyarrow table ordered by (date, station), float32 values, with defects."""
    import pyarrow as pa

    rng = np.random.default_rng(block)
    dates = pd.date_range("2020-01-01", periods=n_rows, freq="D")
    day = dates.day_of_year.to_numpy()
    level = rng.normal(12, 6, n_series)[:, None].astype(np.float32)
    amplitude = rng.uniform(4, 12, n_series)[:, None].astype(np.float32)
    noise = rng.normal(0, 2.0, (n_series, n_rows)).astype(np.float32)
    for t in range(1, n_rows):  # AR(1) anomalies, vectorized over stations
        noise[:, t] += 0.7 * noise[:, t - 1]
    temp = level - amplitude * np.cos(2 * np.pi * (day[None, :] - 15) / 365.25).astype(np.float32) + noise
    humidity = np.clip(70 - 0.8 * noise + rng.normal(0, 5, (n_series, n_rows)).astype(np.float32), 5, 100)
    names = pa.array([f"ST{block * BLOCK + i:07d}" for i in range(n_series)])
    keep = np.ones((n_series, n_rows), bool)
    short = rng.choice(n_series, max(1, n_series // 200), replace=False)
    keep[short, : n_rows - 20] = False  # 20 rows left: shorter than the lookback
    holes = rng.choice(n_series, max(1, n_series // 200), replace=False)
    temp[holes, n_rows - 5] = np.nan
    keep_t = keep.T.ravel()  # [T, S] order: by date, then station
    station = pa.DictionaryArray.from_arrays(np.tile(np.arange(n_series, dtype=np.int32), n_rows)[keep_t], names)
    return pa.table({
        "date": np.repeat(dates.to_numpy(), n_series)[keep_t],
        "station": station,  # dictionary-encoded in the file; read as plain text (no stored Arrow schema)
        "temperature": pa.array(temp.T.ravel()[keep_t], from_pandas=True),  # NaN -> null, as pandas writes it
        "humidity": humidity.T.ravel()[keep_t],
    })


def generate(n_series: int, n_rows: int, folder: Path, dataset_too: bool = True) -> tuple[Path, Path, int]:
    """One Parquet file and (`dataset_too`) a dataset folder, one file per block, of the same rows; returns
    both and the row count."""
    import pyarrow.parquet as pq

    single, dataset = folder / "stations.parquet", folder / "dataset"
    dataset.mkdir()
    writer, rows = None, 0
    for block in range(-(-n_series // BLOCK)):
        table = station_block(block, min(BLOCK, n_series - block * BLOCK), n_rows)
        writer = writer or pq.ParquetWriter(single, table.schema, store_schema=False)
        writer.write_table(table, row_group_size=1_000_000)
        if dataset_too:
            pq.write_table(table, dataset / f"part-{block:04d}.parquet", row_group_size=1_000_000,
                           store_schema=False)
        rows += len(table)
    writer.close()
    return single, dataset, rows


def run_measured(argv: list[str], env: dict) -> dict:
    """Run a command; wall seconds and the peak summed RSS of its process tree (MiB)."""
    import psutil

    peak = 0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            except psutil.Error:
                total = 0
            peak = max(peak, total)
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    done.set()
    watcher.join()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.strip()[-2000:]}")
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mib": round(peak / 2**20), "stdout": out.strip(),
            "notes": [line for line in err.strip().splitlines() if line.startswith("forecast:")][-3:]}


def same_forecasts(a: Path, b: Path) -> dict:
    """Whether two forecast files hold the same (station, origin, step) rows with equal forecasts."""
    keys = ["station", "origin", "step"]
    x = pd.read_parquet(a).sort_values(keys, ignore_index=True)
    y = pd.read_parquet(b).sort_values(keys, ignore_index=True)
    same_rows = len(x) == len(y) and x[keys].equals(y[keys])
    diff = float(np.max(np.abs(x["forecast"].to_numpy() - y["forecast"].to_numpy()))) if same_rows else None
    return {"same_rows": bool(same_rows), "max_abs_diff": diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1, help="torch (and DuckDB) threads per process")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--chunk-series", type=int, default=10_000)
    parser.add_argument("--in-memory-max", type=int, default=100_000, help="largest size run in memory")
    parser.add_argument("--paths", default="in-memory,streaming,dask")
    parser.add_argument("--tmp", default=tempfile.gettempdir())
    args = parser.parse_args()
    from batch_predict import synthetic_stations, train_model

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
    report = {"benchmark": "stream_predict", "rows_per_series": args.rows, "threads": args.threads,
              "dask_workers": args.workers, "chunk_series": args.chunk_series, "cpu_count": os.cpu_count(),
              "model": {"cell": "lstm", "hidden_size": 64, "lookback": 30, "horizon": 7,
                        "weights": "trained 1 epoch on 20 stations"},
              "sizes": []}
    work = Path(tempfile.mkdtemp(prefix="stream-bench-", dir=args.tmp))
    try:
        import torch

        torch.set_num_threads(args.threads)
        model_dir = work / "model"
        train_model(synthetic_stations(20, args.rows), model_dir)
        for n_series in args.series:
            folder = work / f"s{n_series}"
            folder.mkdir()
            started = time.perf_counter()
            single, dataset, n_rows = generate(n_series, args.rows, folder, "dask" in args.paths)
            size = {"series": n_series, "input_rows": n_rows, "generate_s": round(time.perf_counter() - started, 1),
                    "input_parquet_mib": round(single.stat().st_size / 2**20), "paths": {}}
            base = [sys.executable, "-m", "forecast", "predict", "--model", str(model_dir), "--sort",
                    "--threads", str(args.threads), "--no-progress"]
            runs = {
                "in-memory": [str(single), "--chunk-series", "0"],
                "streaming": [str(single), "--chunk-series", str(args.chunk_series)],
                "dask": [str(dataset), "--dask", f"local:{args.workers}"],
            }
            outputs = {}
            for path in args.paths.split(","):
                if path == "in-memory" and n_series > args.in_memory_max:
                    size["paths"][path] = {"skipped": f"over --in-memory-max {args.in_memory_max} series"}
                    continue
                out = folder / f"{path}.parquet"
                load_before = os.getloadavg()[0]
                result = run_measured([*base, *runs[path], "--out", str(out)], env)
                result["rows_per_s"] = round(n_rows / result["wall_s"])
                result["load_avg_1m_before_after"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
                size["paths"][path] = result
                outputs[path] = out
                print(json.dumps({path: result}), file=sys.stderr, flush=True)
            first = next(iter(outputs), None)
            size["identical"] = {f"{p} vs {first}": same_forecasts(outputs[p], outputs[first])
                                 for p in outputs if p != first}
            stream, dask = size["paths"].get("streaming"), size["paths"].get("dask")
            if stream and dask and "wall_s" in stream and "wall_s" in dask:
                # per core: streaming uses `threads` cores, Dask `workers * threads`.
                size["dask_vs_streaming_per_core"] = round(dask["wall_s"] * args.workers / stream["wall_s"], 2)
            report["sizes"].append(size)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["targets"] = {"1M streaming peak_rss_mib_under": 4096, "1M streaming wall_s_under": 600,
                         "dask_vs_streaming_per_core_at_most": 1.5, "identical": "max_abs_diff 0"}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
