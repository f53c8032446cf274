"""Send pacing: each platform's limits (``SendRates``, given by its transport) and the in-memory limiter.

A platform-wide token bucket (bursting one message at most) and a sliding window per destination, chosen by
the row's chat kind: one window for private chats, one for groups and channels. With ``broadcast_per_s``
(Telegram's paid broadcasts), broadcast rows draw from their own, larger bucket. A 429 pauses the whole
platform.

``ceiling`` makes the platform-wide limit hold however late the platform sees a request (``SendGate``): send
n may start only ``period_s`` after the platform ANSWERED send n - ``count``. The platform received that one
before it answered and receives send n after it starts, so it never sees more than ``count`` in any
``period_s``. A bucket alone cannot promise that: a request delayed on its way (a busy network or server)
arrives bunched with the ones after it. The gate is the bot's, not the outbox's: the transport hands the
outbox the one its command replies take too (replies first), so replies and alerts together stay under it.
``ChatGates`` does the same for each destination's window (Telegram: one message a second to a private
chat), so a reply right after an alert to the same chat waits for the chat's second instead of drawing a 429.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.chat.kinds import GROUP_KINDS
from bot.store.outbox import OutboxMessage, Priority


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``count`` messages to one destination in any ``period_s``."""

    count: int
    period_s: float


@dataclass(frozen=True, slots=True)
class SendRates:
    """What a platform lets one bot send; the transport knows its platform's figures."""

    per_s: float
    """Messages per second, all destinations together."""
    private: Window
    group: Window
    """Groups, supergroups and channels (``bot.store.chats.GROUP_KINDS``)."""
    broadcast_per_s: float | None = None
    """Broadcast rows' own budget (a paid tier), or ``None``: they share ``per_s``."""
    in_flight: int = 32
    """Sends waiting for an answer at once (the transport's HTTP pool for outbox sends)."""
    ceiling: Window | None = None
    """The platform-wide hard limit, counted from answers (``SendGate``; not for paid broadcasts)."""
    broadcast_ceiling: Window | None = None
    """The paid broadcast bucket's hard limit, counted from answers."""

    def __post_init__(self) -> None:
        if self.per_s <= 0 or (self.broadcast_per_s is not None and self.broadcast_per_s <= 0):
            raise ValueError("send rates must be positive")
        if self.in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        if min(self.private.count, self.group.count) < 1:
            raise ValueError("a destination window must allow at least one message")


CAUTIOUS = SendRates(per_s=25.0, private=Window(1, 1.0), group=Window(20, 60.0))
"""For a platform whose transport states no rates: slow enough for any chat platform we know."""


