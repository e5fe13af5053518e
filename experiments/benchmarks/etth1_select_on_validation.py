"""Pick one recurrent recipe and lookback per ETTh1 cell by validation MSE only, then report its test MSE.

The recipes are compared the way a sweep would choose between them: every candidate (recipe x lookback)
of a (setting, horizon) cell is scored by its mean validation MSE over seeds (the same validation target
rows whatever the lookback), the lowest wins, and only then is its test MSE read. So the reported row is
one a user could have chosen without the test months. Inputs are results JSON files of `forecast benchmark
etth1` (or `etth1_merge.py`), each given as LABEL=PATH; rows without a validation MSE are refused. E.g.
    python experiments/benchmarks/etth1_select_on_validation.py \
        segments=results/etth1_long_horizon.json highway=results/etth1_highway_last.json \
        highway=results/etth1_highway_l512.json \
        highway-revin=results/etth1_highway.json \
        segrnn=results/etth1_segrnn_budget.json segrnn=results/etth1_segrnn_univariate.json \
        segrnn-ema=results/etth1_segrnn_ema.json
Prints JSON: every candidate with its seeds, mean validation and test MSE, and the choice per cell.
"""

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from forecast.errors import InputError

RECURRENT = ("rnn", "gru", "lstm")


def _fail(message: str) -> int:
    """One line on stderr and exit status 2, as the CLI does for bad input."""
    print(f"etth1_select_on_validation: {message}", file=sys.stderr)
    return 2


def _rows(path: Path) -> list[dict]:
    """The recurrent rows of one results file (a benchmark document, or the segrnn budget's `runs`)."""
    doc = json.loads(path.read_text())
    rows = doc.get("results") or doc.get("runs") or []
    return [row for row in rows if row.get("model") in RECURRENT]


def candidates(labelled: dict[str, list[dict]]) -> dict[tuple[str, int], list[dict]]:
    """(setting, horizon) -> one entry per (label, model, lookback): seeds, mean validation and test MSE."""
    pooled: dict[tuple, list[dict]] = defaultdict(list)
    for label, rows in labelled.items():
        for row in rows:
            if row.get("val_mse") is None:
                raise InputError(f"{label}: row {row['setting']} L={row['lookback']} H={row['horizon']} "
                                 "has no val_mse; only runs that record validation can be selected on")
            pooled[(row["setting"], row["horizon"], label, row["model"], row["lookback"])].append(row)
    cells: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for (setting, horizon, label, model, lookback), rows in sorted(pooled.items()):
        cells[(setting, horizon)].append({
            "recipe": label, "model": model, "lookback": lookback, "seeds": sorted(r["seed"] for r in rows),
            "val_mse": statistics.fmean(r["val_mse"] for r in rows),
            "test_mse": statistics.fmean(r["mse"] for r in rows),
            "test_mse_std": statistics.stdev(r["mse"] for r in rows) if len(rows) > 1 else None,
        })
    return cells


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="+", metavar="LABEL=PATH", help="a recipe name and its results JSON file")
    args = p.parse_args(argv)
    labelled = {}
    for item in args.inputs:
        label, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            return _fail(f"{item!r} is not LABEL=PATH of an existing file (e.g. highway=results/etth1_highway_last.json)")
        labelled.setdefault(label, []).extend(_rows(Path(path)))
    try:
        cells = candidates(labelled)
    except InputError as exc:
        return _fail(str(exc))
    report = []
    for (setting, horizon), options in sorted(cells.items()):
        chosen = min(options, key=lambda c: c["val_mse"])
        report.append({"setting": setting, "horizon": horizon, "chosen": chosen,
                       "best_on_test": min(options, key=lambda c: c["test_mse"]), "candidates": options})
    print(json.dumps({"selected_on": "mean validation MSE over seeds", "inputs": args.inputs,
                      "cells": report}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
