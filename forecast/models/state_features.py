"""Recurrent final states as features for scikit-learn: `RNNStateFeatures` and `StatePipelineForecaster`.

A recurrent encoder reads a whole window step by step and ends in a fixed-size hidden state. That
vector is a learned summary of the history, and any classical model (Ridge, gradient boosting, a
classifier) can take it as its input features: the RNN does the sequence modelling, the classical
model gets a small, regularised, well-understood fit on top.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from forecast.data.panel import Panel
from forecast.data.windows import ArrayWindows, Windows
from forecast.errors import InputError
from forecast.models import distributions
from forecast.models.networks import CELLS, NetworkConfig, RecurrentNetwork, check_config
from forecast.models.training import DEFAULT_TRAIN, TrainConfig, train, train_constraints
from forecast.models.windowed import WindowedForecaster

_TRAINING = train_constraints()
_TRAIN_PARAMS = ("lr", "weight_decay", "batch_size", "max_epochs", "gradient_clip_val", "accelerator", "progress_bar")
STATE_MAX_EPOCHS = 20
"""RNNStateFeatures trains on all its windows, with no validation windows to stop early on, so it keeps a
fixed epoch budget instead of TrainConfig's max_epochs (a ceiling that early stopping usually cuts short)."""


class RNNStateFeatures(TransformerMixin, BaseEstimator):
    """Turn windows into the final hidden state of a recurrent encoder trained on them.

    What it is for: an RNN compresses the whole history of a window into one fixed-size vector. This
    transformer exposes that vector as features, so that any scikit-learn model can use it, e.g.
    `Pipeline([("rnn", RNNStateFeatures(cell="gru")), ("ridge", Ridge())])`, with clone, grid search
    and time-ordered cross-validation (`TimeSeriesSplit`) working as for any transformer.

    X: windows, either 3-D [n, L, F] or 2-D [n, L*F] flattened time-major (step 0's F columns, then
        step 1's, ...), which is what plain sklearn tools (check_array, ColumnTransformer, pandas
        frames) expect; 2-D input needs `lookback` L unless F = 1.
    fit(X, y): standardises each input feature over the training windows, then trains the encoder
        with a linear head to predict y ([n] or [n, k], standardised) from the final state, with
        Lightning (seeded by `seed`). So the state is shaped to be informative about y.
        distribution="normal" or "studentt" trains that head by negative log-likelihood instead of the
        squared error (as RNNForecaster(task="distribution")): the state then also carries y's spread,
        and `head_quantiles` gives the head's own quantiles.
    transform(X): [n, hidden_size] final hidden state of the last layer; for an LSTM with
        include_cell=True, [n, 2*hidden_size] hidden and cell state.
    encoder: instead of training one, take the recurrent network of a fitted `RNNForecaster` (no
        target transform, per-series scaling, categories or series embedding). X then holds windows
        in original units with the forecaster's input columns in its order (targets, features,
        known-future, calendar sin/cos), scaled with its training scaler; y is ignored. Wrap it in
        `sklearn.frozen.FrozenEstimator` so that clone (and so cross-validation) keeps it fitted.
    """

    _parameter_constraints: dict = {
        "cell": [StrOptions(set(CELLS))],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "segment": [Interval(Integral, 1, None, closed="left")],
        "lookback": [Interval(Integral, 1, None, closed="left"), None],
        "include_cell": ["boolean"],
        "distribution": [StrOptions(set(distributions.DISTRIBUTIONS)), None],
        **{name: _TRAINING[name] for name in _TRAIN_PARAMS},
        "seed": [Interval(Integral, 0, None, closed="left")],
        "encoder": [HasMethods(["predict"]), None],
    }

    def __init__(
        self,
        *,
        cell: str = "gru",
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        segment: int = 1,
        lookback: int | None = None,
        include_cell: bool = False,
        distribution: str | None = None,
        lr: float = 3e-3,
        weight_decay: float = DEFAULT_TRAIN.weight_decay,
        batch_size: int = DEFAULT_TRAIN.batch_size,
        max_epochs: int = STATE_MAX_EPOCHS,
        gradient_clip_val: float | None = DEFAULT_TRAIN.gradient_clip_val,
        seed: int = 0,
        accelerator: str = DEFAULT_TRAIN.accelerator,
        progress_bar: bool = DEFAULT_TRAIN.progress_bar,
        encoder=None,
    ) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.segment = segment
        self.lookback = lookback
        self.encoder = encoder
        self.include_cell = include_cell
        self.distribution = distribution
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.gradient_clip_val = gradient_clip_val
        self.seed = seed
        self.accelerator = accelerator
        self.progress_bar = progress_bar

    def _windows(self, X, *, fitting: bool) -> np.ndarray:
        """X as float32 [n, L, F], checked against what fit saw."""
        x = np.asarray(X, dtype=np.float32)
        if x.ndim == 2:
            lookback = self.lookback or x.shape[1]
            if x.shape[1] % lookback:
                raise InputError(
                    f"X has {x.shape[1]} columns, not a multiple of lookback={lookback}; "
                    "2-D X must be windows flattened time-major, [n, lookback * n_features]"
                )
            x = x.reshape(len(x), lookback, x.shape[1] // lookback)  # [n, L*F] -> [n, L, F]
        elif x.ndim != 3:
            raise InputError(f"X must be windows [n, L, F] or flattened [n, L*F]; got {x.ndim}-D")
        if not np.isfinite(x).all():
            raise InputError("X has NaN or infinite values; drop or fill incomplete windows first")
        if not fitting and x.shape[2] != self.n_window_features_:
            raise InputError(f"X has {x.shape[2]} features per step, but the encoder was fit on "
                             f"{self.n_window_features_}")
        return x

    def fit(self, X, y) -> RNNStateFeatures:
        """Train the encoder to predict y from X (see the class docstring). Returns self."""
        self._validate_params()
        x = self._windows(X, fitting=True)  # [n, L, F]
        if self.encoder is not None:
            return self._take_encoder(x, np.asarray(X).shape[1])
        if y is None:
            raise InputError("RNNStateFeatures.fit needs y: the encoder is trained to predict it")
        target = np.asarray(y, dtype=np.float32).reshape(len(x), -1)  # [n] or [n, k] -> [n, k]
        if not np.isfinite(target).all():
            raise InputError("y has NaN or infinite values; drop those windows first")
        self.n_features_in_ = np.asarray(X).shape[1]
        self.n_window_features_ = x.shape[2]
        flat = x.reshape(-1, x.shape[2])  # [n*L, F]
        self.x_mean_, self.x_scale_ = flat.mean(axis=0), _safe_std(flat)
        self.y_mean_, self.y_scale_ = target.mean(axis=0), _safe_std(target)
        xs = (x - self.x_mean_) / self.x_scale_
        ys = ((target - self.y_mean_) / self.y_scale_)[:, None, :]  # [n, k] -> [n, 1, k]
        config = TrainConfig.from_params(self.get_params(deep=False))
        network = NetworkConfig(
            n_inputs=x.shape[2], n_targets=ys.shape[2], horizon=1, cell=self.cell,
            hidden_size=self.hidden_size, num_layers=self.num_layers, dropout=self.dropout, head="direct",
            segment=self.segment, lookback=x.shape[1],
            n_outputs=distributions.n_parameters(self.distribution) if self.distribution else 1,
        )
        try:
            check_config(network)
        except ValueError as exc:
            raise InputError(f"RNNStateFeatures: {exc}") from None
        windows = ArrayWindows(xs.astype(np.float32), ys.astype(np.float32))  # batches of x [B, L, F], y [B, 1, k]
        self.network_ = train(lambda: self._module(network, config), windows, None, config, seed=self.seed).network
        return self

    def _module(self, network: NetworkConfig, config: TrainConfig):
        """The network, or (distribution) the training module that fits it by negative log-likelihood."""
        if not self.distribution:
            return RecurrentNetwork(network)
        from forecast.models.lightning import ForecastModule  # Lightning: imported when training only

        return ForecastModule(RecurrentNetwork(network), task="distribution", distribution=self.distribution,
                              **config.module_options())

    def _take_encoder(self, x: np.ndarray, n_columns: int) -> RNNStateFeatures:
        """Use a fitted RNNForecaster's network and input scaling instead of training."""
        forecaster = self.encoder
        if not hasattr(forecaster, "network_") or not hasattr(forecaster, "scaler_"):
            raise InputError("encoder must be a fitted forecast.RNNForecaster (fit it first; wrap it in "
                             "sklearn.frozen.FrozenEstimator to keep it through clone)")
        unsupported = {
            "target_transform": forecaster.target_transform != "none",
            "per_series_scaling": bool(forecaster.per_series_scaling),
            "series_embedding_dim": bool(forecaster.series_embedding_dim),
            "categorical columns": bool(forecaster.spec_.categorical),
        }
        if any(unsupported.values()):
            raise InputError(f"encoder uses {[k for k, v in unsupported.items() if v]}, which window "
                             "arrays cannot carry; refit it without them or let RNNStateFeatures train one")
        network = forecaster.network_
        if x.shape[2] != network.config.n_inputs:
            raise InputError(f"X has {x.shape[2]} features per step; the encoder reads "
                             f"{network.config.n_inputs} ({forecaster.spec_.numeric_inputs} + calendar)")
        self.network_ = network
        self.x_mean_ = forecaster.scaler_.center_[0]  # [F] panel columns = window input columns
        self.x_scale_ = forecaster.scaler_.scale_[0]
        self.n_features_in_, self.n_window_features_ = n_columns, x.shape[2]
        return self

    def _with_cell(self) -> bool:
        return self.include_cell and self.network_.config.cell == "lstm"

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """[n, hidden_size] final hidden states ([n, 2*hidden_size] with the LSTM cell state)."""
        check_is_fitted(self, "network_")
        x = (self._windows(X, fitting=False) - self.x_mean_) / self.x_scale_  # [n, L, F]
        with_cell = self._with_cell()
        out = [
            self.network_.final_state(torch.from_numpy(x[i:i + 4096]), include_cell=with_cell).numpy()
            for i in range(0, len(x), 4096)
        ]  # chunks of [b, hidden(*2)]
        width = self.network_.config.hidden_size * (2 if with_cell else 1)
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, width))

    @torch.no_grad()
    def head_predict(self, X) -> np.ndarray:
        """[n, k] the encoder's own linear head forecast of y, in y's units.

        The baseline a classical model on the state must beat: same state, the network's head.
        """
        return self._head_outputs(X)[..., 0] * self.y_scale_ + self.y_mean_  # the loc: a distribution's median

    @torch.no_grad()
    def _head_outputs(self, X) -> np.ndarray:
        """[n, k, P] the head's raw outputs for windows X, on y's standardised scale."""
        check_is_fitted(self, "network_")
        if self.encoder is not None:
            raise InputError("head_predict is for encoders trained here; call the RNNForecaster's predict")
        x = (self._windows(X, fitting=False) - self.x_mean_) / self.x_scale_  # [n, L, F]
        out = [self.network_.forecast(torch.from_numpy(x[i:i + 4096]))[:, 0].numpy()
               for i in range(0, len(x), 4096)]  # chunks of [b, 1, k, P] -> [b, k, P]
        config = self.network_.config
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, config.n_targets, config.n_outputs))

    def head_quantiles(self, X, quantiles) -> np.ndarray:
        """[n, k, Q] quantiles of y at levels `quantiles` from a distributional head, in y's units."""
        if not self.distribution:
            raise InputError("head_quantiles needs a distributional head: set distribution='normal' or 'studentt'")
        levels = np.asarray(quantiles, dtype=np.float64)
        if levels.ndim != 1 or not len(levels) or np.any((levels <= 0) | (levels >= 1)):
            raise InputError(f"quantiles must be levels strictly between 0 and 1, got {quantiles!r}")
        values = distributions.quantiles(self._head_outputs(X), levels, self.distribution)  # [n, k, Q]
        return values * self.y_scale_[:, None] + self.y_mean_[:, None]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """state0..state{h-1} (then cell0.. for an LSTM with include_cell)."""
        check_is_fitted(self, "network_")
        hidden = self.network_.config.hidden_size
        names = [f"state{i}" for i in range(hidden)]
        if self._with_cell():
            names += [f"cell{i}" for i in range(hidden)]
        return np.asarray(names, dtype=object)


