"""``MACHINE [POWER]`` arguments of /breakeven, /margin and /profile, read by the shared grammar of
``bot.chat.parsing``: a refusal becomes a one-line error reply in the chat's language."""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.chat.parsing import ArgumentError, Reading, parse_machine_arguments
from bot.chat.reply import Reply
from bot.economics.machines import Machine
from bot.render.readings import read_as_line
from handlers.format import error_reply


@dataclass(frozen=True, slots=True)
class MachineAndPower:
    """The machine and power price to use, whether a machine was typed, and the echo of bare values."""

    machine: Machine
    power_usd_per_kwh: float
    machine_typed: bool
    readings: tuple[Reading, ...]
    power_typed: bool = False

    def read_as_html(self, lang: str) -> str:
        """``Read as: 1 → 1¢/kWh.`` escaped for HTML, or ``""`` when every value carried its unit."""
        return html.escape(read_as_line(self.readings, lang))


def machine_and_power(
    lang: str, args: str, machine: Machine, power_usd_per_kwh: float, example: str
) -> MachineAndPower | Reply:
    """The machine and power price typed in ``args`` (each defaulting to the given one), or an error reply."""
    try:
        typed = parse_machine_arguments(args)
    except ArgumentError as error:
        return error_reply(lang, error.key, example, **error.fields)
    return MachineAndPower(
        typed.machine or machine,
        power_usd_per_kwh if typed.power_usd_per_kwh is None else typed.power_usd_per_kwh,
        typed.machine is not None,
        typed.readings,
        typed.power_usd_per_kwh is not None,
    )
