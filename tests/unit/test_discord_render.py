"""Table replies as Discord embeds: inline fields within Discord's embed limits
(https://discord.com/developers/docs/resources/message#embed-object-embed-limits)."""

from __future__ import annotations

import discord

from bot.chat.reply import Button, Reply, Table
from bot.transports.discord import (
    EMBEDS_TOTAL_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    MAX_FIELDS,
    render_reply,
)


def total(embeds: list[discord.Embed]) -> int:
    """Characters Discord counts toward the 6,000 of a message (``discord.Embed.__len__``)."""
    return sum(len(embed) for embed in embeds)


def test_a_table_becomes_inline_fields_and_its_notes_the_description() -> None:
    table = Table(
        "Breakeven: S19",
        (("Machine", "95 TH/s"), ("Breaks even at", ""), (" power", "$0.04/kWh")),
        "<i>Data 1m old.</i>",
    )
    embeds, files, view = render_reply(
        Reply("ignored on Discord", table=table, buttons=((Button("Go", "/x"),),))
    )
    (embed,) = embeds
    assert embed.title == "Breakeven: S19" and embed.description == "*Data 1m old.*" and files == []
    assert [(f.name, f.value, f.inline) for f in embed.fields] == [
        ("Machine", "95 TH/s", True),
        ("Breaks even at", "power: $0.04/kWh", True),
    ]
    assert [item.custom_id for item in view.children] == ["mw:/x"]  # type: ignore[attr-defined]


def test_more_than_25_fields_continue_in_another_embed() -> None:
    rows = tuple((f"Machine {n}", f"{n} TH/s") for n in range(60))
    embeds, _, _ = render_reply(Reply("", table=Table("Catalog", rows)))
    assert [len(embed.fields) for embed in embeds] == [MAX_FIELDS, MAX_FIELDS, 10]
    assert embeds[0].title == "Catalog" and embeds[1].title is None


def test_names_values_and_the_total_stay_within_discords_limits() -> None:
    rows = tuple(("n" * 300 + str(n), "v" * 2000) for n in range(20))
    embeds, _, _ = render_reply(Reply("", table=Table("Long", rows, "note")))
    fields = [field for embed in embeds for field in embed.fields]
    assert all(
        len(f.name or "") <= FIELD_NAME_LIMIT and len(f.value or "") <= FIELD_VALUE_LIMIT for f in fields
    )
    assert total(embeds) <= EMBEDS_TOTAL_LIMIT and len(fields) == 4  # 4 x (256 + 1024) fit, a fifth does not


def test_empty_names_and_values_get_a_zero_width_space() -> None:
    embeds, _, _ = render_reply(Reply("", table=Table("T", (("", "continues nothing"), ("Heading", "")))))
    assert [(f.name, f.value) for f in embeds[0].fields] == [
        ("\u200b", "continues nothing"),
        ("Heading", "\u200b"),
    ]


def test_a_plain_reply_is_still_one_embed_from_its_html() -> None:
    (embed,), _, _ = render_reply(Reply("<b>Hashprice</b>\n$52.10/PH/day"))
    assert embed.title == "Hashprice" and embed.description == "$52.10/PH/day" and not embed.fields
