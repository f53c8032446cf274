"""What the chat transports share about connecting: back-off, a rejected token, and liveness.

A transport connects in the background and never holds up the bot's start: each failed attempt waits
``Backoff.delay(attempt)`` (capped exponential with jitter) before the next one, and calls that are not
needed to serve (the command menu, slash-command registration) are retried the same way with
``retry_soft`` until they succeed. Only a token the platform rejects ends the bot (``TokenRejectedError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 60.0
"""The back-off cap: after about seven failures a platform is tried again every 30 to 60 s."""


class TokenRejectedError(Exception):
    """The platform refused the configured token; the message names the setting, never the token."""

    def __init__(self, setting: str, platform: str, status: str) -> None:
        super().__init__(f"{setting} rejected by {platform} ({status})")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential back-off with "equal jitter": attempt n waits between d/2 and d, where
    d = min(cap, first * 2**(n-1)); the jitter spreads restarts of many bots after a shared outage
    (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)."""

    first_s: float = FIRST_DELAY_S
    cap_s: float = MAX_DELAY_S
    uniform: Callable[[float, float], float] = random.uniform

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th consecutive failure (attempt >= 1)."""
        ceiling = min(self.cap_s, self.first_s * 2.0 ** min(attempt - 1, 32))
        return self.uniform(ceiling / 2, ceiling)


BACKOFF = Backoff()


class Liveness:
    """When a transport last got a successful answer from its platform, and whether it is connected."""

    def __init__(self, silence_limit_s: float, clock: Callable[[], float] = time.time) -> None:
        self.silence_limit_s = silence_limit_s
        """Longer than this without a successful call makes the transport unhealthy."""
        self.connected = False
        self.last_success_at: float | None = None
        """Unix seconds of the last successful API call; None: none yet."""
        self.shards: int | None = None
        """Gateway shards the transport runs (Discord); None where the platform has none."""
        self._clock = clock

    def succeeded(self) -> None:
        """Record a successful API call now."""
        self.last_success_at = self._clock()


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; True when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def retry_soft(
    name: str, call: Callable[[], Awaitable[object]], stop: asyncio.Event, backoff: Backoff
) -> None:
    """Run ``call`` until it succeeds (or ``stop``), waiting ``backoff`` between failures; failures are
    one warning line each, never fatal."""
    attempt = 0
    while not stop.is_set():
        try:
            await call()
        except Exception as error:  # anything: a non-essential call must never take the bot down
            attempt += 1
            delay = backoff.delay(attempt)
            log.warning("%s failed (%s); retrying in %.0f s", name, describe(error), delay)
            if await pause(stop, delay):
                return
        else:
            if attempt:
                log.info("%s done after %d failed attempt(s)", name, attempt)
            return


def describe(error: BaseException) -> str:
    """``Type: message`` on one line, for a warning about a failed attempt."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
