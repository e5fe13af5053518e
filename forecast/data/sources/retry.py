"""Retry with exponential backoff for the network sources, and the rules for which failures are transient."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Exception class names (from requests, curl_cffi, urllib3 and the stdlib) that mean "try again later".
_TRANSIENT_NAMES = frozenset({
    "Timeout", "TimeoutError", "ReadTimeout", "ConnectTimeout", "ReadTimeoutError",
    "ChunkedEncodingError", "RemoteDisconnected", "YFRateLimitError",
})
# Names that mean "no route to the server at all": retried too, then treated as being offline.
_OFFLINE_NAMES = frozenset({"ConnectionError", "NewConnectionError", "MaxRetryError", "NameResolutionError"})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry: waits are `backoff * 2**attempt` seconds, capped at `max_wait`."""

    retries: int = 3
    backoff: float = 1.0
    max_wait: float = 30.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        if self.backoff < 0:
            raise ValueError(f"backoff must be >= 0 seconds, got {self.backoff}")

    def wait(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        return min(self.backoff * 2.0**attempt, self.max_wait)


class TransientHTTPError(Exception):
    """An HTTP answer worth retrying (429 or 5xx); carries the status code."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def is_offline(exc: BaseException) -> bool:
    """True when the failure means the server could not be reached at all (no network, DNS failure)."""
    return isinstance(exc, socket.gaierror) or bool(_names(exc) & _OFFLINE_NAMES)


def is_transient(exc: BaseException) -> bool:
    """True for failures that may pass on their own: rate limits, timeouts, 429/5xx, dropped connections."""
    if isinstance(exc, (TransientHTTPError, TimeoutError)) or is_offline(exc):
        return True
    if _names(exc) & _TRANSIENT_NAMES:
        return True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call `fn`, retrying transient failures with exponential backoff; re-raise the last failure."""
    pause = time.sleep if sleep is None else sleep
    for attempt in range(policy.retries + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == policy.retries or not is_transient(exc):
                raise
            pause(policy.wait(attempt))
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises
