"""`forecast models`: list the registered models, what each can do, and the extra it needs."""

from __future__ import annotations

import argparse

from forecast.cli.common import add_command

DESCRIPTION = ("List the registered models: name, family, whether `forecast fit` can save it, the optional extra "
               "it needs, and what it is.\n\nexample: forecast models")


def register(sub: argparse._SubParsersAction) -> None:
    add_command(sub, "models", help="list the models --models and --model accept",
                description=DESCRIPTION).set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from forecast.models import registry

    rows = []
    for name in registry.names():
        entry = registry.get(name)
        rows.append({"name": name, "family": entry.family, "saveable": "yes" if entry.saveable else "no",
                     "needs": f"forecast[{_EXTRAS.get(entry.requires, entry.requires)}]" if entry.requires else "",
                     "description": entry.description})
    widths = {key: max(len(key), *(len(row[key]) for row in rows)) for key in rows[0]}
    for row in [dict(zip(widths, widths, strict=True)), *rows]:
        print("  ".join(row[key].ljust(widths[key]) for key in widths).rstrip())
    return 0


_EXTRAS = {"statsforecast": "stats"}
"""The pip extra (pyproject.toml) that installs each optional module a model requires."""
