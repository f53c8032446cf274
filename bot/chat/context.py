"""Who is asking, from where, and the services a handler may call (never an upstream API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from bot.alerts.rules import Rule
from bot.chat.kinds import GROUP_KINDS, ChatKind
from bot.config import Settings
from bot.economics.fleet import FleetLine, Tariff
from bot.economics.history import DailyRow
from bot.economics.machines import Machine
from bot.economics.mining import OperatingProfile
from bot.economics.regression import DifficultyRegression
from bot.economics.stress import NotEnoughHistoryError, StressBaseline
from bot.market.view import MarketView


@dataclass(frozen=True, slots=True)
class Chat:
    """A conversation on one platform; ``is_admin`` says whether the sender may change its settings
    (``None``: the platform could not tell, e.g. its member lookup failed).

    ``language`` is filled in from the store by ``handlers.router.dispatch`` before a handler runs.
    """

    platform: str
    chat_id: str
    kind: ChatKind = ChatKind.PRIVATE
    is_admin: bool | None = True
    language: str = "en"

    @property
    def is_group(self) -> bool:
        return self.kind in GROUP_KINDS


@dataclass(frozen=True, slots=True)
class ChatProfile:
    """A chat's machine (or fleet of ``count`` machines) and how it is run."""

    machine: Machine
    count: int
    operating: OperatingProfile


@dataclass(frozen=True, slots=True)
class ChatFleet:
    """A chat's fleet lines (line 1 is its profile) and its named tariffs."""

    lines: tuple[FleetLine, ...] = ()
    tariffs: Mapping[str, Tariff] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """One of a chat's subscriptions as listed by /alerts; ``description`` is in the chat's language."""

    id: int
    kind: str
    description: str
    armed: bool


class Services(Protocol):
    """Everything handlers need, implemented over the store by ``bot.chat.services``."""

    settings: Settings
    regression: DifficultyRegression

    def now(self) -> datetime: ...

    async def latest_view(self) -> MarketView | None: ...

    async def profile(self, chat: Chat) -> ChatProfile: ...

    async def save_profile(self, chat: Chat, profile: ChatProfile) -> None: ...

    async def fleet(self, chat: Chat) -> ChatFleet: ...

    async def add_fleet_line(self, chat: Chat, line: FleetLine) -> int:
        """Append ``line``; returns its number. Raises ``bot.economics.fleet.FleetFullError``."""
        ...

    async def set_fleet_line(self, chat: Chat, number: int, line: FleetLine) -> bool:
        """Replace line ``number``; ``False`` when there is none."""
        ...

    async def remove_fleet_line(self, chat: Chat, number: int) -> bool: ...

    async def clear_fleet(self, chat: Chat) -> int:
        """Remove every line; returns how many."""
        ...

    async def save_tariff(self, chat: Chat, tariff: Tariff) -> None: ...

    async def remove_tariff(self, chat: Chat, name: str) -> bool:
        """``False`` when there is no such tariff; raises ``bot.economics.fleet.TariffInUseError``."""
        ...

    async def subscribe_fleet(self, chat: Chat) -> bool:
        """Subscribe to each line's switch-off advice; ``False`` if it already was."""
        ...

    async def subscribe_rule(self, chat: Chat, rule: Rule) -> tuple[int, bool]:
        """Save ``rule``; returns its id and whether its condition already holds. Raises
        ``bot.alerts.rules.TooManyRulesError`` (nothing stored) when the chat already has the most rules."""
        ...

    async def subscribe_network(self, chat: Chat) -> bool:
        """Subscribe to capitulation/recovery/retarget news; ``False`` if it already was."""
        ...

    async def subscriptions(self, chat: Chat) -> list[SubscriptionView]: ...

    async def unsubscribe(self, chat: Chat, subscription_id: int | None) -> int:
        """Remove one subscription (or all with ``None``); returns how many were removed."""
        ...

    async def language(self, chat: Chat) -> str:
        """The chat's stored reply language (``"en"`` for a chat never seen)."""
        ...

    async def set_language(self, chat: Chat, language: str) -> None: ...

    async def daily_rows(self, days: int) -> list[DailyRow]:
        """The stored daily series in the ``days``-day window ending at its latest day (gaps possible)."""
        ...

    async def stress_baseline(self, day: date) -> StressBaseline | NotEnoughHistoryError:
        """The miner-stress index's ranks for a reading on ``day`` from the stored daily series."""
        ...


@dataclass(frozen=True, slots=True)
class Request:
    """One command as typed: ``/breakeven s19 5c`` -> command ``breakeven``, args ``s19 5c``."""

    chat: Chat
    command: str
    args: str = ""
