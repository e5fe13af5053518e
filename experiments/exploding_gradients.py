"""Exploding gradients and their cures: an Elman RNN with recurrent gain 2 trained with no
clipping, clipping by value, clipping by norm, and weight decay; loss and gradient norm per step.

Thin wrapper over `forecast experiment exploding-gradients` (the logic lives in forecast/lectures/).
Writes exploding-gradients.png and exploding-gradients.json into experiments/results/ unless --out says otherwise.

usage: python experiments/exploding_gradients.py [--out DIR] [--quick] [--seed N] [--threads N]
"""

import sys
from pathlib import Path

from forecast.cli import main

if __name__ == "__main__":
    results = Path(__file__).resolve().parent / "results"
    # A later --out on the command line overrides this default (argparse keeps the last one).
    sys.exit(main(["experiment", "exploding-gradients", "--out", str(results), *sys.argv[1:]]))
