"""Build each panel once per backtest: inside `reusing_panels()`, `build_panel` answers a repeated request
(the same frame object, spec, vocabularies and appended rows) with the panel it already built.

A backtest hands every model the same frame slices, so the baselines and the RNN share one panel per
slice instead of each rebuilding it in fit and again in predict. Outside the block nothing is cached, so a
frame changed in place between calls is never served stale. Panels are shared: readers must not write
into their arrays (no model does; preparation copies before it scales or fills values).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_ACTIVE: ContextVar[tuple[OrderedDict, int] | None] = ContextVar("forecast_panel_reuse", default=None)


@contextmanager
def reusing_panels(max_entries: int = 16) -> Iterator[None]:
    """Within this block, repeated `build_panel` calls on the same frame object return the same panel.

    max_entries: panels kept (least recently used dropped first), which bounds the memory it holds.
    """
    token = _ACTIVE.set((OrderedDict(), max_entries))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def _vocabulary_key(vocabularies: dict[str, list[str]] | None) -> tuple | None:
    return None if vocabularies is None else tuple((k, tuple(v)) for k, v in sorted(vocabularies.items()))


def reused(build: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for `build_panel(frame, spec, *, vocabularies, future_steps, source)`: see the module."""

    @functools.wraps(build)
    def build_or_reuse(frame, spec, *, vocabularies=None, future_steps: int = 0, source: str = "frame"):
        active = _ACTIVE.get()
        if active is None:
            return build(frame, spec, vocabularies=vocabularies, future_steps=future_steps, source=source)
        cache, max_entries = active
        key = (id(frame), spec, future_steps, _vocabulary_key(vocabularies))
        hit = cache.get(key)
        if hit is not None and hit[0] is frame:  # the entry holds the frame, so its id is not reused meanwhile
            cache.move_to_end(key)
            return hit[1]
        panel = build(frame, spec, vocabularies=vocabularies, future_steps=future_steps, source=source)
        cache[key] = (frame, panel)
        while len(cache) > max_entries:
            cache.popitem(last=False)
        return panel

    return build_or_reuse
