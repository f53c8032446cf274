"""The forgiving number grammar shared by the CLI and the chat commands."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.chat.parsing import parse_percent, parse_positive, parse_power_usd_per_kwh, parse_price_usd


@pytest.mark.parametrize(
    ("text", "usd_per_kwh"),
    [
        ("0.055", 0.055),
        ("$0.055", 0.055),
        ("5.5c", 0.055),
        ("5.5¢", 0.055),
        ("5.5 c", 0.055),
        ("0,055", 0.055),
        (".05", 0.05),
        ("6", 0.06),
        ("0.055/kWh", 0.055),
        ("5.5 cents", 0.055),
    ],
)
def test_power_prices(text: str, usd_per_kwh: float) -> None:
    assert parse_power_usd_per_kwh(text) == pytest.approx(usd_per_kwh)


@pytest.mark.parametrize("text", ["", "abc", "0", "-0.05", "nan", "inf", "600", "$$5", "5.5x"])
def test_bad_power_prices_explain_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"0\.055"):
        parse_power_usd_per_kwh(text)


@pytest.mark.parametrize(
    ("text", "usd"),
    [
        ("60000", 60_000),
        ("60k", 60_000),
        ("$60K", 60_000),
        ("60.5k", 60_500),
        ("60,000", 60_000),
        ("1.2m", 1_200_000),
        ("66 680", 66_680),
    ],
)
def test_btc_prices(text: str, usd: float) -> None:
    assert parse_price_usd(text) == pytest.approx(usd)


@pytest.mark.parametrize("text", ["0", "-60k", "nan", "60kk", "99", "20m", "sixty"])
def test_bad_btc_prices(text: str) -> None:
    with pytest.raises(ValueError, match="60k"):
        parse_price_usd(text)


def test_percent_and_positive() -> None:
    assert parse_percent("2.5%", name="pool fee") == 2.5
    with pytest.raises(ValueError, match="pool fee"):
        parse_percent("150", name="pool fee")
    assert parse_positive("17.5", name="efficiency", example="17.5") == 17.5
    with pytest.raises(ValueError, match="efficiency 'nan'"):
        parse_positive("nan", name="efficiency", example="17.5")


@given(st.text(max_size=40))
def test_parsers_never_raise_anything_but_value_error(text: str) -> None:
    for parse in (parse_power_usd_per_kwh, parse_price_usd):
        with contextlib.suppress(ValueError):
            parse(text)
