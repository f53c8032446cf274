"""/fleet and /tariff: a chat's machine lines, each on a power price or a named tariff.

``/fleet`` shows every line and the total (``/fleet N``: line N and the total); ``/fleet add MACHINE
[COUNT] [POWER] [site=NAME] [tariff=NAME] [fee %] [uptime %] [pue X]`` appends a line; ``/fleet set N …``
changes what is typed of line N; ``/fleet remove N`` removes it; ``/fleet clear`` asks first (Yes runs
``/fleet clear yes``). ``/tariff`` lists the chat's tariffs, ``/tariff add NAME BASE[; HH:MM-HH:MM
PRICE]… [ZONE]`` saves one, ``/tariff remove NAME`` removes it.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace

from bot.chat.context import ChatFleet, ChatProfile, Request, Services
from bot.chat.parsing import parse_tariff
from bot.chat.reply import Button, Reply
from bot.economics.fleet import MAX_LINES, FleetFullError, FleetLine, Tariff, TariffInUseError, flat_tariff
from bot.render.i18n import plural, t
from bot.render.table import format_table
from bot.reports.fleet import FleetReport, Section, describe_tariff, fleet_report
from handlers.format import MAX_MESSAGE_CHARS, error_reply, html_t
from handlers.market import age_footer, view_or_reply
from handlers.profile import parse_setup
from handlers.subscriptions import refuse_non_admin

ADD_EXAMPLE = "/fleet add s19jpro 40 5.5c"
SET_EXAMPLE = "/fleet set 2 s21 20 tariff=texas"
TARIFF_EXAMPLE = "/tariff add texas 0.045"
CLEAR_YES, CLEAR_NO = "/fleet clear yes", "/fleet clear no"
"""What the Yes and No buttons of "Remove all N lines?" run."""
MORE_RESERVE = 120
"""Room kept for the "…and N more lines" sentence when sections are left out."""
_LINE_OPTION = re.compile(r"\b(site|tariff)\s*[=:]\s*(\S+)", re.IGNORECASE)
_SITE = re.compile(r"[\w-]{1,20}")
_COUNT = re.compile(r"[0-9]+")


def _section_html(section: Section) -> str:
    table = html.escape(format_table(section.rows))
    notes = "".join(f"\n{html.escape(note)}" for note in section.notes)
    return f"<b>{html.escape(section.heading)}</b>\n<pre>{table}</pre>{notes}"


def render_report(
    report: FleetReport, lang: str, budget: int = MAX_MESSAGE_CHARS, only: int | None = None
) -> str:
    """The title, each line's section (or line ``only``'s) and the total, as HTML, all escaped. Whole
    sections that do not fit in ``budget`` characters are left out and a last line says how to see them,
    so a tag is never cut in half."""
    *lines, total = report.sections
    head, tail = f"<b>{html.escape(report.title)}</b>", _section_html(total)
    numbered = list(enumerate(lines, start=1))
    if only is not None:
        numbered = numbered[only - 1 : only]
    body: list[str] = []
    used = len(head) + len(tail) + 2 * (len(numbered) + 2)
    for shown, (number, section) in enumerate(numbered):
        part = _section_html(section)
        reserve = MORE_RESERVE if shown < len(numbered) - 1 else 0
        if used + len(part) + reserve > budget:
            body.append(html_t(lang, "fleet.more", count=len(numbered) - shown, number=number))
            break
        body.append(part)
        used += len(part)
    return "\n\n".join([head, *body, tail])


async def _show(
    request: Request, services: Services, fleet: ChatFleet, prefix: str = "", only: int | None = None
) -> Reply:
    lang = request.chat.language
    if not fleet.lines:
        return Reply(f"{prefix}{html_t(lang, 'fleet.empty')}")
    view = await view_or_reply(services, lang)
    if isinstance(view, Reply):  # after a change the change stands: say so, then why no figures
        return Reply(f"{prefix}{view.text}", error=view.error and not prefix)
    report = fleet_report(view, fleet.lines, services.now(), lang)
    footer = age_footer(view, services, lang)
    budget = MAX_MESSAGE_CHARS - len(prefix) - len(footer) - 1
    return Reply(f"{prefix}{render_report(report, lang, budget, only)}\n{footer}")


def _count_first(args: str) -> str:
    """``s19jpro 40 5.5c`` -> ``s19jpro 5.5c count 40``: a whole number after the machine is the count."""
    tokens = args.split()
    for index, token in enumerate(tokens[1:], start=1):
        if _COUNT.fullmatch(token) and tokens[index - 1].lower() not in {"count", "fee", "uptime", "pue"}:
            rest = tokens[:index] + tokens[index + 1 :]
            return " ".join([*rest, "count", token])
    return args


def _parse_line(lang: str, args: str, base: FleetLine, tariffs: ChatFleet, example: str) -> FleetLine | Reply:
    """What ``args`` types, applied to ``base``: machine, count, power or tariff, site and options."""
    options = {m[1].lower(): m[2] for m in _LINE_OPTION.finditer(args)}
    rest = _count_first(_LINE_OPTION.sub(" ", args).strip())
    site = options.get("site", base.site)
    if site is not None and not _SITE.fullmatch(site):
        return error_reply(lang, "fleet.bad_site", example, value=site)
    tariff = base.tariff
    if "tariff" in options:
        name = options["tariff"].lower()
        if name not in tariffs.tariffs:
            return error_reply(lang, "fleet.unknown_tariff", TARIFF_EXAMPLE, value=name)
        tariff = tariffs.tariffs[name]
    current = ChatProfile(
        base.machine, base.count, replace(base.operating, power_usd_per_kwh=tariff.base_usd_per_kwh)
    )
    setup = parse_setup(lang, rest, current, example) if rest else None
    if isinstance(setup, Reply):
        return setup
    parsed = setup.profile if setup else current
    power_typed = setup is not None and setup.power_typed
    if power_typed and "tariff" in options:
        return error_reply(lang, "fleet.usage", example)
    if power_typed:
        tariff = flat_tariff(parsed.operating.power_usd_per_kwh)
    return FleetLine(parsed.machine, parsed.count, parsed.operating, tariff, site)


def _line_number(lang: str, text: str) -> int | Reply:
    stripped = text.strip().lstrip("#")
    if not _COUNT.fullmatch(stripped):
        return error_reply(lang, "fleet.bad_number", "/fleet remove 2", value=text.strip())
    return int(stripped)


async def _add(request: Request, services: Services, fleet: ChatFleet, args: str) -> Reply:
    lang = request.chat.language
    profile = await services.profile(request.chat)
    base = FleetLine(profile.machine, 1, profile.operating, flat_tariff(profile.operating.power_usd_per_kwh))
    line = _parse_line(lang, args, base, fleet, ADD_EXAMPLE)
    if isinstance(line, Reply):
        return line
    try:
        number = await services.add_fleet_line(request.chat, line)
    except FleetFullError:
        return error_reply(lang, "fleet.full", "/fleet remove 2", limit=MAX_LINES)
    return await _confirmed(request, services, html_t(lang, "fleet.added", number=number))


async def _set(request: Request, services: Services, fleet: ChatFleet, args: str) -> Reply:
    lang = request.chat.language
    head, _, rest = args.partition(" ")
    number = _line_number(lang, head)
    if isinstance(number, Reply):
        return number
    if not 1 <= number <= len(fleet.lines):
        return error_reply(lang, "fleet.no_such", number=number)
    line = _parse_line(lang, rest, fleet.lines[number - 1], fleet, SET_EXAMPLE)
    if isinstance(line, Reply):
        return line
    if not await services.set_fleet_line(request.chat, number, line):
        return error_reply(lang, "fleet.no_such", number=number)
    return await _confirmed(request, services, html_t(lang, "fleet.updated", number=number))


async def _confirmed(request: Request, services: Services, done: str) -> Reply:
    """The confirmation followed by the fleet as it is now."""
    return await _show(request, services, await services.fleet(request.chat), prefix=f"{done}\n\n")


async def _remove(request: Request, services: Services, args: str) -> Reply:
    lang = request.chat.language
    number = _line_number(lang, args)
    if isinstance(number, Reply):
        return number
    if not await services.remove_fleet_line(request.chat, number):
        return error_reply(lang, "fleet.no_such", number=number)
    return Reply(html_t(lang, "fleet.removed", number=number))


async def _clear(request: Request, services: Services, fleet: ChatFleet, answer: str) -> Reply:
    lang = request.chat.language
    if not fleet.lines:
        return Reply(html_t(lang, "fleet.nothing"))
    if answer == "yes":
        removed = await services.clear_fleet(request.chat)
        return Reply(html_t(lang, "fleet.cleared", lines=plural(lang, "unit.line", removed)))
    if answer == "no":
        return Reply(html_t(lang, "fleet.kept"))
    buttons = ((Button(t(lang, "fleet.clear_yes"), CLEAR_YES), Button(t(lang, "fleet.clear_no"), CLEAR_NO)),)
    lines = plural(lang, "unit.line", len(fleet.lines))
    return Reply(html_t(lang, "fleet.confirm_clear", lines=lines), buttons=buttons)


async def fleet(request: Request, services: Services) -> Reply:
    """/fleet — every line and the total; add / set / remove / clear change it (administrators in groups)."""
    lang = request.chat.language
    current = await services.fleet(request.chat)
    verb, _, rest = request.args.strip().partition(" ")
    verb = verb.lower()
    if not verb:
        return await _show(request, services, current)
    if _COUNT.fullmatch(verb.lstrip("#")):
        number = int(verb.lstrip("#"))
        if not 1 <= number <= len(current.lines):
            return error_reply(lang, "fleet.no_such", number=number)
        return await _show(request, services, current, only=number)
    if verb not in {"add", "set", "remove", "clear"}:
        return error_reply(lang, "fleet.usage")
    refused = refuse_non_admin(request)
    if refused:
        return refused
    rest = rest.strip()
    if verb == "add":
        return await _add(request, services, current, rest) if rest else error_reply(lang, "fleet.usage")
    if verb == "set":
        return await _set(request, services, current, rest)
    if verb == "remove":
        return await _remove(request, services, rest)
    return await _clear(request, services, current, rest.lower())


def _tariff_list(lang: str, tariffs: dict[str, Tariff]) -> Reply:
    if not tariffs:
        return Reply(html_t(lang, "tariff.none"))
    items = [
        html_t(lang, "tariff.item", name=name, schedule=describe_tariff(each, lang))
        for name, each in tariffs.items()
    ]
    return Reply("\n".join([f"<b>{html_t(lang, 'tariff.list_title')}</b>", *items]))


async def tariff(request: Request, services: Services) -> Reply:
    """/tariff — the chat's tariffs; /tariff add NAME BASE[; HH:MM-HH:MM PRICE]… [ZONE]; /tariff remove
    NAME."""
    lang = request.chat.language
    verb, _, rest = request.args.strip().partition(" ")
    verb = verb.lower()
    if not verb:
        return _tariff_list(lang, dict((await services.fleet(request.chat)).tariffs))
    refused = refuse_non_admin(request)
    if refused:
        return refused
    name, _, spec = rest.strip().partition(" ")
    name = name.lower()
    if verb == "remove" and name:
        try:
            removed = await services.remove_tariff(request.chat, name)
        except TariffInUseError:
            return error_reply(lang, "tariff.in_use", name=name)
        if not removed:
            return error_reply(lang, "tariff.no_such", name=name)
        return Reply(html_t(lang, "tariff.removed", name=name))
    if verb != "add" or not name:
        return error_reply(lang, "tariff.bad", TARIFF_EXAMPLE, text=request.args.strip())
    try:
        parsed = parse_tariff(name, spec)
    except ValueError:
        return error_reply(lang, "tariff.bad", TARIFF_EXAMPLE, text=request.args.strip())
    await services.save_tariff(request.chat, parsed)
    return Reply(html_t(lang, "tariff.saved", name=name, schedule=describe_tariff(parsed, lang)))
