"""Loopback fakes for tests (``upstreams``: every price and network API) and small test doubles."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A loopback TCP port free right now (the OS picks it; a later bind may still race, rarely)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RecordingSleep:
    """An injectable ``sleep`` that returns at once and records every requested delay."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Waiting:
    """``wait_for`` / ``wait_for_sync`` for a fake that records calls under ``self._changed`` (a Condition
    notified on every recorded call) and describes its recent calls in ``_timeout_message``."""

    _changed: threading.Condition

    def _timeout_message(self, timeout: float) -> str:
        raise NotImplementedError

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01) -> T:  # noqa: ASYNC109
        """Poll ``predicate()`` without blocking the loop; return its first truthy value or fail the test."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_message(timeout))
            await asyncio.sleep(interval)

    def wait_for_sync(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Blocking ``wait_for`` for threads and sync tests; wakes on every recorded change."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_message(timeout))
                self._changed.wait(min(remaining, 0.05))
