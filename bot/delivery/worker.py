"""The outbox worker: claims due rows, sends them through the platform's Notifier, records each outcome.

Pacing (all limits are parameters; defaults follow Telegram's, from the Bot FAQ
https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): a token bucket per
platform (``global_rate_per_s``, bursting up to one second's worth), at most one message per
``per_chat_interval_s`` to a destination, at most ``group_per_minute`` in any 60 s to a group or channel
(negative Telegram ids, or a group/supergroup/channel chat kind), and a platform-wide pause after a 429.
Time comes from the injected ``clock`` (Unix seconds) and waits go through the injected ``sleep``.

Outages: a network error, timeout or 5xx (``TransientFailure``) never dead-letters a message. The platform
is marked unreachable: its messages stay queued, in order per chat, and only one of them goes out per
back-off period (5 s doubling to ``MAX_BACKOFF_S``) as a probe, until the platform answers again; then
what waited is sent at once, in the same order. Only the alert expiry (``expiry_s``,
``MINERWATCH_ALERT_EXPIRY_S``) gives up on a message still undelivered: it is marked ``expired`` with a log
line and counted in ``minerwatch_outbox_expired_total``. A message the platform refuses
(``PermanentFailure``) is dead-lettered at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import assert_never

from sqlite_utils import Database

from bot.chat.kinds import GROUP_KINDS, ChatKind
from bot.delivery.notifier import (
    ChatGone,
    ChatMoved,
    Destination,
    Notifier,
    OutboundMessage,
    PermanentFailure,
    RetryAfter,
    SendOutcome,
    Sent,
    TransientFailure,
)
from bot.ops.metrics import record_expired, record_send
from bot.store import Store
from bot.store.chats import deactivate_chat, migrate_chat
from bot.store.outbox import (
    OutboxMessage,
    claim_due,
    dead_letter,
    drop_for_chat,
    expire,
    mark_sent,
    next_due_at,
    recover_inflight,
    release,
    reschedule,
    retry_now,
)

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Backoff = Callable[[int], float]
"""Seconds to wait after the n-th failed attempt (n >= 1)."""

GROUP_WINDOW_S = 60.0
NO_NOTIFIER_RETRY_S = 300.0
ERROR_PAUSE_S = 1.0
MIN_WAIT_S = 0.01
MAX_BACKOFF_S = 60.0
DEFAULT_EXPIRY_S = 86400.0
EXPIRY_CHECK_S = 60.0
"""How often (at most) the worker looks for messages past their expiry."""


def exponential_backoff(attempt: int) -> float:
    """5 s after the first failure, doubling each time, at most ``MAX_BACKOFF_S``."""
    return min(MAX_BACKOFF_S, 5.0 * 2.0 ** min(attempt - 1, 32))  # bounded exponent: no overflow


@dataclass(slots=True)
class Outage:
    """A platform that stopped answering: nothing but one probe per back-off period goes to it."""

    since: float
    failures: int
    """Failed probes, counting the failure that began the outage."""
    probe_at: float


def _is_group(message: OutboxMessage) -> bool:
    return message.chat_kind in GROUP_KINDS or message.destination.startswith("-")


class RateLimiter:
    """In-memory pacing state: per-platform buckets and pauses, per-destination and per-group history."""

    def __init__(
        self,
        *,
        rate_per_s: float,
        per_chat_interval_s: float,
        group_per_minute: int,
        unpaced_platforms: frozenset[str] = frozenset(),
    ) -> None:
        self._unpaced = unpaced_platforms
        self._rate = rate_per_s
        # A bucket of capacity C refilling at r lets C + r sends through in any one second; with C = 1 a
        # 29/s rate can never exceed Telegram's 30 in a sliding second (no burst, no 429).
        self._capacity = 1.0
        self._per_chat_interval_s = per_chat_interval_s
        self._group_per_minute = group_per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._paused_until: dict[str, float] = {}
        self._next_at: dict[tuple[str, str], float] = {}
        self._group_sends: dict[tuple[str, str], deque[float]] = {}

    def ready_at(self, message: OutboxMessage, now: float) -> float:
        """Earliest time the destination may receive ``message`` (platform pause included)."""
        key = (message.platform, message.destination)
        if message.platform in self._unpaced:
            return max(now, self.paused_until(message.platform))
        ready = max(now, self.paused_until(message.platform), self._next_at.get(key, now))
        window = self._group_sends.get(key)
        if _is_group(message) and window is not None and len(window) >= self._group_per_minute:
            ready = max(ready, window[-self._group_per_minute] + GROUP_WINDOW_S)
        return ready

    def reserve(self, message: OutboxMessage, now: float) -> float:
        """Take a platform token and book the destination; returns when the send may go (>= now)."""
        if message.platform in self._unpaced:
            return now
        tokens, updated = self._buckets.get(message.platform, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - updated) * self._rate) - 1.0
        self._buckets[message.platform] = (tokens, now)
        at = now if tokens >= 0 else now - tokens / self._rate
        key = (message.platform, message.destination)
        self._next_at[key] = at + self._per_chat_interval_s
        if _is_group(message):
            self._group_sends.setdefault(key, deque()).append(at)
        return at

    def pause(self, platform: str, until: float) -> None:
        self._paused_until[platform] = max(until, self.paused_until(platform))

    def paused_until(self, platform: str) -> float:
        return self._paused_until.get(platform, 0.0)

    def forget_before(self, now: float) -> None:
        """Drop history that no longer constrains anything (keeps memory bounded)."""
        self._next_at = {key: at for key, at in self._next_at.items() if at > now}
        for key, window in list(self._group_sends.items()):
            while window and window[0] <= now - GROUP_WINDOW_S:
                window.popleft()
            if not window:
                del self._group_sends[key]


def _chat_gone(db: Database, chat_ref: int, reason: str) -> None:
    deactivate_chat(db, chat_ref, reason)
    drop_for_chat(db, chat_ref, reason)


def _chat_moved(db: Database, message: OutboxMessage, new_chat_id: str, now: float) -> None:
    migrate_chat(db, message.chat_ref, new_chat_id)
    release(db, message.id, now)


def _release_all(db: Database, deferred: list[tuple[int, float]]) -> None:
    for row_id, at in deferred:
        release(db, row_id, at)


class OutboxWorker:
    """Delivers the outbox: ``await run(stop)`` in the app, ``await run_once()`` for one round."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        *,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        global_rate_per_s: float = 25.0,
        per_chat_interval_s: float = 1.0,
        group_per_minute: int = 20,
        concurrency: int = 32,
        backoff: Backoff = exponential_backoff,
        expiry_s: float = DEFAULT_EXPIRY_S,
        idle_poll_s: float = 30.0,
        unpaced_platforms: frozenset[str] = frozenset(),
    ) -> None:
        if global_rate_per_s <= 0 or group_per_minute < 1 or concurrency < 1 or expiry_s <= 0:
            raise ValueError("rates, concurrency and expiry_s must be positive")
        self._store = store
        self._notifiers = dict(notifiers)
        self._clock = clock
        self._sleep = sleep
        self._expiry_s = expiry_s
        self._next_expiry_check = float("-inf")
        self._outages: dict[str, Outage] = {}
        self._probes: set[int] = set()
        self._concurrency = concurrency
        self._backoff = backoff
        self._idle_poll_s = idle_poll_s
        self._limiter = RateLimiter(
            rate_per_s=global_rate_per_s,
            per_chat_interval_s=per_chat_interval_s,
            group_per_minute=group_per_minute,
            unpaced_platforms=unpaced_platforms,
        )
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Wake the worker: new rows were enqueued."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Recover in-flight rows, then deliver until ``stop`` is set; an exception is logged, never fatal.

        Run one worker per database: recovery assumes no other process has rows in flight.
        """
        recovered = False
        while not stop.is_set():
            try:
                if not recovered:
                    if count := await self._store.run(recover_inflight):
                        log.info("outbox: %d message(s) in flight at the last stop will be sent again", count)
                    recovered = True
                sent = await self.run_once()
                delay = 0.0 if sent else await self._idle_delay()
            except Exception:
                log.exception("outbox worker round failed")
                recovered = False  # nothing is in flight now: put back what the failed round claimed
                delay = ERROR_PAUSE_S
            if delay > 0:
                await self._wait(delay, stop)

    def unreachable(self) -> dict[str, Outage]:
        """Platforms in an outage now (a copy)."""
        return dict(self._outages)

    async def run_once(self) -> int:
        """Claim the due destination heads and send them concurrently; returns how many sends were made.

        A platform in an outage gets one probe, once its back-off has passed, instead of its due heads.
        """
        now = self._clock()
        self._limiter.forget_before(now)
        self._probes.clear()  # no send outlives its round
        await self._expire(now)
        claimed = await self._store.run(claim_due, now, self._concurrency, skip=tuple(self._outages))
        claimed += await self._claim_probes(now)
        deferred: list[tuple[int, float]] = []
        booked: list[tuple[Notifier, OutboxMessage, float]] = []
        for message in claimed:
            notifier = self._notifiers.get(message.platform)
            if notifier is None:
                log.warning(
                    "outbox: no notifier for platform %r; message %d waits", message.platform, message.id
                )
                deferred.append((message.id, now + NO_NOTIFIER_RETRY_S))
                continue
            ready = self._limiter.ready_at(message, now)
            if ready > now:
                deferred.append((message.id, ready))
                continue
            booked.append((notifier, message, self._limiter.reserve(message, now)))
        if deferred:
            await self._store.atomic(_release_all, deferred)
        results = await asyncio.gather(*(self._deliver(*send) for send in booked), return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        for failure in failures:
            log.error("outbox: recording a send failed", exc_info=failure)
        if failures:
            raise RuntimeError(f"{len(failures)} send outcome(s) not recorded") from failures[0]
        return sum(1 for result in results if result is True)

    async def _deliver(self, notifier: Notifier, message: OutboxMessage, at: float) -> bool:
        """Wait for the booked slot, send, record the outcome; ``False`` when a 429 pause deferred it."""
        delay = at - self._clock()
        if delay > 0:
            await self._sleep(delay)
        paused = self._limiter.paused_until(message.platform)
        if paused > self._clock():
            await self._store.run(release, message.id, paused)
            return False
        destination = Destination(message.platform, message.destination, ChatKind(message.chat_kind))
        try:
            outcome = await notifier.send(destination, OutboundMessage(message.text, message.image))
        except Exception as exc:
            log.warning("outbox: %s send to %s raised", message.platform, message.destination, exc_info=True)
            outcome = TransientFailure(f"{type(exc).__name__}: {exc}")
        await self._settle(message, outcome)
        return True

    async def _claim_probes(self, now: float) -> list[OutboxMessage]:
        probes: list[OutboxMessage] = []
        for platform, outage in self._outages.items():
            if outage.probe_at > now:
                continue
            probe = await self._store.run(claim_due, now, 1, only=platform)
            if not probe:  # every held message waits for its own retry time: probe with the first of them
                due = await self._store.run(next_due_at, only=platform)
                outage.probe_at = now + self._idle_poll_s if due is None else due
            self._probes.update(message.id for message in probe)
            probes += probe
        return probes

    async def _expire(self, now: float) -> None:
        """Give up on messages older than the expiry: mark them ``expired``, log and count them."""
        if now < self._next_expiry_check:
            return
        self._next_expiry_check = now + EXPIRY_CHECK_S
        expired = await self._store.run(expire, now - self._expiry_s)
        groups = Counter((row.platform, row.event_kind) for row in expired)
        for (platform, event_kind), count in sorted(groups.items()):
            record_expired(platform, event_kind, count)
            log.warning(
                "outbox: %d %s message(s) to %s expired undelivered after %.1f h (MINERWATCH_ALERT_EXPIRY_S)",
                count,
                event_kind,
                platform,
                self._expiry_s / 3600,
            )

    def _failed(self, message: OutboxMessage, now: float, error: str) -> float:
        """Record a network error, timeout or 5xx against the platform; returns the next probe time."""
        probe = message.id in self._probes
        outage = self._outages.get(message.platform)
        if outage is None:
            outage = Outage(since=now, failures=1, probe_at=now + self._backoff(1))
            self._outages[message.platform] = outage
            log.warning(
                "outbox: %s unreachable (%s); its messages wait, one probe every %g s at most",
                message.platform,
                error,
                MAX_BACKOFF_S,
            )
        elif probe:
            outage.failures += 1
            outage.probe_at = now + self._backoff(outage.failures)
        return outage.probe_at

    async def _answered(self, platform: str, now: float) -> None:
        """The platform answered (any outcome but a transient failure): its outage, if any, is over.

        After failed probes (a platform-wide outage) the held messages are due at once, whatever their own
        back-off; after a lone failure they are not, so a message that fails on its own (one that always
        times out, say) keeps backing off instead of pausing the platform every few seconds.
        """
        outage = self._outages.pop(platform, None)
        if outage is None:
            return
        log.warning(
            "outbox: %s answers again after %.0f s and %d failed probe(s); sending what waited",
            platform,
            now - outage.since,
            outage.failures - 1,
        )
        if outage.failures > 1:
            await self._store.run(retry_now, platform, now)

    async def _settle(self, message: OutboxMessage, outcome: SendOutcome) -> None:
        record_send(message.platform, outcome)
        now = self._clock()
        if not isinstance(outcome, TransientFailure):
            await self._answered(message.platform, now)
        match outcome:
            case Sent():
                await self._store.run(mark_sent, message.id, now)
            case RetryAfter(seconds=seconds):
                self._limiter.pause(message.platform, now + seconds)
                note = f"rate limited: retry after {seconds:g} s"
                await self._store.run(reschedule, message.id, now + seconds, note, count_attempt=False)
            case ChatGone(reason=reason):
                await self._store.atomic(_chat_gone, message.chat_ref, reason)
            case ChatMoved(new_chat_id=new_chat_id):
                if new_chat_id == message.destination:
                    await self._store.run(dead_letter, message.id, f"chat moved to itself ({new_chat_id})")
                else:
                    await self._store.atomic(_chat_moved, message, new_chat_id, now)
            case TransientFailure(error=error):
                # Never dead-lettered: retried at the next probe, or later after repeated failures of its own.
                retry_at = max(self._failed(message, now, error), now + self._backoff(message.attempts + 1))
                await self._store.run(reschedule, message.id, retry_at, error)
            case PermanentFailure(error=error):
                await self._store.run(dead_letter, message.id, error)
            case _:
                assert_never(outcome)

    async def next_round_at(self) -> float | None:
        """When a round next has something to do (a head due, a probe), or ``None``: nothing pending."""
        due = await self._store.run(next_due_at, skip=tuple(self._outages))
        times = [outage.probe_at for outage in self._outages.values()]
        return min([*times, due]) if due is not None else min(times, default=None)

    async def _idle_delay(self) -> float:
        due = await self.next_round_at()
        if due is None:
            return self._idle_poll_s
        return min(max(due - self._clock(), MIN_WAIT_S), self._idle_poll_s)

    async def _wait(self, delay: float, stop: asyncio.Event) -> None:
        waits = [
            asyncio.ensure_future(self._sleep(delay)),
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(stop.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        self._wake.clear()
