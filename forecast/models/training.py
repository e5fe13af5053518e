"""The one training path: a frozen `TrainConfig` and `train()`, which every network in the toolkit goes through.

RNNForecaster, RNNStateFeatures, the lectures and the benchmarks all call `train()`; it owns the Lightning
Trainer, local seeding, keeping the best validation weights, early stopping, resuming from a checkpoint,
Ctrl-C and quiet output. Lightning is imported inside `train()`, so reading the defaults (`DEFAULT_TRAIN`)
stays cheap for code that only loads or predicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecast.errors import InputError, TrainingError

if TYPE_CHECKING:  # torch and scikit-learn are imported when training, so the CLI can read the defaults fast
    import torch

    from forecast.data.windows import Windows

LAST_CHECKPOINT = "last.ckpt"  # what Lightning's ModelCheckpoint(save_last=True) writes in checkpoint_dir
LOGGERS = ("csv", "tensorboard", "mlflow")  # logger names `make_logger` turns into Lightning loggers
LOG_DIR = "lightning_logs"  # where "csv" and "tensorboard" write (Lightning's own default folder)
LOG_NAME = "forecast"  # their run folder under LOG_DIR, and the MLflow experiment of logger="mlflow"


def make_logger(logger: Any) -> Any:
    """The Lightning logger `train` passes to its Trainer: False for None (no logger), a new one for a name
    in LOGGERS (csv, tensorboard: LOG_DIR/LOG_NAME/version_N; mlflow: experiment LOG_NAME at MLflow's
    tracking URI, i.e. MLFLOW_TRACKING_URI when set), or any Lightning logger instance, used as it is."""
    if logger is None or logger is False:
        return False
    if not isinstance(logger, str):
        return logger
    from lightning.pytorch import loggers

    from forecast.extras import require

    if logger == "csv":
        return loggers.CSVLogger(LOG_DIR, name=LOG_NAME)
    if logger == "tensorboard":
        try:
            import tensorboard  # noqa: F401  (Lightning's TensorBoardLogger writes through it)
        except ImportError:
            raise InputError("logger='tensorboard' needs the tensorboard package, which is not installed: "
                             "pip install tensorboard (or use logger='csv')") from None
        return loggers.TensorBoardLogger(LOG_DIR, name=LOG_NAME)
    if logger == "mlflow":
        mlflow = require("mlflow", "mlflow", "logger='mlflow'")
        return loggers.MLFlowLogger(experiment_name=LOG_NAME, tracking_uri=mlflow.get_tracking_uri())
    raise InputError(f"logger must be one of {LOGGERS}, a Lightning logger or None, got {logger!r}")


# lr_schedule="decay": epoch e (from 0) trains at lr * LR_DECAY_FACTOR ** max(0, e - LR_DECAY_START + 1).
LR_DECAY_START = 3  # epochs 0, 1, 2 at the full rate
LR_DECAY_FACTOR = 0.8


def decay_factor(epoch: int) -> float:
    """The multiple of the base learning rate that epoch `epoch` (from 0) trains with under lr_schedule="decay"."""
    return LR_DECAY_FACTOR ** max(0, epoch - LR_DECAY_START + 1)


def train_constraints() -> dict[str, list]:
    """The allowed values of every TrainConfig field, in scikit-learn's constraint language.

    Estimators that expose these fields as flat parameters put the same entries in `_parameter_constraints`.
    """
    from numbers import Integral, Real

    from sklearn.utils._param_validation import Interval, StrOptions

    return {
        "optimizer": [StrOptions({"adam", "adamw", "sgd"})],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"cosine", "plateau", "decay"}), None],
        "gradient_clip_val": [Interval(Real, 0, None, closed="left"), None],
        "gradient_clip_algorithm": [StrOptions({"norm", "value"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "max_steps": [Interval(Integral, -1, None, closed="left")],
        "limit_train_batches": [Interval(Real, 0, None, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "ema_half_life": [Interval(Real, 0, None, closed="neither"), None],
        "accelerator": [str],
        "devices": [Interval(Integral, 1, None, closed="left"), str],
        "precision": [str, Integral],
        "checkpoint_dir": [str, Path, None],
        "progress_bar": ["boolean"],
    }


@dataclass(frozen=True)
class TrainConfig:
    """How a network is trained: optimizer, schedule, clipping, batches, epochs, stopping, device, checkpoints.

    Each default is declared here once; estimators and the CLI read them (`DEFAULT_TRAIN.max_epochs`).
    Fields are checked by `validate()` when training starts (`train_constraints()` lists the allowed values).
    lr_schedule: None (constant), "cosine" (annealed to 0 over max_epochs), "plateau" (halved when the
    validation loss stalls) or "decay" (constant for LR_DECAY_START epochs, then multiplied by LR_DECAY_FACTOR
    each epoch: SegRNN's "type3" rule, which lets long runs settle instead of over-fitting at a high rate).
    gradient_clip_val None or 0 trains without clipping. max_steps=-1: no step limit. patience: epochs
    without a lower validation loss before stopping (None: never stop early). checkpoint_dir: where
    `last.ckpt` is written after every epoch and resumed from by a later call with the same folder.
    ema_half_life: when set, an exponential moving average of the weights (Polyak averaging) is kept,
    updated after every step, with this half-life in epochs (scale-free: the same setting means the same
    thing for 30 or 3,000 steps an epoch); validation, early stopping, the kept best weights and the
    returned network are the average's. None: the raw weights.
    Early stopping is on by default (patience, best weights restored), so max_epochs is a ceiling rather
    than a budget: a fit stops once validation stops improving instead of stopping while still improving
    (issue 16: 20 fixed epochs under-fit hourly weather). Without validation windows patience is ignored.
    """

    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_schedule: str | None = None
    gradient_clip_val: float | None = 1.0
    gradient_clip_algorithm: str = "norm"
    batch_size: int = 64
    max_epochs: int = 100
    max_steps: int = -1
    limit_train_batches: int | float = 1.0
    patience: int | None = 5
    ema_half_life: float | None = None
    accelerator: str = "cpu"
    devices: int | str = 1
    precision: str | int = "32-true"
    checkpoint_dir: str | Path | None = None
    progress_bar: bool = False

    def validate(self) -> TrainConfig:
        """Check every field (at training time, like an estimator's fit); returns self."""
        from sklearn.utils._param_validation import validate_parameter_constraints

        validate_parameter_constraints(train_constraints(), asdict(self), caller_name="TrainConfig")
        return self

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TrainConfig:
        """The config named by the training fields among `params` (an estimator's get_params()); others ignored."""
        return cls(**{k: v for k, v in params.items() if k in cls.__dataclass_fields__})

    def module_options(self) -> dict[str, Any]:
        """The settings ForecastModule reads (its optimizer and schedule)."""
        return {"optimizer": self.optimizer, "lr": self.lr, "weight_decay": self.weight_decay,
                "lr_schedule": self.lr_schedule, "max_epochs": self.max_epochs}


DEFAULT_TRAIN = TrainConfig()


@dataclass
class TrainResult:
    """A trained network (best validation weights, CPU, float32, eval mode) and how its training went."""

    network: torch.nn.Module
    module: Any  # the ForecastModule that trained it (its grad_norms, task settings)
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: losses, grad norms, lr
    best_val_loss: float | None = None  # None when no validation ran
    best_epoch: int | None = None  # 0-based, None when no validation ran
    grad_norms: list[float] = field(default_factory=list)  # total norm of every step, before clipping
    epochs: int = 0
    seconds: float = 0.0
    highway_penalty: float | None = None  # skip="ridge": the relative ridge penalty chosen (forecast.models.highway)


def steps_per_epoch(n_windows: int, batch_size: int, limit_train_batches: int | float = 1.0) -> int:
    """Optimizer steps in one epoch of `n_windows` training windows, as Lightning counts them (at least 1)."""
    batches = -(-n_windows // batch_size)
    if isinstance(limit_train_batches, float):
        batches = int(batches * limit_train_batches)
    else:
        batches = min(batches, int(limit_train_batches))
    return max(1, batches)


def ema_decay(half_life_epochs: float, steps: int) -> float:
    """The per-step decay of a moving average whose weight on a step halves after `half_life_epochs` epochs."""
    return 0.5 ** (1.0 / (half_life_epochs * steps))


def still_improving(history: Sequence[dict[str, float]]) -> bool:
    """Whether the lowest validation loss of a training `history` (per epoch) came at its last epoch, after
    an earlier one: the fit stopped while still improving, so a higher max_epochs would likely help. False
    without validation, and after a single epoch (nothing to compare; a 1-epoch fit is a deliberate probe)."""
    losses = [row.get("val_loss", float("inf")) for row in history]
    # The best epoch is the first with the lowest loss, as KeepBestWeights keeps it (a tie is no progress).
    return len(losses) > 1 and losses[-1] != float("inf") and losses.index(min(losses)) == len(losses) - 1


def train(
    network_or_module: torch.nn.Module | Callable[[], torch.nn.Module],
    train_windows: Windows,
    val_windows: Windows | None,
    config: TrainConfig = DEFAULT_TRAIN,
    *,
    seed: int = 0,
    callbacks: Sequence[Any] = (),
    logger: Any = None,
) -> TrainResult:
    """Train on `train_windows`, validating on `val_windows` (None or empty: no validation), under `config`.

    network_or_module: a RecurrentNetwork (wrapped in a regression ForecastModule built from `config`), a
        ForecastModule, or a function returning either; a function is called after seeding, so the initial
        weights follow `seed` too. The caller's torch RNG state is left as it was.
    Windows are any object with `len()` and `batch(idx) -> dict of arrays` (`forecast.data.windows`).
    A network with skip="ridge" has its linear highway fitted in closed form first (training windows,
    penalty chosen on the validation windows; `forecast.models.highway`), then frozen.
    The best validation epoch's weights are restored; with `patience`, training stops early (without
    validation windows patience has nothing to watch and is ignored; lr_schedule="plateau" is refused). A
    `checkpoint_dir` holding `last.ckpt` resumes from it (tensors and plain values only, never pickled
    code). Ctrl-C comes back as KeyboardInterrupt; a NaN/inf loss as TrainingError.
    logger: where the per-epoch losses go (see `make_logger`): None (nowhere), "csv", "tensorboard",
        "mlflow" or a Lightning logger.
    """
    import lightning as L
    import torch

    from forecast.data.datamodule import WindowDataModule
    from forecast.models.lightning import (
        ExponentialWeightAverage,
        ForecastModule,
        KeepBestWeights,
        fit_trainer,
        quiet_lightning,
    )

    started = time.perf_counter()
    config.validate()
    logger = make_logger(logger)
    has_val = val_windows is not None and len(val_windows) > 0
    if not has_val and config.lr_schedule == "plateau":
        raise InputError("lr_schedule='plateau' watches the validation loss, but there are no validation windows")
    keep_best = KeepBestWeights()
    trainer_callbacks: list = [keep_best, *callbacks]
    averaging = None
    if config.ema_half_life is not None:
        # After keep_best: Lightning runs callbacks in list order, so keep_best copies the averaged weights at
        # the end of validation before the averaging callback swaps the raw weights back.
        steps = steps_per_epoch(len(train_windows), config.batch_size, config.limit_train_batches)
        averaging = ExponentialWeightAverage(ema_decay(config.ema_half_life, steps))
        trainer_callbacks.append(averaging)
    if config.patience and has_val:
        trainer_callbacks.append(L.pytorch.callbacks.EarlyStopping("val_loss", patience=config.patience))
    resume_from = None
    if config.checkpoint_dir is not None:
        trainer_callbacks.append(L.pytorch.callbacks.ModelCheckpoint(
            dirpath=config.checkpoint_dir, save_last=True, save_top_k=0, enable_version_counter=False,
        ))
        last = Path(config.checkpoint_dir) / LAST_CHECKPOINT
        resume_from = str(last) if last.is_file() else None
    if config.progress_bar:
        trainer_callbacks.append(L.pytorch.callbacks.TQDMProgressBar(refresh_rate=10))
    quiet_lightning()
    # Seed locally and leave the caller's RNG state alone (the CUDA generators too when training there).
    cuda_devices = list(range(torch.cuda.device_count())) if config.accelerator != "cpu" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        module = network_or_module() if callable(network_or_module) and not isinstance(
            network_or_module, torch.nn.Module) else network_or_module
        if not isinstance(module, ForecastModule):
            module = ForecastModule(module, **config.module_options())
        highway_penalty = None
        if getattr(getattr(module.network, "config", None), "skip", None) == "ridge":
            from forecast.models.highway import fit_ridge_highway

            highway_penalty = fit_ridge_highway(module.network, train_windows, val_windows if has_val else None)
        trainer = L.Trainer(
            max_epochs=config.max_epochs, max_steps=config.max_steps,
            accelerator=config.accelerator, devices=config.devices, precision=config.precision,
            gradient_clip_val=config.gradient_clip_val or None,
            gradient_clip_algorithm=config.gradient_clip_algorithm,
            limit_train_batches=config.limit_train_batches, limit_val_batches=1.0 if has_val else 0,
            callbacks=trainer_callbacks, logger=logger, enable_checkpointing=config.checkpoint_dir is not None,
            enable_model_summary=False, enable_progress_bar=config.progress_bar, num_sanity_val_steps=0,
        )
        data = WindowDataModule(train=train_windows, val=val_windows if has_val else None,
                                batch_size=config.batch_size, seed=seed)
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
    if averaging is not None:
        averaging.use_average(trainer, module)  # without validation windows, the average is what comes back
    network = module.network
    if keep_best.best_state is not None:
        network.load_state_dict(keep_best.best_state)
    val_losses = [row.get("val_loss", float("inf")) for row in keep_best.history]
    best_epoch = keep_best.history[val_losses.index(min(val_losses))]["epoch"] if keep_best.best_state else None
    # Predictions run on the CPU in float32, whatever device and precision trained the weights.
    return TrainResult(
        network=network.cpu().float().eval(), module=module, history=keep_best.history,
        best_val_loss=keep_best.best_loss if keep_best.best_state is not None else None,
        best_epoch=best_epoch, grad_norms=module.grad_norms, epochs=trainer.current_epoch,
        seconds=time.perf_counter() - started, highway_penalty=highway_penalty,
    )
