"""The one fetch helper every upstream client uses, plus value validation.

Retries honour ``Retry-After`` (seconds or HTTP-date, RFC 9110 §10.2.3) on 429/503, otherwise exponential
back-off with jitter; other 4xx are final. ``timeout_s`` bounds each read, ``deadline_s`` the whole request
with its retries, so a server trickling one byte at a time cannot hold a poll. Every failure, including a
field that does not parse, becomes a ``SourceError`` whose text is one human line, ``"<source>: <why>"``.
Sleep, clock and jitter are injectable so tests never sleep.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
Clock = Callable[[], datetime]
SleepFn = Callable[[float], Awaitable[None]]

_RETRY_AFTER_STATUSES = frozenset({429, 503})
_MAX_DIGITS = 30
"""Longer digit strings are no height or satoshi amount (and ``int()`` of a 5,000-digit string fails)."""
_STATUS_HINTS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    451: "unavailable from this location",
}


def utc_now() -> datetime:
    """The default clock: timezone-aware UTC now."""
    return datetime.now(UTC)


class SourceError(Exception):
    """An upstream gave no usable answer; ``str()`` is one line, e.g. ``"coinbase: HTTP 503"``."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


PARSE_ERRORS = (ValueError, ArithmeticError, TypeError, LookupError, AttributeError)
"""What a client's parsing of a malformed body can raise that is not already a SourceError."""


def malformed(source: str, exc: BaseException) -> SourceError:
    """A parse failure (one of ``PARSE_ERRORS``) as the SourceError that drops ``source`` for this poll."""
    return SourceError(source, f"malformed answer ({type(exc).__name__}: {_one_line(exc)})")


class AbsurdValueError(SourceError):
    """The upstream answered with a number, but an impossible one; ``value`` keeps it for the record."""

    def __init__(self, source: str, message: str, value: float) -> None:
        super().__init__(source, message)
        self.value = value


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Timeout and retry behaviour; ``bot.sources.aggregate.policy_for(settings)`` builds it from Settings."""

    timeout_s: float = 5.0
    """Per connect/read/write: a trickling server resets it with every byte."""
    retries: int = 2
    deadline_s: float = 20.0
    """Total time for one request with all its retries and back-offs; then the call fails."""
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    max_retry_after_s: float = 30.0
    """A longer ``Retry-After`` is not waited for: the call fails at once."""
    sleep: SleepFn = asyncio.sleep
    clock: Clock = utc_now
    jitter: Callable[[], float] = random.random
    """Returns a number in [0, 1); a back-off of ``d`` becomes ``d * (0.5 + 0.5 * jitter())``."""

    def backoff_s(self, attempt: int) -> float:
        nominal = min(self.backoff_max_s, self.backoff_base_s * 2.0**attempt)
        return nominal * (0.5 + 0.5 * self.jitter())


def join_url(base_url: str, path: str) -> str:
    """Append ``path`` to ``base_url`` whether or not the base ends in a slash."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


def _retry_after_s(response: httpx.Response, clock: Clock) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(raw) - clock()).total_seconds())
    except (TypeError, ValueError):
        return None


def _status_message(status: int) -> str:
    if status == 429:
        return "rate limited (HTTP 429)"
    hint = _STATUS_HINTS.get(status)
    return f"HTTP {status} ({hint})" if hint else f"HTTP {status}"


async def request(
    client: httpx.AsyncClient,
    source: str,
    url: str,
    policy: FetchPolicy,
    *,
    params: dict[str, str] | None = None,
    json_body: Any = None,
    auth: httpx.BasicAuth | None = None,
) -> httpx.Response:
    """GET (POST when ``json_body`` is given) with retries; returns a 2xx response or raises SourceError.

    The whole call, retries included, ends within ``policy.deadline_s``.
    """
    try:
        async with asyncio.timeout(policy.deadline_s):
            return await _attempts(client, source, url, policy, params, json_body, auth)
    except TimeoutError:
        raise SourceError(source, f"no complete answer within {policy.deadline_s:g} s") from None


