"""RNNForecaster: Elman RNN / GRU / LSTM forecasters behind the scikit-learn estimator contract.

It composes the preparation path (`forecast.data.prepare.Preparation`: frame -> scaled windows -> forecasts
in original units) and the training path (`forecast.models.training.train`); what is left here is the
estimator contract, the network's shape, inference and the artifact format.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from forecast.config import WindowSpec
from forecast.data.prepare import Preparation
from forecast.data.transforms import SCALERS, TARGET_TRANSFORMS
from forecast.data.windows import Windows
from forecast.errors import InputError
from forecast.intervals import check_levels
from forecast.models import distributions
from forecast.models.base import Forecaster, bound_probabilities, forecasts_frame, with_bounds
from forecast.models.conformal import DEFAULT_LEVELS
from forecast.models.inference import forecast_windows, network_from_state
from forecast.models.instance_norm import NORMALIZATIONS
from forecast.models.networks import (
    CELLS,
    FORECAST_HEADS,
    SKIPS,
    NetworkConfig,
    RecurrentNetwork,
    check_config,
)
from forecast.models.tasks import CLASSIFY_TASKS, LOSSES, TASKS, VALUE_TASKS, check_task
from forecast.models.training import (
    DEFAULT_TRAIN,
    LOGGERS,
    TrainConfig,
    make_logger,
    train,
    train_constraints,
)
from forecast.models.window_inputs import predict_frame, run_windows

_TRAINING = train_constraints()  # the checks of the parameters below, which make up the TrainConfig
_TRAIN_PARAMS = ("lr", "weight_decay", "optimizer", "lr_schedule", "gradient_clip_val", "gradient_clip_algorithm",
                 "batch_size", "max_epochs", "patience", "ema_half_life", "accelerator", "devices", "precision",
                 "progress_bar", "checkpoint_dir")


class RNNForecaster(Forecaster):
    """Recurrent (Elman RNN, GRU or LSTM) forecaster: `fit(frame, spec)`, `predict(frame, origin="last")`.

    Long frames hold one series per `spec.id_col` value; forecasts come back in the data's units. Scaling,
    target transform and vocabularies are fit on training rows only (`Preparation`); the last `val_size` of
    each series is held out for early stopping and model selection.
    head="direct" (the default) forecasts the horizon from the final state and can use known-future
    covariates; head="segments" decodes it in parallel segments (SegRNN); head="transducer" trains on the
    next-H targets of every input step. segment=w > 1 reads the lookback in segments of w steps (one
    recurrent step each); channel_independent=True runs each target column as its own series through shared
    weights (channel_embedding_dim: a learned vector per column). normalize="last" forecasts the change from
    the origin, "revin" works on each window's mean/std scale (normalize_affine: learned scale and shift);
    skip="linear" adds a linear map of the lookback (LSTNet's highway), learned with the network; skip="ridge"
    fits that map by ridge regression first (training windows, penalty chosen on the validation windows) and
    freezes it, so the recurrent part learns what it leaves (forecast.models.highway). normalize="auto" (the default) means
    "last" for value forecasts from the direct or segments head and "none" otherwise: with head="direct"
    and early stopping, the recipe chosen on validation data in issue 16 (experiments/RESULTS.md, "Issue
    16: weather with the new defaults"). task="quantile" adds
    intervals (pinball loss); "distribution" trains a Gaussian or Student-t head (`distribution`) by negative
    log-likelihood and forecasts its median with lower_/upper_ bounds at `levels` (and quantiles or samples
    on request, see `predict`); "direction" gives P(next value above the origin's); "event" P(next value >
    event_threshold, in the target's units). min_lookback=m also uses windows with m..L-1 rows of history.

    Training parameters (lr ... checkpoint_dir) stay flat keyword parameters rather than a nested config,
    so get_params/set_params/clone, searches, sweeps and saved model.json "params" work as before; their
    defaults and checks come from `TrainConfig` (`DEFAULT_TRAIN`, `train_constraints()`), and `fit` builds
    the TrainConfig from them. checkpoint_dir: `last.ckpt` after every epoch, resumed by a later fit with
    the same folder (never saved with the model). progress_bar: on for interactive use. logger: where the
    per-epoch losses and the parameters go: None (nowhere), "csv" or "tensorboard" (./lightning_logs/forecast),
    "mlflow" (MLflow's tracking URI, MLFLOW_TRACKING_URI when set) or a Lightning logger instance; a saved
    model keeps a logger's name, never the object.

    After fit: network_ (CPU), network_config_, preparation_ (spec_, scaler_, vocabularies_, series_ids_,
    split_ come from it), history_ (per epoch), grad_norms_ (per step, before clipping), best_val_loss_,
    n_epochs_, best_epoch_ (0-based; None without validation), n_train_windows_, n_val_windows_,
    skipped_series_, fit_seconds_.
    """

    _parameter_constraints: dict = {
        "cell": [StrOptions(set(CELLS))],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "nonlinearity": [StrOptions({"tanh", "relu"})],
        "head": [StrOptions({"direct", "transducer", "segments"})],
        "segment": [Interval(Integral, 1, None, closed="left")],
        "channel_independent": ["boolean"],
        "channel_embedding_dim": [Interval(Integral, 0, None, closed="left")],
        "normalize": [StrOptions({"auto", *NORMALIZATIONS})],
        "normalize_affine": ["boolean"],
        "skip": [StrOptions(set(SKIPS))],
        "task": [StrOptions(set(TASKS))],
        "quantiles": ["array-like"],
        "distribution": [StrOptions(set(distributions.DISTRIBUTIONS))],
        "levels": ["array-like", Interval(Real, 0, 1, closed="neither")],
        "event_threshold": [Real, None],
        "loss": [StrOptions(set(LOSSES))],
        "val_size": [Interval(Real, 0, 1, closed="left")],
        "scaler": [StrOptions(set(SCALERS))],
        "per_series_scaling": ["boolean"],
        "target_transform": [StrOptions(set(TARGET_TRANSFORMS))],
        "series_embedding_dim": [Interval(Integral, 0, None, closed="left")],
        "min_lookback": [Interval(Integral, 1, None, closed="left"), None],
        "seed": [Interval(Integral, 0, None, closed="left")],
        "logger": [StrOptions(set(LOGGERS)), HasMethods(["log_metrics", "log_hyperparams"]), None],
        **{name: _TRAINING[name] for name in _TRAIN_PARAMS},
    }

    def __init__(
        self,
        *,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        nonlinearity: str = "tanh",
        head: str = "direct",
        segment: int = 1,
        channel_independent: bool = False,
        channel_embedding_dim: int = 0,
        normalize: str = "auto",
        normalize_affine: bool = False,
        skip: str = "none",
        task: str = "regression",
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        distribution: str = "normal",
        levels: tuple[float, ...] = DEFAULT_LEVELS,
        event_threshold: float | None = None,
        loss: str = "mse",
        lr: float = DEFAULT_TRAIN.lr,
        weight_decay: float = DEFAULT_TRAIN.weight_decay,
        optimizer: str = DEFAULT_TRAIN.optimizer,
        lr_schedule: str | None = DEFAULT_TRAIN.lr_schedule,
        gradient_clip_val: float | None = DEFAULT_TRAIN.gradient_clip_val,
        gradient_clip_algorithm: str = DEFAULT_TRAIN.gradient_clip_algorithm,
        batch_size: int = DEFAULT_TRAIN.batch_size,
        max_epochs: int = DEFAULT_TRAIN.max_epochs,
        patience: int | None = DEFAULT_TRAIN.patience,
        ema_half_life: float | None = DEFAULT_TRAIN.ema_half_life,
        val_size: float = 0.1,
        scaler: str = "standard",
        per_series_scaling: bool = False,
        target_transform: str = "none",
        series_embedding_dim: int = 0,
        min_lookback: int | None = None,
        seed: int = 0,
        accelerator: str = DEFAULT_TRAIN.accelerator,
        devices: int | str = DEFAULT_TRAIN.devices,
        precision: str | int = DEFAULT_TRAIN.precision,
        progress_bar: bool = True,
        checkpoint_dir: str | Path | None = DEFAULT_TRAIN.checkpoint_dir,
        logger=None,
    ) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.nonlinearity = nonlinearity
        self.head = head
        self.segment = segment
        self.channel_independent = channel_independent
        self.channel_embedding_dim = channel_embedding_dim
        self.normalize = normalize
        self.normalize_affine = normalize_affine
        self.skip = skip
        self.task = task
        self.quantiles = quantiles
        self.distribution = distribution
        self.levels = levels
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
        self.ema_half_life = ema_half_life
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
        self.logger = logger

    def _network_config(self, windows: Windows) -> NetworkConfig:
        return NetworkConfig(
            n_inputs=windows.n_inputs, n_future=windows.n_future if self.head in FORECAST_HEADS else 0,
            n_series=len(self.series_ids_) if self.series_embedding_dim else 0,
            category_sizes=tuple(len(self.vocabularies_[c]) for c in self.spec_.categorical),
            **self._network_settings())

    def _network_settings(self) -> dict:
        """The network fields that follow from the parameters and the spec alone (checked again on load)."""
        spec = self.spec_
        return {
            "n_targets": len(spec.targets), "horizon": spec.horizon, "lookback": spec.lookback,
            "cell": self.cell, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
            "dropout": self.dropout, "nonlinearity": self.nonlinearity,
            "head": "classify" if self.task in CLASSIFY_TASKS else self.head,
            "n_outputs": (len(self.quantiles) if self.task == "quantile" else
                          distributions.n_parameters(self.distribution) if self.task == "distribution" else 1),
            "series_embedding_dim": self.series_embedding_dim, "normalize": self._normalization(), "skip": self.skip,
            "normalize_affine": self.normalize_affine, "segment": self.segment,
            "channel_independent": self.channel_independent, "channel_embedding_dim": self.channel_embedding_dim,
        }

    def _normalization(self) -> str:
        """normalize with "auto" resolved: "last" for value forecasts from a head that reads the final state
        (each window forecast as a change from its origin, so a level never seen in training is no
        extrapolation), "none" for the transducer, classifiers (no forecast to add it back to) and
        distributional heads (their outputs are loc, scale[, df]: only the location could take it)."""
        if self.normalize != "auto":
            return self.normalize
        return "last" if self.head in FORECAST_HEADS and self.task in VALUE_TASKS else "none"

    def _preparation(self, spec: WindowSpec, fitted: dict | None = None) -> Preparation:
        options = {"spec": spec, "scaler": self.scaler, "per_series_scaling": self.per_series_scaling,
                   "target_transform": self.target_transform, "min_lookback": self.min_lookback}
        return Preparation(**options) if fitted is None else Preparation.from_dict(fitted, **options)

    def fit(self, frame: pd.DataFrame, spec: WindowSpec, *, val_frame: pd.DataFrame | None = None,
            callbacks: list | None = None) -> RNNForecaster:
        """Train on `frame` (time-indexed; long frames need spec.id_col). Returns self.

        val_frame: validation data (history included) whose windows with targets after the end of each
            series in `frame` replace the held-out `val_size` (sweeps: every family validates on the same rows).
        callbacks: extra Lightning callbacks (e.g. an Optuna pruning callback watching "val_loss").
        """
        self._validate_params()
        spec = self._check_spec(spec)
        check_task(spec, normalize=self._normalization(), **{k: getattr(self, k) for k in (
            "task", "head", "skip", "quantiles", "target_transform", "event_threshold")})
        if self.task == "distribution":
            check_levels(self.levels, "levels")
        # Forget any earlier fit first, so a fit that fails leaves the model unfitted, never half-updated.
        for attr in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, attr)
        started = time.perf_counter()
        prep = self._preparation(spec)
        data = prep.fit(frame, val_size=self.val_size, val_frame=val_frame)
        if len(data.train) == 0:
            raise InputError(f"no training windows: every series is shorter than lookback + horizon "
                             f"({spec.lookback} + {spec.horizon}) after holding out val_size={self.val_size}")
        if not (data.val is not None and len(data.val)) and self.lr_schedule == "plateau":
            raise InputError(f"lr_schedule='plateau' watches the validation loss, but there are no validation "
                             f"windows (val_size={self.val_size}); raise val_size or choose another schedule")
        self._set_prepared(prep, data, frame)
        config = TrainConfig.from_params(self.get_params(deep=False))
        network_config = self._network_config(data.train)
        try:  # option combinations the network cannot honour: one line naming them, before any training
            check_config(network_config)
        except ValueError as exc:
            raise InputError(f"RNN options: {exc}") from None
        from forecast.models.lightning import ForecastModule  # Lightning: imported when training only

        def build() -> ForecastModule:  # called by train() after seeding, so the initial weights follow `seed`
            return ForecastModule(
                RecurrentNetwork(network_config), task=self.task, loss=self.loss,
                quantiles=tuple(self.quantiles) if self.task == "quantile" else (), **config.module_options(),
                distribution=self.distribution,
                event_thresholds=prep.scaled_thresholds(data.panel, self.event_threshold) if self.task == "event"
                else ())

        logger = make_logger(self.logger)
        if logger:
            logger.log_hyperparams({k: v for k, v in self._stored_params().items() if k != "logger"})
        result = train(build, data.train, data.val, config, seed=self.seed, callbacks=callbacks or (),
                       logger=logger)
        self.network_, self.network_config_ = result.network, network_config
        self.history_, self.best_val_loss_ = result.history, result.best_val_loss
        self.grad_norms_, self.n_epochs_, self.best_epoch_ = result.grad_norms, result.epochs, result.best_epoch
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _set_prepared(self, prep: Preparation, data, frame: pd.DataFrame) -> None:
        """Learned attributes that come from the preparation (and the training frame's columns)."""
        self.preparation_, self.spec_, self.split_ = prep, (spec := prep.spec), data.split
        self.scaler_, self.vocabularies_, self.series_ids_ = prep.scaler_, prep.vocabularies, prep.series_ids
        self.skipped_series_ = list(data.train.skipped)
        self.n_train_windows_, self.n_val_windows_ = len(data.train), len(data.val) if data.val is not None else 0
        self.feature_names_in_, self.n_features_in_ = np.asarray(spec.columns, dtype=object), len(spec.columns)
        self.dtypes_ = {c: str(frame[c].dtype) for c in spec.columns}

    def predict(self, frame: pd.DataFrame, *, origin: str | pd.Timestamp = "last",
                future: pd.DataFrame | None = None, batch_size: int = 4096,
                intervals: Sequence[float] | float | None = None, quantiles: Sequence[float] = (),
                samples: int = 0, seed: int | None = None) -> pd.DataFrame:
        """Forecasts frame for `frame`: from each series' last row ('last'), every origin ('all'), or a date.

        Reads only rows up to each origin (known-future columns: their next H rows, given for the rows after
        the data as `future`, a time-indexed frame). Skipped series are listed in `result.attrs["skipped"]`.
        task="distribution" only: `intervals` (default `levels`) gives lower_/upper_ columns, `quantiles`
        q-columns, `samples` = n adds columns sample_1..sample_n drawn with `seed` (default: the model's).
        """
        check_is_fitted(self, "network_")

        def run(windows: Windows, series_map: np.ndarray) -> np.ndarray:
            return forecast_windows(self.network_, windows, series_map, classify=self.task in CLASSIFY_TASKS,
                                    batch_size=batch_size)

        if self.task == "distribution":
            data, values = run_windows(self, frame, run, origin=origin, future=future)  # [N, H, T, P]
            return self._distribution_frame(values, data, intervals=intervals, quantiles=quantiles,
                                            samples=samples, seed=self.seed if seed is None else seed)
        if intervals is not None or len(quantiles) or samples:
            raise InputError(f"predict(intervals=, quantiles=, samples=) need task='distribution', got "
                             f"task={self.task!r}; wrap the model in ConformalForecaster for intervals")
        return predict_frame(self, frame, run, task=self.task, quantiles=tuple(self.quantiles), origin=origin,
                             future=future)

    def _distribution_frame(self, raw: np.ndarray, data, *, intervals, quantiles: Sequence[float], samples: int,
                            seed: int) -> pd.DataFrame:
        """Forecasts frame of a distributional head's raw outputs [N, H, T, P]: the median as `forecast`,
        lower_/upper_ bounds, q-columns and samples, each mapped to the data's units value by value (exact:
        the scaler and target transforms are increasing; under target_transform='log' the bounds are those
        of a log-normal / log-t, and the median stays the median)."""
        levels = check_levels(self.levels if intervals is None else intervals)
        asked = check_levels(quantiles, "quantiles") if len(quantiles) else ()
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 0:
            raise InputError(f"samples must be a whole number >= 0 of draws per forecast, got {samples!r}")
        probs = bound_probabilities(levels, asked)
        values = self.preparation_.to_original(distributions.quantiles(raw, probs, self.distribution), data)
        result = forecasts_frame(data.panel, self.spec_, data.windows.origins, values[..., :1])  # the median
        result = with_bounds(result, values.reshape(-1, len(probs)), levels, asked)  # [N*H*T, K] frame order
        if samples:
            draws = distributions.sample(raw, int(samples), self.distribution, seed)  # [N, H, T, S] scaled
            draws = self.preparation_.to_original(draws, data).reshape(len(result), -1)
            columns = [f"sample_{k + 1}" for k in range(int(samples))]
            result = pd.concat([result, pd.DataFrame(draws, columns=columns, index=result.index)], axis=1)
        result.attrs["skipped"] = data.skipped
        return result

    def save(self, path) -> None:
        """Write the model to folder `path`: safetensors weights + JSON metadata (no pickle)."""
        from forecast.artifacts import save_model

        save_model(self, path)

    def to_onnx(self, path) -> Path:
        """Write the model to `path` (.onnx) for ONNX Runtime: predicting it needs no torch (`forecast
        predict --model model.onnx`); spec, scaler and columns are embedded (forecast.models.onnx_export)."""
        from forecast.models.onnx_export import export_onnx

        return export_onnx(self, path)

    # -- artifacts ------------------------------------------------------------------------------------
    def _artifact_state(self) -> tuple[dict, dict]:
        check_is_fitted(self, "network_")
        metadata = {
            "params": self._stored_params(),
            **self._common_metadata(),  # spec, vocabularies, series ids, columns, dtypes
            "network": self.network_config_.to_dict(),
            "scaler": self.scaler_.to_dict(),
            "history": self.history_,
            "best_val_loss": self.best_val_loss_,
        }
        return metadata, dict(self.network_.state_dict())

    def _stored_params(self) -> dict:
        """get_params() as JSON values: what model.json (and a logger's hyperparameters) record."""
        params = self.get_params()
        params["quantiles"] = list(params["quantiles"])
        params["levels"] = list(np.atleast_1d(params["levels"]).tolist())
        params["checkpoint_dir"] = None  # a path on the training machine: never stored, never restored
        params["logger"] = params["logger"] if isinstance(params["logger"], str) else None  # never an object
        return params

    @classmethod
    def _from_artifact(cls, metadata: dict, tensors: dict) -> RNNForecaster:
        params = dict(metadata["params"])
        params["quantiles"] = tuple(params["quantiles"])
        params["levels"] = tuple(params.get("levels", DEFAULT_LEVELS))  # folders saved before distributions
        params["checkpoint_dir"] = None  # never resume into a folder named by a file
        net_cfg = metadata["network"]
        # Folders saved before a network option became a parameter (segment, channel_independent, ...) lack
        # it: take the value their network was built with (NetworkConfig's default when it predates it too),
        # never today's parameter default, so old folders keep their forecasts whatever the defaults become.
        built = NetworkConfig(**{k: v for k, v in net_cfg.items() if k in NetworkConfig.__dataclass_fields__})
        for name in cls._parameter_constraints.keys() - params.keys():
            if name in NetworkConfig.__dataclass_fields__:
                params[name] = getattr(built, name)
        model = cls(**params)
        model.spec_ = WindowSpec.from_dict(metadata["spec"])
        model.network_ = network_from_state(net_cfg, tensors)  # refuses weights of another shape
        model.network_config_ = model.network_.config
        disagree = [f"{k}={v!r} but network {k}={getattr(built, k)!r}"
                    for k, v in model._network_settings().items() if getattr(built, k) != v]
        if disagree:
            raise InputError(f"model.json params disagree with its network block ({'; '.join(disagree[:3])}); "
                             "the model folder is damaged: save or retrain the model")
        model._restore_common(metadata)
        model.preparation_ = model._preparation(model.spec_, metadata)  # model.json's vocabularies, ids, scaler
        model.scaler_ = model.preparation_.scaler_
        model.history_ = metadata.get("history", [])
        model.best_val_loss_ = metadata.get("best_val_loss")
        return model
