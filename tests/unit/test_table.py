"""Table layouts: ``compact_table`` for a phone's monospace block, ``table_fields`` for Discord's embeds."""

from __future__ import annotations

from bot.render.table import PHONE_WIDTH, compact_table, format_table
from bot.transports.markup import table_fields

ROWS = [
    ("BTC price", "$104,321"),
    ("Hashprice", "$52.10/PH/day"),
    ("", "52.1 sats/TH/day"),
    ("Cost per BTC", ""),
    (" bottom-up", "$87k, price +20%"),
    (" regression", "$80k, price +30%"),
    ("Next adj.", "-12.35%"),
    (" ETA", "2026-02-10 21:00 UTC"),
]


def test_values_align_one_space_after_the_longest_label() -> None:
    assert compact_table(ROWS) == (
        "BTC price   $104,321\n"
        "Hashprice   $52.10/PH/day\n"
        "            52.1 sats/TH/day\n"
        "Cost per BTC\n"
        " bottom-up  $87k, price +20%\n"
        " regression $80k, price +30%\n"
        "Next adj.   -12.35%\n"
        " ETA        2026-02-10 21:00 UTC"
    )


def test_long_values_wrap_under_their_column_and_long_labels_take_a_line() -> None:
    rows = [
        ("Fees/block", "n/a (subsidy only, no fee source answering)"),
        ("A label longer than twelve", "42"),
        ("Note", "x" * 50),
        ("A heading far too long for one line of a phone's screen", ""),
    ]
    lines = compact_table(rows).split("\n")
    assert all(len(line) <= PHONE_WIDTH for line in lines)
    assert lines[:2] == ["Fees/block n/a (subsidy only, no", "           fee source answering)"]
    assert lines[2:4] == ["A label longer than twelve", "           42"]
    assert lines[4:7] == ["Note       " + "x" * 21, "           " + "x" * 21, "           " + "x" * 8]
    assert lines[7:] == ["A heading far too long for one", "line of a phone's screen"]


def test_a_no_break_space_keeps_a_number_with_its_unit() -> None:
    nbsp = "\u00a0"
    lines = compact_table([("Себестоимость", ""), (" регрессия", f"77{nbsp}тыс.{nbsp}$, цена −13,5{nbsp}%")])
    assert lines.split("\n")[1:] == [f" регрессия 77{nbsp}тыс.{nbsp}$, цена", f"           −13,5{nbsp}%"]


def test_the_terminal_table_keeps_one_line_per_row() -> None:
    assert (
        format_table(ROWS[:3], title="T")
        == "T\nBTC price  $104,321\nHashprice  $52.10/PH/day\n           52.1 sats/TH/day"
    )


def test_embed_fields_group_sub_rows_and_continuations() -> None:
    assert table_fields(ROWS) == [
        ("BTC price", ["$104,321"]),
        ("Hashprice", ["$52.10/PH/day", "52.1 sats/TH/day"]),
        ("Cost per BTC", ["bottom-up: $87k, price +20%", "regression: $80k, price +30%"]),
        ("Next adj.", ["-12.35%", "ETA: 2026-02-10 21:00 UTC"]),
    ]
    assert table_fields([("Antminer S19", ""), ("", "95 TH/s, 3,250 W, 34.2 J/TH")]) == [
        ("Antminer S19", ["95 TH/s, 3,250 W, 34.2 J/TH"])
    ]
