"""Benchmark: distinct finished sweep trials per minute with 1 and with 2 local workers on one small space.

A finished trial counts once per distinct parameter set: two workers that propose the same parameters do the
same work twice, and only the first of the pair tells the search anything new. Also reports how many
trials the pruner stopped early, the torch threads per worker, and the machine's load (os.getloadavg) before
and after each run, since on a shared machine the load decides the figures. Prints JSON.

    python experiments/benchmarks/sweep.py [--trials 12] [--epochs 6] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import yaml

ROOT = Path(__file__).resolve().parents[2]
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def run(workers: int, trials: int, epochs: int, threads: int, folder: Path) -> dict:
    config = {
        "data": "seattle-weather",
        "spec": {"target": "temp_max", "lookback": 14, "horizon": 1, "features": ["precipitation", "wind"]},
        "families": ["rnn", "gru", "lstm"],
        "n_trials": trials, "max_epochs": epochs, "pruner": "median", "seed": 0,
        "study_name": f"bench-{workers}", "out_dir": str(folder / f"w{workers}"),
    }
    path = folder / f"sweep-{workers}.yaml"
    path.write_text(yaml.safe_dump(config))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "forecast", "sweep", str(path), "--workers", str(workers),
                    "--threads", str(threads), "--no-progress"], check=True, cwd=ROOT, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - started
    study = optuna.load_study(study_name=config["study_name"],
                              storage=f"sqlite:///{folder / f'w{workers}' / 'study.db'}")
    finished = [t for t in study.trials if t.state in FINISHED]
    distinct = len({tuple(sorted(t.params.items())) for t in finished})
    states = [t.state for t in finished]
    first = min(t.datetime_start for t in finished)
    last = max(t.datetime_complete for t in finished)
    wall_search = (last - first).total_seconds()
    return {
        "workers": workers, "threads_per_worker": threads, "finished": len(finished),
        "distinct_finished": distinct, "duplicates": len(finished) - distinct,
        "complete": states.count(optuna.trial.TrialState.COMPLETE),
        "pruned": states.count(optuna.trial.TrialState.PRUNED),
        "search_wall_seconds": round(wall_search, 1),
        "finished_trials_per_minute": round(60 * len(finished) / wall_search, 2),
        "distinct_finished_trials_per_minute": round(60 * distinct / wall_search, 2),
        "command_seconds_incl_final_refit": round(seconds, 1),
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker (forecast sweep --threads)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(w, args.trials, args.epochs, args.threads, Path(tmp)) for w in (1, 2)]
    rate = "distinct_finished_trials_per_minute"
    print(json.dumps({"benchmark": "sweep", "cpu_count": os.cpu_count(), "space": "rnn/gru/lstm, Seattle daily",
                      "runs": results, "distinct_speedup_2_workers": round(results[1][rate] / results[0][rate], 2)},
                     indent=2))


if __name__ == "__main__":
    main()
