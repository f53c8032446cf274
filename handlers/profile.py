"""/profile and /lang: the chat's machine, power price and language."""

from __future__ import annotations

import html
import re
from dataclasses import replace

from bot.economics.machines import UnknownMachine
from bot.parsing import parse_percent, parse_positive
from handlers.arguments import machine_from_text, power_from_text, split_machine_and_power
from handlers.context import ChatProfile, Request, Services
from handlers.format import error_html
from handlers.reply import Reply
from handlers.subscriptions import ADMINS_ONLY

PROFILE_EXAMPLE = "/profile s19xp 5.5c count 3 fee 2 uptime 97"
LANGUAGES = {"en": "English", "ru": "Русский"}
_OPTION = re.compile(r"\b(count|fee|uptime|pue)\s*[=:]?\s*(\S+)", re.IGNORECASE)


def describe_profile(profile: ChatProfile) -> str:
    """One paragraph: machine, count, power price, pool fee, uptime, PUE."""
    machine, operating = profile.machine, profile.operating
    rated = f"{machine.hashrate_ths:g} TH/s, " if machine.hashrate_ths else ""
    return (
        f"<b>{html.escape(machine.name)}</b> ({rated}{machine.j_per_th:.1f} J/TH) × {profile.count}\n"
        f"Power ${operating.power_usd_per_kwh:.4f}/kWh · pool fee {operating.pool_fee_fraction * 100:g}% · "
        f"uptime {operating.uptime_fraction * 100:g}% · PUE {operating.pue:g}"
    )


def _apply_options(profile: ChatProfile, options: list[tuple[str, str]]) -> ChatProfile:
    operating, count = profile.operating, profile.count
    for name, value in options:
        match name.lower():
            case "count":
                count = int(parse_positive(value, name="count", example="count 3", high=1_000_000))
            case "fee":
                operating = replace(
                    operating, pool_fee_fraction=parse_percent(value, name="pool fee", high=50) / 100
                )
            case "uptime":
                operating = replace(
                    operating, uptime_fraction=parse_percent(value, name="uptime", low=1) / 100
                )
            case _:
                operating = replace(
                    operating, pue=parse_positive(value, name="PUE", example="pue 1.05", high=3)
                )
    return replace(profile, count=count, operating=operating)


async def profile(request: Request, services: Services) -> Reply:
    """/profile — show; /profile MACHINE [POWER] [count N] [fee %] [uptime %] [pue X] — change."""
    current = await services.profile(request.chat)
    args = request.args.strip()
    if not args:
        return Reply(f"{describe_profile(current)}\nChange it: <code>{html.escape(PROFILE_EXAMPLE)}</code>")
    if request.chat.is_group and not request.chat.is_admin:
        return Reply(ADMINS_ONLY, error=True)
    options = [(m[1], m[2]) for m in _OPTION.finditer(args)]
    head = _OPTION.sub(" ", args)
    machine_text, power_text = split_machine_and_power(head)
    try:
        machine = machine_from_text(machine_text) if machine_text else current.machine
        power = power_from_text(power_text, current.operating.power_usd_per_kwh)
        updated = _apply_options(
            ChatProfile(machine, current.count, replace(current.operating, power_usd_per_kwh=power)), options
        )
    except UnknownMachine as error:
        closest = ", ".join(error.suggestions)
        return Reply(
            error_html(f"Unknown machine '{error.text}'. Closest: {closest}.", PROFILE_EXAMPLE), error=True
        )
    except ValueError as error:
        return Reply(error_html(str(error), PROFILE_EXAMPLE), error=True)
    await services.save_profile(request.chat, updated)
    return Reply(f"✅ Profile saved.\n{describe_profile(updated)}")


async def lang(request: Request, services: Services) -> Reply:
    """/lang en|ru — the language of replies and alerts in this chat."""
    choice = request.args.strip().lower()
    if choice not in LANGUAGES:
        options = ", ".join(f"{code} ({name})" for code, name in LANGUAGES.items())
        return Reply(error_html(f"Choose a language: {options}", "/lang ru"), error=True)
    if request.chat.is_group and not request.chat.is_admin:
        return Reply(ADMINS_ONLY, error=True)
    await services.set_language(request.chat, choice)
    return Reply(f"Language: {LANGUAGES[choice]}.")
