"""Data: adapters that load series, windows over them, splits and transforms."""
