"""Memory length: recall accuracy against the distance to the relevant input for Elman RNN,
GRU and LSTM; reports where each cell stops coping.

Thin wrapper over `forecast experiment memory-length` (the logic lives in forecast/lectures/).
Writes memory-length.png and memory-length.json into experiments/results/ unless --out says otherwise.

usage: python experiments/memory_length.py [--out DIR] [--quick] [--seed N] [--threads N]
"""

import sys
from pathlib import Path

from forecast.cli import main

if __name__ == "__main__":
    results = Path(__file__).resolve().parent / "results"
    # A later --out on the command line overrides this default (argparse keeps the last one).
    sys.exit(main(["experiment", "memory-length", "--out", str(results), *sys.argv[1:]]))
