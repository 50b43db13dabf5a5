"""Failed logins per client address, in memory (R06 per IP, R53).

The address is `REMOTE_ADDR` and nothing else: no header a client can write (such as
X-Forwarded-For) is read here, so changing it does not escape the limit. On the hub the
WSGI server behind the HTTPS proxy puts the real client address in REMOTE_ADDR itself
(docs/security-decisions.md). The per-account throttle, kept in the database, is the one
that survives a restart; this one only stops one address trying many account names.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from flask import Flask, abort, request

_KEY = "workshops.login_limiter"
_MAX_ADDRESSES = 10_000  # bound the memory a flood of addresses can take


class AddressLimiter:
    """Timestamps of recent failures per address, in a sliding window."""

    def __init__(self, limit: int, window_seconds: int):
        self.limit, self.window = limit, window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def is_over(self, address: str, now: float) -> bool:
        """True when the address failed `limit` times within the window."""
        with self._lock:
            return len(self._recent(address, now)) >= self.limit

    def add_failure(self, address: str, now: float) -> None:
        """Count one failed login from the address."""
        with self._lock:
            failures = self._recent(address, now)
            failures.append(now)
            self._failures[address] = failures
            if len(self._failures) > _MAX_ADDRESSES:
                oldest = min(self._failures, key=lambda key: self._failures[key][-1])
                del self._failures[oldest]


def limiter(app: Flask) -> AddressLimiter:
    """The app's limiter, made on first use from LOGIN_IP_MAX_FAILURES and LOGIN_IP_WINDOW_SECONDS."""
    if _KEY not in app.extensions:
        app.extensions[_KEY] = AddressLimiter(app.config["LOGIN_IP_MAX_FAILURES"],
                                              app.config["LOGIN_IP_WINDOW_SECONDS"])
    return app.extensions[_KEY]


def client_address() -> str:
    """The client's address: REMOTE_ADDR only."""
    return request.environ.get("REMOTE_ADDR") or "-"


def refuse_when_over(app: Flask) -> None:
    """Abort with 429 when this address failed too many logins recently."""
    if limiter(app).is_over(client_address(), time.time()):
        abort(429)


def count_failure(app: Flask) -> None:
    """Count a failed password or code from this address."""
    limiter(app).add_failure(client_address(), time.time())
