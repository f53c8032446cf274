"""Alert commands: /subscribe /alerts /unsubscribe. In groups only administrators change them.

Rules are typed in the command grammar of ``bot.alerts.grammar`` in every language (``price below 60k``);
a rule that does not parse gets a one-line explanation in the chat's language with a correct example.
"""

from __future__ import annotations

import difflib
import re

from bot.alerts.grammar import EXAMPLE, GRAMMARS, OPS, parse_rule
from bot.alerts.rules import Metric, TooManyRulesError
from bot.chat.context import Request, Services
from bot.chat.reply import Button, Reply
from bot.render.alerts import describe_rule_in
from bot.render.i18n import plural, t
from handlers.format import error_reply, html_t

SUBSCRIBE_EXAMPLE = "/subscribe price below 60k"
OPTIONS_EXAMPLE = "/subscribe price < 60k every 6h"
"""A rule with an option, short enough for a phone's 32 monospace characters."""
ALERTS_LIST_CHARS = 3500
"""Room for the list within Telegram's 4,096 characters, leaving space for the "and N more" line."""
QUICK_RULES = (
    "price below 60k",
    "margin below 0",
    "premium below -10%",
    "difficulty above 5%",
    "stress below 25",
)
NETWORK_WORDS = frozenset({"network", "capitulation", "recovery", "news"})
REMOVE_ALL, KEEP_ALL = "/unsubscribe all", "/unsubscribe keep"
"""What the Yes and No buttons of "Remove all N alerts?" run (a button's data is its command)."""


def refuse_non_admin(request: Request) -> Reply | None:
    """The refusal for a group member who is not an administrator (or whose rights the platform could not
    confirm: asked to try again), else ``None``."""
    if not request.chat.is_group or request.chat.is_admin:
        return None
    key = "error.admin_check_failed" if request.chat.is_admin is None else "error.admins_only"
    return Reply(html_t(request.chat.language, key, request.chat.platform), error=True)


def subscribe_keyboard(lang: str) -> tuple[tuple[Button, ...], ...]:
    """Buttons for the common choices: network news and a few ready-made thresholds."""
    network = (Button(t(lang, "subscribe.network_button"), "/subscribe network"),)
    rules = tuple(Button(rule, f"/subscribe {rule}") for rule in QUICK_RULES)
    return (network, rules[:2], rules[2:])


def _rule_error(lang: str, text: str) -> Reply:
    """Which part of a rule that ``parse_rule`` rejected is wrong, said in ``lang``, with an example."""
    spaced = re.sub(r"([<>])", r" \1 ", text.lower())
    words = re.sub(r"(?<=[0-9])\s+(k|m|%|c|¢|h|d|min)(?=\s|$)", r"\1", spaced).split()
    names = [metric.value for metric in Metric]
    if words[0] not in names:
        close = difflib.get_close_matches(words[0], names, n=1, cutoff=0.6)
        if close:
            example = f"/subscribe {GRAMMARS[Metric(close[0])].example}"
            return error_reply(lang, "rule.metric_close", example, word=words[0], close=close[0])
        return error_reply(
            lang, "rule.metric", f"/subscribe {EXAMPLE}", word=words[0], names=", ".join(names)
        )
    metric = Metric(words[0])
    example = f"/subscribe {GRAMMARS[metric].example}"
    if len(words) < 2 or words[1] not in OPS:
        return error_reply(lang, "rule.op", example, metric=metric.value)
    try:
        parse_rule(" ".join(words[:3]))
    except ValueError:
        noun = t(lang, f"rule.noun.{metric.value}")
        if len(words) < 3:
            return error_reply(lang, "rule.value_missing", example, noun=noun)
        return error_reply(lang, "rule.value", example, noun=noun, value=words[2])
    return error_reply(lang, "rule.options", OPTIONS_EXAMPLE, rest=" ".join(words[3:]))


