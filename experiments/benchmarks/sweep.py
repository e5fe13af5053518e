"""Benchmark: completed sweep trials per minute with 1 and with 2 local workers on one small space,
and how many trials the pruner stopped early. Prints JSON.

    python experiments/benchmarks/sweep.py [--trials 12] [--epochs 6]
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


def run(workers: int, trials: int, epochs: int, folder: Path) -> dict:
    config = {
        "data": "seattle-weather",
        "spec": {"target": "temp_max", "lookback": 14, "horizon": 1, "features": ["precipitation", "wind"]},
        "families": ["rnn", "gru", "lstm"],
        "n_trials": trials, "max_epochs": epochs, "pruner": "median", "seed": 0,
        "study_name": f"bench-{workers}", "out_dir": str(folder / f"w{workers}"),
    }
    path = folder / f"sweep-{workers}.yaml"
    path.write_text(yaml.safe_dump(config))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "forecast", "sweep", str(path), "--workers", str(workers),
                    "--no-progress"], check=True, cwd=ROOT, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - started
    study = optuna.load_study(study_name=config["study_name"],
                              storage=f"sqlite:///{folder / f'w{workers}' / 'study.db'}")
    states = [t.state for t in study.trials]
    complete = states.count(optuna.trial.TrialState.COMPLETE)
    pruned = states.count(optuna.trial.TrialState.PRUNED)
    search = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in study.trials
                 if t.datetime_complete)
    first = min(t.datetime_start for t in study.trials)
    last = max(t.datetime_complete for t in study.trials if t.datetime_complete)
    wall_search = (last - first).total_seconds()
    return {
        "workers": workers, "trials": len(states), "complete": complete, "pruned": pruned,
        "search_wall_seconds": round(wall_search, 1), "trial_seconds_total": round(search, 1),
        "finished_trials_per_minute": round(60 * (complete + pruned) / wall_search, 2),
        "command_seconds_incl_final_refit": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(w, args.trials, args.epochs, Path(tmp)) for w in (1, 2)]
    speedup = results[1]["finished_trials_per_minute"] / results[0]["finished_trials_per_minute"]
    print(json.dumps({"benchmark": "sweep", "cpu_count": os.cpu_count(), "space": "rnn/gru/lstm, Seattle daily",
                      "runs": results, "speedup_2_workers": round(speedup, 2)}, indent=2))


if __name__ == "__main__":
    main()
