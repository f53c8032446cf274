"""handlers.router.dispatch against a real StoreServices over a temp-file Store with a stored snapshot.

Market: price $66,680, difficulty 125.86e12, height 935,000 (subsidy 3.125 BTC), no fees. Hashprice is then
$33.31/PH/day; the default profile has a 2 % pool fee, which the expected breakevens include.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from bot.alerts.regime import RegimeParams
from bot.alerts.rules import MAX_RULES_PER_CHAT, KeyMetric
from bot.chat.commands import parse_command
from bot.chat.context import Chat
from bot.chat.kinds import ChatKind
from bot.chat.reply import Reply
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression, load_history
from bot.economics.history import DailyRow
from bot.economics.indicators import difficulty_ribbon_compression, puell_multiple, trailing_percentile_rank
from bot.economics.mining import MarketInputs, hashprice_usd_per_ph_day
from bot.sources.aggregate import fetch_snapshot
from bot.sources.snapshot import MarketSnapshot, NetworkState, PriceQuote, SourceOutcome
from bot.store.db import Store
from bot.store.outbox import claim_due
from bot.store.snapshots import insert_snapshot, upsert_daily
from bot.store.subscriptions import has_active_rules
from bot.watch.loop import Reading, decide, stress_value
from handlers.router import dispatch
from tests.fakes import RecordingSleep
from tests.fakes.upstreams import FakeUpstreams, Fault

NOW = datetime(2026, 2, 5, 12, 0, tzinfo=UTC)
TAKEN = NOW - timedelta(minutes=5)
NBSP = "\u00a0"
PRIVATE = Chat(platform="telegram", chat_id="100")

S19_J_PER_TH = 3250 / 95
HASHPRICE_USD_PER_PH_DAY = 1e15 * 86_400 / (125.86e12 * 2**32) * 3.125 * 66_680
KWH_PER_TH_DAY = S19_J_PER_TH * 86_400 / 3.6e6
BREAKEVEN_USD_PER_KWH = HASHPRICE_USD_PER_PH_DAY / 1000 * (1 - 0.02) / KWH_PER_TH_DAY
BREAKEVEN_PRICE_AT_5C = 66_680 * 0.05 / BREAKEVEN_USD_PER_KWH


def snapshot() -> MarketSnapshot:
    quote = PriceQuote(66_680.0, TAKEN, (SourceOutcome("coinbase", TAKEN, True, 66_680.0),))
    network = NetworkState(125.86e12, 935_000, 0.0, None, None, TAKEN, "mempool", ())
    return MarketSnapshot(quote, network, TAKEN)


@pytest.fixture
def store(backend_store: Store) -> Store:
    """An open store, on SQLite and on PostgreSQL."""
    return backend_store


@pytest.fixture
async def services(store: Store) -> StoreServices:
    await store.run(insert_snapshot, snapshot())
    await store.run(upsert_daily, load_history(), "shipped")
    return StoreServices(store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: NOW)


async def say(services: StoreServices, line: str, chat: Chat = PRIVATE) -> Reply:
    request = parse_command(chat, line)
    assert request is not None
    return await dispatch(request, services)


def test_the_expected_figures_include_the_pool_fee() -> None:
    hashprice, breakeven = HASHPRICE_USD_PER_PH_DAY, BREAKEVEN_USD_PER_KWH
    assert hashprice == pytest.approx(33.31, abs=0.005)
    assert f"{breakeven:.4f}" == "0.0398"  # 0.0406 without the 2 % pool fee


async def test_breakeven_in_english(services: StoreServices) -> None:
    reply = await say(services, "/breakeven s19 0.05")
    assert not reply.error
    assert "<b>Breakeven: Antminer S19</b>" in reply.text
    assert "Power price $0.0500/kWh" in reply.text and "Breaks even at\n" in reply.text
    assert re.search(rf"\n power +\${BREAKEVEN_USD_PER_KWH:.4f}/kWh\n", reply.text)
    assert re.search(rf"\n BTC price +\${BREAKEVEN_PRICE_AT_5C:,.0f}\n", reply.text)
    assert re.search(r"Hashprice +\$33\.31/PH/day\n +at BTC \$66,680\n", reply.text)
    assert re.search(r"Pool fee +2%\n", reply.text)
    assert reply.text.endswith("<i>Data 5m 0s old.</i>")
    assert "Sources" not in reply.text


async def test_lang_ru_switches_every_reply_to_russian(services: StoreServices) -> None:
    switched = await say(services, "/lang ru")
    assert "Русский" in switched.text and not switched.error
    assert await services.language(PRIVATE) == "ru"

    reply = await say(services, "/breakeven s19 0.05")
    power = f"{BREAKEVEN_USD_PER_KWH:.4f}".replace(".", ",")
    assert "<b>Безубыточность: Antminer S19</b>" in reply.text
    assert re.search(rf"Безубыточно при\n тарифе +{power}{NBSP}\$/кВт·ч\n", reply.text)
    price = f"{BREAKEVEN_PRICE_AT_5C:,.0f}".replace(",", NBSP)
    assert re.search(rf"Тариф +0,0500{NBSP}\$/кВт·ч\n", reply.text)
    assert re.search(rf"\n цене BTC +{price}{NBSP}\$\n", reply.text)
    assert re.search(rf"33,31{NBSP}\$/PH/сутки\n +при BTC 66{NBSP}680{NBSP}\$", reply.text)
    assert "Breakeven" not in reply.text
    assert reply.text.endswith(f"<i>Возраст данных: 5{NBSP}мин 0{NBSP}с.</i>")

    status = await say(services, "/status")
    assert "Цена BTC" in status.text and f"66{NBSP}680{NBSP}$" in status.text
    assert " регрессия " in status.text and "Регрессия: капитализация" in status.text

    error = await say(services, "/breakeven s19 banana")
    assert error.error and "Неизвестная машина «s19 banana»" in error.text and "Пример:" in error.text

    back = await say(services, "/lang en")
    assert back.text.startswith("Language: English")
    assert "Breaks even at" in (await say(services, "/breakeven s19 0.05")).text


async def test_chart_1y_is_a_png_of_the_window_ending_at_the_last_stored_day(services: StoreServices) -> None:
    reply = await say(services, "/chart 1y")
    assert not reply.error
    assert reply.image_png is not None and reply.image_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "2024-06-03 → 2025-06-02" in reply.text and "data to 2025-06-02" in reply.text
    assert "365 days" in reply.text

    hashprice = await say(services, "/chart 30d hashprice")
    assert hashprice.image_png is not None and "/PH/day" in hashprice.text

    stress = await say(services, "/chart 3y stress")
    assert stress.image_png is not None and "2022-06-04 → 2025-06-02" in stress.text
    assert "Miner-stress index (open proxy) on the last day 56, neutral" in stress.text
    assert "window low 2 on 2022-11-22" in stress.text  # FTX, as pinned in tests/unit/test_stress.py


async def test_chart_with_too_little_history(store: Store) -> None:
    await store.run(insert_snapshot, snapshot())
    await store.run(upsert_daily, load_history()[-1:], "shipped")
    services = StoreServices(
        store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: NOW
    )
    reply = await say(services, "/chart 30d")
    assert reply.error and reply.image_png is None
    assert "at least 2 days" in reply.text


async def test_daily_rows_window_ends_at_the_latest_stored_day(services: StoreServices) -> None:
    rows = await services.daily_rows(7)
    assert [row.date for row in rows] == [date(2025, 5, 27) + timedelta(days=i) for i in range(7)]


async def test_a_group_member_who_is_not_an_admin_cannot_subscribe(services: StoreServices) -> None:
    member = Chat(platform="telegram", chat_id="-200", kind=ChatKind.SUPERGROUP, is_admin=False)
    reply = await say(services, "/subscribe price below 60k", member)
    assert reply.error and "administrators" in reply.text
    assert await services.subscriptions(member) == []
    assert (await say(services, "/lang ru", member)).error
    assert not (await say(services, "/status", member)).error


async def test_subscribe_list_and_remove(services: StoreServices) -> None:
    added = await say(services, "/subscribe price below 60k")
    assert added.text.startswith("✅ Alert #1: price below $60,000.")
    listed = await say(services, "/alerts")
    assert "#1 price below $60,000" in listed.text
    removed = await say(services, "/unsubscribe all")
    assert removed.text.startswith("Removed 1 alert.")


async def test_an_unconfirmed_admin_is_asked_to_try_again_in_the_chat_language(
    services: StoreServices,
) -> None:
    unknown = Chat(platform="telegram", chat_id="-300", kind=ChatKind.SUPERGROUP, is_admin=None)
    reply = await say(services, "/subscribe price below 60k", unknown)
    assert reply.error and "could not check your admin rights" in reply.text
    assert await services.subscriptions(unknown) == []
    await services.set_language(unknown, "ru")
    reply = await say(services, "/unsubscribe all", unknown)
    assert reply.error and "Не удалось проверить ваши права администратора" in reply.text
    assert not (await say(services, "/status", unknown)).error


async def test_unsubscribe_alone_asks_first_in_the_chat_language(services: StoreServices) -> None:
    assert (await say(services, "/unsubscribe")).text == "No alerts to remove."
    await say(services, "/subscribe price below 60k")
    await services.set_language(PRIVATE, "ru")
    question = await say(services, "/unsubscribe")
    assert question.text == "Удалить все оповещения этого чата (1 оповещение)?"
    yes, no = question.buttons[0]
    assert (yes.label, yes.data, no.label, no.data) == (
        "Да, удалить все",
        "/unsubscribe all",
        "Нет, оставить",
        "/unsubscribe keep",
    )
    assert "Ничего не удалено" in (await say(services, no.data)).text
    assert len(await services.subscriptions(PRIVATE)) == 1
    assert (await say(services, yes.data)).text.startswith("Удалено: 1 оповещение.")
    assert await services.subscriptions(PRIVATE) == []


async def test_the_cap_refuses_the_next_rule_in_the_chat_language(services: StoreServices) -> None:
    for n in range(MAX_RULES_PER_CHAT):
        assert not (await say(services, f"/subscribe price below {50_000 + n}")).error
    await say(services, "/subscribe network")  # network news is not a rule: it fits beside a full chat
    await services.set_language(PRIVATE, "ru")
    refused = await say(services, "/subscribe price below 40k")
    assert (
        refused.error
        and f"уже {MAX_RULES_PER_CHAT} правил" in refused.text
        and "/unsubscribe N" in refused.text
    )
    views = await services.subscriptions(PRIVATE)
    assert len([view for view in views if view.kind == "threshold"]) == MAX_RULES_PER_CHAT


@pytest.mark.parametrize("line", ["/", "/@minerwatch_bot", "/ status"])
async def test_a_command_without_a_name_is_help(services: StoreServices, line: str) -> None:
    reply = await say(services, line)
    assert not reply.error and "/breakeven" in reply.text and "/unsubscribe" in reply.text


@pytest.mark.parametrize(
    ("line", "explanation", "example"),
    [
        (
            "/breakeven s19 banana",
            "Unknown machine 's19 banana'. Closest: Antminer S19",
            "/breakeven s19xp 5.5c",
        ),
        ("/breakeven s19 600c", "'600c' is not a power price", "/breakeven s19xp 5.5c"),
        ("/margin 99999J/TH", "is not a machine I can use", "/margin s19xp 5.5c"),
        ("/profile s19 fee 80", "pool fee '80' must be a percentage from 0 to 50", "/profile fee 2"),
        ("/profile s19 count x", "count 'x' must be a whole number", "/profile count 3"),
        ("/subscribe prise below 60k", "Unknown metric 'prise' (did you mean price?)", "/subscribe price"),
        ("/subscribe price sideways 60k", "After price write below or above", "/subscribe price below"),
        ("/subscribe price below banana", "'banana' is not a BTC price", "/subscribe price below 60k"),
        ("/subscribe margin below", "The rule needs a value: a margin", "/subscribe margin below 0"),
        ("/subscribe price below 60k louder", "I could not read 'louder'", "every 6h"),
        ("/unsubscribe x", "'x' is not an alert number", "/unsubscribe 3"),
        ("/unsubscribe 42", "No alert #42 in this chat", "/unsubscribe 3"),
        ("/chart 2x", "I could not read '2x'", "/chart 1y price"),
        ("/lang fr", "I do not speak 'fr' yet", "/lang ru"),
    ],
)
async def test_a_mistake_gets_one_line_and_an_example(
    services: StoreServices, line: str, explanation: str, example: str
) -> None:
    reply = await say(services, line)
    assert reply.error
    first, second = reply.text.split("\n")
    assert explanation in first
    assert second.startswith("Example: <code>") and example in second


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("/frobnicate", "Unknown command /frobnicate. See /help."),
        ("/statsu", "Unknown command /statsu. Did you mean /status? See /help."),
    ],
)
async def test_unknown_commands(services: StoreServices, line: str, text: str) -> None:
    reply = await say(services, line)
    assert reply.error and reply.text == text


async def test_what_a_user_typed_is_escaped(services: StoreServices) -> None:
    reply = await say(services, "/breakeven <b>x</b>")
    assert "&lt;b&gt;x&lt;/b&gt;" in reply.text and "<b>x</b>" not in reply.text
    rule = await say(services, "/subscribe price&co below 60k")
    assert "Unknown metric 'price&amp;co'" in rule.text


async def test_help_lists_chart_in_the_chats_language(services: StoreServices) -> None:
    assert "/chart" in (await say(services, "/help")).text
    await say(services, "/lang ru")
    assert "/chart — график" in (await say(services, "/help")).text


async def test_no_market_data_yet(store: Store) -> None:
    services = StoreServices(
        store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: NOW
    )
    reply = await say(services, "/status")
    assert reply.error and reply.text.startswith("No market data yet")


async def test_after_lang_ru_alerts_are_listed_and_pushed_in_russian(
    store: Store, services: StoreServices
) -> None:
    await say(services, "/lang ru")
    await say(services, "/subscribe network")
    added = (await say(services, "/subscribe price above 70k")).text
    assert re.match(rf"✅ Оповещение #\d+: цена BTC выше 70{NBSP}000{NBSP}\$\.", added)
    listed = await say(services, "/alerts")
    assert "новости о капитуляции, восстановлении и корректировках сложности" in listed.text
    assert f" цена BTC выше 70{NBSP}000{NBSP}$" in listed.text and "price" not in listed.text

    reading = Reading(NOW, MarketInputs(71_000.0, 125.86e12, 935_000, 0.0))
    await store.atomic(decide, reading, load_difficulty_regression(), RegimeParams(), NOW.timestamp())
    [message] = await store.run(claim_due, NOW.timestamp() + 1, 10)
    assert message.text == f"🔔 цена BTC выше 70{NBSP}000{NBSP}$: сейчас 71{NBSP}000{NBSP}$."


async def test_stress_shows_the_index_with_each_component(services: StoreServices) -> None:
    reply = await say(services, "/stress")
    assert not reply.error
    assert "Miner-stress index (open proxy" in reply.text
    assert re.search(r"Index +24/100, capitulation\n", reply.text)  # the seed day, see tests/unit
    assert re.search(r"\n multiple +0\.87× → 40\n", reply.text)
    assert re.search(r"\n hashprice +\$33\.31/PH/day → 0\n", reply.text)
    assert re.search(r"\n Puell +0\.82 → 34\n", reply.text)
    assert re.search(r"Window +1,214 days\n +2022-02-05 –\n +2025-06-02</pre>", reply.text)
    assert "hashprice: subsidy only" in reply.text and "not CryptoQuant&#x27;s index" in reply.text
    assert reply.text.endswith("<i>Data 5m 0s old.</i>") and "Sources" not in reply.text
    status = await say(services, "/status")
    assert re.search(r"Stress +24/100, capitulation\n", status.text) and "open proxy" in status.text

    await say(services, "/lang ru")
    russian = await say(services, "/stress")
    assert "Индекс стресса майнеров" in russian.text and "24/100, капитуляция" in russian.text
    assert "Стресс майнеров — открытый прокси" in (await say(services, "/status")).text


async def test_stress_without_two_years_of_daily_history(store: Store) -> None:
    await store.run(insert_snapshot, snapshot())
    await store.run(upsert_daily, load_history()[-500:], "shipped")
    services = StoreServices(
        store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: NOW
    )
    reply = await say(services, "/stress")
    assert reply.error and "No miner-stress index yet" in reply.text
    assert "at least 730 days of daily history before it, and the stored series has 136 of them" in reply.text
    status = await say(services, "/status")
    assert not status.error and re.search(r"Stress +n/a: 136 of 730 days\n", status.text)
    chart = await say(services, "/chart 90d stress")
    assert (
        chart.error and chart.image_png is None and "No miner-stress index in the last 90 days" in chart.text
    )


async def test_a_stress_rule_fires_on_the_next_real_crossing(store: Store, services: StoreServices) -> None:
    added = await say(services, "/subscribe stress below 25")
    assert added.text.startswith("✅ Alert #1: stress below 25.")
    assert await store.run(has_active_rules, KeyMetric.STRESS_INDEX)
    assert "already true now" in added.text  # 24.4 on the stored snapshot
    regression = load_difficulty_regression()

    async def observe(price_usd: float, minutes: int) -> list[str]:
        at = NOW + timedelta(minutes=minutes)
        reading = Reading(at, MarketInputs(price_usd, 125.86e12, 935_000, 0.0))
        await store.atomic(decide, reading, regression, RegimeParams(), at.timestamp())
        return [m.text for m in await store.run(claim_due, at.timestamp() + 1, 10)]

    assert await observe(66_680.0, 1) == []  # still below, but it was already below when saved
    assert await observe(100_000.0, 2) == []  # well above 26: re-armed
    assert await observe(66_680.0, 3) == ["🔔 stress below 25: now 24.4 / 100."]


async def test_the_watch_rebuilds_the_stress_ranks_when_the_daily_series_changes(store: Store) -> None:
    regression = load_difficulty_regression()
    market = MarketInputs(66_680.0, 125.86e12, 935_000, 0.0)
    assert await store.run(stress_value, market, NOW, regression) is None  # no daily history yet
    await store.run(upsert_daily, load_history(), "shipped")
    assert await store.run(stress_value, market, NOW, regression) == pytest.approx(24.41, abs=0.01)
    # the last year rewritten at 3x the price: today's Puell falls against the (carried) 365-day mean
    tripled = [replace(row, price_usd=row.price_usd * 3) for row in load_history()[-364:]]
    await store.run(upsert_daily, tripled, "test")
    rebuilt = await store.run(stress_value, market, NOW, regression)
    assert rebuilt is not None and rebuilt == pytest.approx(13.24, abs=0.01)
    assert await store.run(has_active_rules, KeyMetric.STRESS_INDEX) is False


async def services_with(store: Store, rows: list[DailyRow]) -> StoreServices:
    await store.run(insert_snapshot, snapshot())
    if rows:
        await store.run(upsert_daily, rows, "shipped")
    return StoreServices(store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: NOW)


async def test_difficulty_shows_ribbon_compression_and_why_puell_is_unknown(services: StoreServices) -> None:
    rows = load_history()
    assert rows[-1].date == date(2025, 6, 2)
    reply = await say(services, "/difficulty")
    lines = reply.text.splitlines()
    # The shipped history records issuance up to 2025-03-08: 86 of the last 365 days lack it.
    assert (
        "Puell multiple: unknown on 2025-06-02: the daily series lacks the issuance of 86 of the last "
        "365 days" in lines
    )
    compression = difficulty_ribbon_compression([row.difficulty for row in rows])
    rank = trailing_percentile_rank(compression, 365)[-1]
    assert compression[-1] is not None and rank is not None
    assert (
        f"Difficulty ribbon compression: <b>{compression[-1]:.4f}</b> on 2025-06-02, past-year percentile "
        f"{rank:.0%} (spread of the 9- to 200-day difficulty averages; a tight ribbon means difficulty has "
        "stopped rising, as in miner capitulations)"
    ) in lines
    assert lines[-1].startswith("<i>Data 5m")

    await say(services, "/lang ru")
    russian = (await say(services, "/difficulty")).text
    assert "Мультипликатор Пуэлла: неизвестен на 2025-06-02: в дневном ряду нет эмиссии за 86" in russian
    assert f"Сжатие ленты сложности: <b>{compression[-1]:.4f}</b>".replace(".", ",") in russian


async def test_difficulty_shows_the_puell_multiple_where_issuance_is_recorded(store: Store) -> None:
    rows = [row for row in load_history() if row.date <= date(2025, 3, 8)]
    services = await services_with(store, rows)
    text = (await say(services, "/difficulty")).text
    # 0.979 by the same formula over the bitcoinvisuals subsidy-USD series (krisp140_blockreward.csv).
    assert (
        "Puell multiple: <b>0.98</b> on 2025-03-08 (that day's issuance value ÷ its 365-day average" in text
    )
    expected = puell_multiple([row.issuance_btc * row.price_usd for row in rows if row.issuance_btc])[-1]
    assert expected == pytest.approx(0.979, abs=0.005)


async def test_difficulty_says_which_days_are_missing(store: Store) -> None:
    rows = [row for row in load_history() if row.date <= date(2025, 3, 8)]
    gappy = rows[:-50] + rows[-49:]  # one day missing among the last 200
    text = (await say(await services_with(store, gappy), "/difficulty")).text
    assert "Puell multiple: unknown on 2025-03-08: the daily series lacks the issuance of 1 of" in text
    assert (
        "Difficulty ribbon compression: unknown on 2025-03-08: the daily series lacks 1 of the last 200"
        in text
    )


async def test_difficulty_without_a_daily_series(store: Store) -> None:
    text = (await say(await services_with(store, []), "/difficulty")).text
    assert "<b>Difficulty</b>: 125.86 T at block 935,000" in text
    assert "Puell multiple, difficulty ribbon: no daily series stored yet" in text


HASHPRICE_COMMANDS = ("/status", "/hashprice", "/breakeven s19 5c", "/margin s19 5c", "/cost")


@pytest.mark.parametrize(("lang", "notice"), [("en", "subsidy only"), ("ru", "только субсидия")])
async def test_with_no_fee_source_every_hashprice_reply_says_subsidy_only(
    store: Store,
    fake_upstreams: FakeUpstreams,
    make_settings: Callable[..., Settings],
    fake_sleep: RecordingSleep,
    lang: str,
    notice: str,
) -> None:
    """mempool down, no bitcoind, and blockchain.info's /stats fees broken (as recorded in 2026)."""
    fake_upstreams.inject("mempool", Fault.HTTP_503, times=None)
    async with httpx.AsyncClient() as client:
        taken = await fetch_snapshot(client, make_settings(), lambda: TAKEN, sleep=fake_sleep)
    assert (taken.network.source, taken.network.fees_per_block_btc) == ("blockchain.info", None)
    await store.run(insert_snapshot, taken)
    services = StoreServices(
        store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: NOW
    )
    await say(services, f"/lang {lang}")
    for command in HASHPRICE_COMMANDS:
        assert notice in (await say(services, command)).text, command


