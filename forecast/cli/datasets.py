"""`forecast datasets`: list the bundled real datasets."""

from __future__ import annotations

import argparse

from forecast.cli.common import add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "datasets",
        help="list the bundled datasets",
        description="List the bundled datasets: name, rows, time range, frequency and columns.\n\n"
        "example: forecast datasets",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from forecast import datasets

    table = datasets.summary()
    with_cols = table.to_string(index=False, max_colwidth=60)
    print(with_cols)
    return 0
