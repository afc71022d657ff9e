"""Failed log-ins per (user, address) and per address: past the limit within the window, tries are refused.

Per address the limit is four times the per-user one: guessing names from one place is guessing too.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

_ANY_USER = "\0any"


class LoginThrottle:
    def __init__(self, attempts: int, window_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def refused(self, user: str, address: str) -> bool:
        with self._lock:
            return (self._count((user.lower(), address)) >= self.attempts
                    or self._count((_ANY_USER, address)) >= self.attempts * 4)

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            self._failures[(user.lower(), address)].append(now)
            self._failures[(_ANY_USER, address)].append(now)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._failures.pop((user.lower(), address), None)

    def _count(self, key: tuple[str, str]) -> int:
        failures = self._failures.get(key)
        if not failures:
            return 0
        while failures and failures[0] <= self.clock() - self.window:
            failures.popleft()
        return len(failures)
