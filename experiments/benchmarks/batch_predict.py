"""Benchmark `forecast predict` on 10,000 series x 400 daily rows (long CSV); prints JSON.

Setup (not timed): a synthetic long CSV of station temperatures (seasonal cycle + AR(1) weather noise +
per-station level, with a few realistic defects: short series and holes) and an LSTM (hidden 64, lookback
30, horizon 7) *trained* for one epoch on 20 of the series (its weights are real, if barely trained: the
inference cost is what is measured). Timed:
  - "cli": `python -m forecast predict` in a subprocess, end to end (start-up and imports included),
    with its peak resident memory (ru_maxrss of the children) and, separately, the time a bare
    interpreter takes to import the CLI and the estimator (torch + Lightning);
  - "stages": the same work in this process, stage by stage (read CSV, prepare, window + infer,
    assemble the forecasts frame, write CSV).
  - "onnx" (issue 19): the same model exported to model.onnx (`forecast export`), the same CLI run and
    stages through ONNX Runtime (no torch imported), and the max abs difference of the two forecast files;
  - "cold_start_small_file": `forecast predict` on the first 10 stations (a small file) with the model
    folder and with model.onnx, median of --repeat runs each: start-up dominated.
Usage: python experiments/benchmarks/batch_predict.py [--series 10000] [--rows 400] [--threads 2]
       [--repeat 3] [--no-onnx]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def synthetic_stations(n_series: int, n_rows: int, seed: int = 0) -> pd.DataFrame:
    """Long frame: date, station, temperature (+ humidity), daily, with a few short series and holes."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2020-01-01", periods=n_rows, freq="D")
    day = dates.day_of_year.to_numpy()
    level = rng.normal(12, 6, n_series)[:, None]  # [S, 1] station climate
    amplitude = rng.uniform(4, 12, n_series)[:, None]
    noise = rng.normal(0, 2.0, (n_series, n_rows))
    for t in range(1, n_rows):  # AR(1) weather anomalies, vectorized over stations
        noise[:, t] += 0.7 * noise[:, t - 1]
    temp = level - amplitude * np.cos(2 * np.pi * (day[None, :] - 15) / 365.25) + noise  # [S, T]
    humidity = np.clip(70 - 0.8 * noise + rng.normal(0, 5, (n_series, n_rows)), 5, 100)
    frame = pd.DataFrame({
        "date": np.tile(dates.strftime("%Y-%m-%d").to_numpy(), n_series),
        "station": np.repeat([f"ST{i:05d}" for i in range(n_series)], n_rows),
        "temperature": temp.ravel().round(2),
        "humidity": humidity.ravel().round(1),
    })
    # Defects real files have: 0.5% of stations start late (too short), 0.5% miss a reading near the end.
    short = rng.choice(n_series, max(1, n_series // 200), replace=False)
    drop = np.isin(np.repeat(np.arange(n_series), n_rows), short) & (np.tile(np.arange(n_rows), n_series) < n_rows - 20)
    holes = rng.choice(n_series, max(1, n_series // 200), replace=False)
    frame.loc[np.repeat(holes, 1) * n_rows + n_rows - 5, "temperature"] = np.nan
    return frame[~drop]


def train_model(frame: pd.DataFrame, out: Path, n_train: int = 20):
    """LSTM hidden 64, lookback 30, horizon 7, one epoch on `n_train` stations (real but small training)."""
    from forecast import RNNForecaster, WindowSpec
    from forecast.data.reading import read_data

    stations = frame["station"].unique()[:n_train]
    subset = out.parent / "train.csv"
    frame[frame["station"].isin(stations)].to_csv(subset, index=False)
    train = read_data(subset, id_col="station")
    spec = WindowSpec(target="temperature", features=("humidity",), lookback=30, horizon=7, id_col="station")
    model = RNNForecaster(cell="lstm", hidden_size=64, max_epochs=1, batch_size=256, progress_bar=False)
    model.fit(train, spec)
    model.save(out)
    return model


def run_stages(csv: Path, model_dir: Path, out: Path) -> dict:
    """Each stage of `forecast predict`, timed in this process (model_dir: a folder or a .onnx file)."""
    from forecast.data.reading import read_data
    from forecast.io import write_table
    from forecast.models.batch import batch_predict
    from forecast.models.loading import load_model
    from forecast.models.onnx_runtime import is_onnx_path, load_onnx

    t0 = time.perf_counter()
    model = load_onnx(model_dir) if is_onnx_path(model_dir) else load_model(model_dir)
    t1 = time.perf_counter()
    frame = read_data(csv, id_col="station", numeric=model.spec_.numeric_inputs)
    t2 = time.perf_counter()
    result = batch_predict(model, frame, origin="last", batch_size=4096)
    t3 = time.perf_counter()
    write_table(result.forecasts, out)
    t4 = time.perf_counter()
    return {
        "load_model_s": round(t1 - t0, 3), "read_csv_s": round(t2 - t1, 3),
        **{f"{k}_s": round(v, 3) for k, v in result.seconds.items()},
        "write_csv_s": round(t4 - t3, 3), "total_s": round(t4 - t0, 3),
        "series_forecast": result.n_forecast,
        "series_skipped": {k: len(v) for k, v in result.skipped.items()},
        "output_rows": len(result.forecasts),
    }


PEAK = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "sys.stderr.write(done.stderr); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "sys.exit(done.returncode)")


def time_cli(args: list[str], env: dict) -> dict:
    """Wall time and peak resident memory of one `python -m forecast ARGS` run (measured by a wrapper
    process, so each run's peak is its own)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, sys.executable, "-m", "forecast", *args], env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"forecast {args[0]} failed: {done.stderr.strip()}")
    return {"wall_s": round(wall, 3), "peak_rss_mib": round(int(done.stdout.split()[-1]) / 2**10, 1),
            "stderr": done.stderr.strip().splitlines()[-3:]}


def time_imports(code: str, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
    return round(time.perf_counter() - started, 3)


def onnx_runs(csv: Path, model_dir: Path, tmp: Path, env: dict, n_rows: int, n_series: int,
              repeat: int) -> dict:
    """The ONNX Runtime side: export, the 10k-series CLI run and stages, parity, and both cold starts."""
    model_onnx = tmp / "model.onnx"
    export = time_cli(["export", "--model", str(model_dir), "--out", str(model_onnx)], env)
    cli = time_cli(["predict", "--model", str(model_onnx), str(csv), "--out", str(tmp / "forecasts_onnx.csv"),
                    "--no-progress"], env)
    torch_out = pd.read_csv(tmp / "forecasts.csv")
    onnx_out = pd.read_csv(tmp / "forecasts_onnx.csv")
    small = tmp / "small.csv"  # the first 10 stations: a small file, so start-up dominates
    pd.read_csv(csv, nrows=n_rows // n_series * 10).to_csv(small, index=False)
    cold = {"input": f"{len(pd.read_csv(small))} rows, {small.stat().st_size / 1e3:.0f} kB"}
    for name, model in (("torch_model_dir", model_dir), ("onnx", model_onnx)):
        walls = [time_cli(["predict", "--model", str(model), str(small), "--out", str(tmp / "cold.csv"),
                           "--no-progress"], env)["wall_s"] for _ in range(repeat)]
        cold[name] = {"median_wall_s": round(float(np.median(walls)), 3), "walls_s": walls}
    return {
        "export_wall_s": export["wall_s"],
        "cli": {**cli, "rows_per_s": round(n_rows / cli["wall_s"]), "series_per_s": round(n_series / cli["wall_s"]),
                "startup_imports_s": time_imports("import forecast.cli, forecast.models.onnx_runtime, onnxruntime", env)},
        "max_abs_diff_vs_torch": float((onnx_out["forecast"] - torch_out["forecast"]).abs().max()),
        "same_columns": list(onnx_out.columns) == list(torch_out.columns),
        "stages": run_stages(csv, model_onnx, tmp / "forecasts_onnx_stage.csv"),
        "cold_start_small_file": cold,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="cold-start runs per way (median reported)")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime runs")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        frame = synthetic_stations(args.series, args.rows)
        csv = tmp / "stations.csv"
        frame.to_csv(csv, index=False)
        model_dir = tmp / "model"
        train_model(frame, model_dir)
        n_rows, csv_mb = len(frame), csv.stat().st_size / 2**20
        del frame

        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "forecast", "predict", "--model", str(model_dir), str(csv),
             "--out", str(tmp / "forecasts.csv"), "--no-progress"],
            env=env, capture_output=True, text=True, check=False,
        )
        wall = time.perf_counter() - started
        child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10  # KiB -> MiB (Linux)
        if done.returncode != 0:
            raise SystemExit(f"forecast predict failed: {done.stderr.strip()}")
        started = time.perf_counter()  # start-up share of the CLI run: the interpreter and the imports alone
        subprocess.run([sys.executable, "-c", "import forecast.cli, forecast.models.estimators"], env=env,
                       capture_output=True, check=True)
        imports = time.perf_counter() - started
        stages = run_stages(csv, model_dir, tmp / "forecasts_stage.csv")
        onnx = None if args.no_onnx else onnx_runs(csv, model_dir, tmp, env, n_rows, args.series, args.repeat)

    print(json.dumps({
        "benchmark": "batch_predict",
        "series": args.series, "rows_per_series": args.rows, "input_rows": n_rows, "input_csv_mib": round(csv_mb, 1),
        "model": {"cell": "lstm", "hidden_size": 64, "lookback": 30, "horizon": 7,
                  "weights": "trained 1 epoch on 20 of the series"},
        "threads": args.threads, "cpu_count": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
        "cli": {
            "wall_s": round(wall, 3), "rows_per_s": round(n_rows / wall), "series_per_s": round(args.series / wall),
            "peak_rss_mib": round(child_peak, 1), "startup_imports_s": round(imports, 3),
            "stderr": done.stderr.strip().splitlines()[-3:],
        },
        "stages": stages,
        "onnx": onnx,
        "targets": {"wall_s_under": 30, "peak_rss_mib_under": 2048},
    }, indent=2))


if __name__ == "__main__":
    main()
