"""RNNForecaster: Elman RNN / GRU / LSTM forecasters behind the scikit-learn estimator contract."""

from __future__ import annotations

import time
from dataclasses import replace
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from forecast.config import WindowSpec
from forecast.data.panel import Panel, build_panel, fit_vocabularies
from forecast.data.splits import time_split
from forecast.data.transforms import (
    SCALERS,
    TARGET_TRANSFORMS,
    ColumnScaler,
    inverse_target,
    transform_target,
)
from forecast.data.windows import Windows, make_windows
from forecast.errors import InputError, TrainingError
from forecast.models.base import Forecaster, forecasts_frame, select_origins
from forecast.models.networks import CELLS, NetworkConfig, RecurrentNetwork
from forecast.models.tasks import CLASSIFY_TASKS, LOSSES, TASKS

LAST_CHECKPOINT = "last.ckpt"


class RNNForecaster(Forecaster):
    """Recurrent (Elman RNN, GRU or LSTM) forecaster trained with Lightning.

    `fit(frame, spec)` learns from a time-indexed frame (long frames: one series per `spec.id_col` value);
    `predict(frame, origin="last")` returns the forecasts frame in the data's original units.
    Transforms (scaling, target transform, category vocabularies) are fit on the training rows only; the
    last `val_size` of each series is held out for early stopping and model selection.

    head="transducer" trains on the next-H targets of *every* input step (more training signal per
    window) and forecasts from the last step; head="direct" trains only from the final state and can use
    known-future covariates. With head="direct", normalize="last" forecasts the change from the origin's
    value (instance normalization) and skip="linear" adds a linear map of the lookback to the recurrent
    head (LSTNet's highway): the recipe that beats the published LSTMa on ETTh1.
    task="quantile" adds prediction intervals (pinball loss);
    task="direction" classifies whether the next value is above the origin's (forecast = P(up));
    task="event" classifies whether the next value exceeds `event_threshold`, in the target's original
    units (e.g. precipitation > 0: rain; forecast = P(event)).
    Series shorter than lookback + horizon are skipped (listed in `skipped_series_`); with
    min_lookback=m, windows with only m..lookback-1 rows of history are used too, left-padded and packed
    so the RNN never reads the padding.

    checkpoint_dir: where Lightning writes `last.ckpt` after every epoch; a later fit with the same folder
    resumes from it (weights, optimizer, epoch, best epoch so far) and trains up to `max_epochs`, ending
    exactly where an uninterrupted fit would. Resuming loads tensors and plain values only (torch's
    weights_only), never pickled code; the folder is not saved with the model.
    progress_bar: on for interactive use; turn it off in tests and sweeps.

    Attributes after fit: network_ (the trained RecurrentNetwork, on the CPU), network_config_, spec_,
    scaler_, vocabularies_, series_ids_, split_; history_ (per epoch: train_loss, val_loss, grad_norm,
    grad_norm_max, lr); grad_norms_ (total gradient norm of every optimizer step, before clipping);
    best_val_loss_ (its weights are the ones kept), n_epochs_, n_train_windows_, n_val_windows_,
    skipped_series_, fit_seconds_.
    """

    _parameter_constraints: dict = {
        "cell": [StrOptions(set(CELLS))],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "nonlinearity": [StrOptions({"tanh", "relu"})],
        "head": [StrOptions({"direct", "transducer"})],
        "normalize": [StrOptions({"none", "last"})],
        "skip": [StrOptions({"none", "linear"})],
        "task": [StrOptions(set(TASKS))],
        "quantiles": ["array-like"],
        "event_threshold": [Real, None],
        "loss": [StrOptions(set(LOSSES))],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions({"adam", "adamw", "sgd"})],
        "lr_schedule": [StrOptions({"cosine", "plateau"}), None],
        "gradient_clip_val": [Interval(Real, 0, None, closed="left"), None],
        "gradient_clip_algorithm": [StrOptions({"norm", "value"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "val_size": [Interval(Real, 0, 1, closed="left")],
        "scaler": [StrOptions(set(SCALERS))],
        "per_series_scaling": ["boolean"],
        "target_transform": [StrOptions(set(TARGET_TRANSFORMS))],
        "series_embedding_dim": [Interval(Integral, 0, None, closed="left")],
        "min_lookback": [Interval(Integral, 1, None, closed="left"), None],
        "seed": [Interval(Integral, 0, None, closed="left")],
        "accelerator": [str],
        "devices": [Interval(Integral, 1, None, closed="left"), str],
        "precision": [str, Integral],
        "progress_bar": ["boolean"],
        "checkpoint_dir": [str, Path, None],
    }

    def __init__(
        self,
        *,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        nonlinearity: str = "tanh",
        head: str = "transducer",
        normalize: str = "none",
        skip: str = "none",
        task: str = "regression",
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        event_threshold: float | None = None,
        loss: str = "mse",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer: str = "adamw",
        lr_schedule: str | None = None,
        gradient_clip_val: float | None = 1.0,
        gradient_clip_algorithm: str = "norm",
        batch_size: int = 64,
        max_epochs: int = 20,
        patience: int | None = None,
        val_size: float = 0.1,
        scaler: str = "standard",
        per_series_scaling: bool = False,
        target_transform: str = "none",
        series_embedding_dim: int = 0,
        min_lookback: int | None = None,
        seed: int = 0,
        accelerator: str = "cpu",
        devices: int | str = 1,
        precision: str | int = "32-true",
        progress_bar: bool = True,
        checkpoint_dir: str | Path | None = None,
    ) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.nonlinearity = nonlinearity
        self.head = head
        self.normalize = normalize
        self.skip = skip
        self.task = task
        self.quantiles = quantiles
        self.event_threshold = event_threshold
        self.loss = loss
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_size = val_size
        self.scaler = scaler
        self.per_series_scaling = per_series_scaling
        self.target_transform = target_transform
        self.series_embedding_dim = series_embedding_dim
        self.min_lookback = min_lookback
        self.seed = seed
        self.accelerator = accelerator
        self.devices = devices
        self.precision = precision
        self.progress_bar = progress_bar
        self.checkpoint_dir = checkpoint_dir

    # -- data preparation (shared by fit and predict) --------------------------------------------------
    def _prepare(
        self, frame: pd.DataFrame, *, future_steps: int, source: str, fit_val_size: float | None = None,
        future: pd.DataFrame | None = None,
    ) -> tuple[Panel, np.ndarray]:
        """Panel with the target transformed and every column scaled, plus the raw target values [T, n_t].

        fit_val_size is given only while fitting: the split is made and the scaler fit on its training rows.
        `future` fills the known-future columns of the rows appended after each series (prediction only).
        """
        spec = self.spec_
        panel = build_panel(frame, spec, vocabularies=self.vocabularies_, future_steps=future_steps, source=source)
        target_idx = panel.column_index(spec.targets)
        raw_target = panel.values[:, target_idx].astype(np.float64)
        values = panel.values.copy()
        if future is not None:
            self._fill_future(panel, values, future)
        if self.target_transform != "none":
            for k, col in enumerate(target_idx):
                values[:, col] = transform_target(raw_target[:, k], panel.offsets, self.target_transform)
        if fit_val_size is not None:  # fitting: scaler learned from the training rows only
            split = time_split(panel, val_size=fit_val_size, test_size=0.0)
            train_rows = split.train_rows(panel) & np.isfinite(values).all(axis=1)
            self.split_ = split
            self.scaler_ = ColumnScaler(self.scaler, self.per_series_scaling).fit(
                values, panel.series_of_row(), train_rows
            )
        scaled = self.scaler_.transform(values, self._scaler_rows(panel))
        return replace(panel, values=scaled), raw_target

    def _restrict_vocabularies(self, panel: Panel, train_rows: np.ndarray) -> Panel:
        """Keep only the categories seen in training rows (like the scalers); the rest map to code 0, "unseen"."""
        if not panel.codes.shape[1]:
            return panel
        codes = panel.codes.copy()
        for k, col in enumerate(self.spec_.categorical):
            vocab = self.vocabularies_[col]
            seen = np.zeros(len(vocab) + 1, dtype=bool)
            seen[np.unique(codes[train_rows, k])] = True
            seen[0] = False
            remap = np.zeros(len(vocab) + 1, dtype=np.int64)  # old code -> new code, 0 when unseen
            remap[seen] = np.arange(1, int(seen.sum()) + 1)
            codes[:, k] = remap[codes[:, k]]
            self.vocabularies_[col] = [v for v, keep in zip(vocab, seen[1:], strict=True) if keep]
        return replace(panel, codes=codes)

    def _fill_future(self, panel: Panel, values: np.ndarray, future: pd.DataFrame) -> None:
        """Write the known-future covariates of `future` into the appended rows of `values` (in place).

        Rows are matched on time (and series id for panels); appended rows without a match stay NaN.
        """
        spec, source = self.spec_, "future frame"
        if not spec.known_future:
            raise InputError(f"{source}: this model has no known_future columns, so it takes no future values")
        if not isinstance(future.index, pd.DatetimeIndex):
            raise InputError(f"{source}: the index must be a DatetimeIndex, like the data's")
        needed = [*spec.known_future, *([spec.id_col] if spec.id_col else [])]
        missing = [c for c in needed if c not in future.columns]
        if missing:
            raise InputError(f"{source}: missing column(s) {missing}; available: {list(future.columns)}")
        index = future.index
        times = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
        if spec.id_col:
            keys = pd.MultiIndex.from_arrays([future[spec.id_col].astype(str).to_numpy(), times])
        else:
            keys = pd.Index(times)
        if keys.has_duplicates:
            raise InputError(f"{source}: repeated timestamps{' per series' if spec.id_col else ''}; keep one row each")
        lengths = panel.lengths
        series = panel.series_of_row()
        local = np.arange(len(panel.times)) - np.repeat(panel.offsets[:-1], lengths)
        rows = np.flatnonzero(local >= panel.n_observed[series])  # the appended rows
        row_times = pd.DatetimeIndex(panel.times[rows])
        if spec.id_col:
            ids = np.asarray([str(s) for s in panel.series], dtype=object)[series[rows]]
            wanted = pd.MultiIndex.from_arrays([ids, row_times])
        else:
            wanted = pd.Index(row_times)
        pos = keys.get_indexer(wanted)  # [R] row of `future` for each appended row, -1 if absent
        found = pos >= 0
        given = future[list(spec.known_future)].to_numpy(dtype=np.float64)
        cols = panel.column_index(spec.known_future)
        values[np.ix_(rows[found], cols)] = given[pos[found]]

    def _scaler_rows(self, panel: Panel) -> np.ndarray:
        """[T] scaler row of every panel row: the training series' own, or -1 (pooled) for a new series."""
        if not self.per_series_scaling:
            return np.zeros(len(panel.times), np.int64)
        return self._training_series(panel)[panel.series_of_row()]

    def _training_series(self, panel: Panel) -> np.ndarray:
        """[S] index of each panel series among the training series, -1 for a series not seen in training."""
        known = {sid: k for k, sid in enumerate(self.series_ids_)}
        return np.array([known.get(None if sid is None else str(sid), -1) for sid in panel.series], dtype=np.int64)

    def _min_lookback(self) -> int | None:
        """Shortest history a window may have (left-padded, packed for the RNN); None: full lookback only."""
        return None if self.min_lookback is None else min(int(self.min_lookback), self.spec_.lookback)

    def _network_config(self, windows: Windows) -> NetworkConfig:
        return NetworkConfig(
            n_inputs=windows.n_inputs,
            n_future=windows.n_future if self.head == "direct" else 0,
            n_series=len(self.series_ids_) if self.series_embedding_dim else 0,
            category_sizes=tuple(len(self.vocabularies_[c]) for c in self.spec_.categorical),
            **self._network_settings(),
        )

    def _network_settings(self) -> dict:
        """The network fields that follow from the parameters and the spec alone (checked again on load)."""
        spec = self.spec_
        return {
            "n_targets": len(spec.targets), "horizon": spec.horizon, "lookback": spec.lookback,
            "cell": self.cell, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
            "dropout": self.dropout, "nonlinearity": self.nonlinearity,
            "head": "classify" if self.task in CLASSIFY_TASKS else self.head,
            "n_outputs": len(self.quantiles) if self.task == "quantile" else 1,
            "series_embedding_dim": self.series_embedding_dim, "normalize": self.normalize, "skip": self.skip,
        }

    def _check_task(self, spec: WindowSpec) -> None:
        """Checks that tie parameters to each other or to the spec (single ones are in the table)."""
        if (self.normalize != "none" or self.skip != "none") and (
            self.head != "direct" or self.task in CLASSIFY_TASKS
        ):
            raise InputError(
                f"normalize={self.normalize!r} and skip={self.skip!r} work with head='direct' on a regression "
                f"or quantile task; got head={self.head!r}, task={self.task!r}"
            )
        quantiles = np.asarray(self.quantiles, dtype=np.float64)
        if self.task == "quantile" and (
            quantiles.ndim != 1 or not len(quantiles) or np.any((quantiles <= 0) | (quantiles >= 1))
            or np.any(np.diff(quantiles) <= 0)
        ):
            raise InputError(
                f"quantiles must be increasing values strictly between 0 and 1, got {self.quantiles!r}"
            )
        if self.task in CLASSIFY_TASKS and (spec.horizon != 1 or len(spec.targets) != 1):
            raise InputError(
                f"task={self.task!r} classifies the next value of one target; use horizon=1 and one target "
                f"(got horizon={spec.horizon}, targets={list(spec.targets)})"
            )
        if self.task == "direction" and self.target_transform not in ("none", "log"):
            raise InputError(
                f"task='direction' compares the next value with the last one, so target_transform must be "
                f"'none' or 'log', got {self.target_transform!r}"
            )
        if self.task == "event" and (self.event_threshold is None or self.target_transform != "none"):
            raise InputError(
                "task='event' needs event_threshold (in the target's units, e.g. 0.0 for rain) and "
                f"target_transform='none'; got event_threshold={self.event_threshold!r}, "
                f"target_transform={self.target_transform!r}"
            )

    def _event_thresholds(self, panel: Panel) -> tuple[float, ...]:
        """event_threshold in the scaled units of each training series' target (indexed by series)."""
        if self.task != "event":
            return ()
        col = int(panel.column_index(self.spec_.targets)[0])
        rows = self._scaler_rows(panel)[panel.offsets[:-1]]  # [S] scaler row of each series
        center, scale = self.scaler_._stats(rows)  # [S, F] each
        return tuple(((self.event_threshold - center[:, col]) / scale[:, col]).tolist())

    # -- fit / predict ------------------------------------------------------------------------------
    def fit(
        self,
        frame: pd.DataFrame,
        spec: WindowSpec,
        *,
        val_frame: pd.DataFrame | None = None,
        callbacks: list | None = None,
    ) -> RNNForecaster:
        """Train on `frame` (time-indexed; long frames need spec.id_col). Returns self.

        val_frame: optional validation data (history included): its windows whose targets lie after the
            end of each series in `frame` are used for validation instead of holding out `val_size`
            of `frame`. Used by sweeps, so every family is validated on the same rows.
        callbacks: extra Lightning callbacks (e.g. an Optuna pruning callback watching "val_loss").
        """
        self._validate_params()
        spec = self._check_spec(spec)
        self._check_task(spec)
        # Forget any earlier fit first, so a fit that fails leaves the model unfitted, never half-updated.
        for attr in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, attr)
        started = time.perf_counter()
        self.spec_ = spec
        self.vocabularies_ = fit_vocabularies(frame, spec.categorical)
        # Same order as the panel's series (sorted), stored as text so artifacts round-trip them.
        self.series_ids_ = (
            [str(s) for s in pd.factorize(frame[spec.id_col], sort=True)[1]] if spec.id_col else [None]
        )
        held_out = 0.0 if val_frame is not None else float(self.val_size)
        panel, _ = self._prepare(frame, future_steps=0, source="training frame", fit_val_size=held_out)
        panel = self._restrict_vocabularies(panel, self.split_.train_rows(panel))
        short = {"min_lookback": self._min_lookback()}
        train = self.split_.windows(panel, spec, "train", **short)
        if val_frame is not None:
            val = self._windows_after(val_frame, panel, **short)
        else:
            val = self.split_.windows(panel, spec, "val", **short) if self.val_size > 0 else None
        if len(train) == 0:
            raise InputError(
                f"no training windows: every series is shorter than lookback + horizon "
                f"({spec.lookback} + {spec.horizon}) after holding out val_size={self.val_size}"
            )
        has_val = val is not None and len(val) > 0
        if not has_val and (self.patience or self.lr_schedule == "plateau"):
            raise InputError(
                f"patience={self.patience} and lr_schedule={self.lr_schedule!r} watch the validation loss, but "
                f"there are no validation windows (val_size={self.val_size}); raise val_size or drop them"
            )
        self.skipped_series_ = list(train.skipped)
        self.n_train_windows_ = len(train)
        self.n_val_windows_ = len(val) if val is not None else 0
        self.feature_names_in_ = np.asarray(spec.columns, dtype=object)
        self.n_features_in_ = len(spec.columns)
        self.dtypes_ = {c: str(frame[c].dtype) for c in spec.columns}

        # Lightning is imported here, not at module level: loading and predicting never need it.
        import lightning as L

        from forecast.data.datamodule import WindowDataModule
        from forecast.models.lightning import ForecastModule, KeepBestWeights, fit_trainer, quiet_lightning

        # Seed locally and leave the caller's RNG state alone (the CUDA generators too when training there).
        cuda_devices = list(range(torch.cuda.device_count())) if self.accelerator != "cpu" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(self.seed)
            config = self._network_config(train)
            network = RecurrentNetwork(config)
            module = ForecastModule(
                network, task=self.task, loss=self.loss,
                quantiles=tuple(self.quantiles) if self.task == "quantile" else (),
                lr=self.lr, weight_decay=self.weight_decay, optimizer=self.optimizer,
                lr_schedule=self.lr_schedule,
                max_epochs=self.max_epochs,
                event_thresholds=self._event_thresholds(panel),
            )
            keep_best = KeepBestWeights()
            trainer_callbacks: list = [keep_best, *(callbacks or [])]
            if self.patience:
                trainer_callbacks.append(L.pytorch.callbacks.EarlyStopping("val_loss", patience=self.patience))
            resume_from = None
            if self.checkpoint_dir is not None:
                trainer_callbacks.append(L.pytorch.callbacks.ModelCheckpoint(
                    dirpath=self.checkpoint_dir, save_last=True, save_top_k=0, enable_version_counter=False,
                ))
                last = Path(self.checkpoint_dir) / LAST_CHECKPOINT
                resume_from = str(last) if last.is_file() else None
            if self.progress_bar:
                trainer_callbacks.append(L.pytorch.callbacks.TQDMProgressBar(refresh_rate=10))
            quiet_lightning()
            trainer = L.Trainer(
                max_epochs=self.max_epochs,
                accelerator=self.accelerator,
                devices=self.devices,
                precision=self.precision,
                gradient_clip_val=self.gradient_clip_val or None,
                gradient_clip_algorithm=self.gradient_clip_algorithm,
                callbacks=trainer_callbacks,
                logger=False,
                enable_checkpointing=self.checkpoint_dir is not None,
                enable_model_summary=False,
                enable_progress_bar=self.progress_bar,
                num_sanity_val_steps=0,
                limit_val_batches=1.0 if has_val else 0,
            )
            data = WindowDataModule(
                train=train, val=val if has_val else None,
                batch_size=self.batch_size, seed=self.seed,
            )
            try:
                # weights_only: resuming reads tensors and plain values, never unpickles code.
                fit_trainer(trainer, module, datamodule=data, ckpt_path=resume_from, weights_only=True)
            except RuntimeError as exc:
                if resume_from is not None and "state_dict" in str(exc):
                    raise TrainingError(
                        f"{resume_from} was written by a different model ({str(exc).splitlines()[0]}); "
                        "use a new checkpoint_dir or delete that file"
                    ) from exc
                raise
        if keep_best.best_state is not None:
            network.load_state_dict(keep_best.best_state)
        # Predictions run on the CPU in float32, whatever device and precision trained the weights.
        self.network_ = network.cpu().float().eval()
        self.network_config_ = config
        self.history_ = keep_best.history
        self.best_val_loss_ = keep_best.best_loss if keep_best.best_state is not None else None
        self.grad_norms_ = module.grad_norms
        self.n_epochs_ = trainer.current_epoch
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _windows_after(self, val_frame: pd.DataFrame, train_panel: Panel, **window_options) -> Windows:
        """Windows of `val_frame` whose targets lie after the last training timestamp of their series."""
        val_panel, _ = self._prepare(val_frame, future_steps=0, source="validation frame")
        last_train = {sid: train_panel.times[train_panel.offsets[k + 1] - 1]
                      for k, sid in enumerate(train_panel.series)}
        first_target = np.array([
            np.searchsorted(val_panel.times[o:o + n], last_train.get(sid, np.datetime64("NaT")), side="right")
            if sid in last_train else n
            for sid, o, n in zip(val_panel.series, val_panel.offsets[:-1], val_panel.n_observed, strict=True)
        ], dtype=np.int64)
        return make_windows(val_panel, self.spec_, first_target=first_target, **window_options)

    def predict(self, frame: pd.DataFrame, *, origin: str | pd.Timestamp = "last",
                future: pd.DataFrame | None = None, batch_size: int = 4096) -> pd.DataFrame:
        """Forecasts frame for `frame`: from each series' last row ('last'), every origin ('all'), or a date.

        Only rows up to each origin are read (and, for known-future columns, their next H rows). Series too
        short for the lookback, or with missing values in their last window, are skipped and listed in
        `result.attrs["skipped"]`. A model with known_future columns needs their values for the H rows after
        the data: pass them as `future`, a time-indexed frame (with the id column for panels). With
        origin="all", origins whose known-future values are missing are left out.
        """
        check_is_fitted(self, "network_")
        spec = self.spec_
        self.check_columns(frame)
        panel, raw_target = self._prepare(frame, future_steps=spec.horizon, source="prediction frame",
                                          future=future)
        windows = make_windows(panel, spec, require_targets=False, min_lookback=self._min_lookback())
        chosen = select_origins(panel, windows.origins, origin)
        windows = Windows(panel, spec, chosen, windows.skipped, windows.min_lookback)
        if spec.known_future and len(windows):
            known = windows.future(slice(None))[:, :, : len(spec.known_future)]  # [N, H, K_known]
            complete = np.isfinite(known).all(axis=(1, 2))
            if origin == "all":
                windows = windows.subset(complete)
            elif not complete.all():
                first = windows.origins[~complete][0]
                raise InputError(
                    f"prediction frame: known-future column(s) {list(spec.known_future)} have no values for the "
                    f"{spec.horizon} row(s) after origin {panel.timestamps(np.array([first]))[0]}; pass them "
                    "with predict(frame, future=...), a time-indexed frame holding those columns (CLI: --future FILE)"
                )
        values = self._forward(windows, batch_size)  # [N, H, T, Q] scaled / [N, 1, 1, 1] probability
        if self.task == "quantile":
            # Separate outputs may cross; sorting them (monotone rearrangement) never raises the pinball loss.
            values = np.sort(values, axis=-1)
        if self.task not in CLASSIFY_TASKS:
            series_rows = self._scaler_rows(panel)[windows.origins]
            values = self.scaler_.inverse_columns(values, series_rows, windows.target_idx)
            if self.target_transform != "none":
                level = raw_target[windows.origins]  # [N, T] target at each origin, original units
                for k in range(values.shape[2]):
                    for q in range(values.shape[3]):
                        values[:, :, k, q] = inverse_target(values[:, :, k, q], level[:, k], self.target_transform)
        quantiles = tuple(self.quantiles) if self.task == "quantile" else ()
        result = forecasts_frame(
            panel, spec, windows.origins, values, quantiles=quantiles,
            # the point forecast is the quantile nearest the median (0.5 when it is asked for)
            point_index=int(np.argmin(np.abs(np.asarray(quantiles) - 0.5))) if quantiles else None,
        )
        last_window = select_origins(panel, make_windows(panel, spec, require_targets=False, require_finite=False,
                                                         min_lookback=self._min_lookback()).origins, "last")
        short = set(windows.skipped)
        with_gaps = set(np.asarray(panel.series, dtype=object)[
            np.searchsorted(panel.offsets, np.setdiff1d(last_window, windows.origins), side="right") - 1
        ].tolist()) if origin == "last" else set()
        result.attrs["skipped"] = sorted(map(str, short | with_gaps))
        return result

    @torch.no_grad()
    def _forward(self, windows: Windows, batch_size: int) -> np.ndarray:
        net = self.network_.eval()
        to_training = self._training_series(windows.panel)
        outs = []
        for start in range(0, len(windows), batch_size):
            idx = np.arange(start, min(start + batch_size, len(windows)))
            batch = {k: torch.from_numpy(v) for k, v in windows.batch(idx).items() if k != "y"}
            batch["series"] = torch.from_numpy(to_training[batch["series"].numpy()])
            y = net.forecast(batch["x"], series=batch["series"], codes=batch.get("codes"),
                             future=batch.get("future"), lengths=batch.get("lengths"))
            if self.task in CLASSIFY_TASKS:
                y = torch.softmax(y, dim=-1)[:, 1].reshape(-1, 1, 1, 1)  # [B, 2] -> [B, 1, 1, 1] P(up/event)
            outs.append(y.float().numpy())
        if not outs:
            shape = (0, self.spec_.horizon, len(self.spec_.targets), self.network_config_.n_outputs)
            return np.zeros(shape, dtype=np.float32)
        return np.concatenate(outs).astype(np.float64)

    def save(self, path) -> None:
        """Write the model to folder `path`: safetensors weights + JSON metadata (no pickle)."""
        from forecast.artifacts import save_model

        save_model(self, path)

    # -- artifacts ------------------------------------------------------------------------------------
    def _artifact_state(self) -> tuple[dict, dict]:
        check_is_fitted(self, "network_")
        params = self.get_params()
        params["quantiles"] = list(params["quantiles"])
        params["checkpoint_dir"] = None  # a path on the training machine: never stored, never restored
        metadata = {
            "params": params,
            **self._common_metadata(),
            "network": self.network_config_.to_dict(),
            "scaler": self.scaler_.to_dict(),
            "history": self.history_,
            "best_val_loss": self.best_val_loss_,
        }
        return metadata, dict(self.network_.state_dict())

    @classmethod
    def _from_artifact(cls, metadata: dict, tensors: dict) -> RNNForecaster:
        params = dict(metadata["params"])
        params["quantiles"] = tuple(params["quantiles"])
        params["checkpoint_dir"] = None  # never resume into a folder named by a file
        model = cls(**params)
        model.spec_ = WindowSpec.from_dict(metadata["spec"])
        net_cfg = dict(metadata["network"])
        net_cfg["category_sizes"] = tuple(net_cfg["category_sizes"])
        model.network_config_ = NetworkConfig(**net_cfg)
        network = RecurrentNetwork(model.network_config_)
        expected = {k: tuple(v.shape) for k, v in network.state_dict().items()}
        found = {k: tuple(v.shape) for k, v in tensors.items()}
        if expected != found:
            raise InputError("model weights do not match the network described in model.json; the model "
                             "folder is damaged: save it again")
        disagree = [f"{k}={v!r} but network {k}={net_cfg.get(k)!r}"
                    for k, v in model._network_settings().items() if net_cfg.get(k) != v]
        if disagree:
            raise InputError(f"model.json params disagree with its network block ({'; '.join(disagree[:3])}); "
                             "the model folder is damaged: save or retrain the model")
        network.load_state_dict(tensors)
        model.network_ = network.eval()
        model.scaler_ = ColumnScaler.from_dict(metadata["scaler"])
        if not (np.isfinite(model.scaler_.center_).all() and np.isfinite(model.scaler_.scale_).all()):
            raise InputError("model.json holds a scaler with non-finite values (NaN or infinity); the model "
                             "folder is damaged: save or retrain the model")
        model._restore_common(metadata)
        model.history_ = metadata.get("history", [])
        model.best_val_loss_ = metadata.get("best_val_loss")
        return model
