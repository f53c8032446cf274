"""The network regime: NORMAL -> CAPITULATION -> NORMAL, driven by price over production cost.

``premium_pct = (price / cost - 1) * 100`` (DESIGN.md "Domain rules"; cost from either model of
``bot.economics.production_cost``). A premium below ``-band_pct`` points to capitulation, above
``+band_pct`` to normal; inside the band nothing points anywhere, so values oscillating there never
produce an event. A switch needs ``confirmations`` consecutive observations on the new side and, out of a
confirmed regime, ``min_dwell_s`` spent in it. The first regime ever confirmed is adopted silently (like
the Hash Ribbons: no event without a cross), so starting the bot mid-capitulation announces nothing
until the recovery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.alerts.events import AlertEvent, EventKind, utc_iso


class Regime(StrEnum):
    NORMAL = "normal"
    CAPITULATION = "capitulation"


@dataclass(frozen=True, slots=True)
class RegimeParams:
    """Hysteresis, confirmation and dwell of the regime machine."""

    band_pct: float = 3.0
    """Half-width of the dead band around zero premium, in percentage points."""
    confirmations: int = 3
    """Consecutive observations on the new side needed to switch (3 polls, or 3 days in a backtest)."""
    min_dwell_s: int = 6 * 3600
    """Least time spent in a regime before leaving it."""

    def __post_init__(self) -> None:
        if not self.band_pct >= 0 or self.confirmations < 1 or self.min_dwell_s < 0:
            raise ValueError("band_pct and min_dwell_s must not be negative, confirmations at least 1")


@dataclass(frozen=True, slots=True)
class RegimeState:
    """Where the machine stands; ``regime`` is ``None`` until a side is first confirmed."""

    regime: Regime | None = None
    since: datetime | None = None
    """When ``regime`` was entered (the confirming observation)."""
    pending: Regime | None = None
    """The other side the latest observations point to, and how many in a row."""
    pending_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "regime": None if self.regime is None else self.regime.value,
            "since": None if self.since is None else utc_iso(self.since),
            "pending": None if self.pending is None else self.pending.value,
            "pending_count": self.pending_count,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> RegimeState:
        return cls(
            regime=None if document["regime"] is None else Regime(document["regime"]),
            since=None if document["since"] is None else datetime.fromisoformat(document["since"]),
            pending=None if document["pending"] is None else Regime(document["pending"]),
            pending_count=int(document["pending_count"]),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RegimeState:
        return cls.from_dict(json.loads(text))


def premium_pct(price_usd: float, cost_usd_per_btc: float) -> float:
    """Price over production cost, percent: negative when BTC trades below the cost to produce it."""
    return (price_usd / cost_usd_per_btc - 1.0) * 100.0


def recovery_price_usd(cost_usd_per_btc: float, params: RegimeParams) -> float:
    """The price above which observations point back to normal: ``cost * (1 + band_pct / 100)``, the level
    a capitulation alert names (it moves with the cost, i.e. with difficulty and supply)."""
    return cost_usd_per_btc * (1.0 + params.band_pct / 100.0)


def _side(premium: float, band_pct: float) -> Regime | None:
    if premium < -band_pct:
        return Regime.CAPITULATION
    if premium > band_pct:
        return Regime.NORMAL
    return None


def step(
    state: RegimeState, premium: float, at: datetime, params: RegimeParams
) -> tuple[RegimeState, AlertEvent | None]:
    """Advance by one (fresh) observation; returns the new state and the switch event, if any."""
    side = _side(premium, params.band_pct)
    if side is None or side is state.regime:
        return RegimeState(state.regime, state.since), None
    count = state.pending_count + 1 if side is state.pending else 1
    dwelt = state.since is None or at - state.since >= timedelta(seconds=params.min_dwell_s)
    if count < params.confirmations or not dwelt:
        return RegimeState(state.regime, state.since, side, count), None
    entered = RegimeState(side, at)
    if state.regime is None or state.since is None:
        return entered, None
    if side is Regime.CAPITULATION:
        data: dict[str, Any] = {"premium_pct": premium}
        return entered, AlertEvent(
            EventKind.REGIME_CAPITULATION, f"regime:capitulation:{utc_iso(at)}", at, data
        )
    data = {
        "premium_pct": premium,
        "capitulation_started_at": utc_iso(state.since),
        "capitulation_seconds": int((at - state.since).total_seconds()),
    }
    return entered, AlertEvent(EventKind.REGIME_RECOVERY, f"regime:recovery:{utc_iso(at)}", at, data)
