"""Send pacing: each platform's limits (``SendRates``, given by its transport) and the in-memory limiter.

A platform-wide token bucket (bursting one message at most) and a sliding window per destination, chosen by
the row's chat kind: one window for private chats, one for groups and channels. With ``broadcast_per_s``
(Telegram's paid broadcasts), broadcast rows draw from their own, larger bucket. A 429 pauses the whole
platform.

``ceiling`` makes the platform-wide limit hold however late the platform sees a request: send n may start
only ``period_s`` after the platform ANSWERED send n - ``count``. The platform received that one before it
answered and receives send n after it starts, so it never sees more than ``count`` in any ``period_s``. A
bucket alone cannot promise that: a request delayed on its way (a busy network or server) arrives bunched
with the ones after it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

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
    """The platform-wide hard limit, counted from answers (not for the paid broadcast bucket)."""

    def __post_init__(self) -> None:
        if self.per_s <= 0 or (self.broadcast_per_s is not None and self.broadcast_per_s <= 0):
            raise ValueError("send rates must be positive")
        if self.in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        if min(self.private.count, self.group.count) < 1:
            raise ValueError("a destination window must allow at least one message")


CAUTIOUS = SendRates(per_s=25.0, private=Window(1, 1.0), group=Window(20, 60.0))
"""For a platform whose transport states no rates: slow enough for any chat platform we know."""


@dataclass(slots=True)
class _Started:
    answered_at: float | None = field(default=None)


UNANSWERED_POLL_S = 0.005
"""How often a send held by the ceiling looks again while the send it waits for has no answer yet."""


class RateLimiter:
    """Per-platform buckets and pauses, per-destination history; ``None`` rates: unpaced (console)."""

    def __init__(self, rates: dict[str, SendRates | None], default: SendRates | None = CAUTIOUS) -> None:
        self._rates = rates
        self._default = default
        self._buckets: dict[tuple[str, bool], tuple[float, float]] = {}
        self._paused_until: dict[str, float] = {}
        self._sends: dict[tuple[str, str], deque[float]] = {}
        self._started: dict[str, deque[_Started]] = {}

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

    def ceiling_wait(self, message: OutboxMessage, now: float) -> float:
        """Seconds before ``message`` may start under its platform's ceiling (0: now)."""
        rates = self.rates_for(message.platform)
        if rates is None or rates.ceiling is None or self._paid(rates, message):
            return 0.0
        started = self._started.get(message.platform)
        if started is None or len(started) < rates.ceiling.count:
            return 0.0
        oldest = started[0].answered_at
        if oldest is None:
            return UNANSWERED_POLL_S
        return max(0.0, oldest + rates.ceiling.period_s - now)

    def start(self, message: OutboxMessage, now: float) -> _Started | None:
        """A send starts now: its destination's window counts it from now (not from its booked slot, which
        may have passed), and the ceiling counts it until ``answered``."""
        rates = self.rates_for(message.platform)
        sent = self._sends.get((message.platform, message.destination))
        if sent:
            sent[-1] = max(sent[-1], now)
        if rates is None or rates.ceiling is None or self._paid(rates, message):
            return None
        started = self._started.setdefault(message.platform, deque(maxlen=rates.ceiling.count))
        send = _Started()
        started.append(send)
        return send

    @staticmethod
    def answered(send: _Started | None, now: float) -> None:
        if send is not None:
            send.answered_at = now

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
