"""ASIC catalog and lookup: the shipped rows, name matching, custom machines, unknown power."""

import pytest

from bot.data import load_machines
from bot.economics.machines import (
    Machine,
    PowerUnknown,
    UnknownMachine,
    find_machine,
    list_machines,
    normalise_machine_name,
    parse_machine,
    parse_machines_csv,
)

SECTION_4_MODELS = [
    "Antminer S19",
    "Antminer S19 Pro",
    "Antminer S19j Pro",
    "Antminer S19k Pro",
    "Antminer S19 XP",
    "Antminer S21",
    "Antminer S21+",
    "Antminer S21 Pro",
    "Antminer S21 XP",
    "Antminer S21 XP Hyd",
    "Antminer S21+ Hyd",
    "Antminer T21",
    "Whatsminer M30S++",
    "Whatsminer M50S",
    "Whatsminer M50S++",
    "Whatsminer M60S",
    "Whatsminer M63S",
    "Avalon A1346",
    "Avalon A1366",
    "Avalon A1466",
    "Avalon A1566",
    "Avalon A16",
    "Avalon A16 XP",
]
NEWER_MODELS = ["Whatsminer M60", "Whatsminer M66S", "Whatsminer M66S+", "Antminer S23 Hyd"]
"""Added from published specs of machines shipping in 2025-2026 (sources in the catalog rows)."""
POWER_UNKNOWN = ["Avalon A1346", "Avalon A1366", "Whatsminer M60", "Antminer S23 Hyd"]


def test_catalog_covers_section_4_and_cites_sources() -> None:
    machines = load_machines()
    assert sorted(m.name for m in machines) == sorted(SECTION_4_MODELS + NEWER_MODELS)
    assert all(m.source and m.maker and m.year for m in machines)
    assert sorted(m.name for m in machines if m.power_unknown) == sorted(POWER_UNKNOWN)


@pytest.mark.parametrize(
    ("name", "j_per_th"),
    [
        ("Antminer S19", 34.2),
        ("Antminer S19 XP", 21.5),
        ("Antminer S21", 17.5),
        ("Antminer S21 XP Hyd", 12.0),
        ("Whatsminer M60S", 18.5),
        ("Avalon A1366", 25.0),  # quoted J/TH, power unknown
        ("Avalon A16 XP", 12.8),
    ],
)
def test_efficiency_matches_the_table(name: str, j_per_th: float) -> None:
    assert find_machine(name).j_per_th == pytest.approx(j_per_th, abs=0.05)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("s19xp", "Antminer S19 XP"),
        ("S19 XP", "Antminer S19 XP"),
        ("antminer-s21-pro", "Antminer S21 Pro"),
        ("s21 xp hyd", "Antminer S21 XP Hyd"),
        ("S21 XP Hydro", "Antminer S21 XP Hyd"),
        ("M60S", "Whatsminer M60S"),
        ("a1466", "Avalon A1466"),
        ("AvalonMiner A1466", "Avalon A1466"),
        ("Bitmain Antminer S21+", "Antminer S21+"),
        ("s21 plus", "Antminer S21+"),
        ("S21", "Antminer S21"),
        ("m30s++", "Whatsminer M30S++"),
        ("MicroBT Whatsminer M63S Hydro", "Whatsminer M63S"),
    ],
)
def test_fuzzy_lookup(text: str, name: str) -> None:
    assert find_machine(text).name == name
    assert parse_machine(text).name == name


def test_normalisation() -> None:
    assert normalise_machine_name("Antminer S21 XP Hydro") == "s21xphyd"
    assert normalise_machine_name("S21+") != normalise_machine_name("S21")


@pytest.mark.parametrize(
    ("text", "first"), [("S9", "Antminer S19"), ("S21 XP Hy", "Antminer S21 XP Hyd"), ("", None)]
)
def test_unknown_machine_suggests_three_closest(text: str, first: str | None) -> None:
    with pytest.raises(UnknownMachine) as caught:
        find_machine(text)
    assert caught.value.text == text
    assert len(caught.value.suggestions) == 3
    assert set(caught.value.suggestions) <= set(SECTION_4_MODELS)
    if first is not None:
        assert caught.value.suggestions[0] == first
    assert isinstance(caught.value, LookupError)


@pytest.mark.parametrize(
    ("text", "hashrate_ths", "power_w"),
    [
        ("200TH@3500W", 200.0, 3500.0),
        ("200th@3500w", 200.0, 3500.0),
        (" 200 TH/s @ 3500 W ", 200.0, 3500.0),
        ("200TH@3.5kW", 200.0, 3500.0),
        ("0.2PH@3.5KW", 200.0, 3500.0),
        ("473 th @ 5676 w", 473.0, 5676.0),
    ],
)
def test_custom_rated_machine(text: str, hashrate_ths: float, power_w: float) -> None:
    machine = parse_machine(text)
    assert machine.hashrate_ths == pytest.approx(hashrate_ths)
    assert machine.power_w == pytest.approx(power_w)
    assert machine.j_per_th == pytest.approx(power_w / hashrate_ths)
    assert machine.year is None and machine.source is None


