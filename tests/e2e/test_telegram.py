"""Telegram end to end: the real python-telegram-bot Application over HTTP against the fake Bot API,
with the real store, watch, outbox worker and sources polling the fake upstreams."""

from __future__ import annotations

import asyncio
import html
import re
import signal
import struct
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.config import Settings
from bot.economics.history import DailyRow
from bot.render.charts import HEIGHT_PX, WIDTH_PX
from bot.render.i18n import SUPPORTED
from handlers.router import COMMANDS
from tests.e2e.market import move_price, price_polls, steady_history, store_daily
from tests.e2e.process import bot_environment, start_run
from tests.fakes.telegram_api import FakeTelegram, Fault, SentCall
from tests.fakes.upstreams import FakeUpstreams

USER = 1001
GROUP = -4001
ADMIN, MEMBER = 7, 8


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def daily_history() -> list[DailyRow]:
    """Daily rows stored before the bot starts; none by default (the bot seeds the shipped history).
    A test overrides it with ``@pytest.mark.parametrize("daily_history", [...])``."""
    return []


@pytest.fixture
async def bot(
    tmp_path: Path, telegram: FakeTelegram, fake_upstreams: FakeUpstreams, daily_history: list[DailyRow]
) -> AsyncIterator[BotApp]:
    if daily_history:
        await store_daily(tmp_path / "bot.db", daily_history)
    settings = Settings.model_validate(
        {
            **fake_upstreams.settings_overrides(),
            "telegram_token": telegram.token,
            "telegram_base_url": telegram.base_url,
            "db": str(tmp_path / "bot.db"),
            "price_poll_s": 1,
            "network_poll_s": 60,  # first poll at once; daily job at +60 s
            "source_retries": 0,
            "source_timeout_s": 2.0,
        }
    )
    app = BotApp(settings, COMMANDS)
    await app.start()
    menus = len(SUPPORTED)  # one setMyCommands per language: the tests read them all
    await telegram.wait_for(
        lambda: app.services is not None and len(telegram.calls("setMyCommands")) >= menus, timeout=5
    )
    yield app
    await app.stop()


def texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [call.text or call.caption or "" for call in telegram.messages_to(chat_id)]


async def ask(telegram: FakeTelegram, chat_id: int, text: str, **kwargs: object) -> SentCall:
    """Send ``text`` as a user and return the bot's next message to that chat."""
    before = len(telegram.messages_to(chat_id))
    telegram.send_user_message(chat_id, text, **kwargs)  # type: ignore[arg-type]
    replies = await telegram.wait_for(lambda: telegram.messages_to(chat_id)[before:], timeout=10)
    return replies[0]


