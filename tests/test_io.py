"""Atomic writes: a failing writer leaves nothing; a finished file gets the usual permissions."""

import os

import pandas as pd
import pytest

from forecast.io import atomic_path, write_table


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.csv") as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_written_file_is_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
