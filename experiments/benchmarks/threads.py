"""CPU threads for small recurrent models: a short LSTM fit with 1 torch thread beside torch's default.

Each setting runs in a fresh process (torch fixes its thread pools at start-up), alternating settings over
the repetitions so that a change in machine load hits both alike. OMP_NUM_THREADS/MKL_NUM_THREADS are
removed from the children's environment so "default" really is torch's own choice (one per core).
Prints one JSON object with the thread counts, the load average before and after, and per setting the
median wall and CPU seconds of the fit:

    python experiments/benchmarks/threads.py [--epochs 3] [--repeats 3] [--threads 1,default] [--busy N]

--busy N starts N processes that spin on the CPU for the duration (a machine other jobs keep busy); the
real load is reported either way.

This is the measurement behind the CLI's `--threads` default (forecast/cli/common.py: DEFAULT_THREADS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
import torch
threads = sys.argv[1]
if threads != "default":
    torch.set_num_threads(int(threads))
from forecast import RNNForecaster, WindowSpec, datasets
frame = datasets.load("seattle-weather")
spec = WindowSpec(target="temp_max", lookback=30, horizon=1, features=("precipitation", "temp_min", "wind"))
model = RNNForecaster(cell="lstm", hidden_size=64, max_epochs=int(sys.argv[2]), progress_bar=False, seed=0)
wall, cpu = time.perf_counter(), time.process_time()
model.fit(frame, spec)
print(json.dumps({"threads": torch.get_num_threads(), "wall_s": time.perf_counter() - wall,
                  "cpu_s": time.process_time() - cpu}))
"""


def run_once(setting: str, epochs: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", CHILD, setting, str(epochs)], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="1,default", help="comma-separated settings, e.g. 1,2,default")
    parser.add_argument("--busy", type=int, default=0, help="CPU-spinning processes to run alongside")
    args = parser.parse_args()
    settings = args.threads.split(",")
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        load_before = os.getloadavg()
        runs: dict[str, list[dict]] = {s: [] for s in settings}
        for _ in range(args.repeats):
            for setting in settings:
                runs[setting].append(run_once(setting, args.epochs))
        load_after = os.getloadavg()
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    result = {
        "benchmark": "threads", "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "epochs": args.epochs, "repeats": args.repeats, "busy_processes": args.busy,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "settings": {
            s: {"torch_threads": r[0]["threads"],
                "wall_s_median": round(statistics.median(x["wall_s"] for x in r), 2),
                "cpu_s_median": round(statistics.median(x["cpu_s"] for x in r), 2),
                "wall_s": [round(x["wall_s"], 2) for x in r]}
            for s, r in runs.items()
        },
    }
    if "1" in runs and "default" in runs:
        result["default_over_1_wall"] = round(
            result["settings"]["default"]["wall_s_median"] / result["settings"]["1"]["wall_s_median"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
