"""Safe output: every file the toolkit writes goes to a temporary file first, then is renamed; output
locations are checked before any work starts, and errors name the user's path, never a temporary one.

Temporary names are `.<name>.<pid>.<random>.tmp` beside the target, so the next write to the same target
can remove those a killed run left behind (its process is gone) without touching a live writer's file.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from forecast.errors import InputError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def temp_prefix(target: Path) -> str:
    """Prefix of this process's temporary names for `target` (`.<name>.<pid>.`, the name cut to fit)."""
    return f".{_short(target)}.{os.getpid()}."


def _short(target: Path) -> str:
    """The target's name, cut so a temporary name stays within the usual 255-byte limit."""
    return target.name[:200]


def remove_stale_temps(target: Path, keep_dir: Callable[[Path], bool] = lambda path: True) -> None:
    """Remove the temporary files (and folders, where `keep_dir` allows) a killed writer of `target` left.

    Stale means `.<name>.<pid>.<random>.tmp|.old` whose process `pid` no longer runs here, or the older
    pid-less `.<name>.<8 chars>.tmp` (files) and `.<name>.<8 chars>` (folders) this toolkit once wrote.
    Folders are kept unless `keep_dir(path)` is false, so only the caller that owns them removes them.
    """
    parent = target.parent
    if not parent.is_dir():
        return
    name = re.escape(_short(target))
    ours = re.compile(rf"^\.{name}\.(\d+)\.[A-Za-z0-9_]+\.(?:tmp|old)$")
    legacy_file = re.compile(rf"^\.{name}\.[A-Za-z0-9_]{{8}}\.tmp$")
    legacy_dir = re.compile(rf"^\.{name}\.[A-Za-z0-9_]{{8}}$")
    for entry in parent.iterdir():
        found = ours.match(entry.name)
        if found and _alive(int(found.group(1))):
            continue
        is_dir = entry.is_dir() and not entry.is_symlink()
        if not (found or (legacy_dir if is_dir else legacy_file).match(entry.name)):
            continue
        with contextlib.suppress(OSError):
            if not is_dir:
                entry.unlink()
            elif not keep_dir(entry):
                shutil.rmtree(entry)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # ours, e.g. another writer thread of this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_name_length(target: Path, shown: str) -> None:
    """Fail on a path whose parts are longer than file systems allow (255 bytes a name)."""
    if any(len(os.fsencode(part)) > 255 for part in target.parts):
        raise InputError(f"{shown[:80]}...: a name in this path is over 255 bytes; choose a shorter one")


def check_output_parent(target: Path, shown: str) -> None:
    """Fail unless the folder that will hold `target` exists or can be created, and is writable."""
    base = _nearest_existing(target.parent)
    if not base.is_dir():
        raise InputError(f"{shown}: cannot create it, {base} is a file, not a folder; choose another path")
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(f"{shown}: cannot write there, the folder {base} is not writable; choose another path")


def check_output_file(path: str | os.PathLike[str], suffixes: tuple[str, ...] = TABLE_SUFFIXES) -> Path:
    """Fail before any work unless `path` can be written as an output file: a known extension, not an
    existing folder, an existing file writable, and its parent folder creatable and writable."""
    target, shown = Path(path), str(path)
    check_name_length(target, shown)
    if target.is_dir():
        raise InputError(f"{shown}: is a folder; give a file name such as {shown.rstrip('/')}/out{suffixes[0]}")
    suffix = target.suffix.lower()
    if suffix not in suffixes:
        raise InputError(f"{shown}: unsupported output extension {suffix or '(none)'!r}; use "
                         f"{' or '.join(suffixes[:2])}")
    if target.exists() and not target.is_file():
        raise InputError(f"{shown}: exists and is not a regular file; choose another path")
    check_output_parent(target, shown)
    return target


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """Fail before any work unless `path` can hold a report: an existing writable folder, or a folder that
    can be created. Writers only create or replace their own files inside it, never delete others."""
    target, shown = Path(path), str(path)
    check_name_length(target, shown)
    if target.exists() and not target.is_dir():
        raise InputError(f"{shown}: exists and is a file, not a folder; choose another --out folder")
    if target.is_dir():
        if not os.access(target, os.W_OK | os.X_OK):
            raise InputError(f"{shown}: the folder is not writable; choose another --out folder")
    else:
        check_output_parent(target, shown)
    return target


@contextlib.contextmanager
def writing(shown: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an OSError inside the block into one InputError naming `shown` (not a temporary name)."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__  # strerror: no filename (a temporary one)
        raise InputError(f"{shown}: cannot write ({reason}); check the path, its permissions and free "
                         "space") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    An interrupted or failing writer therefore never leaves a partial file behind; temporaries of an
    earlier killed writer are removed first. Refuses to replace a folder.
    """
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{path}: is a folder; cannot replace it with a file")
    with writing(path):
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target)
        fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=".tmp", dir=target.parent)
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        with writing(path):
            yield tmp
            if tmp.exists():
                os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600; give the file the usual permissions
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def umask() -> int:
    """The process umask (read without changing it for longer than a moment)."""
    current = os.umask(0)
    os.umask(current)
    return current


def replace_dir(new: Path, target: Path) -> None:
    """Put folder `new` at `target`, replacing the folder there, so that at every moment `target` is the
    whole old folder or the whole new one: an atomic exchange where the system offers it (Linux
    renameat2), else rename the old aside, rename the new in, and move the old back if that fails.
    `new` is gone afterwards; the old folder is deleted."""
    if not target.exists():
        os.replace(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the old folder
        return
    old = target.with_name(f"{temp_prefix(target)}{secrets.token_hex(4)}.old")
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without renameat2 (glibc < 2.28, musl)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # file system without exchange (NFS, ...)
        return False
    raise OSError(code, os.strerror(code), str(b))


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False) -> Path:
    """Write a DataFrame atomically as CSV or Parquet, chosen by the file's extension."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"{target}: unsupported output extension {suffix!r}; use .csv or .parquet")
    with atomic_path(target) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=index)
        else:
            frame.to_parquet(tmp, index=index)
    return target


@contextlib.contextmanager
def table_appender(path: str | os.PathLike[str]) -> Iterator[Callable[[pd.DataFrame], None]]:
    """Yield `append(frame)`, which adds rows to a CSV or Parquet table as they are ready; all of it goes
    to a temporary name renamed onto `path` when the block succeeds (nothing half-written on an error or
    Ctrl-C). Every part must have the first part's columns; the file equals `write_table` of their concat."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"{target}: unsupported output extension {suffix!r}; use .csv or .parquet")
    with atomic_path(target) as tmp:
        writer: pq.ParquetWriter | None = None
        written = False

        def append(frame: pd.DataFrame) -> None:
            nonlocal writer, written
            if suffix == ".csv":
                frame.to_csv(tmp, mode="a" if written else "w", header=not written, index=False)
            else:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))
            written = True

        try:
            yield append
            if not written:  # no rows at all: still a valid (empty) table
                append(pd.DataFrame())
        finally:
            if writer is not None:
                writer.close()


def save_figure(figure, path: str | os.PathLike[str], **kwargs) -> Path:
    """Save a matplotlib figure atomically as PNG and close it."""
    import matplotlib.pyplot as plt

    target = Path(path)
    try:
        with atomic_path(target) as tmp:
            figure.savefig(tmp, format="png", dpi=kwargs.pop("dpi", 110), bbox_inches="tight", **kwargs)
    finally:
        plt.close(figure)
    return target
