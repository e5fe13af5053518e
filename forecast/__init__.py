"""forecast: recurrent-network forecasters for prices and weather, and honest comparisons with baselines.

The public API is re-exported here lazily, so `import forecast` and the CLI start fast and torch is
imported only when a model is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute"
_EXPORTS: dict[str, str] = {
    "WindowSpec": "forecast.config:WindowSpec",
    "datasets": "forecast.datasets:",
    "RNNForecaster": "forecast.models.estimators:RNNForecaster",
    "load_model": "forecast.models.loading:load_model",
    "load_onnx": "forecast.models.onnx_runtime:load_onnx",
    "predict_file": "forecast.models.streaming:predict_file",
    "distributed_predict": "forecast.models.distributed:distributed_predict",
    "load_prices": "forecast.data.sources.yahoo:load_prices",
    "load_weather": "forecast.data.sources.weather:load_weather",
    "load_table": "forecast.data.sources.files:load_table",
    "align": "forecast.data.align:align",
    "backtest": "forecast.evaluate:backtest",
    "sweep": "forecast.sweeps:sweep",
    "baselines": "forecast.models.baselines:",
    "registry": "forecast.models.registry:",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    try:
        target = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'forecast' has no attribute {name!r}") from None
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    value = getattr(module, attr) if attr else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
