"""Splitting forgiving command arguments: ``s19 xp 5.5c``, ``21.5 0.055``, ``"S21 Pro" $0.06``."""

from __future__ import annotations

import re

from bot.chat.parsing import parse_power_usd_per_kwh
from bot.chat.reply import Reply
from bot.economics.machines import Machine, PowerUnknown, UnknownMachine, parse_machine
from handlers.format import error_reply

_POWER_MARKERS = re.compile(r"(^\$)|([c¢]$)|(/kwh$)|(^0?[.,]\d+$)", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")


def looks_like_power(token: str) -> bool:
    """A token is a power price when it carries a marker (``$``, ``c``, ``/kWh``) or is a decimal below 1."""
    return bool(_POWER_MARKERS.search(token.strip()))


def split_machine_and_power(args: str) -> tuple[str, str | None]:
    """``"s19 xp 5.5c"`` -> ``("s19 xp", "5.5c")``; the last token is the power price if it looks like one.

    With two or more tokens a bare trailing number is a power price too (``21.5 6`` = 21.5 J/TH at 6c).
    """
    tokens = args.replace('"', " ").split()
    if not tokens:
        return "", None
    last = tokens[-1]
    if looks_like_power(last) or (len(tokens) > 1 and _BARE_NUMBER.match(last)):
        return " ".join(tokens[:-1]), last
    return " ".join(tokens), None


def machine_from_text(text: str) -> Machine:
    """A catalog name, ``200TH@3500W``, ``17.5J/TH``, or a bare number read as J/TH (``21.5``)."""
    stripped = text.strip()
    if _BARE_NUMBER.match(stripped):
        stripped = f"{stripped.replace(',', '.')}J/TH"
    return parse_machine(stripped)


def power_from_text(text: str | None, default: float) -> float:
    """The power price typed, or ``default`` when none was."""
    return default if text is None else parse_power_usd_per_kwh(text)


def machine_and_power(
    lang: str, args: str, machine: Machine, power_usd_per_kwh: float, example: str
) -> tuple[Machine, float] | Reply:
    """The machine and power price typed in ``args`` (each defaulting to the given one), or an error reply."""
    machine_text, power_text = split_machine_and_power(args)
    try:
        if machine_text:
            machine = machine_from_text(machine_text)
    except UnknownMachine as error:
        closest = ", ".join(error.suggestions)
        return error_reply(lang, "error.unknown_machine", example, text=error.text, closest=closest)
    except PowerUnknown as error:
        return error_reply(lang, "error.power_unknown", name=error.machine.name)
    except ValueError:
        return error_reply(lang, "error.bad_machine", example, text=machine_text)
    try:
        return machine, power_from_text(power_text, power_usd_per_kwh)
    except ValueError:
        return error_reply(lang, "error.bad_power", example, text=power_text)
