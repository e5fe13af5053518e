"""Atomic output: every file the toolkit writes goes to a temporary file first, then is renamed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from forecast.errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    An interrupted or failing writer therefore never leaves a partial file behind.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False) -> Path:
    """Write a DataFrame atomically as CSV or Parquet, chosen by the file's extension."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise InputError(f"{target}: unsupported output extension {suffix!r}; use .csv or .parquet")
    with atomic_path(target) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=index)
        else:
            frame.to_parquet(tmp, index=index)
    return target


def save_figure(figure, path: str | os.PathLike[str], **kwargs) -> Path:
    """Save a matplotlib figure atomically as PNG and close it."""
    import matplotlib.pyplot as plt

    target = Path(path)
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png", dpi=kwargs.pop("dpi", 110), bbox_inches="tight", **kwargs)
    plt.close(figure)
    return target