async def market_ready(telegram: FakeTelegram, chat_id: int) -> None:
    """Wait until the first poll stored a snapshot (commands answer from it)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        reply = await ask(telegram, chat_id, "/hashprice")
        if "PH/day" in (reply.text or ""):
            return
    raise AssertionError("no market data after 20 s")


def alerts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [text for text in texts(telegram, chat_id) if text.startswith("🔔")]


async def test_commands_answer_with_the_right_numbers(bot: BotApp, telegram: FakeTelegram) -> None:
    await market_ready(telegram, USER)
    status = (await ask(telegram, USER, "/status")).text or ""
    assert "$85,864" in status and "132.72 T" in status and "\n regression " in status
    table = status.split("<pre>")[1].split("</pre>")[0]  # the monospace block, as Telegram shows it
    assert max(len(html.unescape(line)) for line in table.split("\n")) <= 32
    assert "Cost per BTC" in table and "Regression: market cap" in status.split("</pre>")[1]
    breakeven = (await ask(telegram, USER, "/breakeven s19xp 0.055")).text or ""
    # recorded market: $85,864, D 132.716e12, fees 0.1312 BTC/block; 2 % pool fee -> $0.0805/kWh.
    assert "$0.0805/kWh" in breakeven and "Antminer S19 XP" in breakeven
    margin = (await ask(telegram, USER, "/margin s21 6c")).text or ""
    assert re.search(r"\n power cost +\$5\.04\n", margin)  # 200 TH/s x 17.5 J/TH x 24 h = 84 kWh at $0.06
    assert "Cost per BTC\n bottom-up " in ((await ask(telegram, USER, "/cost")).text or "")
    assert "-1.91%" in ((await ask(telegram, USER, "/difficulty")).text or "")
    assert "Antminer S21 XP Hyd" in ((await ask(telegram, USER, "/machines")).text or "")
    assert "/subscribe" in ((await ask(telegram, USER, "/help")).text or "")


@pytest.mark.parametrize("daily_history", [steady_history(80_000.0)])
async def test_stress_shows_its_components_and_alerts_when_the_price_falls(
    bot: BotApp, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    """Five years at $80,000 before today: at the recorded $85,864 the Puell multiple (1.07) tops its 4-year
    rank; at $60,000 it and hashprice fall to the bottom and the difficulty multiple drops, so the index
    crosses below 25."""
    await market_ready(telegram, USER)
    stress = (await ask(telegram, USER, "/stress")).text or ""
    assert "Miner-stress index (open proxy" in stress and "not CryptoQuant" in stress
    # above every post-halving day of the window, below the days of the 6.25 BTC subsidy before 2024-04-20
    assert re.search(r"\n hashprice +\$40\.67/PH/day → \d+\n", stress)
    assert re.search(r"\n Puell +1\.07 → 100\n", stress)
    index = re.search(r"Index +(\d+)/100, (\w+)", stress)
    assert index is not None and int(index[1]) > 26, stress
    status = (await ask(telegram, USER, "/status")).text or ""
    assert f"{index[1]}/100, {index[2]}\n" in status and "open proxy" in status

    created = (await ask(telegram, USER, "/subscribe stress below 25")).text or ""
    assert created.startswith("✅ Alert #") and "already true" not in created
    move_price(fake_upstreams, 60_000)
    first = await telegram.wait_for(lambda: alerts(telegram, USER), timeout=10)
    fired = re.fullmatch(r"🔔 stress below 25: now (\d+\.\d) / 100\.", first[0])
    assert fired is not None and float(fired[1]) < 25, first
    await price_polls(telegram, fake_upstreams, 3)  # it stays below: no second alert
    assert len(alerts(telegram, USER)) == 1


async def test_difficulty_shows_puell_and_the_difficulty_ribbon(bot: BotApp, telegram: FakeTelegram) -> None:
    await market_ready(telegram, USER)
    reply = await ask(telegram, USER, "/difficulty")
    assert reply.ok and reply.parse_mode == "HTML"
    lines = (reply.text or "").splitlines()
    # The shipped history (to 2025-06-02) is the stored daily series; it records issuance up to 2025-03-08.
    assert (
        "Puell multiple: unknown on 2025-06-02: the daily series lacks the issuance of 86 of the last "
        "365 days" in lines
    )
    assert any(
        line.startswith(
            "Difficulty ribbon compression: <b>0.0285</b> on 2025-06-02, past-year percentile 48%"
        )
        for line in lines
    )
    await ask(telegram, USER, "/lang ru")
    russian = (await ask(telegram, USER, "/difficulty")).text or ""
    assert (
        "Мультипликатор Пуэлла: неизвестен" in russian and "Сжатие ленты сложности: <b>0,0285</b>" in russian
    )


async def test_cost_shows_the_difficulty_multiple_and_the_model_to_its_digits(
    bot: BotApp, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    """Recorded market: $85,864, D 132.716 T, height 969,992 -> regression cost $79,680 (2 digits: $80k),
    multiple 1.078 (1.1); at $60,000 the multiple is 0.753 (0.75) and the price trades at a discount."""
    await market_ready(telegram, USER)
    cost = (await ask(telegram, USER, "/cost")).text or ""
    assert re.search(r"\n regression +\$80k, price \+8%\n", cost)
    assert re.search(r"\n multiple +1\.1×", cost) and "Multiple: price ÷ regression cost" in cost
    assert "$79,680" not in cost and "79,68" not in cost
    status = (await ask(telegram, USER, "/status")).text or ""
    assert re.search(r"\n multiple +1\.1×", status)
    move_price(fake_upstreams, 60_000.0)
    await price_polls(telegram, fake_upstreams, 3)
    cost = (await ask(telegram, USER, "/cost")).text or ""
    assert re.search(r"\n multiple +0\.75×", cost)
    assert re.search(r"\$80k, price -25%", cost)
    await ask(telegram, USER, "/lang ru")
    russian = (await ask(telegram, USER, "/cost")).text or ""
    assert " кратность " in russian and "0,75×" in russian
    assert "80\u00a0тыс.\u00a0$" in russian


@pytest.mark.parametrize(
    ("command", "explained"),
    [
        ("/breakeven s19 banana", "banana"),
        ("/breakeven antminer s99", "Closest"),
        ("/margin s19 -5c", "give $/kWh like 0.06 or cents like 6c"),
        ("/subscribe prise below 60k", "price"),
        ("/subscribe price below lots", "60k"),
        ("/unsubscribe seven", "/unsubscribe 3"),
        ("/lang fr", "ru"),
        ("/frobnicate", "Unknown command"),
    ],
)
async def test_bad_arguments_get_an_explanation(
    bot: BotApp, telegram: FakeTelegram, command: str, explained: str
) -> None:
    reply = await ask(telegram, USER, command)
    assert explained in (reply.text or "")
    assert reply.parse_mode == "HTML"


async def test_subscription_by_command_alerts_once_and_stops_after_unsubscribe(
    bot: BotApp, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    await market_ready(telegram, USER)
    created = (await ask(telegram, USER, "/subscribe price below 80k")).text or ""
    number = re.search(r"#(\d+)", created)
    assert number is not None
    move_price(fake_upstreams, 79_000)
    first = await telegram.wait_for(lambda: alerts(telegram, USER), timeout=10)
    assert "price below $80,000" in first[0] and "$79,000" in first[0]
    await price_polls(telegram, fake_upstreams, 3)  # the price stays below: no second alert
    assert len(alerts(telegram, USER)) == 1
    await ask(telegram, USER, f"/unsubscribe {number[1]}")
    move_price(fake_upstreams, 90_000)
    await price_polls(telegram, fake_upstreams, 2)
    move_price(fake_upstreams, 70_000)
    await price_polls(telegram, fake_upstreams, 2)
    assert len(alerts(telegram, USER)) == 1


async def test_subscription_by_button(
    bot: BotApp, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    await market_ready(telegram, USER)
    menu = await ask(telegram, USER, "/subscribe")
    assert menu.message_id is not None and menu.reply_markup is not None
    before = len(telegram.messages_to(USER))
    telegram.press_button(USER, menu.message_id, "/subscribe price below 60k")
    confirmation = await telegram.wait_for(lambda: telegram.messages_to(USER)[before:], timeout=10)
    assert "price below $60,000" in (confirmation[0].text or "")
    assert telegram.calls("answerCallbackQuery")
    move_price(fake_upstreams, 59_000)
    alert = await telegram.wait_for(lambda: alerts(telegram, USER), timeout=10)
    assert "$59,000" in alert[0]


async def test_blocked_bot_deactivates_the_chat(
    bot: BotApp, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    await market_ready(telegram, USER)
    await ask(telegram, USER, "/subscribe price below 80k")
    telegram.bot_blocked(USER)
    await telegram.wait_for(lambda: telegram.pending_updates == 0, timeout=5)
    sent_before = len(telegram.calls(chat_id=USER))
    move_price(fake_upstreams, 79_000)
    await price_polls(telegram, fake_upstreams, 3)
    assert len(telegram.calls(chat_id=USER)) == sent_before
    chats = await bot.store.run(lambda db: list(db.fetch("SELECT active, reason FROM chats")))
    assert chats == [{"active": 0, "reason": "blocked the bot"}]


async def test_block_discovered_on_send_deactivates_the_chat(
    bot: BotApp, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    await market_ready(telegram, USER)
    await ask(telegram, USER, "/subscribe price below 80k")
    telegram.block_chat(USER)
    move_price(fake_upstreams, 79_000)
    await telegram.wait_for(lambda: [c for c in telegram.calls(chat_id=USER) if c.status == 403], timeout=20)
    for _ in range(100):  # the worker records the 403 just after the fake answered it
        rows = await bot.store.run(lambda db: list(db.fetch("SELECT active FROM chats")))
        if rows == [{"active": 0}]:
            break
        await asyncio.sleep(0.05)
    assert rows == [{"active": 0}]


async def test_alerts_follow_a_group_to_its_supergroup(
    bot: BotApp, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    telegram.set_admins(GROUP, [ADMIN])
    await market_ready(
        telegram, USER
    )  # asking over and over in the group would meet its 20 messages a minute
    reply = await ask(telegram, GROUP, "/subscribe price below 80k", user_id=ADMIN, chat_type="group")
    assert "Alert #" in (reply.text or "")
    new_id = telegram.migrate_chat(GROUP, notify=False)
    move_price(fake_upstreams, 79_000)
    alert = await telegram.wait_for(lambda: alerts(telegram, new_id), timeout=15)
    assert "$79,000" in alert[0]


async def test_retry_after_delays_but_loses_nothing(
    bot: BotApp, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    await market_ready(telegram, USER)
    await ask(telegram, USER, "/subscribe price below 80k")
    telegram.inject(Fault.RETRY_AFTER, chat_id=USER, retry_after=2, methods=["sendMessage"])
    move_price(fake_upstreams, 79_000)
    refused = await telegram.wait_for(lambda: [c for c in telegram.calls(chat_id=USER) if c.status == 429])
    alert = await telegram.wait_for(lambda: alerts(telegram, USER), timeout=15)
    delivered = next(c for c in telegram.messages_to(USER) if (c.text or "").startswith("🔔"))
    assert delivered.time - refused[0].time >= 2.0
    assert len(alert) == 1


async def test_only_admins_change_group_subscriptions(bot: BotApp, telegram: FakeTelegram) -> None:
    telegram.set_admins(GROUP, [ADMIN])
    refused = await ask(telegram, GROUP, "/subscribe price below 60k", user_id=MEMBER, chat_type="group")
    assert "administrators" in (refused.text or "")
    accepted = await ask(telegram, GROUP, "/subscribe price below 60k", user_id=ADMIN, chat_type="group")
    assert "Alert #" in (accepted.text or "")
    listing = await ask(telegram, GROUP, "/alerts", user_id=MEMBER, chat_type="group")
    assert "price below $60,000" in (listing.text or "")


async def test_command_menu_is_set_in_english_and_russian(bot: BotApp, telegram: FakeTelegram) -> None:
    english = {c["command"] for c in telegram.my_commands("")}
    russian = {c["command"] for c in telegram.my_commands("ru")}
    assert {"breakeven", "subscribe", "chart"} <= english
    assert english == russian


async def test_chart_sends_a_real_png(bot: BotApp, telegram: FakeTelegram) -> None:
    await market_ready(telegram, USER)
    telegram.send_user_message(USER, "/chart 1y")
    photos = await telegram.wait_for(
        lambda: [c for c in telegram.calls("sendPhoto", USER) if c.ok], timeout=20
    )
    png = photos[0].photo
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (WIDTH_PX, HEIGHT_PX)
    assert photos[0].caption


async def test_lang_ru_switches_replies_and_alerts(
    bot: BotApp, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    await market_ready(telegram, USER)
    english = (await ask(telegram, USER, "/breakeven s19xp 0.055")).text or ""
    await ask(telegram, USER, "/lang ru")
    russian = (await ask(telegram, USER, "/breakeven s19xp 0.055")).text or ""
    assert russian != english
    assert re.search("[а-яА-Я]{4}", russian)
    assert "0,0805" in russian  # the same breakeven, written the Russian way
    await ask(telegram, USER, "/subscribe price below 80k")
    move_price(fake_upstreams, 79_000)
    alert = await telegram.wait_for(lambda: alerts(telegram, USER), timeout=10)
    assert re.search("[а-яА-Я]{4}", alert[0])


def test_run_as_a_process_answers_and_pushes(tmp_path: Path, fake_upstreams: FakeUpstreams) -> None:
    with FakeTelegram() as telegram:
        settings = {
            **fake_upstreams.settings_overrides(),
            "telegram_token": telegram.token,
            "telegram_base_url": telegram.base_url,
        }
        process = start_run(bot_environment(tmp_path / "bot.db", settings))
        try:
            telegram.wait_for_sync(
                lambda: telegram.calls("deleteWebhook") or telegram.get_updates_calls, timeout=20
            )
            for _ in range(20):
                telegram.send_user_message(USER, "/breakeven s19xp 0.055")
                reply = telegram.wait_for_sync(lambda: telegram.messages_to(USER), timeout=10)[-1]
                if "Breaks even at" in (reply.text or ""):
                    break
                time.sleep(0.5)
            assert "$0.0805/kWh" in (telegram.messages_to(USER)[-1].text or "")
            telegram.send_user_message(USER, "/subscribe price below 80k")
            telegram.wait_for_sync(
                lambda: any("Alert #" in (c.text or "") for c in telegram.messages_to(USER))
            )
            move_price(fake_upstreams, 79_000)
            pushed = telegram.wait_for_sync(lambda: alerts(telegram, USER), timeout=15)
            assert "$79,000" in pushed[0]
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=15) == 0
            output = process.stdout.read() if process.stdout else ""
            assert telegram.token not in output
        finally:
            if process.poll() is None:
                process.kill()


async def test_fleet_commands_and_switch_off_alert(
    bot: BotApp, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    """Recorded market ($85,864, D 132.716 T, fees 0.1312 BTC): 40 S19j Pro (104 TH/s, 3,068 W) at 5.5c with
    a 2 % pool fee earn $4.3193 and burn 73.632 kWh x $0.055 = $4.0498 a day each (breakeven BTC ≈ $80,506);
    at $79,000 they earn $3.9740: -$0.08 each, breakeven power 0.055 x 3.9740 / 4.0498 = $0.0540/kWh."""
    await market_ready(telegram, USER)
    saved = await ask(telegram, USER, "/tariff add texas 0.045; 14:00-20:00 0.12 America/Chicago")
    assert (saved.text or "").startswith("✅ Tariff texas saved")
    added = await ask(telegram, USER, "/fleet add s19jpro 40 5.5c site=north")
    shown = added.text or ""
    assert shown.startswith("✅ Added line #1.") and added.parse_mode == "HTML"
    assert "✅ Run the 40 Antminer S19j Pro: $0.27 per machine per day at $0.0550/kWh" in shown
    assert re.search(r"BE BTC +\$80,50\d</pre>", shown)  # the recorded inputs carry more digits than above
    pre = [line for block in re.findall(r"<pre>(.*?)</pre>", shown, re.S) for line in block.split("\n")]
    assert pre and max(len(line) for line in pre) <= 32
    assert "Antminer S19j Pro" in ((await ask(telegram, USER, "/profile")).text or "")
    assert "Fleet: 1 line, 40 machines" in ((await ask(telegram, USER, "/fleet")).text or "")

    subscribed = await ask(telegram, USER, "/subscribe fleet")
    assert "switched off or on again" in (subscribed.text or "")
    await price_polls(telegram, fake_upstreams, 2)  # the line's advice is taken silently first
    move_price(fake_upstreams, 79_000)
    [alert] = await telegram.wait_for(lambda: alerts(telegram, USER), timeout=15)
    assert alert == (
        "🔔 Fleet line #1 · north: ⛔ Switch off the 40 Antminer S19j Pro: -$0.08 per machine per day at "
        "$0.0550/kWh; they turn positive above $80.5k BTC or below $0.0540/kWh."
    )
    await price_polls(telegram, fake_upstreams, 3)  # it stays below: no second alert
    assert len(alerts(telegram, USER)) == 1
    assert "switch-off advice" in ((await ask(telegram, USER, "/alerts")).text or "")

    ask_clear = await ask(telegram, USER, "/fleet clear")
    assert ask_clear.message_id is not None and ask_clear.reply_markup is not None
    before = len(telegram.messages_to(USER))
    telegram.press_button(USER, ask_clear.message_id, "/fleet clear yes")
    cleared = await telegram.wait_for(lambda: telegram.messages_to(USER)[before:], timeout=10)
    assert (cleared[0].text or "").startswith("Removed 1 line.")
    assert ((await ask(telegram, USER, "/fleet")).text or "").startswith("No fleet yet.")


async def test_only_admins_change_a_group_fleet(bot: BotApp, telegram: FakeTelegram) -> None:
    telegram.set_admins(GROUP, [ADMIN])
    refused = await ask(telegram, GROUP, "/fleet add s19 5c", user_id=MEMBER, chat_type="group")
    assert "administrators" in (refused.text or "")
    accepted = await ask(
        telegram, GROUP, "/tariff add night 0.1; 22:00-06:00 0.03", user_id=ADMIN, chat_type="group"
    )
    assert (accepted.text or "").startswith("✅ Tariff night saved")
