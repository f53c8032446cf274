"""Alert commands: /subscribe /alerts /unsubscribe. In groups only administrators change them."""

from __future__ import annotations

import html

from bot.alerts.grammar import describe_rule, parse_rule
from handlers.context import Request, Services
from handlers.format import error_html
from handlers.reply import Button, Reply

ADMINS_ONLY = "Only group administrators can change this chat's alerts."
SUBSCRIBE_EXAMPLE = "/subscribe price below 60k"
QUICK_RULES = ("price below 60k", "margin below 0", "premium below -10%", "difficulty above 5%")


def _refuse_non_admin(request: Request) -> Reply | None:
    if request.chat.is_group and not request.chat.is_admin:
        return Reply(ADMINS_ONLY, error=True)
    return None


def subscribe_keyboard() -> tuple[tuple[Button, ...], ...]:
    """Buttons for the common choices: network news and a few ready-made thresholds."""
    network = (Button("🔔 Capitulation & recovery", "/subscribe network"),)
    rules = tuple(Button(rule, f"/subscribe {rule}") for rule in QUICK_RULES)
    return (network, rules[:2], rules[2:])


async def subscribe(request: Request, services: Services) -> Reply:
    """/subscribe — network news; /subscribe RULE — a threshold (``price below 60k``)."""
    refused = _refuse_non_admin(request)
    if refused:
        return refused
    args = request.args.strip()
    if not args:
        return Reply(
            "What should I watch? Tap a button or write a rule, e.g. "
            f"<code>{html.escape(SUBSCRIBE_EXAMPLE)}</code>.",
            buttons=subscribe_keyboard(),
        )
    if args.lower() in {"network", "capitulation", "recovery", "news"}:
        added = await services.subscribe_network(request.chat)
        if not added:
            return Reply("This chat already gets capitulation, recovery and difficulty news.")
        return Reply("✅ Subscribed to capitulation, recovery and difficulty-adjustment alerts.")
    try:
        rule = parse_rule(args)
    except ValueError as error:
        return Reply(error_html(str(error), SUBSCRIBE_EXAMPLE), error=True)
    try:
        subscription_id, holds_now = await services.subscribe_rule(request.chat, rule)
    except ValueError as error:
        return Reply(error_html(str(error), "/profile s19xp 5.5c"), error=True)
    text = f"✅ Alert #{subscription_id}: {html.escape(describe_rule(rule))}."
    if holds_now and not rule.repeat:
        text += " That is already true now, so I will tell you at the next crossing."
    return Reply(text, buttons=((Button("Remove it", f"/unsubscribe {subscription_id}"),),))


async def alerts(request: Request, services: Services) -> Reply:
    """/alerts — this chat's subscriptions with their numbers, each with a remove button."""
    views = await services.subscriptions(request.chat)
    if not views:
        return Reply("No alerts yet. Try <code>/subscribe</code>.", buttons=subscribe_keyboard())
    lines = ["<b>Alerts in this chat</b>"]
    for view in views:
        state = "" if view.armed else " (waiting to re-arm)"
        lines.append(f"#{view.id} {html.escape(view.description)}{state}")
    buttons = tuple((Button(f"Remove #{view.id}", f"/unsubscribe {view.id}"),) for view in views[:10])
    return Reply("\n".join(lines), buttons=buttons)


async def unsubscribe(request: Request, services: Services) -> Reply:
    """/unsubscribe N | all — remove one alert or every alert of this chat."""
    refused = _refuse_non_admin(request)
    if refused:
        return refused
    args = request.args.strip().lstrip("#").lower()
    if args in {"", "all"}:
        removed = await services.unsubscribe(request.chat, None)
        return Reply(
            f"Removed {removed} alert(s). This chat gets no alerts now."
            if removed
            else "No alerts to remove."
        )
    if not args.isdigit():
        return Reply(error_html(f"'{request.args}' is not an alert number", "/unsubscribe 3"), error=True)
    removed = await services.unsubscribe(request.chat, int(args))
    if not removed:
        return Reply(error_html(f"No alert #{args} in this chat; see /alerts", "/unsubscribe 3"), error=True)
    return Reply(f"Removed alert #{args}.")