def _safe_std(values: np.ndarray) -> np.ndarray:
    std = values.std(axis=0)
    return np.where(std > 1e-12, std, 1.0).astype(np.float32)


class StatePipelineForecaster(WindowedForecaster):
    """Forecaster: a regression (Ridge by default) on the final state of a recurrent encoder.

    encoder: an unfitted `RNNStateFeatures` (None: its defaults); regressor: a scikit-learn regressor
        (None: Ridge()). Both are cloned in fit and tuned with nested names, as in a Pipeline:
        `StatePipelineForecaster(encoder=RNNStateFeatures(cell="lstm"), regressor=Ridge(alpha=10))`,
        `set_params(encoder__hidden_size=16)`. Saving needs a linear regressor (no pickle).

    Reads the same windows as RNNForecaster: inputs t-L+1..t ([L, F_in]: targets, features, known-future
    and calendar columns) -> the next H values of every target (direct multi-output regression). The
    encoder is trained on the training windows only (its scaling too). Known-future values at t+1..t+H
    and categorical columns are not used.
    """

    _parameter_constraints: dict = {
        "encoder": [HasMethods(["fit", "transform"]), None],
        "regressor": [HasMethods(["fit", "predict"]), None],
    }

    def __init__(self, *, encoder=None, regressor=None) -> None:
        self.encoder = encoder
        self.regressor = regressor

    def _fit_panel(self, panel: Panel, frame: pd.DataFrame) -> None:
        from sklearn.base import clone
        from sklearn.linear_model import Ridge

        windows = self.training_windows(panel)
        idx = np.arange(len(windows))
        y = windows.targets(idx).reshape(len(windows), -1)  # [N, H, T] -> [N, H*T]
        encoder = clone(self.encoder) if self.encoder is not None else RNNStateFeatures()
        regressor = clone(self.regressor) if self.regressor is not None else Ridge()
        self.pipeline_ = Pipeline([("rnn", encoder), ("ridge", regressor)])
        self.n_outputs_ = y.shape[1]
        self.pipeline_.fit(windows.inputs(idx), y[:, 0] if self.n_outputs_ == 1 else y)  # X [N, L, F_in]
        self.n_training_windows_ = len(windows)

    def _predict_windows(self, windows: Windows) -> np.ndarray:
        pred = self.pipeline_.predict(windows.inputs(np.arange(len(windows))))  # [N, H*T]
        return np.asarray(pred, dtype=np.float64).reshape(len(windows), self.spec_.horizon, len(self.spec_.targets))

    # -- artifacts: encoder weights, scaling and regression coefficients as tensors, the rest as JSON ----
    def _artifact_state(self) -> tuple[dict, dict]:
        from forecast.models.lagged import linear_state

        check_is_fitted(self, "is_fitted_")
        encoder: RNNStateFeatures = self.pipeline_.named_steps["rnn"]
        ridge, tensors = linear_state(self.pipeline_.named_steps["ridge"], "ridge")
        tensors.update({f"encoder.{k}": v for k, v in encoder.network_.state_dict().items()})
        for name in ("x_mean_", "x_scale_", "y_mean_", "y_scale_"):
            tensors[f"scaling.{name.rstrip('_')}"] = torch.from_numpy(np.asarray(getattr(encoder, name)))
        metadata = {
            # the regressor's class and parameters are in "ridge" (with its coefficients)
            "params": {"encoder": {k: v for k, v in encoder.get_params(deep=False).items() if k != "encoder"}},
            **self._common_metadata(),
            "network": encoder.network_.config.to_dict(),
            "ridge": ridge,
            "n_outputs": self.n_outputs_,
            "encoder_features_in": int(encoder.n_features_in_),
        }
        return metadata, tensors

    @classmethod
    def _from_artifact(cls, metadata: dict, tensors: dict) -> StatePipelineForecaster:
        from sklearn.base import clone

        from forecast.models.lagged import restore_linear

        net_cfg = dict(metadata["network"])
        net_cfg["category_sizes"] = tuple(net_cfg["category_sizes"])
        network = RecurrentNetwork(NetworkConfig(**net_cfg))
        weights = {k.removeprefix("encoder."): v for k, v in tensors.items() if k.startswith("encoder.")}
        expected = {k: tuple(v.shape) for k, v in network.state_dict().items()}
        if expected != {k: tuple(v.shape) for k, v in weights.items()}:
            raise InputError("encoder weights do not match the network described in model.json; the model "
                             "folder is damaged: save it again")
        network.load_state_dict(weights)
        encoder = RNNStateFeatures(**_encoder_params(metadata["params"]))
        encoder.network_ = network.eval()
        for name in ("x_mean_", "x_scale_", "y_mean_", "y_scale_"):
            setattr(encoder, name, tensors[f"scaling.{name.rstrip('_')}"].numpy())
            if not np.isfinite(getattr(encoder, name)).all():
                raise InputError(f"the encoder's {name.rstrip('_')} scaling holds non-finite values (NaN or "
                                 "infinity); the model folder is damaged: save or retrain the model")
        encoder.n_window_features_ = network.config.n_inputs
        encoder.n_features_in_ = int(metadata["encoder_features_in"])
        n_out = int(metadata["n_outputs"])
        width = network.config.hidden_size * (2 if encoder._with_cell() else 1)
        ridge = restore_linear(metadata["ridge"], tensors, "ridge", n_out, width)
        model = cls(encoder=clone(encoder), regressor=clone(ridge))
        model._restore_common(metadata)
        model.pipeline_ = Pipeline([("rnn", encoder), ("ridge", ridge)])
        model.n_outputs_ = n_out
        return model


def _encoder_params(params: dict) -> dict:
    """RNNStateFeatures parameters from model.json "params": {"encoder": {...}}, or the flat layout saved
    before the forecaster composed an encoder (the encoder's parameters beside Ridge's `alpha`, which
    the "ridge" description also holds)."""
    if "encoder" in params:
        return dict(params["encoder"])
    return {k: v for k, v in params.items() if k != "alpha"}
