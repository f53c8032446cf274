"""Prometheus metrics in minerwatch's own registry (not the process-global one), and how to record them.

Counters are recorded where things happen (``record_poll``, ``record_alerts``, ``record_send``,
``record_expired``, ``observe_command``); the gauges that describe state (data age, outbox depth) are
refreshed by the health server just before each scrape, from the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:  # bot.delivery.worker imports this module: a runtime import would be circular
    from bot.delivery.notifier import SendOutcome
    from bot.sources.snapshot import SourceOutcome

REGISTRY = CollectorRegistry(auto_describe=True)

POLLS = Counter(
    "minerwatch_polls",
    "Upstream answers per source: ok (used), dropped (absurd or off the median) or error",
    ["source", "result"],
    registry=REGISTRY,
)
DATA_AGE = Gauge(
    "minerwatch_data_age_seconds",
    "Seconds since each source's last used value; source=snapshot: the latest stored snapshot",
    ["source"],
    registry=REGISTRY,
)
ALERTS = Counter("minerwatch_alerts", "Alert events emitted, by kind", ["kind"], registry=REGISTRY)
OUTBOX = Gauge("minerwatch_outbox_messages", "Outbox rows by status", ["status"], registry=REGISTRY)
SENDS = Counter(
    "minerwatch_sends", "Send attempts by platform and outcome", ["platform", "outcome"], registry=REGISTRY
)
OUTBOX_EXPIRED = Counter(
    "minerwatch_outbox_expired",
    "Messages given up on, undelivered past MINERWATCH_ALERT_EXPIRY_S, by platform and event kind",
    ["platform", "event_kind"],
    registry=REGISTRY,
)
TRANSPORT_LAST_SUCCESS = Gauge(
    "minerwatch_transport_last_success_timestamp_seconds",
    "Unix time of each chat platform's last successful API call (0: none yet)",
    ["platform"],
    registry=REGISTRY,
)
TRANSPORT_CONNECTED = Gauge(
    "minerwatch_transport_connected", "1 when the transport is connected", ["platform"], registry=REGISTRY
)
PRICE_STREAM_UP = Gauge(
    "minerwatch_price_stream_up",
    "1 while an exchange's price stream delivers prices, 0 once it went down (MINERWATCH_PRICE_STREAM)",
    ["source"],
    registry=REGISTRY,
)
PRICE_STREAM_DOWNS = Counter(
    "minerwatch_price_stream_downs",
    "Price stream connections that ended (closed, failed or stalled), each followed by a reconnect",
    ["source"],
    registry=REGISTRY,
)
LEADER = Gauge(
    "minerwatch_leader",
    "1 while this replica leads (sends alerts, polls), 0 while it stands by",
    registry=REGISTRY,
)
TAKEOVERS = Counter(
    "minerwatch_leader_takeovers",
    "Times this replica took the lead (the start of a single instance counts once)",
    registry=REGISTRY,
)
COMMAND_SECONDS = Histogram(
    "minerwatch_command_seconds",
    "Time to answer a chat command, by command",
    ["command"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def record_poll(outcomes: Iterable[SourceOutcome]) -> None:
    """Count one poll's answers (``PriceQuote.outcomes``, ``NetworkState.outcomes``, or
    ``SourcesUnavailable.outcomes``)."""
    for outcome in outcomes:
        result = "error" if not outcome.ok else "dropped" if outcome.dropped else "ok"
        POLLS.labels(outcome.source, result).inc()


def record_alerts(kinds: Iterable[str]) -> None:
    """Count emitted alert events by kind (``EventKind`` values)."""
    for kind in kinds:
        ALERTS.labels(kind).inc()


def record_send(platform: str, outcome: SendOutcome) -> None:
    """Count one send by its outcome: sent, retry_after, chat_gone, chat_moved, transient_failure, ..."""
    SENDS.labels(platform, _snake(type(outcome).__name__)).inc()


def record_expired(platform: str, event_kind: str, count: int) -> None:
    """Count messages that expired undelivered."""
    OUTBOX_EXPIRED.labels(platform, event_kind).inc(count)


def observe_command(command: str, seconds: float) -> None:
    """Record one command's latency; pass only known command names (labels must stay a small set)."""
    COMMAND_SECONDS.labels(command).observe(seconds)


def set_data_ages(ages: Mapping[str, float]) -> None:
    """Replace the data-age gauge with ``ages`` (seconds per source)."""
    DATA_AGE.clear()
    for source, age in ages.items():
        DATA_AGE.labels(source).set(age)


def set_outbox_depth(counts: Mapping[str, int]) -> None:
    """Set the outbox gauge from ``bot.store.outbox.counts``."""
    for status, count in counts.items():
        OUTBOX.labels(str(status)).set(count)


def set_transport(platform: str, connected: bool, last_success_at: float | None) -> None:
    """Set one transport's liveness gauges (``last_success_at``: Unix seconds, None: never)."""
    TRANSPORT_CONNECTED.labels(platform).set(1 if connected else 0)
    TRANSPORT_LAST_SUCCESS.labels(platform).set(last_success_at or 0.0)


def set_price_stream(source: str, up: bool) -> None:
    """An exchange price stream delivered a price (``up``) or went down (counted)."""
    PRICE_STREAM_UP.labels(source).set(1 if up else 0)
    if not up:
        PRICE_STREAM_DOWNS.labels(source).inc()


def record_takeover() -> None:
    """This replica took the lead."""
    TAKEOVERS.inc()


def set_leader(leads: bool) -> None:
    """Whether this replica leads now."""
    LEADER.set(1 if leads else 0)


def exposition() -> bytes:
    """The registry in the Prometheus text format."""
    return generate_latest(REGISTRY)
