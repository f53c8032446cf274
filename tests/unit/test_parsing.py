"""The forgiving grammar shared by the CLI and the chat commands: numbers, machines, and their readings."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.chat.parsing import (
    ArgumentError,
    Reading,
    parse_machine_arguments,
    parse_percent,
    parse_positive,
    parse_power_usd_per_kwh,
    parse_price_usd,
    read_power_usd_per_kwh,
)
from bot.data import load_machines
from bot.render.i18n import SUPPORTED, t
from bot.render.readings import read_as_data, read_as_line


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


@pytest.mark.parametrize("text", ["", "abc", "0", "-0.05", "-1", "nan", "inf", "600", "$$5", "5.5x"])
def test_bad_power_prices_explain_with_both_units(text: str) -> None:
    with pytest.raises(ArgumentError, match=r"is not a power price: give \$/kWh like 0\.06 or cents like 6c"):
        parse_power_usd_per_kwh(text)


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("1", Reading("1", "cents_per_kwh", 0.01)),
        ("6", Reading("6", "cents_per_kwh", 0.06)),
        ("5.5", Reading("5.5", "cents_per_kwh", 0.055)),
        ("0.99", Reading("0.99", "usd_per_kwh", 0.99)),
        ("0.06", Reading("0.06", "usd_per_kwh", 0.06)),
        (".06", Reading(".06", "usd_per_kwh", 0.06)),
        ("6c", None),
        ("5.5¢", None),
        ("$0.06", None),
        ("$1", None),
        ("0.06/kWh", None),
    ],
)
def test_a_bare_power_price_says_how_it_was_read(text: str, reading: Reading | None) -> None:
    """Below 1 a bare number is dollars, from 1 up cents; only a value without its unit has a reading."""
    value, read = read_power_usd_per_kwh(text)
    if reading is None:
        assert read is None
    else:
        assert read is not None and (read.typed, read.kind) == (reading.typed, reading.kind)
        assert value == read.value == pytest.approx(reading.value)


@pytest.mark.parametrize(
    ("text", "english", "russian"),
    [
        ("1", "Read as: 1 → 1¢/kWh.", "Понято так: 1 → 1 ¢/кВт·ч."),
        ("0.99", "Read as: 0.99 → $0.99/kWh.", "Понято так: 0.99 → 0,99 $/кВт·ч."),
    ],
)
def test_the_echo_names_the_unit_in_both_languages(text: str, english: str, russian: str) -> None:
    _, reading = read_power_usd_per_kwh(text)
    assert reading is not None
    assert read_as_line([reading], "en") == english
    assert read_as_line([reading], "ru") == russian
    assert read_as_data([reading]) == [
        {"typed": text, "usd_per_kwh": pytest.approx(reading.value), "read_as": english[9:-1]}
    ]


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


S19, S19_XP, S21_PRO = "Antminer S19", "Antminer S19 XP", "Antminer S21 Pro"


@pytest.mark.parametrize(
    ("text", "machine", "j_per_th", "usd_per_kwh", "echo"),
    [
        ("", None, None, None, ""),
        ("5.5c", None, None, 0.055, ""),  # the power price alone: the machine stays the chat's
        ("$0.06", None, None, 0.06, ""),
        ("5 cents", None, None, 0.05, ""),
        ("s19 xp 5.5 ¢", S19_XP, 21.5, 0.055, ""),
        ("0.06", None, None, 0.06, "Read as: 0.06 → $0.06/kWh."),
        ("6", "custom 6 J/TH", 6.0, None, "Read as: 6 → 6 J/TH."),
        ("s19", S19, 34.2, None, ""),
        ("s19 xp", S19_XP, 21.5, None, ""),
        ("s19 xp 5.5c", S19_XP, 21.5, 0.055, ""),
        ("S19XP $0.055", S19_XP, 21.5, 0.055, ""),
        ('"S21 Pro" 0.06', S21_PRO, 15.0, 0.06, "Read as: 0.06 → $0.06/kWh."),
        ("s19 1", S19, 34.2, 0.01, "Read as: 1 → 1¢/kWh."),
        ("21.5 0.06", "custom 21.5 J/TH", 21.5, 0.06, "Read as: 21.5 → 21.5 J/TH, 0.06 → $0.06/kWh."),
        ("21,5 6", "custom 21.5 J/TH", 21.5, 0.06, "Read as: 21,5 → 21.5 J/TH, 6 → 6¢/kWh."),
        ("17.5 J/TH 6c", "custom 17.5 J/TH", 17.5, 0.06, ""),
        (
            "200@3500 6c",
            "custom 200 TH/s @ 3500 W",
            17.5,
            0.06,
            "Read as: 200@3500 → 200 TH/s at 3,500 W = 17.5 J/TH.",
        ),
        ("200TH@3500W", "custom 200 TH/s @ 3500 W", 17.5, None, ""),
        ("0.2 PH/s @ 3.5 kW 5.5c", "custom 200 TH/s @ 3500 W", 17.5, 0.055, ""),
    ],
)
def test_machine_and_power_arguments(
    text: str, machine: str | None, j_per_th: float | None, usd_per_kwh: float | None, echo: str
) -> None:
    typed = parse_machine_arguments(text)
    assert (typed.machine and typed.machine.name) == machine
    if j_per_th is not None:
        assert typed.machine is not None and typed.machine.j_per_th == pytest.approx(j_per_th, abs=0.05)
    assert typed.power_usd_per_kwh == (None if usd_per_kwh is None else pytest.approx(usd_per_kwh))
    assert read_as_line(typed.readings) == echo


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        # a trailing word that starts like a number is the power price, never part of the name
        ("s19 -1", "error.bad_power", "'-1' is not a power price: give $/kWh like 0.06 or cents like 6c"),
        ("s19 xp 600c", "error.bad_power", "'600c' is not a power price"),
        ("21.5 -0.06", "error.bad_power", "'-0.06' is not a power price"),
        # junk in a name is refused, listing the closest names, instead of being matched silently
        (
            "s19✓",
            "error.machine_junk",
            "Unknown machine 's19✓': no machine name has '✓'. Closest: Antminer S19",
        ),
        ("s19✓ 5c", "error.machine_junk", "Unknown machine 's19✓'"),
        ("с19", "error.machine_junk", "no machine name has 'с'"),  # a Cyrillic с
        ("s19 banana", "error.unknown_machine", "Unknown machine 's19 banana'. Closest: Antminer S19"),
        ("s99 5c", "error.unknown_machine", "Unknown machine 's99'"),
        ("a1 6", "error.unknown_machine", "Unknown machine 'a1'"),  # not Avalon A16
        ("99999 6c", "error.bad_machine", "'99999' is not a machine I can use"),
        ("a1346 5c", "error.power_unknown", "Power of Avalon A1346 is unknown"),
        ("s19 5c 6c", "error.extra_arguments", "After Antminer S19 I expected one power price, not '5c 6c'"),
    ],
)
def test_machine_argument_mistakes(text: str, key: str, message: str) -> None:
    with pytest.raises(ArgumentError) as refused:
        parse_machine_arguments(text)
    assert refused.value.key == key
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    for lang in SUPPORTED:  # every language has the message and fills every field
        assert "{" not in t(lang, key, **refused.value.fields)


def test_every_catalog_name_and_alias_resolves_alone_and_before_a_power_price() -> None:
    for machine in load_machines():
        for name in (machine.name, *machine.aliases):
            if machine.power_unknown:
                with pytest.raises(ArgumentError, match="is unknown"):
                    parse_machine_arguments(f"{name} 5c")
                continue
            typed = parse_machine_arguments(f"{name} 5c")
            assert typed.machine == machine and typed.power_usd_per_kwh == pytest.approx(0.05), name


POWER_IN_CENTS = st.decimals(min_value="0.01", max_value="500", places=2, allow_nan=False)


@given(POWER_IN_CENTS)
def test_cents_with_their_unit_round_trip(cents: object) -> None:
    assert parse_power_usd_per_kwh(f"{cents}c") == pytest.approx(float(str(cents)) / 100)


@given(st.decimals(min_value="0.001", max_value="0.999", places=3), st.booleans())
def test_a_bare_number_below_one_is_dollars_and_echoes_it(usd: object, rated: bool) -> None:
    machine = "200@3500" if rated else "s19"
    typed = parse_machine_arguments(f"{machine} {usd}")
    assert typed.power_usd_per_kwh == pytest.approx(float(str(usd)))
    read = typed.readings[-1]
    assert (read.typed, read.kind, read.value) == (str(usd), "usd_per_kwh", typed.power_usd_per_kwh)


@given(st.decimals(min_value="1", max_value="500", places=1))
def test_a_bare_number_from_one_up_is_cents_and_echoes_it(cents: object) -> None:
    typed = parse_machine_arguments(f"s19xp {cents}")
    assert typed.power_usd_per_kwh == pytest.approx(float(str(cents)) / 100)
    assert read_as_line(typed.readings).startswith(f"Read as: {cents} → ")


@given(st.floats(min_value=3, max_value=200).map(lambda j: round(j, 2)))
def test_a_bare_efficiency_round_trips(j_per_th: float) -> None:
    typed = parse_machine_arguments(f"{j_per_th} 6c")
    assert typed.machine is not None and typed.machine.j_per_th == pytest.approx(j_per_th)
    assert typed.readings[0].kind == "j_per_th"


@given(st.text(max_size=30))
def test_machine_arguments_raise_nothing_but_argument_error(text: str) -> None:
    with contextlib.suppress(ArgumentError):
        parse_machine_arguments(text)
