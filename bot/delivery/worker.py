"""The outbox worker: claims due rows in batches, sends them through each platform's Notifier, and records
a round's outcomes in one commit.

Order: rows go out by priority (command replies, then personal alerts, then broadcasts), then by due time,
and strictly in order per destination (``bot.store.outbox``). A round claims about ``ROUND_S`` worth of
sends at the fastest platform rate, so a personal alert enqueued during a broadcast goes out in the next
round, within a second or two. Group commit: the round's outcomes (sent marks, retries, dead letters)
are written in ONE transaction at its end; until then the rows stay ``sending``, so a crash before that
commit sends them again (at least once), never loses them, and never lets a later row of the same chat
overtake.

Pacing: each platform's ``SendRates`` (from its transport; ``bot.delivery.rates``), its ceiling gate and
its per-chat windows (the transport's, shared with command replies, which go first), a platform-wide pause
after a 429, at most ``SendRates.in_flight`` sends waiting for an answer per platform (``concurrency`` for
an unpaced one). Time comes from the injected ``clock`` (Unix seconds) and waits go through the injected
``sleep``.

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
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never

from bot.chat.kinds import ChatKind
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
from bot.delivery.rates import CAUTIOUS, ChatGates, RateLimiter, SendGate, SendRates
from bot.ops.metrics import record_expired, record_send
from bot.store import Store
from bot.store.chats import deactivate_chat, migrate_chat
from bot.store.connection import Connection
from bot.store.outbox import (
    OutboxMessage,
    Priority,
    claim_due,
    dead_letter,
    drop_for_chat,
    expire,
    mark_all_sent,
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

NO_NOTIFIER_RETRY_S = 300.0
ERROR_PAUSE_S = 1.0
MIN_WAIT_S = 0.01
MAX_BACKOFF_S = 60.0
DEFAULT_EXPIRY_S = 86400.0
EXPIRY_CHECK_S = 60.0
"""How often (at most) the worker looks for messages past their expiry."""
ROUND_S = 0.5
"""A round claims about this long's worth of sends at the fastest rate (at least ``concurrency``)."""
MAX_BATCH = 1000


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


@dataclass(frozen=True, slots=True)
class Settled:
    """What one claimed row came to: ``outcome`` ``None`` means not sent (a 429 pause came first) and the
    row goes back, due at ``at``; otherwise ``at`` is when the answer came, or the retry time of a failure."""

    message: OutboxMessage
    outcome: SendOutcome | None
    at: float


def _record(db: Connection, settled: Sequence[Settled], retry_platforms: Collection[str], now: float) -> None:
    """Write a round's outcomes; run in one transaction (the group commit)."""
    for platform in retry_platforms:  # a platform that answers again: what waited for it is due now
        retry_now(db, platform, now)
    mark_all_sent(db, [(s.message.id, s.at) for s in settled if isinstance(s.outcome, Sent)])
    for message, outcome, at in ((s.message, s.outcome, s.at) for s in settled):
        match outcome:
            case None:
                release(db, message.id, at)
            case Sent():
                pass
            case RetryAfter(seconds=seconds):
                reschedule(
                    db, message.id, at, f"rate limited: retry after {seconds:g} s", count_attempt=False
                )
            case ChatGone(reason=reason):
                deactivate_chat(db, message.chat_ref, reason)
                drop_for_chat(db, message.chat_ref, reason)
            case ChatMoved(new_chat_id=new_chat_id):
                if new_chat_id == message.destination:
                    dead_letter(db, message.id, f"chat moved to itself ({new_chat_id})")
                else:
                    migrate_chat(db, message.chat_ref, new_chat_id)
                    release(db, message.id, at)
            case TransientFailure(error=error):
                reschedule(db, message.id, at, error)
            case PermanentFailure(error=error):
                dead_letter(db, message.id, error)
            case _:
                assert_never(outcome)


def _release_all(db: Connection, deferred: list[tuple[int, float]]) -> None:
    for row_id, at in deferred:
        release(db, row_id, at)


class Countdown:
    """Set once ``done`` was called ``count`` times."""

    def __init__(self, count: int) -> None:
        self._left = count
        self._event = asyncio.Event()
        if count <= 0:
            self._event.set()

    def done(self) -> None:
        self._left -= 1
        if self._left <= 0:
            self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


