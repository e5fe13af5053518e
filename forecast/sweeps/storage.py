"""Study storage: a local SQLite file by default, any RDB URL (PostgreSQL) for many machines.

Why SQLite and not JournalStorage for the local default: only Optuna's RDB storage has heartbeats, and
heartbeats are what let a killed worker lose nothing but its running trial (the stale trial is failed and
retried by `RetryHeartbeatStaleTrialCallback`). With a busy timeout, SQLite serialises the few writes a handful of
local workers make per trial safely; for many machines, use PostgreSQL.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback


def storage_url(storage: str | None, out_dir: str | Path) -> str:
    """The storage URL: `storage` itself, or a SQLite file `<out_dir>/study.db`."""
    if storage:
        return storage
    path = Path(out_dir).resolve() / "study.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def open_storage(url: str, *, heartbeat_interval: int = 30, grace_period: int = 90,
                 max_retry: int = 2) -> RDBStorage:
    """An RDB storage with heartbeats: a trial whose worker died is failed and retried up to max_retry times."""
    # SQLite: wait for the lock instead of failing; servers: drop connections that went stale.
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna; we rely on them
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
        )


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """The pruner by name: median (after 2 complete trials and 2 epochs), hyperband, or none."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=2, reduction_factor=3)
    return optuna.pruners.NopPruner()
