"""How replies name the sources that stopped answering, and the stored form of the poller's verdict."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.render.i18n import missing_sources
from bot.store.snapshots import DataHealth

NOW = datetime(2026, 11, 30, 14, 9, tzinfo=UTC)


def test_sources_failing_since_the_same_minute_are_grouped() -> None:
    failing = {
        "kraken": datetime(2026, 11, 30, 14, 2, 30, tzinfo=UTC),
        "coinbase": datetime(2026, 11, 30, 14, 2, tzinfo=UTC),
    }
    assert missing_sources("en", failing, NOW) == "coinbase, kraken not answering since 14:02 UTC"
    assert missing_sources("ru", failing, NOW) == "coinbase, kraken не отвечают с 14:02 UTC"


def test_older_outages_come_first_and_carry_their_date() -> None:
    failing = {
        "mempool": datetime(2026, 11, 30, 13, 55, tzinfo=UTC),
        "blockchain.info": datetime(2026, 11, 29, 23, 10, tzinfo=UTC),
    }
    assert missing_sources("en", failing, NOW) == (
        "blockchain.info not answering since 2026-11-29 23:10 UTC; mempool not answering since 13:55 UTC"
    )


def test_data_health_round_trips_and_tolerates_garbage() -> None:
    health = DataHealth("no confirmed BTC price", {"kraken": NOW})
    assert DataHealth.from_json(health.to_json()) == health
    assert DataHealth.from_json(None) == DataHealth()
    assert DataHealth.from_json({"failing": "x"}) == DataHealth()
