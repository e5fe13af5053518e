"""`forecast demo`: the walking skeleton; filled in below."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train an LSTM on bundled Seattle weather and compare with persistence")
    p.add_argument("--out", default="runs/demo")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    raise NotImplementedError("demo is being built")