class OutboxWorker:
    """Delivers the outbox: ``await run(stop)`` in the app, ``await run_once()`` for one round."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        *,
        rates: Mapping[str, SendRates | None] | None = None,
        gates: Mapping[str, SendGate] | None = None,
        chat_gates: Mapping[str, ChatGates] | None = None,
        default_rates: SendRates | None = CAUTIOUS,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        concurrency: int = 32,
        backoff: Backoff = exponential_backoff,
        expiry_s: float = DEFAULT_EXPIRY_S,
        idle_poll_s: float = 30.0,
    ) -> None:
        """``rates``: each platform's limits (``None``: unpaced); others get ``default_rates``. ``gates``: a
        platform's ceiling shared with its command replies (the transport's); otherwise the worker keeps
        its own for each ``SendRates.ceiling``. ``chat_gates``: a platform's per-destination windows shared
        with its command replies (the transport's), taken before the in-flight slot and the ceiling."""
        if concurrency < 1 or expiry_s <= 0:
            raise ValueError("concurrency and expiry_s must be positive")
        self._store = store
        self._notifiers = dict(notifiers)
        self._clock = clock
        self._sleep = sleep
        self._expiry_s = expiry_s
        self._next_expiry_check = float("-inf")
        self._outages: dict[str, Outage] = {}
        self._probes: dict[int, str] = {}
        """Probes in flight: row id -> platform (one at a time per platform)."""
        self._retry_platforms: set[str] = set()
        self._concurrency = concurrency
        self._in_flight: dict[str, asyncio.Semaphore] = {}
        self._rounds: set[asyncio.Task[int]] = set()
        self._backoff = backoff
        self._idle_poll_s = idle_poll_s
        known = dict(rates or {})
        self._limiter = RateLimiter(
            known,
            default_rates,
            gates=dict(gates or {}),
            chat_gates=dict(chat_gates or {}),
            clock=clock,
            sleep=sleep,
        )
        fastest = max(
            (
                max(r.per_s, r.broadcast_per_s or 0.0)
                for r in (*known.values(), default_rates)
                if r is not None
            ),
            default=0.0,
        )
        self._batch = min(MAX_BATCH, max(concurrency, math.ceil(fastest * ROUND_S)))
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Wake the worker: new rows were enqueued."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Recover in-flight rows, then deliver until ``stop`` is set; an exception is logged, never fatal.

        Rounds overlap: the next batch is claimed once the current one's last send has started, while its
        answers are still coming (their rows stay ``sending``, so their chats wait). Run one worker per
        database: recovery assumes no other process has rows in flight.
        """
        recovered = False
        settling: asyncio.Task[int] | None = None
        try:
            while not stop.is_set():
                try:
                    if not recovered:
                        if count := await self._store.run(recover_inflight):
                            log.info("outbox: %d message(s) in flight at the last stop will go again", count)
                        recovered = True
                    current, booked = await self._begin_round()
                    sent = await settling if settling is not None else 0
                    settling = current
                    delay = 0.0 if sent or booked else await self._idle_delay()
                except Exception:
                    log.exception("outbox worker round failed")
                    await self._finish_rounds()  # nothing may be in flight when the claimed rows go back
                    settling, recovered = None, False
                    delay = ERROR_PAUSE_S
                if delay > 0:
                    await self._wait(delay, stop)
            await self._finish_rounds()
        finally:  # cancelled: the sends still waiting stop too (their rows go again after a restart)
            for round_task in self._rounds:
                round_task.cancel()

    def unreachable(self) -> dict[str, Outage]:
        """Platforms in an outage now (a copy)."""
        return dict(self._outages)

    async def run_once(self) -> int:
        """One round: claim a batch of due destination heads, send them paced, record the outcomes in one
        commit; returns how many sends were made.

        A platform in an outage gets one probe, once its back-off has passed, instead of its due heads.
        """
        settling, _ = await self._begin_round()
        return await settling

    async def _begin_round(self) -> tuple[asyncio.Task[int], int]:
        """Claim and book a batch; returns, once its last send is due, the task that records the round
        (its result: the sends made) and how many sends were booked."""
        now = self._clock()
        self._limiter.forget_before(now)
        await self._expire(now)
        claimed = await self._store.bookkeeping(claim_due, now, self._batch, skip=tuple(self._outages))
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
            await self._store.bookkeeping(_release_all, deferred)
        started = Countdown(len(booked))
        sends = [asyncio.ensure_future(self._deliver(*send, started)) for send in booked]
        settling = asyncio.ensure_future(self._settle(sends))
        self._rounds.add(settling)
        settling.add_done_callback(self._rounds.discard)
        await started.wait()
        return settling, len(booked)

    async def _settle(self, sends: Sequence[Awaitable[Settled]]) -> int:
        """Wait for a round's answers and record them in one transaction (the group commit)."""
        results = await asyncio.gather(*sends, return_exceptions=True)
        settled = [result for result in results if isinstance(result, Settled)]
        retry_platforms, self._retry_platforms = self._retry_platforms, set()
        failures = [result for result in results if isinstance(result, BaseException)]
        if settled or retry_platforms:
            try:
                await self._store.bookkeeping(_record, settled, retry_platforms, self._clock())
            except Exception as error:  # the rows stay ``sending``: run() puts them back, they go again
                raise RuntimeError(f"{len(settled)} send outcome(s) not recorded") from error
        for failure in failures:
            log.error("outbox: a send failed unexpectedly", exc_info=failure)
        if failures:
            raise RuntimeError(f"{len(failures)} send outcome(s) not recorded") from failures[0]
        return sum(1 for result in settled if result.outcome is not None)

    async def _finish_rounds(self) -> None:
        """Let every round still sending end (each records what it can)."""
        while self._rounds:
            await asyncio.gather(*self._rounds, return_exceptions=True)

    async def _deliver(
        self, notifier: Notifier, message: OutboxMessage, at: float, started: Countdown
    ) -> Settled:
        """Wait for the booked slot, send, and apply the answer in memory (pauses, outages); the store
        learns it at the round's end. Counts ``started`` down when the send starts (or will not)."""
        signalled = False

        def going() -> None:
            nonlocal signalled
            if not signalled:
                signalled = True
                started.done()

        try:
            return await self._send(notifier, message, at, going)
        finally:
            going()

    async def _send(
        self, notifier: Notifier, message: OutboxMessage, at: float, going: Callable[[], None]
    ) -> Settled:
        delay = at - self._clock()
        if delay > 0:
            await self._sleep(delay)
        paused = self._limiter.paused_until(message.platform)
        if paused > self._clock():
            self._probes.pop(message.id, None)
            return Settled(message, None, paused)
        destination = Destination(message.platform, message.destination, ChatKind(message.chat_kind))
        outbound = OutboundMessage(
            message.text, message.image, broadcast=message.priority is Priority.BROADCAST
        )
        chat_gate = self._limiter.chat_gate(message)  # the chat's window, shared with command replies
        if chat_gate is not None:
            await chat_gate.take()
        try:
            async with self._slots(message.platform):
                gate = self._limiter.gate(message)
                if gate is not None:
                    await gate.take()
                try:
                    self._limiter.start(message, self._clock())
                    going()
                    outcome = await notifier.send(destination, outbound)
                except Exception as exc:
                    log.warning(
                        "outbox: %s send to %s raised", message.platform, message.destination, exc_info=True
                    )
                    outcome = TransientFailure(f"{type(exc).__name__}: {exc}")
                finally:
                    if gate is not None:
                        gate.give_back()
                now = self._clock()
        finally:
            if chat_gate is not None:
                chat_gate.give_back()
        record_send(message.platform, outcome)
        probe = self._probes.pop(message.id, None) is not None
        if not isinstance(outcome, TransientFailure):
            self._answered(message.platform, now)
        match outcome:
            case RetryAfter(seconds=seconds):
                self._limiter.pause(message.platform, now + seconds)
                return Settled(message, outcome, now + seconds)
            case TransientFailure(error=error):
                # Never dead-lettered: retried at the next probe, or later after repeated failures of its own.
                retry_at = max(
                    self._failed(message, now, error, probe=probe), now + self._backoff(message.attempts + 1)
                )
                return Settled(message, outcome, retry_at)
        return Settled(message, outcome, now)

    def _slots(self, platform: str) -> asyncio.Semaphore:
        """The platform's in-flight limit."""
        if platform not in self._in_flight:
            rates = self._limiter.rates_for(platform)
            self._in_flight[platform] = asyncio.Semaphore(rates.in_flight if rates else self._concurrency)
        return self._in_flight[platform]

    async def _claim_probes(self, now: float) -> list[OutboxMessage]:
        probes: list[OutboxMessage] = []
        for platform, outage in self._outages.items():
            if outage.probe_at > now or platform in self._probes.values():
                continue
            probe = await self._store.run(claim_due, now, 1, only=platform)
            if not probe:  # every held message waits for its own retry time: probe with the first of them
                due = await self._store.run(next_due_at, only=platform)
                outage.probe_at = now + self._idle_poll_s if due is None else due
            self._probes.update((message.id, platform) for message in probe)
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

    def _failed(self, message: OutboxMessage, now: float, error: str, *, probe: bool) -> float:
        """Record a network error, timeout or 5xx against the platform; returns the next probe time."""
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

    def _answered(self, platform: str, now: float) -> None:
        """The platform answered (any outcome but a transient failure): its outage, if any, is over.

        After failed probes (a platform-wide outage) the held messages are due at once (at the round's
        commit), whatever their own back-off; after a lone failure they are not, so a message that fails on
        its own (one that always times out, say) keeps backing off instead of pausing the platform every
        few seconds.
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
            self._retry_platforms.add(platform)

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