async def test_known_fees_carry_no_notice(services: StoreServices) -> None:
    for command in HASHPRICE_COMMANDS:
        assert "subsidy only" not in (await say(services, command)).text, command


async def test_hashprice_alerts_wait_while_fees_are_unknown(store: Store, services: StoreServices) -> None:
    """At $68,000 the subsidy-only hashprice is $33.97, under a 'below $34' rule, while with the real fees
    (0.02 BTC/block) it is $34.19: with fees unknown nothing fires. Once fees are known and the hashprice
    really falls below $34, the rule fires once."""
    higher = snapshot()
    await store.run(insert_snapshot, replace(higher, price=replace(higher.price, price_usd=70_000.0)))
    await say(services, "/subscribe hashprice below 34")
    regression, params = load_difficulty_regression(), RegimeParams()
    subsidy_only = MarketInputs(68_000.0, 125.86e12, 935_000, None)
    assert hashprice_usd_per_ph_day(subsidy_only) == pytest.approx(33.97, abs=0.01)
    unknown = Reading(NOW, subsidy_only)
    await store.atomic(decide, unknown, regression, params, NOW.timestamp())
    assert await store.run(claim_due, NOW.timestamp() + 1, 10) == []
    later = NOW + timedelta(minutes=1)
    known = Reading(later, MarketInputs(66_680.0, 125.86e12, 935_000, 0.01))
    await store.atomic(decide, known, regression, params, later.timestamp())
    [message] = await store.run(claim_due, later.timestamp() + 1, 10)
    assert message.text.startswith("🔔 hashprice below $34")