class SendGate:
    """At most ``window.count`` sends in any ``window.period_s`` as the platform sees them, whoever sends.

    ``count`` slots: a send takes one when it starts (``take``) and gives it back when answered
    (``give_back``); the slot is free again ``period_s`` later. Takers with ``first`` (command replies) get
    the next free slot before any other taker waiting (outbox sends), in arrival order within each line.
    ``clock``/``sleep``: monotonic seconds.
    """

    def __init__(
        self,
        window: Window,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.window = window
        self._free: deque[float] = deque([-math.inf] * window.count)
        """When each slot not held may be taken, earliest first (slots come back in time order)."""
        self._lines: dict[bool, deque[object]] = {True: deque(), False: deque()}
        self._changed = asyncio.Event()
        self._clock = clock
        self._sleep = sleep

    async def take(self, first: bool = False) -> None:
        """Wait for a free slot (behind the ``first`` line unless ``first``) and take it."""
        line = self._lines[first]
        if not line and (first or not self._lines[True]) and self._ready():
            self._free.popleft()
            return
        me = object()
        line.append(me)
        try:
            while True:
                changed = self._changed
                nxt = self._lines[True] or self._lines[False]
                if nxt[0] is not me or not self._free:
                    await changed.wait()
                    continue
                delay = self._free[0] - self._clock()
                if delay <= 0:
                    self._free.popleft()
                    return
                await self._sleep(delay)  # then look again: a reply that came meanwhile goes first
        finally:
            line.remove(me)
            self._wake()

    def give_back(self) -> None:
        """The send that held a slot was answered (or failed)."""
        self._free.append(self._clock() + self.window.period_s)
        self._wake()

    def idle(self) -> bool:
        """Nobody waits, no slot is held and every slot is free now: forgetting the gate changes nothing."""
        free = self._free
        return (
            not self._lines[True]
            and not self._lines[False]
            and len(free) == self.window.count
            and free[-1] <= self._clock()
        )

    def _ready(self) -> bool:
        return bool(self._free) and self._free[0] <= self._clock()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


class ChatGates:
    """A ``SendGate`` per destination (its ``private`` or ``group`` window), for everyone who sends to it: a
    transport's replies (``first``) and the outbox. Idle gates are forgotten past ``tracked`` destinations
    (or twice the busy ones, so a sweep costs O(1) per new destination however many stay busy)."""

    def __init__(
        self,
        private: Window,
        group: Window,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        tracked: int = 4096,
    ) -> None:
        self._windows = {False: private, True: group}
        self._gates: dict[str, SendGate] = {}
        self._clock = clock
        self._sleep = sleep
        self._tracked = self._limit = tracked

    def gate(self, destination: str, *, group: bool) -> SendGate:
        """The destination's gate (made on first use)."""
        gate = self._gates.get(destination)
        if gate is None:
            if len(self._gates) >= self._limit:
                self._gates = {key: kept for key, kept in self._gates.items() if not kept.idle()}
                self._limit = max(self._tracked, 2 * len(self._gates))  # few idle: look again later
            gate = self._gates[destination] = SendGate(self._windows[group], self._clock, self._sleep)
        return gate


class RateLimiter:
    """Per-platform buckets and pauses, per-destination history; ``None`` rates: unpaced (console)."""

    def __init__(
        self,
        rates: dict[str, SendRates | None],
        default: SendRates | None = CAUTIOUS,
        *,
        gates: dict[str, SendGate] | None = None,
        chat_gates: dict[str, ChatGates] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``gates``: platforms' ceilings shared with their command replies; the other ceilings get a gate
        of their own on ``clock``/``sleep``. ``chat_gates``: platforms' per-destination windows shared with
        their command replies (counted from answers, on top of this limiter's own per-destination history)."""
        self._rates = rates
        self._default = default
        self._buckets: dict[tuple[str, bool], tuple[float, float]] = {}
        self._paused_until: dict[str, float] = {}
        self._sends: dict[tuple[str, str], deque[float]] = {}
        self._gates: dict[tuple[str, bool], SendGate] = {(p, False): g for p, g in (gates or {}).items()}
        self._chat_gates = dict(chat_gates or {})
        self._clock = clock
        self._sleep = sleep

    def rates_for(self, platform: str) -> SendRates | None:
        return self._rates.get(platform, self._default)

    def _window(self, rates: SendRates, message: OutboxMessage) -> Window:
        return rates.group if message.chat_kind in GROUP_KINDS else rates.private

    def ready_at(self, message: OutboxMessage, now: float) -> float:
        """Earliest time the destination may receive ``message`` (platform pause included)."""
        ready = max(now, self.paused_until(message.platform))
        rates = self.rates_for(message.platform)
        if rates is None:
            return ready
        window = self._window(rates, message)
        sent = self._sends.get((message.platform, message.destination))
        if sent is not None and len(sent) >= window.count:
            ready = max(ready, sent[-window.count] + window.period_s)
        return ready

    def reserve(self, message: OutboxMessage, now: float) -> float:
        """Take a platform token and book the destination; returns when the send may go (>= now)."""
        rates = self.rates_for(message.platform)
        if rates is None:
            return now
        paid = self._paid(rates, message)
        rate = rates.broadcast_per_s if paid and rates.broadcast_per_s is not None else rates.per_s
        key = (message.platform, paid)
        tokens, updated = self._buckets.get(key, (1.0, now))
        # A bucket of capacity C refilling at r lets C + r sends through in any one second; with C = 1 a
        # rate just under the limit never exceeds it in a sliding second (no burst, no 429).
        tokens = min(1.0, tokens + (now - updated) * rate) - 1.0
        self._buckets[key] = (tokens, now)
        at = now if tokens >= 0 else now - tokens / rate
        sent = self._sends.setdefault((message.platform, message.destination), deque())
        sent.append(at)
        window = self._window(rates, message)
        while len(sent) > window.count:
            sent.popleft()
        return at

    def gate(self, message: OutboxMessage) -> SendGate | None:
        """The ceiling ``message`` passes on its way (``None``: none)."""
        rates = self.rates_for(message.platform)
        if rates is None:
            return None
        paid = self._paid(rates, message)
        key = (message.platform, paid)
        gate = self._gates.get(key)
        if gate is None:
            window = rates.broadcast_ceiling if paid else rates.ceiling
            if window is None:
                return None
            gate = self._gates[key] = SendGate(window, self._clock, self._sleep)
        return gate

    def chat_gate(self, message: OutboxMessage) -> SendGate | None:
        """The destination's window shared with the platform's command replies (``None``: not shared)."""
        chats = self._chat_gates.get(message.platform)
        if chats is None:
            return None
        return chats.gate(message.destination, group=message.chat_kind in GROUP_KINDS)

    def start(self, message: OutboxMessage, now: float) -> None:
        """A send starts now: its destination's window counts it from now (not from its booked slot, which
        may have passed)."""
        sent = self._sends.get((message.platform, message.destination))
        if sent:
            sent[-1] = max(sent[-1], now)

    @staticmethod
    def _paid(rates: SendRates, message: OutboxMessage) -> bool:
        return rates.broadcast_per_s is not None and message.priority is Priority.BROADCAST

    def pause(self, platform: str, until: float) -> None:
        self._paused_until[platform] = max(until, self.paused_until(platform))

    def paused_until(self, platform: str) -> float:
        return self._paused_until.get(platform, 0.0)

    def forget_before(self, now: float) -> None:
        """Drop history that no longer constrains anything (keeps memory bounded)."""
        longest = max(
            (max(r.private.period_s, r.group.period_s) for r in (*self._rates.values(), self._default) if r),
            default=0.0,
        )
        self._sends = {key: sent for key, sent in self._sends.items() if sent[-1] > now - longest}
