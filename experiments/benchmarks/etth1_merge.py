"""Merge `forecast benchmark etth1` runs (e.g. one per seed, run as time allowed) into one results.json + .md.

The rows of every input are pooled (a row repeated in two inputs, same setting/model/lookback/horizon/seed,
is refused), the mean and std per row recomputed, and the config of the first input kept with its seeds
replaced by the union. E.g.
    python experiments/benchmarks/etth1_merge.py runs/seed1/results.json runs/seed23/results.json --out runs/all
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from forecast.benchmarks import etth1
from forecast.io import atomic_path, check_output_dir


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="+", help="results.json files of `forecast benchmark etth1 --out`")
    p.add_argument("--out", required=True, help="folder for the merged results.json and results.md")
    args = p.parse_args(argv)
    check_output_dir(args.out)
    docs = [json.loads(Path(path).read_text()) for path in args.inputs]
    rows, seen = [], set()
    for doc in docs:
        for row in doc["results"]:
            key = (row["setting"], row["model"], row["lookback"], row["horizon"], row.get("seed"))
            if key in seen:
                if row["model"] in etth1.DETERMINISTIC:  # the same numbers in every run: keep one
                    continue
                raise SystemExit(f"etth1_merge: row {key} stands in two inputs")
            seen.add(key)
            rows.append(row)
    first = docs[0]["config"]
    config = etth1.ETTh1Config(
        horizons=sorted({r["horizon"] for r in rows}), settings=tuple(dict.fromkeys(r["setting"] for r in rows)),
        models=tuple(dict.fromkeys(r["model"] for r in rows)),
        lookbacks=sorted({r["lookback"] for r in rows if r["model"] != "repeat"}) or first["lookbacks"],
        seeds=sorted({r["seed"] for r in rows if r.get("seed") is not None}) or first["seeds"],
        recipe=first["recipe"], eval_stride=first["eval_stride"])
    config = replace(config, recurrent=etth1.RecurrentSettings(**first["recurrent"]))
    result = etth1.result_document(config, rows, seconds=sum(d["seconds"] for d in docs),
                                   complete=all(d.get("complete", True) for d in docs))
    result["commands"] = [d.get("command") for d in docs]
    out = Path(args.out)
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text("\n".join(f"`{c}`" for c in result["commands"]) + "\n\n" + etth1.markdown_table(result))
    print(etth1.markdown_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