@pytest.mark.parametrize(
    ("lang", "refusal", "unknown"),
    [
        ("en", "Power of Avalon A1346 is unknown; give it as 200TH@3500W", "power unknown"),
        ("ru", "Мощность Avalon A1346 неизвестна; укажите её так: 200TH@3500W", "мощность неизв."),
    ],
)
async def test_unknown_power_reads_unknown_and_is_never_costed(
    services: StoreServices, lang: str, refusal: str, unknown: str
) -> None:
    await say(services, f"/lang {lang}")
    listing = (await say(services, "/machines")).text
    assert re.search(rf"Avalon A1346\n 110 TH/s, {unknown}, ", listing)
    for command in ("/breakeven a1346 5c", "/margin Avalon A1346", "/profile a1346 5c"):
        reply = await say(services, command)
        assert reply.error and refusal in reply.text, command
    assert (await services.profile(PRIVATE)).machine.name == "Antminer S19 XP"  # the profile is unchanged


async def test_help_states_how_a_bare_power_price_is_read_in_both_languages(services: StoreServices) -> None:
    assert "below 1 (0.06) and cents from 1 up (6)" in (await say(services, "/help")).text
    await say(services, "/lang ru")
    assert "меньше 1 — доллары за кВт·ч (0.06), от 1 — центы (6)" in (await say(services, "/help")).text


@pytest.mark.parametrize(
    ("rule", "read"), [("breakeven below 1", "$0.01/kWh"), ("breakeven below 0.5", "$0.5/kWh")]
)
async def test_a_bare_threshold_is_echoed_by_the_rule_as_read(
    services: StoreServices, rule: str, read: str
) -> None:
    """/subscribe shows the rule in canonical units, so a bare power price's reading is visible."""
    await say(services, "/profile s19 5c")
    reply = await say(services, f"/subscribe {rule}")
    assert not reply.error and f"breakeven below {read}" in reply.text


async def test_a_power_price_alone_keeps_the_profile_machine(services: StoreServices) -> None:
    reply = await say(services, "/breakeven 5 cents")
    assert (
        not reply.error and "<b>Breakeven: Antminer S19 XP</b>" in reply.text and "$0.0500/kWh" in reply.text
    )
    assert "Read as" not in reply.text  # the unit was typed: nothing to echo
