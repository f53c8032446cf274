"""/fleet and /tariff through handlers.router.dispatch against a real StoreServices.

Market as in test_handlers: $66,680, D = 125.86e12, subsidy 3.125, no fees; hashprice $0.0333052/TH/day.
The clock reads 2026-02-05 12:00 UTC = 06:00 in Chicago, off-peak for the texas tariff. The figures are
those hand-computed in tests/unit/test_fleet.py: 40 S19j Pro at 5.5c lose $0.66 each a day (breakeven
$0.0461/kWh, $79,552); 20 S21 Pro on texas (4.5c, 12c 14:00-20:00) make $37.98/day flat out, $52.12/day
running off-peak only.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.chat.commands import parse_command
from bot.chat.context import Chat
from bot.chat.kinds import ChatKind
from bot.chat.reply import Reply
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression
from bot.economics.fleet import MAX_LINES
from bot.economics.history import DailyRow
from bot.sources.snapshot import AdjustmentEstimate, MarketSnapshot, NetworkState, PriceQuote, SourceOutcome
from bot.store.db import Store
from bot.store.snapshots import insert_snapshot, upsert_daily
from handlers.format import MAX_MESSAGE_CHARS
from handlers.router import dispatch

NOW = datetime(2026, 2, 5, 12, 0, tzinfo=UTC)
TAKEN = NOW - timedelta(minutes=5)
PRIVATE = Chat(platform="telegram", chat_id="100")
PRE_WIDTH = 32
"""The widest line a ``<pre>`` block may hold (a phone screen)."""
TEXAS = "/tariff add texas 0.045; 14:00-20:00 0.12 America/Chicago"
S19J = "/fleet add s19jpro 40 5.5c site=north"
S21 = "/fleet add s21 pro 20 tariff=texas uptime 95 pue 1.05"


def snapshot(adjustment: AdjustmentEstimate | None = None) -> MarketSnapshot:
    quote = PriceQuote(66_680.0, TAKEN, (SourceOutcome("coinbase", TAKEN, True, 66_680.0),))
    network = NetworkState(125.86e12, 935_000, 0.0, None, adjustment, TAKEN, "mempool", ())
    return MarketSnapshot(quote, network, TAKEN)


@pytest.fixture
def store(backend_store: Store) -> Store:
    """An open store, on SQLite and on PostgreSQL."""
    return backend_store


@pytest.fixture
async def services(store: Store) -> StoreServices:
    await store.run(insert_snapshot, snapshot())
    return StoreServices(store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: NOW)


async def say(services: StoreServices, line: str, chat: Chat = PRIVATE) -> Reply:
    request = parse_command(chat, line)
    assert request is not None
    return await dispatch(request, services)


def pre_lines(text: str) -> list[str]:
    return [line for block in re.findall(r"<pre>(.*?)</pre>", text, re.S) for line in block.split("\n")]


async def mixed_fleet(services: StoreServices) -> Reply:
    for line in (TEXAS, S19J, S21):
        reply = await say(services, line)
        assert not reply.error, reply.text
    return await say(services, "/fleet")


async def test_a_mixed_fleet_shows_each_line_its_advice_and_schedule(services: StoreServices) -> None:
    text = (await mixed_fleet(services)).text
    assert "<b>Fleet: 2 lines, 60 machines</b>" in text
    assert "<b>#1 40× Antminer S19j Pro · north</b>" in text
    assert re.search(r"Profit/day +-\$26\.21\n", text)
    assert re.search(r"BE power +\$0\.0461/kWh\n", text)
    assert (
        "⛔ Switch off the 40 Antminer S19j Pro: -$0.66 per machine per day at $0.0550/kWh; they turn "
        "positive above $79.6k BTC or below $0.0461/kWh."
    ) in text
    assert re.search(r"Tariff +texas\n", text)
    assert re.search(r"Profit/day +\$37\.98\n", text)
    assert "✅ Run the 20 Antminer S21 Pro: $3.47 per machine per day at $0.0450/kWh" in text
    assert "Run 00:00-14:00, 20:00-24:00 (America/Chicago): $52.12/day against $37.98/day flat out." in text
    assert re.search(r"Profit/day +\$11\.76\n", text)  # total: -26.21 + 37.98
    assert "Running each line only in its hours: $52.12/day against $11.76/day." in text
    assert all(len(line) <= PRE_WIDTH for line in pre_lines(text))


async def test_the_fleet_in_russian_fits_a_phone(services: StoreServices) -> None:
    await say(services, "/lang ru")
    text = (await mixed_fleet(services)).text
    assert "<b>Парк: 2 линии, 60 машин</b>" in text
    assert "⛔ Выключите Antminer S19j Pro (40 шт.): −0,66\u00a0$ на машину в сутки" in text
    assert "Работать 00:00-14:00, 20:00-24:00 (America/Chicago)" in text
    lines = pre_lines(text)
    assert lines and all(len(line) <= PRE_WIDTH for line in lines), max(lines, key=len)
    assert "Switch" not in text and "Profit" not in text


async def test_the_adjustment_estimate_gives_each_lines_margin_after_it(
    store: Store, services: StoreServices
) -> None:
    adjustment = AdjustmentEstimate(60.0, 5.2, 800, 937_440, NOW + timedelta(days=3, hours=4), 1.0, None)
    await store.run(insert_snapshot, replace(snapshot(adjustment), taken_at=TAKEN + timedelta(seconds=1)))
    text = (await mixed_fleet(services)).text
    # S21 line: revenue 145.113 / 1.052 = 137.940 against 107.137 power: margin +22.3 %
    assert "The adjustment in ~3d 4h (+5.2% est.) takes this line from +26.2% to +22.3%." in text
    # S19j line: revenue 135.779 / 1.052 = 129.067 against 161.990: margin -25.5 %
    assert "from -19.3% to -25.5%" in text


async def test_profile_is_line_1_of_the_fleet(services: StoreServices) -> None:
    await mixed_fleet(services)
    profile = (await say(services, "/profile")).text
    assert "<b>Antminer S19j Pro</b> (104 TH/s, 29.5 J/TH) × 40" in profile
    await say(services, "/profile s19xp 6c count 3")
    text = (await say(services, "/fleet")).text
    assert "<b>#1 3× Antminer S19 XP · north</b>" in text
    assert "<b>#2 20× Antminer S21 Pro</b>" in text


async def test_profile_changes_keep_line_1_on_its_tariff_unless_a_price_is_typed(
    services: StoreServices,
) -> None:
    await say(services, TEXAS)
    await say(services, "/fleet add s21 pro 20 tariff=texas")
    assert "Power $0.0638/kWh" in (await say(services, "/profile")).text  # the tariff's average
    await say(services, "/profile s21 pro count 30")
    assert re.search(r"Tariff +texas\n", (await say(services, "/fleet")).text)
    assert "<b>#1 30× Antminer S21 Pro</b>" in (await say(services, "/fleet")).text
    await say(services, "/profile s21 pro 5c")
    assert re.search(r"Tariff +\$0\.0500/kWh\n", (await say(services, "/fleet")).text)


async def test_set_remove_and_clear_with_confirmation(services: StoreServices) -> None:
    await mixed_fleet(services)
    changed = await say(services, "/fleet set 2 count 10")
    assert changed.text.startswith("✅ Line #2 changed.") and "<b>#2 10× Antminer S21 Pro</b>" in changed.text
    assert "Tariff" in changed.text and "(America/Chicago)" in changed.text  # the tariff stays
    flat = await say(services, "/fleet set 2 4c")
    assert re.search(r"Tariff +\$0\.0400/kWh\n", flat.text)
    assert (await say(services, "/tariff remove texas")).text == "Removed tariff texas."
    assert (await say(services, "/fleet remove 1")).text == "Removed line #1."
    assert "<b>#1 10× Antminer S21 Pro</b>" in (await say(services, "/fleet")).text
    ask = await say(services, "/fleet clear")
    assert ask.text == "Remove all 1 line of this chat's fleet?"
    yes, no = ask.buttons[0]
    assert (yes.data, no.data) == ("/fleet clear yes", "/fleet clear no")
    assert (await say(services, no.data)).text == "Kept the fleet; nothing was removed."
    assert (await say(services, yes.data)).text.startswith("Removed 1 line.")
    assert (await say(services, "/fleet")).text.startswith("No fleet yet.")
    assert (await say(services, "/fleet clear")).text == "The fleet is empty already."


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/fleet add banana 3 5c", "Unknown machine"),
        ("/fleet add s19 tariff=nope", "No tariff 'nope'"),
        ("/fleet add s19 site=a/b", "site 'a/b'"),
        ("/fleet add s19 fee 90", "pool fee '90'"),
        ("/fleet remove x", "'x' is not a line number"),
        ("/fleet remove 9", "No line #9"),
        ("/fleet set 9 s19", "No line #9"),
        ("/fleet paint", "Add a line"),
        ("/tariff add texas 0.045; 14:00-20:00 0.12 Mars/Olympus", "I could not read the tariff"),
        ("/tariff add Texas!! 0.05", "I could not read the tariff"),
        ("/tariff remove texas", "No tariff 'texas'"),
    ],
)
async def test_bad_input_is_explained_and_changes_nothing(
    services: StoreServices, line: str, expected: str
) -> None:
    reply = await say(services, line)
    assert reply.error and expected in reply.text
    assert (await services.fleet(PRIVATE)).lines == ()


async def test_a_tariff_in_use_cannot_go(services: StoreServices) -> None:
    await mixed_fleet(services)
    reply = await say(services, "/tariff remove texas")
    assert reply.error and "used by a fleet line" in reply.text
    assert "texas" in (await services.fleet(PRIVATE)).tariffs


async def test_a_fleet_holds_at_most_max_lines(services: StoreServices) -> None:
    for _ in range(MAX_LINES):
        assert not (await say(services, "/fleet add s19 5c")).error
    full = await say(services, "/fleet add s19 5c")
    assert full.error and f"at most {MAX_LINES} lines" in full.text
    for lang in ("en", "ru"):
        await say(services, f"/lang {lang}")
        text = (await say(services, "/fleet")).text
        assert len(text) <= MAX_MESSAGE_CHARS and text.count("<pre>") == text.count("</pre>")
        left_out = re.search(r"…(?:and|и ещё) (\d+)\D+/fleet (\d+)", text)
        assert left_out is not None and int(left_out[1]) + int(left_out[2]) == MAX_LINES + 1
        assert text.count("<pre>") == int(left_out[2])  # the lines shown, and the total
    last = await say(services, f"/fleet {MAX_LINES}")
    assert f"№{MAX_LINES} 1× Antminer S19" in last.text and "№1 " not in last.text
    assert (await say(services, f"/fleet {MAX_LINES + 1}")).error


async def test_group_members_who_are_not_admins_cannot_change_the_fleet(services: StoreServices) -> None:
    member = Chat(platform="telegram", chat_id="-5", kind=ChatKind.GROUP, is_admin=False)
    for line in (S19J, "/fleet clear yes", TEXAS):
        reply = await say(services, line, member)
        assert reply.error and "administrators" in reply.text
    assert (await services.fleet(member)).lines == ()
    assert not (await say(services, "/fleet", member)).error


async def test_chart_fleet_draws_each_lines_profit_from_the_daily_history(
    store: Store, services: StoreServices
) -> None:
    """90 stored days at $66,680 and 125.86 T, then 10 at $90,000: subsidy-only profit as in /fleet."""
    start = date(2026, 1, 1)
    history = [
        DailyRow(start + timedelta(days=i), 66_680.0 if i < 90 else 90_000.0, 125.86e12, None, None)
        for i in range(100)
    ]
    await store.run(upsert_daily, history, "test")
    await mixed_fleet(services)
    reply = await say(services, "/chart fleet")
    assert reply.image_png is not None and reply.image_png[:8] == b"\x89PNG\r\n\x1a\n"
    # at $90,000 the S19j line earns 135.7786 x 90,000 / 66,680 = $183.264 against $161.990
    assert "#1 40× Antminer S19j Pro: $21.27/day on the last day, in profit on 10 days." in reply.text
    assert "#2 20× Antminer S21 Pro:" in reply.text and "in profit on 90 days." in reply.text
    assert (await say(services, "/fleet clear yes")).text.startswith("Removed 2 lines.")
    empty = await say(services, "/chart fleet")
    assert empty.error and "No fleet to draw yet" in empty.text
