"""The final state as features: Ridge on the RNN's final state vs Ridge on raw lags vs the
RNN's own head, on bundled Seattle weather and MSFT returns (same time-ordered split).

Thin wrapper over `forecast experiment final-state-features` (the logic lives in forecast/lectures/).
Writes final-state-features.png and final-state-features.json into experiments/results/ unless --out says otherwise.

usage: python experiments/final_state_features.py [--out DIR] [--quick] [--seed N] [--threads N]
"""

import sys
from pathlib import Path

from forecast.cli import main

if __name__ == "__main__":
    results = Path(__file__).resolve().parent / "results"
    # A later --out on the command line overrides this default (argparse keeps the last one).
    sys.exit(main(["experiment", "final-state-features", "--out", str(results), *sys.argv[1:]]))
