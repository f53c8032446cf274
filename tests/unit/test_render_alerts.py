"""Alert texts (bot.render.alerts): numbers, model label, escaping, language fallback."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.engine import margin_warning_event, threshold_event
from bot.alerts.events import AlertEvent, EventKind, StaleReason
from bot.alerts.grammar import GRAMMARS, parse_rule
from bot.alerts.rules import Metric
from bot.render import alerts
from bot.render.alerts import Catalog, render_event

T0 = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)


def event(kind: EventKind, **data: object) -> AlertEvent:
    return AlertEvent(kind, f"{kind}:test", T0, dict(data))


CAPITULATION = event(
    EventKind.REGIME_CAPITULATION,
    premium_pct=(66_680 / 87_012 - 1) * 100,
    price_usd=66_680.0,
    cost_usd_per_btc=87_012.4,
    cost_model="difficulty-regression",
    cost_significant_digits=2,
    recovery_above_usd=87_012.4 * 1.03,
)


def test_capitulation_rounds_the_model_and_names_the_recovery_level() -> None:
    assert render_event(CAPITULATION) == (
        "⚠️ Miner capitulation: BTC $66,680 is 23% below the production cost $87k "
        "(difficulty-regression); recovery above $90k."
    )


def test_model_outputs_follow_the_digits_the_event_carries() -> None:
    three = event(
        EventKind.REGIME_CAPITULATION,
        premium_pct=-18.3,
        price_usd=66_680.0,
        cost_usd_per_btc=81_600.0 / 1.03,
        cost_model="difficulty-regression",
        cost_significant_digits=3,
        recovery_above_usd=81_600.0,
    )
    assert render_event(three).endswith(
        "below the production cost $79.2k (difficulty-regression); recovery above $81.6k."
    )


@pytest.mark.parametrize(
    ("seconds", "lasted"),
    [
        (23 * 86_400, "23 days"),
        (86_400, "1 day"),
        (int(1.6 * 86_400), "2 days"),
        (7 * 3600, "7 hours"),
        (600, "10 minutes"),
    ],
)
def test_recovery_says_how_long_capitulation_lasted(seconds: int, lasted: str) -> None:
    recovery = event(
        EventKind.REGIME_RECOVERY,
        premium_pct=4.1,
        price_usd=74_119.0,
        cost_usd_per_btc=71_200.0,
        cost_model="bottom-up",
        cost_significant_digits=2,
        capitulation_started_at=(T0 - timedelta(seconds=seconds)).isoformat(),
        capitulation_seconds=seconds,
    )
    assert render_event(recovery) == (
        f"✅ Recovery: BTC $74,119 is back 4% above the production cost $71k (bottom-up); "
        f"capitulation lasted {lasted}."
    )


def test_retarget_with_and_without_a_height() -> None:
    data = {
        "old_difficulty": 141.67e12,
        "new_difficulty": 125.86e12,
        "change_pct": (125.86 / 141.67 - 1) * 100,
    }
    assert render_event(event(EventKind.RETARGET, **data, height=935_136)) == (
        "⛏ Difficulty adjusted −11.16% at block 935,136: 141.67 T → 125.86 T."
    )
    assert render_event(event(EventKind.RETARGET, **data, height=None)) == (
        "⛏ Difficulty adjusted −11.16%: 141.67 T → 125.86 T."
    )
    up = {"old_difficulty": 100e12, "new_difficulty": 104.38e12, "change_pct": 4.38}
    assert (
        render_event(event(EventKind.RETARGET, **up, height=None))
        == "⛏ Difficulty adjusted +4.38%: 100.00 T → 104.38 T."
    )


def test_hash_ribbons() -> None:
    figures = {"sma30_ths": 216.17e6, "sma60_ths": 216.83e6, "price_usd": 22_242.3}
    assert render_event(event(EventKind.RIBBONS_CAPITULATION, **figures)) == (
        "📉 Hash Ribbons capitulation: the 30-day hashrate average (216.17 EH/s) fell below the 60-day "
        "(216.83 EH/s); BTC $22,242."
    )
    assert render_event(event(EventKind.RIBBONS_RECOVERY, **figures)).startswith("📈 Hash Ribbons recovery:")
    assert render_event(event(EventKind.RIBBONS_RECOVERY, **figures, capitulation_days=71)) == (
        "📈 Hash Ribbons recovery: the 30-day hashrate average (216.17 EH/s) is back above the 60-day "
        "(216.83 EH/s) after 71 days of capitulation; BTC $22,242."
    )
    assert render_event(event(EventKind.RIBBONS_RECOVERY, **figures, capitulation_days=3), "ru") == (
        "📈 Hash Ribbons, восстановление: 30-дневное среднее хешрейта (216,17 EH/s) снова выше 60-дневного "
        "(216,83 EH/s) после капитуляции длиной всего 3 дня — слишком короткой для сигнала на покупку; "
        "BTC 22\xa0242\xa0$."
    )
    assert "too short for a buy signal" in render_event(
        event(EventKind.RIBBONS_RECOVERY, **figures, capitulation_days=13)
    )
    assert "after 14 days of capitulation" in render_event(
        event(EventKind.RIBBONS_RECOVERY, **figures, capitulation_days=14)
    )
    assert render_event(event(EventKind.RIBBONS_BUY, **figures)) == (
        "🟢 Hash Ribbons buy signal: miners have recovered and the 10-day price average is above the 20-day; "
        "BTC $22,242."
    )


@pytest.mark.parametrize(
    ("rule", "value", "text"),
    [
        ("price below 60k", 59_412.4, "🔔 price below $60,000: now $59,412."),
        ("hashprice below 35", 34.2, "🔔 hashprice below $35/PH/day: now $34.20/PH/day."),
        ("margin below 0", -3.24, "🔔 margin below 0%: now −3.2%."),
        ("breakeven below 5c", 0.04061, "🔔 breakeven below $0.05/kWh: now $0.0406/kWh."),
        ("premium below -10%", -12.34, "🔔 premium below -10%: now −12.3%."),
        ("difficulty above 5%", 5.5, "🔔 difficulty above +5%: now +5.50%."),
        ("stress below 25", 20.89, "🔔 stress below 25: now 20.9 / 100."),
    ],
)
def test_threshold(rule: str, value: float, text: str) -> None:
    assert render_event(threshold_event(parse_rule(rule), value, T0)) == text


def test_margin_warning_escapes_the_machine_name() -> None:
    warning = margin_warning_event(T0, 967_680, 4.0, 33.31, 32.5, "<b>my</b> S19 & co")
    assert render_event(warning) == (
        "⚠️ &lt;b&gt;my&lt;/b&gt; S19 &amp; co: the next difficulty adjustment (est. +4.00%) would push your "
        "margin below zero: hashprice $33.31/PH/day → $32.03/PH/day, your breakeven $32.50/PH/day."
    )


def test_stale_and_fresh() -> None:
    stale = event(EventKind.DATA_STALE, reason="price sources disagree by 3.2% <coinbase>")
    assert render_event(stale) == (
        "⏸ Data is stale (price sources disagree by 3.2% &lt;coinbase&gt;); "
        "alerts are paused until sources recover."
    )
    fresh = event(EventKind.DATA_FRESH, stale_since=T0.isoformat(), stale_seconds=2 * 3600 + 300)
    assert render_event(fresh) == "▶️ Data is fresh again after 2 hours; alerts resumed."


def test_unknown_language_falls_back_to_english() -> None:
    assert render_event(CAPITULATION, "xx") == render_event(CAPITULATION)


def test_a_partial_catalog_falls_back_to_english_per_message(monkeypatch: pytest.MonkeyPatch) -> None:
    test_catalog = Catalog(
        {"regime_capitulation": "CAP {price} {premium} {cost} {model}"}, lambda s: f"{s:g}s"
    )
    monkeypatch.setitem(alerts.CATALOGS, "xx", test_catalog)
    assert render_event(CAPITULATION, "xx") == "CAP $66,680 23% $87k difficulty-regression"
    stale = event(EventKind.DATA_STALE, reason="timeout")
    assert render_event(stale, "xx") == render_event(stale)


NBSP = "\u00a0"


def test_every_english_alert_has_a_russian_one_with_the_same_fields() -> None:
    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    assert set(alerts.RU.templates) == set(alerts.EN.templates)
    for message, template in alerts.EN.templates.items():
        assert fields(alerts.RU.templates[message]) == fields(template), message


def test_capitulation_in_russian() -> None:
    assert render_event(CAPITULATION, "ru") == (
        f"⚠️ Капитуляция майнеров: BTC 66{NBSP}680{NBSP}$ — на 23{NBSP}% ниже себестоимости добычи "
        f"87{NBSP}тыс.{NBSP}$ (регрессия по сложности); восстановление — выше 90{NBSP}тыс.{NBSP}$."
    )


@pytest.mark.parametrize(
    ("seconds", "lasted"),
    [
        (86_400, "1 день"),
        (2 * 86_400, "2 дня"),
        (5 * 86_400, "5 дней"),
        (11 * 86_400, "11 дней"),
        (21 * 86_400, "21 день"),
        (23 * 86_400, "23 дня"),
        (3600, "1 час"),
        (3 * 3600, "3 часа"),
        (7 * 3600, "7 часов"),
        (60, "1 минуту"),
        (22 * 60, "22 минуты"),
        (600, "10 минут"),
    ],
)
def test_recovery_in_russian_spells_the_duration_with_the_right_plural(seconds: int, lasted: str) -> None:
    recovery = event(
        EventKind.REGIME_RECOVERY,
        premium_pct=4.1,
        price_usd=74_119.0,
        cost_usd_per_btc=71_200.0,
        cost_model="bottom-up",
        cost_significant_digits=2,
        capitulation_seconds=seconds,
    )
    assert render_event(recovery, "ru") == (
        f"✅ Восстановление: BTC 74{NBSP}119{NBSP}$ снова на 4{NBSP}% выше себестоимости добычи "
        f"71{NBSP}тыс.{NBSP}$ (расчёт снизу вверх); капитуляция длилась {lasted}."
    )


@pytest.mark.parametrize(
    ("rule", "value", "text"),
    [
        ("price below 60k", 59_412.4, f"🔔 цена BTC ниже 60{NBSP}000{NBSP}$: сейчас 59{NBSP}412{NBSP}$."),
        (
            "hashprice below 35",
            34.2,
            f"🔔 хешпрайс ниже 35,00{NBSP}$/PH/сутки: сейчас 34,20{NBSP}$/PH/сутки.",
        ),
        ("margin below 0", -3.24, f"🔔 маржа ниже 0,0{NBSP}%: сейчас −3,2{NBSP}%."),
        (
            "breakeven below 5c",
            0.04061,
            f"🔔 безубыточный тариф ниже 0,0500{NBSP}$/кВт·ч: сейчас 0,0406{NBSP}$/кВт·ч.",
        ),
        (
            "difficulty above 5%",
            5.5,
            f"🔔 следующая корректировка сложности выше +5,00{NBSP}%: сейчас +5,50{NBSP}%.",
        ),
        ("stress below 25", 20.89, "🔔 индекс стресса майнеров ниже 25,0 / 100: сейчас 20,9 / 100."),
        (
            "premium below -10% band 2 repeat every 6h",
            -12.0,
            f"🔔 премия к себестоимости ниже −10,0{NBSP}%, возврат за 2,0{NBSP}% от порога, с повтором, "
            f"не чаще раза в 6 часов: сейчас −12,0{NBSP}%.",
        ),
    ],
)
def test_threshold_in_russian(rule: str, value: float, text: str) -> None:
    assert render_event(threshold_event(parse_rule(rule), value, T0), "ru") == text


RULE_WORDS = re.compile(
    r"\b(price|hashprice|margin|breakeven|premium|difficulty|stress|below|above|under|over|band|repeat|every)\b"
)
"""The rule grammar's English words (the grammar itself stays English: these are what a user types)."""


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("op", ["below", "above"])
def test_no_english_rule_word_remains_in_a_russian_alert(metric: Metric, op: str) -> None:
    example = GRAMMARS[metric].example.split()[-1]
    rule = parse_rule(f"{metric.value} {op} {example} band {GRAMMARS[metric].band_example} repeat every 2d")
    english = render_event(threshold_event(rule, rule.threshold, T0))
    russian = render_event(threshold_event(rule, rule.threshold, T0), "ru")
    assert RULE_WORDS.search(english) and RULE_WORDS.search(russian) is None, russian


