"""Exceptions the library raises; the CLI maps them to exit codes (InputError -> 2, others -> 1)."""


class ForecastError(Exception):
    """Base class of the toolkit's own errors."""


class InputError(ForecastError, ValueError):
    """Bad input data or arguments: the message names the file, column or row and what to do."""


class DataSourceError(ForecastError):
    """A remote data source failed (network, rate limit, unknown ticker) after retries."""


class TrainingError(ForecastError):
    """Training diverged or could not run (e.g. a NaN loss)."""


class DataWarning(UserWarning):
    """Data was usable but not clean: rows sorted, values filled or dropped, gaps, stale cache, partial download."""
