"""Message catalogs (bot.render.i18n), per-language number formats and the command menus."""

from __future__ import annotations

import re
import string
from datetime import timedelta

import pytest

from bot.render import i18n
from bot.render import numbers as fmt
from bot.render.i18n import EN, RU, SUPPORTED, model_name, plural, resolve_language, t
from handlers.help import COMMANDS, command_menu

NBSP = "\u00a0"


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def tags(template: str) -> list[str]:
    return sorted(re.findall(r"</?[a-z]+>", template))


def test_every_english_key_has_a_russian_one_and_no_other() -> None:
    assert set(RU) == set(EN)


@pytest.mark.parametrize("key", sorted(EN))
def test_a_translation_keeps_the_placeholders_and_markup(key: str) -> None:
    assert placeholders(RU[key]) == placeholders(EN[key])
    assert tags(RU[key]) == tags(EN[key])
    assert RU[key].strip()


def test_plural_entries_have_each_languages_forms() -> None:
    units = [key for key in EN if key.startswith("unit.")]
    assert units
    for key in units:
        assert len(EN[key].split("|")) == 2
        assert len(RU[key].split("|")) == 3


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 дней"),
        (1, "1 день"),
        (2, "2 дня"),
        (4, "4 дня"),
        (5, "5 дней"),
        (11, "11 дней"),
        (12, "12 дней"),
        (14, "14 дней"),
        (21, "21 день"),
        (22, "22 дня"),
        (25, "25 дней"),
        (101, "101 день"),
        (111, "111 дней"),
        (1_001, f"1{NBSP}001 день"),
    ],
)
def test_russian_plurals(count: int, text: str) -> None:
    assert plural("ru", "unit.day", count) == text


def test_english_plurals() -> None:
    assert plural("en", "unit.day", 1) == "1 day"
    assert plural("en", "unit.day", 0) == "0 days"
    assert plural("en", "unit.block", 1_720) == "1,720 blocks"
    assert plural("xx", "unit.hour", 2) == "2 hours"


def test_fallbacks_to_english() -> None:
    assert t("xx", "report.btc_price") == "BTC price"
    assert t("ru", "report.btc_price") == "Цена BTC"
    assert resolve_language("xx") == "en"
    assert resolve_language(None) == "en"
    assert resolve_language("ru") == "ru"
    assert SUPPORTED == ("en", "ru")


def test_a_key_missing_from_a_catalog_falls_back_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    partial = {"report.btc_price": "Prix du BTC"}
    monkeypatch.setitem(i18n.CATALOGS, "fr", partial)
    assert t("fr", "report.btc_price") == "Prix du BTC"
    assert t("fr", "report.height") == "Height"
    assert plural("fr", "unit.day", 2) == "2 days"


def test_an_unknown_key_is_a_bug() -> None:
    with pytest.raises(KeyError):
        t("en", "no.such.key")


def test_values_are_filled_in() -> None:
    assert t("en", "report.breakeven_title", machine="S19") == "Breakeven: S19"
    assert t("ru", "report.breakeven_title", machine="S19") == "Безубыточность: S19"


def test_model_names() -> None:
    assert model_name("en", "difficulty-regression") == "difficulty-regression"
    assert model_name("ru", "bottom-up") == "расчёт снизу вверх"
    assert model_name("ru", "something-new") == "something-new"


@pytest.mark.parametrize(
    ("lang", "money", "power", "pct", "signed"),
    [
        ("en", "$66,680", "$0.0406/kWh", "-11.1%", "+5.0%"),
        ("ru", f"66{NBSP}680{NBSP}$", f"0,0406{NBSP}$/кВт·ч", f"−11,1{NBSP}%", f"+5,0{NBSP}%"),
    ],
)
def test_number_formats(lang: str, money: str, power: str, pct: str, signed: str) -> None:
    assert fmt.usd(66_680.4, 0, lang) == money
    assert fmt.usd_per_kwh(0.040_61, lang) == power
    assert fmt.percent(-0.1107, lang=lang) == pct
    assert fmt.percent(0.05, lang=lang) == signed


