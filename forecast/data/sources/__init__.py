"""Adapters that turn remote or on-disk data into the toolkit's tidy frame."""
