"""Optional extras: import a package that only some features need, or say which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from forecast.errors import InputError


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import `module`, or raise one InputError naming `feature` and `pip install 'forecast[<extra>]'`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{feature} needs the optional package {module.split('.')[0]!r}, which is not "
                         f"installed: pip install 'forecast[{extra}]'") from None
