"""Order sensitivity: an additive bag-of-inputs state s_i = s_{i-1} + W x_i cannot tell
permuted sequences apart; the Elman RNN can.

Thin wrapper over `forecast experiment order-sensitivity` (the logic lives in forecast/lectures/).
Writes order-sensitivity.png and order-sensitivity.json into experiments/results/ unless --out says otherwise.

usage: python experiments/order_sensitivity.py [--out DIR] [--quick] [--seed N] [--threads N]
"""

import sys
from pathlib import Path

from forecast.cli import main

if __name__ == "__main__":
    results = Path(__file__).resolve().parent / "results"
    # A later --out on the command line overrides this default (argparse keeps the last one).
    sys.exit(main(["experiment", "order-sensitivity", "--out", str(results), *sys.argv[1:]]))