def test_english_formats_are_unchanged_for_the_cli() -> None:
    assert fmt.usd(-1.2, 2) == "-$1.20"
    assert fmt.usd(1_234_567.891, 2) == "$1,234,567.89"
    assert fmt.percent(0.02, None, signed=False) == "2%"
    assert fmt.big(125.86e12) == "125.86 T"
    assert fmt.big(900.9e18, "H/s") == "900.90 EH/s"
    assert fmt.duration(timedelta(days=3, hours=4)) == "3d 4h"
    assert fmt.duration(timedelta(seconds=42)) == "42s"
    assert fmt.usd(float("nan")) == "n/a"


def test_russian_formats() -> None:
    assert fmt.usd(-1.2, 2, "ru") == f"−1,20{NBSP}$"
    assert fmt.number(1_234.5, None, "ru") == f"1{NBSP}234,5"
    assert fmt.big(125.86e12, "", "ru") == "125,86 T"
    assert fmt.duration(timedelta(hours=5, minutes=12), "ru") == f"5{NBSP}ч 12{NBSP}мин"
    assert fmt.usd(-0.001, 2, "ru") == f"0,00{NBSP}$"


def test_command_menus_in_both_languages() -> None:
    menus = {lang: command_menu(lang) for lang in SUPPORTED}
    names = [name for name, _ in COMMANDS]
    for lang, menu in menus.items():
        assert [name for name, _ in menu] == names
        for name, description in menu:
            assert re.fullmatch(r"[a-z0-9_]{1,32}", name)
            assert 0 < len(description) <= 256, (lang, name)
    assert "chart" in names
    assert dict(menus["ru"])["status"] != dict(menus["en"])["status"]


@pytest.mark.parametrize(
    ("value", "digits", "en", "ru"),
    [
        (86_943.0, 2, "$87k", f"87{NBSP}тыс.{NBSP}$"),
        (86_943.0, 3, "$86.9k", f"86,9{NBSP}тыс.{NBSP}$"),
        (81_600.0, 3, "$81.6k", f"81,6{NBSP}тыс.{NBSP}$"),
        (99_960.0, 2, "$100k", f"100{NBSP}тыс.{NBSP}$"),
        (1_234_567.0, 2, "$1.2M", f"1,2{NBSP}млн{NBSP}$"),
        (631.4, 2, "$630", f"630{NBSP}$"),
        (4.234, 2, "$4.2", f"4,2{NBSP}$"),
        (86_943.0, 1, "$90k", f"90{NBSP}тыс.{NBSP}$"),
    ],
)
def test_model_outputs_print_to_their_significant_digits(value: float, digits: int, en: str, ru: str) -> None:
    assert fmt.usd_approx(value, digits) == en
    assert fmt.usd_approx(value, digits, "ru") == ru


def test_significant_digits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="significant_digits"):
        fmt.usd_approx(86_943.0, 0)


def test_a_platform_wording_overrides_its_text_in_each_language() -> None:
    variants = [key for key in EN if "@" in key]
    assert variants
    for key in variants:
        base, platform = key.split("@")
        assert base in EN and platform in {"telegram", "discord", "console"}, key
        assert placeholders(EN[key]) == placeholders(EN[base]), key
    example = {"example": "/subscribe price below 60k"}
    assert t("en", "subscribe.what", "discord", **example).startswith("What should I watch? Press a button")
    assert t("ru", "subscribe.what", "discord", **example).startswith("Что отслеживать? Нажмите кнопку ниже")
    assert t("en", "subscribe.what", "telegram", **example) == t("en", "subscribe.what", **example)
    assert t("xx", "subscribe.what", "console", **example) == t("en", "subscribe.what", "console", **example)
    assert t("ru", "help.start", "discord") == RU["help.start"]  # no Discord wording: the common one