def test_an_alert_stored_before_rules_carried_their_options_still_reads_in_russian() -> None:
    stored = event(
        EventKind.THRESHOLD, rule="price below $60,000", metric="price", op="below", threshold=60_000.0
    )
    stored.data["value"] = 59_000.0
    assert render_event(stored, "ru") == f"🔔 цена BTC ниже 60{NBSP}000{NBSP}$: сейчас 59{NBSP}000{NBSP}$."


def test_the_stale_reason_in_russian_names_what_is_missing_and_who_stopped_answering() -> None:
    reason = StaleReason(
        "price sources disagree by 3.2%; coinbase, kraken not answering since 09:58 UTC",
        "price",
        {"kraken": T0 - timedelta(minutes=2), "coinbase": T0 - timedelta(minutes=2)},
    )
    stale = AlertEvent(EventKind.DATA_STALE, "data_stale:x", T0, reason.data())
    assert render_event(stale) == (
        "⏸ Data is stale (price sources disagree by 3.2%; coinbase, kraken not answering since 09:58 UTC); "
        "alerts are paused until sources recover."
    )
    assert render_event(stale, "ru") == (
        "⏸ Данные устарели (нет подтверждённой цены BTC; coinbase, kraken не отвечают с 09:58 UTC); "
        "оповещения приостановлены, пока источники не восстановятся."
    )
    network = StaleReason("no confirmed network data", "network", {"mempool": T0 - timedelta(days=1)})
    russian = render_event(AlertEvent(EventKind.DATA_STALE, "data_stale:y", T0, network.data()), "ru")
    assert "нет подтверждённых данных сети; mempool не отвечают с 2026-02-04 10:00 UTC" in russian
    assert re.search(r"[A-Za-z]{4,}", russian.replace("mempool", "").replace("UTC", "")) is None


def test_retarget_and_escaping_in_russian() -> None:
    data = {"old_difficulty": 141.67e12, "new_difficulty": 125.86e12, "change_pct": -11.16}
    assert render_event(event(EventKind.RETARGET, **data, height=935_136), "ru") == (
        f"⛏ Сложность изменилась на −11,16{NBSP}% на блоке 935{NBSP}136: 141,67 T → 125,86 T."
    )
    stale = event(
        EventKind.DATA_STALE, reason="x", missing="price", failing={"<coinbase> & co": T0.isoformat()}
    )
    assert "(нет подтверждённой цены BTC; &lt;coinbase&gt; &amp; co не отвечают с 10:00 UTC)" in render_event(
        stale, "ru"
    )
