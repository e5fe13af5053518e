"""Study storage: a local SQLite file by default, any RDB URL (PostgreSQL) for many machines.

Why SQLite and not JournalStorage for the local default: only Optuna's RDB storage has heartbeats, and
heartbeats are what let a killed worker lose nothing but its running trial (the stale trial is failed and
retried by `RetryHeartbeatStaleTrialCallback`). With a busy timeout, SQLite serialises the few writes a handful of
local workers make per trial safely; for many machines, use PostgreSQL.

Cold start: Optuna creates its tables with check-then-create statements, so two workers started at once on a
fresh storage race ("table studies already exists", a duplicate alembic_version row, PostgreSQL's duplicate
pg_type entry). The loser of such a race simply opens the storage again: by then the tables exist.
"""

from __future__ import annotations

import random
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from forecast.errors import InputError

OPEN_ATTEMPTS = 8  # a creation race costs one retry per racing table; a handful of workers needs two or three
RACE_MARKERS = ("already exists", "duplicate key", "unique constraint failed", "uniqueviolation")


def storage_url(storage: str | None, out_dir: str | Path) -> str:
    """The storage URL: `storage` itself, or a SQLite file `<out_dir>/study.db`."""
    if storage:
        return storage
    path = Path(out_dir).resolve() / "study.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def with_driver(url: str) -> str:
    """`postgresql://` names SQLAlchemy's psycopg2 driver; use psycopg 3 (forecast[postgres]) when that is
    the one installed, so the URL users know works as written."""
    if url.startswith(("postgresql://", "postgres://")):
        import importlib.util

        if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg") is not None:
            return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def shown(url: str) -> str:
    """The URL with any password masked, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL holds no password we could find
        return url


def is_creation_race(exc: BaseException) -> bool:
    """True for the errors two processes creating the same tables at once get."""
    return any(marker in str(exc).lower() for marker in RACE_MARKERS)


def open_storage(url: str, *, heartbeat_interval: int = 30, grace_period: int = 90,
                 max_retry: int = 2) -> RDBStorage:
    """An RDB storage with heartbeats: a trial whose worker died is failed and retried up to max_retry times.

    Safe to call from many processes at once on a fresh storage. A URL that cannot be opened is an
    InputError naming it (password masked).
    """
    import sqlalchemy.exc

    url = with_driver(url)
    # SQLite: wait for the lock instead of failing; servers: drop connections that went stale.
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(OPEN_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna; we rely on them
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
                )
        except sqlalchemy.exc.SQLAlchemyError as exc:
            if is_creation_race(exc) and attempt + 1 < OPEN_ATTEMPTS:
                time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))  # another worker is creating the tables
                continue
            detail = str(exc).strip().splitlines()[0]
            raise InputError(f"storage {shown(url)}: cannot open it ({detail}); check --storage or the "
                             "config's 'storage' key") from None
        except ImportError:
            raise InputError(f"storage {shown(url)}: its database driver is not installed (for PostgreSQL: "
                             "pip install 'forecast[postgres]')") from None
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """The pruner by name: median (after 2 complete trials and 2 epochs), hyperband, or none."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=2, reduction_factor=3)
    return optuna.pruners.NopPruner()