async def subscribe(request: Request, services: Services) -> Reply:
    """/subscribe — network news; /subscribe fleet — each fleet line's switch-off advice; /subscribe RULE —
    a threshold (``price below 60k``)."""
    lang = request.chat.language
    refused = refuse_non_admin(request)
    if refused:
        return refused
    args = request.args.strip()
    if not args:
        text = html_t(lang, "subscribe.what", request.chat.platform, example=SUBSCRIBE_EXAMPLE)
        return Reply(text, buttons=subscribe_keyboard(lang))
    if args.lower() in NETWORK_WORDS:
        added = await services.subscribe_network(request.chat)
        key = "subscribe.network_added" if added else "subscribe.network_already"
        return Reply(html_t(lang, key, request.chat.platform))
    if args.lower() == "fleet":
        added = await services.subscribe_fleet(request.chat)
        return Reply(html_t(lang, "subscribe.fleet_added" if added else "subscribe.fleet_already"))
    try:
        rule = parse_rule(args)
    except ValueError:
        return _rule_error(lang, args)
    try:
        subscription_id, holds_now = await services.subscribe_rule(request.chat, rule)
    except TooManyRulesError as full:
        return error_reply(lang, "subscribe.limit", "/unsubscribe 3", limit=full.limit)
    except ValueError:
        described = describe_rule_in(rule, lang)
        return error_reply(lang, "subscribe.needs_profile", "/profile s19xp 5.5c", rule=described)
    text = html_t(lang, "subscribe.added", id=subscription_id, rule=describe_rule_in(rule, lang))
    if holds_now and not rule.repeat:
        text += " " + html_t(lang, "subscribe.holds_now")
    button = Button(t(lang, "subscribe.remove_button"), f"/unsubscribe {subscription_id}")
    return Reply(text, buttons=((button,),))


async def alerts(request: Request, services: Services) -> Reply:
    """/alerts — this chat's subscriptions with their numbers, each with a remove button."""
    lang = request.chat.language
    views = await services.subscriptions(request.chat)
    if not views:
        return Reply(html_t(lang, "alerts.none"), buttons=subscribe_keyboard(lang))
    lines = [html_t(lang, "alerts.title", request.chat.platform)]
    for shown, view in enumerate(views):
        key = "alerts.item" if view.armed else "alerts.item_waiting"
        line = html_t(lang, key, id=view.id, description=view.description)
        if sum(len(kept) + 1 for kept in lines) + len(line) > ALERTS_LIST_CHARS:
            lines.append(html_t(lang, "alerts.more", count=len(views) - shown))
            break
        lines.append(line)
    buttons = tuple(
        (Button(t(lang, "alerts.remove_button", id=view.id), f"/unsubscribe {view.id}"),)
        for view in views[:10]
    )
    return Reply("\n".join(lines), buttons=buttons)


async def unsubscribe(request: Request, services: Services) -> Reply:
    """/unsubscribe N — remove one alert; /unsubscribe all — remove every alert of this chat; /unsubscribe
    alone asks first: "Remove all N alerts?", Yes (``/unsubscribe all``) or No (``/unsubscribe keep``)."""
    lang = request.chat.language
    refused = refuse_non_admin(request)
    if refused:
        return refused
    args = request.args.strip().lstrip("#").lower()
    if args in {"", "keep"}:
        count = len(await services.subscriptions(request.chat))
        if not count:
            return Reply(html_t(lang, "unsubscribe.nothing"))
        if args == "keep":
            return Reply(html_t(lang, "unsubscribe.kept", alerts=plural(lang, "unit.alert", count)))
        return Reply(
            html_t(
                lang, "unsubscribe.confirm", request.chat.platform, alerts=plural(lang, "unit.alert", count)
            ),
            buttons=(
                (Button(t(lang, "unsubscribe.yes"), REMOVE_ALL), Button(t(lang, "unsubscribe.no"), KEEP_ALL)),
            ),
        )
    if args == "all":
        removed = await services.unsubscribe(request.chat, None)
        if not removed:
            return Reply(html_t(lang, "unsubscribe.nothing"))
        alerts = plural(lang, "unit.alert", removed)
        return Reply(html_t(lang, "unsubscribe.all", request.chat.platform, alerts=alerts))
    if not re.fullmatch(r"[0-9]+", args):
        return error_reply(lang, "unsubscribe.not_a_number", "/unsubscribe 3", value=request.args.strip())
    if not await services.unsubscribe(request.chat, int(args)):
        return error_reply(lang, "unsubscribe.no_such", "/unsubscribe 3", id=args)
    return Reply(html_t(lang, "unsubscribe.one", id=args))
