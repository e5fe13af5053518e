"""`forecast experiment NAME`: run one lecture experiment, writing its PNG and JSON."""

from __future__ import annotations

import argparse

from forecast.cli.common import add_command, add_threads, begin


def register(sub: argparse._SubParsersAction) -> None:
    from forecast.lectures import EXPERIMENTS

    listing = "\n".join(f"  {name:<22} {description}" for name, (_, description) in EXPERIMENTS.items())
    p = add_command(
        sub, "experiment",
        help="run a lecture experiment (vanishing/exploding gradients, memory length, order, state features)",
        description="Run one lecture experiment; it writes NAME.png and NAME.json into --out and prints "
        f"where.\n\nexperiments:\n{listing}\n\n"
        "example: forecast experiment vanishing-gradients --out runs/lectures --quick",
    )
    p.add_argument("name", choices=list(EXPERIMENTS), metavar="NAME", help="which experiment (listed above)")
    p.add_argument("--out", default="runs/experiments", help="folder for the PNG and JSON (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: seconds instead of minutes (a smoke run)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, initialization and batches (default: 0)")
    p.add_argument("--no-plots", action="store_true", help="write the JSON numbers only, no PNG")
    add_threads(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import time

    from forecast.lectures import run

    begin(args)
    started = time.perf_counter()
    result = run(args.name, args.out, quick=args.quick, seed=args.seed, plots=not args.no_plots)
    seconds = time.perf_counter() - started
    files = " and ".join(f for f in (result["files"]["figure"], result["files"]["numbers"]) if f)
    print(f"{args.name}: wrote {files} in {seconds:.0f} s")
    return 0
