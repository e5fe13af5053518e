"""Vanishing gradients: |dL/dx_t| against the distance T-t for Elman RNN, GRU and LSTM,
at initialization and after training, on Seattle weather windows and a synthetic recall task.

Thin wrapper over `forecast experiment vanishing-gradients` (the logic lives in forecast/lectures/).
Writes vanishing-gradients.png and vanishing-gradients.json into experiments/results/ unless --out says otherwise.

usage: python experiments/vanishing_gradients.py [--out DIR] [--quick] [--seed N] [--threads N]
"""

import sys
from pathlib import Path

from forecast.cli import main

if __name__ == "__main__":
    results = Path(__file__).resolve().parent / "results"
    # A later --out on the command line overrides this default (argparse keeps the last one).
    sys.exit(main(["experiment", "vanishing-gradients", "--out", str(results), *sys.argv[1:]]))
