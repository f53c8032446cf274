"""/subscribe fleet: the watch loop's fleet alerts through watch.decide into the outbox, on a real store.

Fleet (hand-computed in tests/unit/test_fleet.py, D = 125.86e12, subsidy 3.125, no fees):
line 1, 40 S19j Pro at 5.5c, breakeven BTC $79,552 (margin at $80,500: 1 - 79,552/80,500 = +1.18 %);
line 2, 20 S21 Pro on texas (4.5c, 12c 14:00-20:00 Chicago): at 4.5c margin +48 %, at 12c
1 - 80.028 * 1.05 * 0.12 / 7.25567 = -39.0 %.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.events import StaleReason
from bot.alerts.regime import RegimeParams
from bot.chat.commands import parse_command
from bot.chat.context import Chat
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression
from bot.economics.mining import MarketInputs
from bot.store.db import Store
from bot.watch.loop import Reading, decide
from handlers.router import dispatch

START = datetime(2026, 2, 5, 12, 0, tzinfo=UTC)  # 06:00 in Chicago
CHAT = Chat(platform="telegram", chat_id="100")


def market(price_usd: float) -> MarketInputs:
    return MarketInputs(price_usd, 125.86e12, 935_000, 0.0)


@pytest.fixture
def store(backend_store: Store) -> Store:
    """An open store, on SQLite and on PostgreSQL."""
    return backend_store


@pytest.fixture
async def services(store: Store) -> StoreServices:
    services = StoreServices(store, Settings.model_validate({}), load_difficulty_regression(), lambda: START)
    for line in (
        "/tariff add texas 0.045; 14:00-20:00 0.12 America/Chicago",
        "/fleet add s19jpro 40 5.5c site=north",
        "/fleet add s21 pro 20 tariff=texas uptime 95 pue 1.05",
        "/subscribe fleet",
    ):
        request = parse_command(CHAT, line)
        assert request is not None
        assert not (await dispatch(request, services)).error
    return services


async def observe(store: Store, reading: Reading) -> list[str]:
    """Run one evaluation; the texts it queued."""
    before = await store.run(lambda db: db.execute("SELECT COUNT(*) FROM outbox").one()[0])
    await store.atomic(decide, reading, load_difficulty_regression(), RegimeParams(), reading.at.timestamp())
    rows = await store.run(lambda db: db.execute("SELECT text FROM outbox ORDER BY id").fetchall())
    return [row[0] for row in rows[before:]]


async def test_lines_alert_when_they_cross_their_breakeven_either_way(
    store: Store, services: StoreServices
) -> None:
    assert await observe(store, Reading(START, market(66_680))) == []  # advice taken silently
    at = START + timedelta(minutes=10)
    [run] = await observe(store, Reading(at, market(80_500)))
    assert run.startswith(
        "🔔 Fleet line #1 · north: ✅ Run the 40 Antminer S19j Pro: $0.05 per machine per day at $0.0550/kWh;"
    )
    # back below breakeven 10 minutes later: quiet for the thresholds' hour, then it fires
    assert await observe(store, Reading(at + timedelta(minutes=10), market(79_000))) == []
    [off] = await observe(store, Reading(at + timedelta(minutes=61), market(79_000)))
    assert off.startswith(
        "🔔 Fleet line #1 · north: ⛔ Switch off the 40 Antminer S19j Pro: -$0.03 per machine"
    )
    assert "they turn positive above $79.6k BTC or below $0.0546/kWh." in off
    # hovering just above zero (+0.5 %, inside the 1-point band): no "run" again
    assert await observe(store, Reading(at + timedelta(hours=3), market(79_950))) == []


async def test_a_tou_line_alerts_at_the_schedule_boundaries_only(
    store: Store, services: StoreServices
) -> None:
    await observe(store, Reading(START, market(66_680)))
    peak = datetime(2026, 2, 5, 20, 0, tzinfo=UTC)  # 14:00 in Chicago: 12c
    [off] = await observe(store, Reading(peak, market(66_680)))
    assert off.startswith("🔔 Fleet line #2: ⛔ Switch off the 20 Antminer S21 Pro: -$2.83 per machine")
    assert "at $0.1200/kWh" in off
    assert await observe(store, Reading(peak + timedelta(hours=2), market(66_680))) == []
    evening = datetime(2026, 2, 6, 2, 0, tzinfo=UTC)  # 20:00 in Chicago: 4.5c again
    [run] = await observe(store, Reading(evening, market(66_680)))
    assert run.startswith("🔔 Fleet line #2: ✅ Run the 20 Antminer S21 Pro: $3.47 per machine")


async def test_stale_data_never_becomes_a_fleet_alert(store: Store, services: StoreServices) -> None:
    await observe(store, Reading(START, market(66_680)))
    stale = Reading(
        START + timedelta(hours=2), market(90_000), stale_reason=StaleReason("sources disagree", "price")
    )
    assert not any("Fleet line" in text for text in await observe(store, stale))


async def test_the_next_adjustment_warns_once_when_it_turns_a_line_red(
    store: Store, services: StoreServices
) -> None:
    await observe(store, Reading(START, market(80_500)))
    eta = START + timedelta(days=3, hours=4)
    reading = Reading(START, market(80_500), 5.2, 937_440, next_retarget_at=eta)
    [warning] = await observe(store, reading)
    # line 1 at $80,500 and 5.5c: +1.18 % now; revenue / 1.052 gives 1 - 4.04976 / (4.09805 / 1.052) = -4.0 %
    assert warning == (
        "⚠️ Fleet line #1 · north, 40× Antminer S19j Pro: the adjustment in ~3d 4h (2026-02-08) (+5.2% est.) "
        "takes it from +1.2% to -4.0%; it would lose money at today's price."
    )
    later = Reading(START + timedelta(minutes=5), market(80_500), 5.3, 937_440, next_retarget_at=eta)
    assert await observe(store, later) == []  # once per retarget and direction
