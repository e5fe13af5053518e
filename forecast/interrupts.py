"""Ctrl-C that lands inside a finalizer still stops the process, quietly.

Python runs weakref callbacks and `__del__` methods at arbitrary moments; a KeyboardInterrupt raised inside
one cannot propagate, so Python prints "Exception ignored in ..." with a traceback and drops the interrupt.
Entry points (the `forecast` command, sweep worker processes) install `keep_interrupts()` so such an
interrupt is raised again in the main code instead: the user sees `forecast: interrupted`, never a traceback.
"""

from __future__ import annotations

import _thread
import sys
import time

_REPLAY_DELAY_S = 0.1  # long enough for the hook to have returned, short enough to feel immediate


def _interrupt_main_soon() -> None:
    time.sleep(_REPLAY_DELAY_S)
    _thread.interrupt_main()


def _reraise_interrupts(unraisable, _default=sys.__unraisablehook__) -> None:
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        # Not from inside this hook (the interrupt would land in the hook again): a moment later, from a
        # helper thread, as if Ctrl-C were pressed again. A raw thread, because threading.Thread.start()
        # waits for the thread to run, and under load the replayed interrupt could land in that wait.
        _thread.start_new_thread(_interrupt_main_soon, ())
        return
    _default(unraisable)


def keep_interrupts() -> None:
    """Route interrupts swallowed by finalizers back to the main code (idempotent; entry points only)."""
    sys.unraisablehook = _reraise_interrupts
