"""ETTh1 benchmark (Informer/DLinear protocol): prints our MSE/MAE beside the published numbers as JSON.

Same options as `forecast benchmark etth1`, e.g.
    python experiments/benchmarks/etth1.py --horizons 24,48,96,168,336,720 --threads 2 --out runs/etth1
"""

import sys

from forecast.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", "etth1", *sys.argv[1:]]))
