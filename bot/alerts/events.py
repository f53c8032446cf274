"""Alert events: what the engine emits, the outbox stores (as JSON) and ``bot.render.alerts`` turns into text.

``key`` is a deterministic dedupe stem built from the inputs only (kind plus the observation time, block
height or day), so re-evaluating the same observation after a crash yields the same key and the outbox's
unique index drops the repeat. ``data`` holds JSON-able figures (numbers, strings, ISO times) for rendering.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal


class EventKind(StrEnum):
    REGIME_CAPITULATION = "regime_capitulation"
    REGIME_RECOVERY = "regime_recovery"
    RIBBONS_CAPITULATION = "ribbons_capitulation"
    RIBBONS_RECOVERY = "ribbons_recovery"
    RIBBONS_BUY = "ribbons_buy"
    RETARGET = "retarget"
    THRESHOLD = "threshold"
    MARGIN_WARNING = "margin_warning"
    FLEET_ADVICE = "fleet_advice"
    FLEET_ADJUSTMENT = "fleet_adjustment"
    DATA_STALE = "data_stale"
    DATA_FRESH = "data_fresh"


def utc_iso(at: datetime) -> str:
    """``at`` in UTC, ISO 8601: the one spelling of a time used in keys and data."""
    if at.tzinfo is None:
        raise ValueError(f"time must be timezone-aware, got {at!r}")
    return at.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class StaleReason:
    """Why the market data may not drive alerts: ``text`` in English as operators read it (logs,
    /healthz), and the parts a chat's language spells: which half of the data is missing and each source
    that stopped giving a usable answer, with since when."""

    text: str
    missing: Literal["price", "network"]
    failing: Mapping[str, datetime] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        """The ``data_stale`` event's fields (JSON-able)."""
        failing = {source: utc_iso(since) for source, since in sorted(self.failing.items())}
        return {"reason": self.text, "missing": self.missing, "failing": failing}


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One thing worth telling a chat, with the figures needed to say it."""

    kind: EventKind
    key: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        utc_iso(self.occurred_at)  # rejects naive times
        if not self.key:
            raise ValueError("an event needs a dedupe key")

    def to_json(self) -> str:
        """One JSON object; NaN/inf are refused so the stored figures always read back."""
        document = {
            "kind": self.kind.value,
            "key": self.key,
            "occurred_at": utc_iso(self.occurred_at),
            "data": self.data,
        }
        return json.dumps(document, sort_keys=True, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> AlertEvent:
        """Inverse of ``to_json``; raises ``ValueError`` on a malformed document."""
        try:
            document = json.loads(text)
            data = document["data"]
            if not isinstance(data, dict):
                raise TypeError("data must be an object")
            return cls(
                kind=EventKind(document["kind"]),
                key=str(document["key"]),
                occurred_at=datetime.fromisoformat(document["occurred_at"]),
                data=data,
            )
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"malformed alert event: {error!r}") from None
