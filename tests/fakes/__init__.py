"""Loopback fakes for tests (``upstreams``: every price and network API) and small test doubles."""

from __future__ import annotations


class RecordingSleep:
    """An injectable ``sleep`` that returns at once and records every requested delay."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