@pytest.mark.parametrize("text", ["17.5J/TH", "17.5 j/th", "17.5 J / TH", "17.5W/TH"])
def test_custom_efficiency_only(text: str) -> None:
    assert parse_machine(text) == Machine("custom 17.5 J/TH", None, None, 17.5, None)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("0TH@3500W", "hashrate 0 TH/s"),
        ("-200TH@3500W", "hashrate -200 TH/s"),
        ("200TH@0W", "power 0 W"),
        ("200TH@-3500W", "power -3500 W"),
        ("200PH@3500W", "hashrate 200000 TH/s"),
        ("200TH@900kW", "power 900000 W"),
        ("200TH@35W", "efficiency 0.175 J/TH"),
        ("0J/TH", "efficiency 0 J/TH"),
        ("-17.5J/TH", "efficiency -17.5 J/TH"),
        ("1000 J/TH", "efficiency 1000 J/TH"),
    ],
)
def test_custom_machine_rejects_absurd_values(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_machine(text)


def test_list_machines_sorted_by_efficiency() -> None:
    machines = list_machines()
    assert len(machines) == len(SECTION_4_MODELS + NEWER_MODELS)
    assert [m.j_per_th for m in machines] == sorted(m.j_per_th for m in machines)
    assert machines[0].name == "Antminer S23 Hyd"
    assert machines[-1].name == "Antminer S19"


HEADER = "name,maker,hashrate_ths,power_w,j_per_th,year,aliases,source\n"


def test_custom_catalog_and_its_errors() -> None:
    catalog = parse_machines_csv(
        HEADER + "Box One,Acme,100,2500,,2024,B1;Box 1,spec sheet\nBox Two,Acme,,,20,,,sheet\n"
    )
    assert find_machine("b1", catalog).name == "Box One"
    assert find_machine("box two", catalog).year is None
    assert [m.name for m in list_machines(catalog)] == ["Box Two", "Box One"]
    bad = {
        "Box,Acme,,,,2024,,src\n": "line 2: needs hashrate_ths and power_w",
        "Box,Acme,100,2000,,2024,,\n": "line 2: source is empty",
        "Box,Acme,100,1,,2024,,src\n": "line 2: efficiency 0.01 J/TH",
        "Box,Acme,x,1,,2024,,src\n": "line 2: could not convert",
        "Box 1,Acme,100,2000,,2024,,src\nBox-1,Acme,100,2000,,2024,,src\n": "line 3: 'Box-1' and 'Box 1'",
    }
    for body, message in bad.items():
        with pytest.raises(ValueError, match=message):
            parse_machines_csv(HEADER + body)
    with pytest.raises(ValueError, match="lacks columns"):
        parse_machines_csv("name,maker\nX,Y\n")


@pytest.mark.parametrize(
    ("text", "name", "hashrate_ths", "j_per_th"),
    [
        ("m66s", "Whatsminer M66S", 298, 5500 / 298),
        ("M66S+ Hydro", "Whatsminer M66S+", 314, 5338 / 314),  # 17.0 J/TH as published
        ("whatsminer m66s plus", "Whatsminer M66S+", 314, 5338 / 314),
    ],
)
def test_newer_machines_from_published_specs(
    text: str, name: str, hashrate_ths: float, j_per_th: float
) -> None:
    machine = parse_machine(text)
    assert (machine.name, machine.hashrate_ths) == (name, hashrate_ths)
    assert machine.j_per_th == pytest.approx(j_per_th)


@pytest.mark.parametrize("name", POWER_UNKNOWN)
def test_a_machine_whose_power_is_unknown_is_never_costed(name: str) -> None:
    with pytest.raises(PowerUnknown, match=rf"^power of {name} is unknown; give it as 200TH@3500W$"):
        parse_machine(name)
    assert find_machine(name).power_w is None


def test_custom_machines_are_never_power_unknown() -> None:
    assert not parse_machine("17.5J/TH").power_unknown
    assert not parse_machine("200TH@3500W").power_unknown


@pytest.mark.parametrize(("text", "junk"), [("s19✓", "✓"), ("S19 XP!", "!"), ("с19", "с"), ("s21<b>", "<>")])
def test_a_character_no_name_has_is_refused_not_dropped(text: str, junk: str) -> None:
    """Matching keys drop separators; they must not drop junk and so match ``s19✓`` to the S19."""
    with pytest.raises(UnknownMachine) as refused:
        find_machine(text)
    assert refused.value.junk == junk
    assert refused.value.suggestions and f"{junk!r} is in no machine name" in str(refused.value)
