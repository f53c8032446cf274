"""/profile and /lang: the chat's machine, power price and language."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.chat.context import ChatProfile, Request, Services
from bot.chat.parsing import parse_percent, parse_positive
from bot.chat.reply import Button, Reply
from bot.render import numbers as fmt
from bot.render.i18n import LANGUAGE_NAMES, SUPPORTED
from handlers.arguments import machine_and_power
from handlers.format import error_reply, html_t
from handlers.subscriptions import refuse_non_admin

PROFILE_EXAMPLE = "/profile s19xp 5.5c count 3"
OPTION_EXAMPLES = {"count": "count 3", "fee": "fee 2", "uptime": "uptime 97", "pue": "pue 1.05"}
"""Each option as typed after the machine; an example stays within a phone's 32 monospace characters."""
_OPTION = re.compile(r"\b(count|fee|uptime|pue)\s*[=:]?\s*(\S+)", re.IGNORECASE)


def _count(profile: ChatProfile, text: str) -> ChatProfile:
    return replace(profile, count=int(parse_positive(text, name="count", example="count 3", high=1_000_000)))


def _fee(profile: ChatProfile, text: str) -> ChatProfile:
    fee = parse_percent(text, name="pool fee", high=50) / 100
    return replace(profile, operating=replace(profile.operating, pool_fee_fraction=fee))


def _uptime(profile: ChatProfile, text: str) -> ChatProfile:
    uptime = parse_percent(text, name="uptime", low=1) / 100
    return replace(profile, operating=replace(profile.operating, uptime_fraction=uptime))


def _pue(profile: ChatProfile, text: str) -> ChatProfile:
    pue = parse_positive(text, name="PUE", example="pue 1.05", high=3)
    return replace(profile, operating=replace(profile.operating, pue=pue))


_LANGUAGE_WORDS = {
    "en": "en",
    "english": "en",
    "английский": "en",
    "ru": "ru",
    "russian": "ru",
    "русский": "ru",
}
"""What /lang accepts for each supported language."""
_OPTIONS: dict[str, Callable[[ChatProfile, str], ChatProfile]] = {
    "count": _count,
    "fee": _fee,
    "uptime": _uptime,
    "pue": _pue,
}
"""Each option's parser; a bad value raises ``ValueError`` and gets the catalog's ``profile.bad_NAME``."""


def describe_profile(profile: ChatProfile, lang: str) -> str:
    """One paragraph (HTML): machine, count, power price, pool fee, uptime, PUE."""
    machine, operating = profile.machine, profile.operating
    ths = machine.hashrate_ths
    return html_t(
        lang,
        "profile.describe_rated" if ths else "profile.describe",
        name=machine.name,
        ths=fmt.number(ths or 0, None, lang),
        j=fmt.number(machine.j_per_th, 1, lang),
        count=profile.count,
        power=fmt.usd_per_kwh(operating.power_usd_per_kwh, lang),
        fee=fmt.percent(operating.pool_fee_fraction, None, signed=False, lang=lang),
        uptime=fmt.percent(operating.uptime_fraction, None, signed=False, lang=lang),
        pue=fmt.number(operating.pue, None, lang),
    )


def _with_options(
    lang: str, profile: ChatProfile, options: list[tuple[str, str]], example: str
) -> ChatProfile | Reply:
    for name, value in options:
        option = name.lower()
        try:
            profile = _OPTIONS[option](profile, value)
        except ValueError:
            example = f"/profile {OPTION_EXAMPLES[option]}" if example == PROFILE_EXAMPLE else example
            return error_reply(lang, f"profile.bad_{option}", example, value=value)
    return profile


@dataclass(frozen=True, slots=True)
class Setup:
    """A profile as typed: the result, whether a power price was typed, and the echo of bare values."""

    profile: ChatProfile
    power_typed: bool
    read_as_html: str


def parse_setup(lang: str, args: str, current: ChatProfile, example: str) -> Setup | Reply:
    """``MACHINE [POWER] [count N] [fee %] [uptime %] [pue X]`` applied to ``current``, or an error reply."""
    head = _OPTION.sub(" ", args)
    parsed = machine_and_power(lang, head, current.machine, current.operating.power_usd_per_kwh, example)
    if isinstance(parsed, Reply):
        return parsed
    operating = replace(current.operating, power_usd_per_kwh=parsed.power_usd_per_kwh)
    typed = ChatProfile(parsed.machine, current.count, operating)
    updated = _with_options(lang, typed, [(m[1], m[2]) for m in _OPTION.finditer(args)], example)
    if isinstance(updated, Reply):
        return updated
    return Setup(updated, parsed.power_typed, parsed.read_as_html(lang))


async def profile(request: Request, services: Services) -> Reply:
    """/profile — show; /profile MACHINE [POWER] [count N] [fee %] [uptime %] [pue X] — change (line 1 of
    the chat's fleet)."""
    lang = request.chat.language
    current = await services.profile(request.chat)
    args = request.args.strip()
    if not args:
        options = " ".join(OPTION_EXAMPLES[name] for name in ("fee", "uptime", "pue"))
        change = html_t(lang, "profile.change", example=PROFILE_EXAMPLE, options=options)
        return Reply(f"{describe_profile(current, lang)}\n{change}")
    refused = refuse_non_admin(request)
    if refused:
        return refused
    setup = parse_setup(lang, args, current, PROFILE_EXAMPLE)
    if isinstance(setup, Reply):
        return setup
    await services.save_profile(request.chat, setup.profile)
    lines = (html_t(lang, "profile.saved"), describe_profile(setup.profile, lang), setup.read_as_html)
    return Reply("\n".join(line for line in lines if line))


async def lang(request: Request, services: Services) -> Reply:
    """/lang — the current language and buttons; /lang en|ru — switch this chat's replies and alerts."""
    current = request.chat.language
    options = ", ".join(f"{code} ({LANGUAGE_NAMES[code]})" for code in SUPPORTED)
    buttons = (tuple(Button(LANGUAGE_NAMES[code], f"/lang {code}") for code in SUPPORTED),)
    if not request.args.strip():
        text = html_t(current, "lang.current", name=LANGUAGE_NAMES[current], options=options)
        return Reply(text, buttons=buttons)
    choice = _LANGUAGE_WORDS.get(request.args.strip().lower())
    if choice is None:
        return error_reply(current, "lang.unknown", "/lang ru", value=request.args.strip(), options=options)
    refused = refuse_non_admin(request)
    if refused:
        return refused
    await services.set_language(request.chat, choice)
    return Reply(html_t(choice, "lang.set", request.chat.platform, name=LANGUAGE_NAMES[choice]))