async def _attempts(
    client: httpx.AsyncClient,
    source: str,
    url: str,
    policy: FetchPolicy,
    params: dict[str, str] | None,
    json_body: Any,
    auth: httpx.BasicAuth | None,
) -> httpx.Response:
    for attempt in range(policy.retries + 1):
        last_try = attempt == policy.retries
        try:
            response = await client.request(
                "POST" if json_body is not None else "GET",
                url,
                params=params,
                json=json_body,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                timeout=policy.timeout_s,
            )
        except httpx.TimeoutException:
            error = SourceError(source, f"timed out after {float(policy.timeout_s)} s")
        except httpx.ConnectError as exc:
            error = SourceError(source, f"connection failed ({_one_line(exc)})")
        except httpx.TransportError as exc:
            error = SourceError(source, f"network error ({_one_line(exc)})")
        else:
            if response.is_success:
                return response
            status = response.status_code
            error = SourceError(source, _status_message(status))
            if status < 500 and status != 429:
                raise error
            wait = _retry_after_s(response, policy.clock) if status in _RETRY_AFTER_STATUSES else None
            if wait is not None and not last_try:
                if wait > policy.max_retry_after_s:
                    raise SourceError(source, f"{_status_message(status)}, asked to wait {wait:g} s")
                await policy.sleep(wait)
                continue
        if last_try:
            raise error
        await policy.sleep(policy.backoff_s(attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _looks_like_html(response: httpx.Response) -> bool:
    return "html" in response.headers.get("content-type", "") or response.text.lstrip().startswith("<")


async def fetch_json(
    client: httpx.AsyncClient,
    source: str,
    url: str,
    policy: FetchPolicy,
    *,
    params: dict[str, str] | None = None,
    json_body: Any = None,
    auth: httpx.BasicAuth | None = None,
) -> Any:
    """``request`` then decode JSON; an HTML page, an empty body or broken JSON is a SourceError."""
    response = await request(client, source, url, policy, params=params, json_body=json_body, auth=auth)
    if not response.content.strip():
        raise SourceError(source, "empty response body")
    if _looks_like_html(response):
        raise SourceError(source, "HTML error page instead of JSON")
    try:
        return json.loads(response.content)
    except ValueError:
        raise SourceError(source, "invalid JSON") from None


async def fetch_text(client: httpx.AsyncClient, source: str, url: str, policy: FetchPolicy) -> str:
    """``request`` then return the stripped text body (the text/plain numbers of mempool, blockchain.info)."""
    response = await request(client, source, url, policy)
    if _looks_like_html(response):
        raise SourceError(source, "HTML error page instead of a number")
    return response.text.strip()


def dig(source: str, document: Any, *path: str | int) -> Any:
    """``document[path[0]][path[1]]...``; a missing key or index is a SourceError naming the path."""
    node = document
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            where = ".".join(str(k) for k in path)
            raise SourceError(source, f"unexpected response shape: no {where}") from None
    return node


@dataclass(frozen=True, slots=True)
class Bounds:
    """The plausible range of one quantity; anything outside is absurd, not merely surprising."""

    name: str
    unit: str
    low: float
    high: float

    def check(self, source: str, value: float) -> float:
        """Return ``value`` if plausible, else raise AbsurdValueError naming it."""
        unit = f" {self.unit}" if self.unit else ""
        if math.isnan(value) or math.isinf(value):
            raise AbsurdValueError(source, f"{self.name} is {value}", value)
        if value < 0 or (value == 0 and self.low > 0):
            raise AbsurdValueError(source, f"non-positive {self.name} {value:.10g}{unit}", value)
        if not self.low <= value <= self.high:
            raise AbsurdValueError(
                source,
                f"absurd {self.name} {value:.10g}{unit} (expected {self.low:.10g}..{self.high:.10g})",
                value,
            )
        return value


PRICE_USD = Bounds("price", "USD", 100, 10_000_000)
DIFFICULTY = Bounds("difficulty", "", 1e6, 1e18)
HASHRATE_HS = Bounds("hashrate", "H/s", 1e15, 1e24)
HEIGHT = Bounds("height", "", 1, 10_000_000)
FEES_PER_BLOCK_BTC = Bounds("fees per block", "BTC", 0, 100)
BLOCK_COUNT = Bounds("block count", "", 1, 100_000)
FEE_WINDOW_BLOCKS = 144
"""Blocks the mean fees per block is taken over (≈1 day), by every source that can report fees."""


def as_float(source: str, name: str, raw: Any) -> float:
    """A finite JSON number or numeric string (exchanges send strings) as float.

    Anything else is a SourceError: other types, NaN and infinities (Python's ``json`` accepts ``NaN`` and
    ``Infinity``), and integers too large for a float (``float(10**400)`` raises OverflowError).
    """
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise SourceError(source, f"{name} is not a number: {raw!r:.40}")
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        raise SourceError(source, f"{name} is not a number: {raw!r:.40}") from None
    if not math.isfinite(value):
        raise SourceError(source, f"{name} is not a finite number: {raw!s:.40}")
    return value


def as_int(source: str, name: str, raw: Any) -> int:
    """Like ``as_float`` but the number must be whole (heights, block counts, satoshi strings)."""
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw.strip()) <= _MAX_DIGITS:
        return int(raw)
    value = as_float(source, name, raw)
    if not value.is_integer():
        raise SourceError(source, f"{name} is not a whole number: {raw!s:.40}")
    return int(value)


EARLIEST_TIME = datetime(2009, 1, 3, tzinfo=UTC)
"""The genesis block's timestamp: no Bitcoin time is earlier."""
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)
"""No upstream time this far ahead is real (and later years overflow some platforms' ``time_t``)."""


def as_time(source: str, name: str, raw: Any, *, per_second: float = 1.0) -> datetime:
    """A Unix time (``per_second`` = 1000 for milliseconds) as an aware UTC datetime.

    A value outside genesis..2200 is a SourceError, not the OverflowError or "year out of range" of
    ``datetime.fromtimestamp``.
    """
    seconds = as_float(source, name, raw) / per_second
    if not EARLIEST_TIME.timestamp() <= seconds <= LATEST_TIME.timestamp():
        raise SourceError(source, f"{name} is not a plausible time: {raw!s:.40}")
    return datetime.fromtimestamp(seconds, UTC)


def unwrap(result: T | BaseException) -> T:
    """Re-raise an exception collected by ``asyncio.gather(..., return_exceptions=True)``."""
    if isinstance(result, BaseException):
        raise result
    return result
