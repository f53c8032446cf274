"""Message catalogs for every chat-facing text, in English and Russian.

``t(lang, key, **values)`` formats the template ``key`` of ``lang``'s catalog with ``str.format``; an
unknown language or a key missing from its catalog falls back to English. ``t`` does not escape: templates
used as HTML (handler replies) are filled through ``handlers.format.html_t``, which escapes every value;
report labels are plain text escaped as a whole. Command names and the rule grammar stay English in every
language. A key may have a platform's own wording under ``key@platform`` (``subscribe.what@discord``).
``unit.*`` entries are plural forms separated by ``|`` (English: one|other; Russian:
one|few|many, as in 1 день / 2 дня / 5 дней), spelled by ``plural``. Alert templates live in
``bot.render.alerts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.render.numbers import number

SUPPORTED: tuple[str, ...] = ("en", "ru")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES: Mapping[str, str] = {"en": "English", "ru": "Русский"}

EN: Mapping[str, str] = {
    # /start, /help and the command menus
    "help.intro": (
        "⛏ <b>minerwatch</b> tells miners whether their machines make money and warns when miners "
        "capitulate or recover: price against the network's production cost, hashprice, breakevens and "
        "difficulty, for your machine and your power price."
    ),
    "help.start": "Start with /status, set your machine with /profile, then /subscribe.",
    "help.values": (
        "Machine: a name from /machines, 21.5 (J/TH) or 200@3500 (TH/s at W). Power price: $0.06 or 6c; "
        "a number without a unit is dollars per kWh below 1 (0.06) and cents from 1 up (6), "
        "and the reply says how it was read."
    ),
    "help.rules": (
        "Rules: metric (price, hashprice, margin, breakeven, premium, difficulty, stress) below|above value."
    ),
    "command.status": "price, difficulty, hashprice, production cost, next adjustment",
    "command.breakeven": "breakeven power price and BTC price for a machine",
    "command.margin": "revenue, power cost and profit per day",
    "command.cost": "the network's cost to produce one BTC (two models)",
    "command.hashprice": "USD per PH/s per day and sats per TH/s per day",
    "command.difficulty": "difficulty and the estimated next adjustment",
    "command.chart": "chart of BTC price vs production cost, hashprice or miner stress (30d, 90d, 1y)",
    "command.machines": "the machine catalog",
    "command.profile": "this chat's machine, power price, pool fee, uptime",
    "command.profile@discord": "this channel's machine, power price, pool fee, uptime",
    "command.fleet": "your machine lines: profit, breakevens, what to switch off",
    "command.tariff": "named power tariffs, with peak hours in your time zone",
    "command.subscribe": "capitulation/recovery news or your own threshold",
    "command.alerts": "this chat's alerts",
    "command.alerts@discord": "this channel's alerts",
    "command.unsubscribe": "remove an alert (or all)",
    "command.lang": "reply language: en or ru",
    "command.help": "this list",
    # errors shared by every command
    "error.example": "Example: <code>{example}</code>",
    "error.internal": "Sorry, something went wrong on my side; nothing was changed. Please try again.",
    "error.storage": (
        "⚠️ Storage unavailable: your change was not saved. The operator has to restore it; try later."
    ),
    "error.unknown_command": "Unknown command /{command}. See /help.",
    "error.unknown_command_close": "Unknown command /{command}. Did you mean /{close}? See /help.",
    "error.too_long": "That is too long for /{command}; see /help for examples.",
    "error.admins_only": "In groups only administrators can change this chat's alerts, profile and language.",
    "error.admins_only@discord": (
        "In servers only members with the Manage Channels permission can change this channel's alerts, "
        "profile and language."
    ),
    "error.admin_check_failed": (
        "I could not check your admin rights just now; nothing was changed. Please try again."
    ),
    "error.unknown_machine": "Unknown machine '{text}'. Closest: {closest}.",
    "error.machine_junk": "Unknown machine '{text}': no machine name has '{junk}'. Closest: {closest}.",
    "error.bad_machine": (
        "'{text}' is not a machine I can use: give a name from /machines, 17.5 (J/TH) or 200@3500 (TH/s@W)."
    ),
    "error.bad_power": (
        "'{text}' is not a power price: give $/kWh like 0.06 or cents like 6c (at most $5/kWh)."
    ),
    "error.extra_arguments": "After {machine} I expected one power price, not '{rest}'.",
    # how a value typed without its unit was read (one line under a reply)
    "read.line": "Read as: {readings}.",
    "read.usd_per_kwh": "{typed} → ${usd}/kWh",
    "read.cents_per_kwh": "{typed} → {cents}¢/kWh",
    "read.j_per_th": "{typed} → {j} J/TH",
    "read.th_at_w": "{typed} → {ths} TH/s at {w} W = {j} J/TH",
    "error.power_unknown": "Power of {name} is unknown; give it as 200TH@3500W (your machine's TH/s and W).",
    # market commands
    "market.no_data": "No market data yet: no usable answer from the sources so far; the bot keeps asking.",
    "market.age": "<i>Data {age} old.</i>",
    "market.replayed": "<i>Replay: data of {day}.</i>",
    "market.stale": "⚠️ <i>Data {age} old, not confirmed by the sources; alerts are paused.</i>",
    "market.stale_missing": "⚠️ <i>Data {age} old: {missing}; alerts are paused.</i>",
    "sources.missing": "{sources} not answering since {when} UTC",
    "market.hashprice": (
        "<b>Hashprice</b>: {usd}/PH/day · {sats} sats/TH/day\nBTC {price}, difficulty {difficulty}, {fees}"
    ),
    "market.fees": "fees {fees} BTC/block",
    "market.difficulty": "<b>Difficulty</b>: {difficulty} at block {height}",
    "market.next_unknown": "Next adjustment: no estimate from the current sources.",
    "market.next": "Next adjustment: <b>{change}</b> at block {height} ({blocks}{when})",
    "market.next_when": ", ≈ {when} UTC",
    "market.previous": "Previous adjustment: {change}",
    "market.puell": (
        "Puell multiple: <b>{value}</b> on {day} (that day's issuance value ÷ its 365-day average; "
        "under 0.5 has marked miner capitulations, over 4 cycle tops)"
    ),
    "market.puell_unknown": (
        "Puell multiple: unknown on {day}: the daily series lacks the issuance of {missing} of the last "
        "365 days"
    ),
    "market.compression": (
        "Difficulty ribbon compression: <b>{value}</b> on {day}{rank} (spread of the 9- to 200-day "
        "difficulty averages; a tight ribbon means difficulty has stopped rising, as in miner capitulations)"
    ),
    "market.compression_rank": ", past-year percentile {rank}",
    "market.compression_unknown": (
        "Difficulty ribbon compression: unknown on {day}: the daily series lacks {missing} of the last "
        "200 days"
    ),
    "market.no_daily": "Puell multiple, difficulty ribbon: no daily series stored yet",
    "market.machines_hint": "Use a name with /breakeven, e.g. <code>/breakeven s21 5c</code>",
    # units and values
    "unit.block": "block|blocks",
    "unit.day": "day|days",
    "unit.hour": "hour|hours",
    "unit.minute": "minute|minutes",
    "unit.alert": "alert|alerts",
    "unit.line": "line|lines",
    "unit.machine": "machine|machines",
    "value.hashprice": "{usd}/PH/day",
    "model.bottom-up": "bottom-up",
    "model.difficulty-regression": "difficulty-regression",
    # reports (plain text: table labels and values)
    "report.status_title": "Bitcoin mining status",
    "report.btc_price": "BTC price",
    "report.difficulty": "Difficulty",
    "report.height": "Height",
    "report.hashrate": "Hashrate",
    "report.hashrate_implied": "{ehs} EH/s, implied",
    "report.fees": "Fees/block",
    "report.fees_unknown": "fees unknown, subsidy only",
    "report.hashprice": "Hashprice",
    "report.assumptions_bottom_up": (
        "Bottom-up: a fleet at {j} J/TH paying {power}, electricity {share} of the cash cost."
    ),
    "report.assumptions_regression": (
        "Regression: market cap ~ difficulty^{b} / supply, fitted {start}..{end} (n={n}, r²={r2}); the "
        "price stays within ×/÷ {band} of it on 2 days in 3."
    ),
    "report.difficulty_multiple": " multiple",
    "report.electricity_only": " power only",
    "report.next_adjustment": "Next adj.",
    "report.eta": " ETA",
    "report.eta_in": " in",
    "report.no_adjustment": "no estimate",
    "report.data_age": "Data age",
    "report.sources": "Sources",
    "report.none": "none",
    "report.unavailable": "Unavailable",
    "report.what_if": "What-if",
    "report.breakeven_title": "Breakeven: {machine}",
    "report.machine": "Machine",
    "report.machine_rated": "{ths} TH/s, {j} J/TH",
    "report.j_per_th": "{j} J/TH",
    "report.margin_title": "Margin: {machine}",
    "report.power_price": "Power price",
    "report.fleet_ph": "{count} × PH/s",
    "report.revenue": " revenue",
    "report.power_cost": " power cost",
    "report.profit": " profit",
    "report.profit_30": "Profit/30d",
    "report.margin": "Margin",
    "report.cost_title": "Network production cost per BTC",
    "report.machines_title": "Machine catalog (nameplate, stock mode)",
    "report.machine_row": "{ths}, {w}, {j} J/TH",
    "report.machine_ths": "{ths} TH/s",
    "report.machine_w": "{w} W",
    "report.hashrate_unknown": "TH/s unknown",
    "report.power_unknown": "power unknown",
    # /profile and /lang
    "profile.describe_rated": (
        "<b>{name}</b> ({ths} TH/s, {j} J/TH) × {count}\n"
        "Power {power} · pool fee {fee} · uptime {uptime} · PUE {pue}"
    ),
    "profile.describe": (
        "<b>{name}</b> ({j} J/TH) × {count}\nPower {power} · pool fee {fee} · uptime {uptime} · PUE {pue}"
    ),
    "profile.change": "Change it: <code>{example}</code>; more options: {options}",
    "profile.saved": "✅ Profile saved.",
    "profile.bad_count": "count '{value}' must be a whole number from 1 to 1,000,000.",
    "profile.bad_fee": "pool fee '{value}' must be a percentage from 0 to 50.",
    "profile.bad_uptime": "uptime '{value}' must be a percentage from 1 to 100.",
    "profile.bad_pue": "PUE '{value}' must be a number from 1 to 3, like 1.05.",
    "lang.current": "Language: {name}. Available: {options}.",
    "lang.unknown": "I do not speak '{value}' yet. Choose one of: {options}.",
    "lang.set": "Language: {name}. Replies and alerts in this chat are now in English.",
    "lang.set@discord": "Language: {name}. Replies and alerts in this channel are now in English.",
    # /fleet and /tariff (fleet.* in tables and sentences is plain text, escaped as a whole)
    "fleet.title": "Fleet: {lines}, {machines}",
    "fleet.line_heading": "#{number} {label}",
    "fleet.site": " · {site}",
    "fleet.total_heading": "Total",
    "fleet.row.tariff": "Tariff",
    "fleet.row.hashrate": "Hashrate",
    "fleet.row.revenue": "Revenue/day",
    "fleet.row.power": "Power/day",
    "fleet.row.profit": "Profit/day",
    "fleet.row.profit_30": "Profit/30d",
    "fleet.row.margin": "Margin",
    "fleet.row.breakeven_power": "BE power",
    "fleet.row.breakeven_price": "BE BTC",
    "fleet.per_machine": "per machine",
    "fleet.per_ph": "per PH/s",
    "fleet.advice_off": (
        "⛔ Switch off the {count} {machine}: {profit} {unit} per day at {power}; they turn positive "
        "above {price} BTC or below {breakeven}."
    ),
    "fleet.advice_run": (
        "✅ Run the {count} {machine}: {profit} {unit} per day at {power}; they turn negative "
        "below {price} BTC or above {breakeven}."
    ),
    "fleet.schedule": "Run {hours} ({zone}): {scheduled}/day against {flat}/day flat out.",
    "fleet.schedule_never": "No hour of tariff {tariff} pays: {flat}/day flat out.",
    "fleet.adjustment_in": " in ~{left}",
    "fleet.after_adjustment": (
        "The adjustment{when} ({change} est.) takes this line from {before} to {after}."
    ),
    "fleet.total_scheduled": "Running each line only in its hours: {scheduled}/day against {flat}/day.",
    "fleet.usage": (
        "Add a line: <code>/fleet add s19jpro 40 5.5c</code>; change one: "
        "<code>/fleet set 2 s21 20 tariff=texas</code>; <code>/fleet remove 2</code>, "
        "<code>/fleet clear</code>."
    ),
    "fleet.more": "…and {count} more: /fleet {number} shows line {number}.",
    "fleet.empty": "No fleet yet. Add a line: <code>/fleet add s19jpro 40 5.5c</code>",
    "fleet.added": "✅ Added line #{number}.",
    "fleet.updated": "✅ Line #{number} changed.",
    "fleet.removed": "Removed line #{number}.",
    "fleet.no_such": "No line #{number} in this chat's fleet; see /fleet.",
    "fleet.bad_number": "'{value}' is not a line number; see /fleet.",
    "fleet.full": "A fleet holds at most {limit} lines; remove one first.",
    "fleet.bad_site": "site '{value}' must be 1 to 20 letters, digits, '-' or '_'.",
    "fleet.unknown_tariff": "No tariff '{value}' in this chat; add it with /tariff.",
    "fleet.confirm_clear": "Remove all {lines} of this chat's fleet?",
    "fleet.clear_yes": "Yes, remove all",
    "fleet.clear_no": "No, keep them",
    "fleet.kept": "Kept the fleet; nothing was removed.",
    "fleet.cleared": "Removed {lines}. /profile shows the default machine now.",
    "fleet.nothing": "The fleet is empty already.",
    "tariff.list_title": "Tariffs",
    "tariff.item": "<b>{name}</b>: {schedule}",
    "tariff.none": ("No tariffs yet. Add one: <code>/tariff add texas 0.045</code>"),
    "tariff.saved": "✅ Tariff {name} saved: {schedule}",
    "tariff.removed": "Removed tariff {name}.",
    "tariff.no_such": "No tariff '{name}' in this chat; see /tariff.",
    "tariff.in_use": "Tariff {name} is used by a fleet line; change that line first.",
    "tariff.bad": (
        "I could not read the tariff '{text}': write a name (up to 16 letters), the base price, then any "
        "periods HH:MM-HH:MM PRICE and an IANA time zone."
    ),
    "subscribe.fleet_added": "✅ You will hear when a line of your fleet should be switched off or on again.",
    "subscribe.fleet_already": "This chat already gets the fleet's switch-off advice.",
    "alerts.kind.fleet": "switch-off advice for each line of the fleet",
    # /subscribe /alerts /unsubscribe
    "subscribe.network_button": "🔔 Capitulation & recovery",
    "subscribe.what": "What should I watch? Tap a button or write a rule, e.g. <code>{example}</code>.",
    "subscribe.what@console": (
        "What should I watch? Type one of the commands below, or a rule, e.g. <code>{example}</code>."
    ),
    "subscribe.what@discord": (
        "What should I watch? Press a button below, or run /subscribe again with a rule, e.g. "
        "<code>{example}</code>."
    ),
    "subscribe.network_added": "✅ Subscribed to capitulation, recovery and difficulty-adjustment alerts.",
    "subscribe.network_already": "This chat already gets capitulation, recovery and difficulty news.",
    "subscribe.network_already@discord": (
        "This channel already gets capitulation, recovery and difficulty news."
    ),
    "subscribe.added": "✅ Alert #{id}: {rule}.",
    "subscribe.holds_now": "That is already true now, so I will tell you at the next crossing.",
    "subscribe.remove_button": "Remove it",
    "subscribe.limit": (
        "This chat already has {limit} alert rules, the most it can hold; nothing was added. "
        "Remove one with /unsubscribe N (numbers in /alerts), then try again."
    ),
    "subscribe.needs_profile": (
        "I could not set '{rule}' up for this chat's machine and power price; check /profile."
    ),
    "rule.metric_close": "Unknown metric '{word}' (did you mean {close}?).",
    "rule.metric": "Unknown metric '{word}'; use one of {names}.",
    "rule.op": "After {metric} write below or above.",
    "rule.value_missing": "The rule needs a value: a {noun}.",
    "rule.value": "'{value}' is not a {noun}.",
    "rule.options": (
        "I could not read '{rest}': after the value come only band AMOUNT, repeat and every DURATION "
        "(1m to 30d)."
    ),
    "rule.noun.price": "BTC price ($100 to $10M)",
    "rule.noun.hashprice": "hashprice in USD per PH/s per day",
    "rule.noun.margin": "margin, a percentage below 100",
    "rule.noun.breakeven": "power price, like 0.05 or 5c",
    "rule.noun.premium": "premium, a percentage above -100",
    "rule.noun.difficulty": "difficulty change, a percentage from -75 to 300",
    "alerts.none": "No alerts yet. Try <code>/subscribe</code>.",
    "alerts.title": "<b>Alerts in this chat</b>",
    "alerts.title@discord": "<b>Alerts in this channel</b>",
    "alerts.item": "#{id} {description}",
    "alerts.item_waiting": "#{id} {description} (waiting to re-arm)",
    "alerts.more": "… and {count} more; remove some with /unsubscribe N",
    "alerts.remove_button": "Remove #{id}",
    "alerts.kind.network": "capitulation, recovery and difficulty-adjustment news",
    "alerts.kind.margin_warning": "warning when the next adjustment would push your margin below 0",
    "unsubscribe.nothing": "No alerts to remove.",
    "unsubscribe.all": "Removed {alerts}. This chat gets no alerts now.",
    "unsubscribe.all@discord": "Removed {alerts}. This channel gets no alerts now.",
    "unsubscribe.not_a_number": "'{value}' is not an alert number; see /alerts.",
    "unsubscribe.no_such": "No alert #{id} in this chat; see /alerts.",
    "unsubscribe.one": "Removed alert #{id}.",
    "unsubscribe.confirm": "Remove all {alerts} of this chat?",
    "unsubscribe.confirm@discord": "Remove all {alerts} of this channel?",
    "unsubscribe.yes": "Yes, remove all",
    "unsubscribe.no": "No, keep them",
    "unsubscribe.kept": "Kept all {alerts}; nothing was removed.",
    # /chart
    "chart.usage": (
        "I could not read '{value}': give a window (30d, 90d, 1y) and price, hashprice, stress or fleet."
    ),
    "chart.fleet_title": "Fleet profit per line (subsidy only), {start} – {end}",
    "chart.usd_per_day": "USD per day",
    "chart.breakeven_axis": "Breakeven $/kWh (dotted: paid)",
    "chart.fleet_caption": "#{number} {label}: {last}/day on the last day, in profit on {profitable}.",
    "chart.fleet_empty": "No fleet to draw yet: add a line with /fleet add.",
    "chart.no_data": "Not enough daily history for the last {days}: a chart needs at least 2 days of data.",
    "chart.window": "📈 {start} → {end} · data to {end} ({days} of data)",
    "chart.price_caption": (
        "Last day: BTC {price}, production cost {cost} (difficulty regression), price {premium}; "
        "below cost on {below}."
    ),
    "chart.hashprice_caption": (
        "Hashprice on the last day {last}/PH/day (subsidy only, no fees); window low {low}, high {high}."
    ),
    "chart.price_title": "BTC price vs production cost, {start} – {end}",
    "chart.hashprice_title": "Hashprice, {start} – {end}",
    "chart.usd_per_btc": "USD per BTC",
    "chart.usd_per_ph_day": "USD per PH/s per day",
    "chart.price": "BTC price",
    "chart.cost": "Production cost (difficulty regression)",
    "chart.capitulation": "Capitulation: price below cost",
    "chart.hashprice": "Hashprice (subsidy only)",
    "chart.months": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    # /stress: the open miner-stress index (a proxy, never called CryptoQuant's)
    "stress.title": "Miner-stress index (open proxy)",
    "stress.index": "Index",
    "stress.index_value": "{value}/100, {band}",
    "stress.multiple": " multiple",
    "stress.hashprice": " hashprice",
    "stress.puell": " Puell",
    "stress.window": "Window",
    "stress.bands_value": (
        "Bands: under 25 capitulation, 25-45 stress, 45-60 neutral, 60-80 healthy, 80 and over euphoria."
    ),
    "stress.proxy_value": (
        "Miner stress is an open proxy from public data (0 = extreme stress, 100 = euphoria), not "
        "CryptoQuant's index."
    ),
    "stress.unavailable": "n/a: {days} of {need} days",
    "stress.no_history": (
        "No miner-stress index yet: it ranks today against at least {need} days of daily history before "
        "it, and the stored series has {days} of them."
    ),
    "stress.band.capitulation": "capitulation",
    "stress.band.stress": "stress",
    "stress.band.neutral": "neutral",
    "stress.band.healthy": "healthy",
    "stress.band.euphoria": "euphoria",
    "report.stress": "Stress",
    "command.stress": "open miner-stress index, 0-100 (proxy): difficulty multiple, hashprice, Puell",
    "rule.noun.stress": "miner-stress index from 0 to 100",
    "chart.stress_caption": (
        "Miner-stress index (open proxy) on the last day {last}, {band}; window low {low} on {low_day}, "
        "high {high}."
    ),
    "chart.stress_title": "Miner-stress index (open proxy), {start} – {end}",
    "chart.stress_axis": "0 = extreme stress, 100 = euphoria",
    "chart.stress": "Miner-stress index",
    "chart.stress_capitulation": "Capitulation (below 25)",
    "chart.stress_no_data": (
        "No miner-stress index in the last {days}: each day needs 2 years of daily history before it."
    ),
    "value.sats_per_th": "{sats} sats/TH/day",
    "value.btc": "{btc} BTC",
    "value.sats": "{sats} sats",
    "value.kwh": "{kwh} kWh",
    "report.hashrate_value": "{ehs} EH/s",
    "report.subsidy": "Subsidy",
    "report.subsidy_only": "n/a (subsidy only)",
    "report.cost_heading": "Cost per BTC",
    "report.cost.bottom-up": " bottom-up",
    "report.cost.difficulty-regression": " regression",
    "report.cost_value": "{cost}, price {premium}",
    "report.multiple_value": "{multiple}×",
    "report.multiple_note": "Multiple: price ÷ regression cost; below 1 the price is under the cost.",
    "report.at_block": " at block",
    "report.blocks_left": " left",
    "report.at_price": "at BTC {price}",
    "report.breaks_even": "Breaks even at",
    "report.be_power": " power",
    "report.be_price": " BTC price",
    "report.be_efficiency": " efficiency",
    "report.breakeven_note": (
        "Breaks even: the power price, BTC price or efficiency at which the profit is zero, all else as now."
    ),
    "report.pool_fee": "Pool fee",
    "report.uptime": "Uptime",
    "report.per_day": "Per day, {fleet}",
    "stress.components": "Components → score",
    "stress.scored": "{reading} → {score}",
    "stress.components_note": (
        "Multiple: price ÷ difficulty-regression cost; hashprice: subsidy only, no fees; Puell: the "
        "day's issuance value ÷ its 365-day average. Each is ranked as a percentile of the window (score "
        "0-100); the index weights them ⅓ each."
    ),
}

RU: Mapping[str, str] = {
    "help.intro": (
        "⛏ <b>minerwatch</b> подскажет майнерам, приносят ли их машины прибыль, и предупредит, когда майнеры "
        "капитулируют или восстанавливаются: цена против себестоимости добычи в сети, хешпрайс, точки "
        "безубыточности и сложность — для вашей машины и вашей цены электроэнергии."
    ),
    "help.start": "Начните с /status, укажите свою машину через /profile, затем /subscribe.",
    "help.values": (
        "Машина: название из /machines, 21.5 (Дж/TH) или 200@3500 (TH/s при Вт). Тариф: $0.06 или 6c; "
        "число без единиц меньше 1 — доллары за кВт·ч (0.06), от 1 — центы (6), "
        "и ответ говорит, как оно понято."
    ),
    "help.rules": (
        "Правила: метрика (price, hashprice, margin, breakeven, premium, difficulty, stress) "
        "below|above значение."
    ),
    "command.status": "цена, сложность, хешпрайс, себестоимость добычи, следующая корректировка",
    "command.breakeven": "безубыточный тариф и цена BTC для машины",
    "command.margin": "выручка, затраты на электроэнергию и прибыль в сутки",
    "command.cost": "себестоимость добычи одного BTC в сети (две модели)",
    "command.hashprice": "доллары за PH/s в сутки и сатоши за TH/s в сутки",
    "command.difficulty": "сложность и прогноз следующей корректировки",
    "command.chart": "график цены BTC и себестоимости, хешпрайса или стресса майнеров (30d, 90d, 1y)",
    "command.machines": "каталог машин",
    "command.profile": "машина чата, тариф, комиссия пула, аптайм",
    "command.profile@discord": "машина канала, тариф, комиссия пула, аптайм",
    "command.fleet": "ваши линии машин: прибыль, безубыточность, что выключить",
    "command.tariff": "именованные тарифы, с пиковыми часами в вашем часовом поясе",
    "command.subscribe": "новости о капитуляции и восстановлении или свой порог",
    "command.alerts": "оповещения этого чата",
    "command.alerts@discord": "оповещения этого канала",
    "command.unsubscribe": "удалить оповещение (или все)",
    "command.lang": "язык ответов: en или ru",
    "command.help": "этот список",
    "error.example": "Пример: <code>{example}</code>",
    "error.internal": "Извините, у меня что-то пошло не так; ничего не изменено. Попробуйте ещё раз.",
    "error.storage": (
        "⚠️ Хранилище недоступно: ваше изменение не сохранено. "
        "Его должен восстановить оператор; попробуйте позже."
    ),
    "error.unknown_command": "Неизвестная команда /{command}. Список команд: /help.",
    "error.unknown_command_close": (
        "Неизвестная команда /{command}. Может быть, /{close}? Список команд: /help."
    ),
    "error.too_long": "Слишком длинный запрос для /{command}; примеры в /help.",
    "error.admins_only": "В группах оповещения, профиль и язык чата меняют только администраторы.",
    "error.admins_only@discord": (
        "На серверах оповещения, профиль и язык канала меняют только участники с правом «Управлять каналами»."
    ),
    "error.admin_check_failed": (
        "Не удалось проверить ваши права администратора; ничего не изменено. Попробуйте ещё раз."
    ),
    "error.unknown_machine": "Неизвестная машина «{text}». Ближайшие: {closest}.",
    "error.machine_junk": (
        "Неизвестная машина «{text}»: «{junk}» нет ни в одном названии. Ближайшие: {closest}."
    ),
    "error.bad_machine": (
        "«{text}» не похоже на машину: укажите название из /machines, 17.5 (Дж/TH) или 200@3500 (TH/s@Вт)."
    ),
    "error.bad_power": (
        "«{text}» не похоже на тариф: пишите $/кВт·ч, как 0.06, или центы, как 6c (не больше 5 $/кВт·ч)."
    ),
    "error.extra_arguments": "После {machine} я ждал один тариф, а не «{rest}».",
    "read.line": "Понято так: {readings}.",
    "read.usd_per_kwh": "{typed} → {usd} $/кВт·ч",
    "read.cents_per_kwh": "{typed} → {cents} ¢/кВт·ч",
    "read.j_per_th": "{typed} → {j} Дж/TH",
    "read.th_at_w": "{typed} → {ths} TH/s при {w} Вт = {j} Дж/TH",
    "error.power_unknown": (
        "Мощность {name} неизвестна; укажите её так: 200TH@3500W (TH/s и Вт вашей машины)."
    ),
    "market.no_data": (
        "Рыночных данных пока нет: источники ещё не дали пригодного ответа; бот продолжает спрашивать."
    ),
    "market.age": "<i>Возраст данных: {age}.</i>",
    "market.replayed": "<i>Повтор истории: данные за {day}.</i>",
    "market.stale": (
        "⚠️ <i>Возраст данных: {age}, источники их не подтвердили; оповещения приостановлены.</i>"
    ),
    "market.stale_missing": "⚠️ <i>Возраст данных: {age}: {missing}; оповещения приостановлены.</i>",
    "sources.missing": "{sources} не отвечают с {when} UTC",
    "market.hashprice": (
        "<b>Хешпрайс</b>: {usd}/PH/сутки · {sats} сат/TH/сутки\nBTC {price}, сложность {difficulty}, {fees}"
    ),
    "market.fees": "комиссии {fees} BTC/блок",
    "market.difficulty": "<b>Сложность</b>: {difficulty} на блоке {height}",
    "market.next_unknown": "Следующая корректировка: текущие источники не дают оценки.",
    "market.next": "Следующая корректировка: <b>{change}</b> на блоке {height} (через {blocks}{when})",
    "market.next_when": ", ≈ {when} UTC",
    "market.previous": "Предыдущая корректировка: {change}",
    "market.puell": (
        "Мультипликатор Пуэлла: <b>{value}</b> на {day} (стоимость эмиссии за день ÷ её среднее за 365 дней; "
        "ниже 0,5 отмечало капитуляции майнеров, выше 4 — вершины цикла)"
    ),
    "market.puell_unknown": (
        "Мультипликатор Пуэлла: неизвестен на {day}: в дневном ряду нет эмиссии за {missing} из последних "
        "365 дней"
    ),
    "market.compression": (
        "Сжатие ленты сложности: <b>{value}</b> на {day}{rank} (разброс средних сложности за 9–200 дней; "
        "узкая лента значит, что сложность перестала расти, как при капитуляциях майнеров)"
    ),
    "market.compression_rank": ", перцентиль за год {rank}",
    "market.compression_unknown": (
        "Сжатие ленты сложности: неизвестно на {day}: в дневном ряду нет {missing} из последних 200 дней"
    ),
    "market.no_daily": "Мультипликатор Пуэлла, лента сложности: дневной ряд ещё не сохранён",
    "market.machines_hint": "Используйте название в /breakeven, например <code>/breakeven s21 5c</code>",
    "unit.block": "блок|блока|блоков",
    "unit.day": "день|дня|дней",
    "unit.hour": "час|часа|часов",
    "unit.minute": "минуту|минуты|минут",
    "unit.alert": "оповещение|оповещения|оповещений",
    "unit.line": "линия|линии|линий",
    "unit.machine": "машина|машины|машин",
    "value.hashprice": "{usd}/PH/сутки",
    "model.bottom-up": "расчёт снизу вверх",
    "model.difficulty-regression": "регрессия по сложности",
    "report.status_title": "Состояние майнинга биткоина",
    "report.btc_price": "Цена BTC",
    "report.difficulty": "Сложность",
    "report.height": "Высота",
    "report.hashrate": "Хешрейт",
    "report.hashrate_implied": "{ehs} EH/s (оценка)",
    "report.fees": "Комиссии",
    "report.fees_unknown": "комиссии неизвестны, только субсидия",
    "report.hashprice": "Хешпрайс",
    "report.assumptions_bottom_up": (
        "Затраты (расчёт снизу вверх): парк {j} Дж/TH по тарифу {power}, электроэнергия — {share} "
        "денежных затрат."
    ),
    "report.assumptions_regression": (
        "Регрессия: капитализация ~ сложность^{b} / предложение, подгонка {start}..{end} (n={n}, "
        "r²={r2}); цена держится в пределах ×/÷ {band} от неё 2 дня из 3."
    ),
    "report.difficulty_multiple": " кратность",
    "report.electricity_only": " энергия",
    "report.next_adjustment": "Пересчёт",
    "report.eta": " ожидается",
    "report.eta_in": " через",
    "report.no_adjustment": "нет оценки",
    "report.data_age": "Возраст данных",
    "report.sources": "Источники",
    "report.none": "нет",
    "report.unavailable": "Недоступны",
    "report.what_if": "Что если",
    "report.breakeven_title": "Безубыточность: {machine}",
    "report.machine": "Машина",
    "report.machine_rated": "{ths} TH/s, {j} Дж/TH",
    "report.j_per_th": "{j} Дж/TH",
    "report.margin_title": "Маржа: {machine}",
    "report.power_price": "Тариф",
    "report.fleet_ph": "{count} × PH/s",
    "report.revenue": " выручка",
    "report.power_cost": " энергия",
    "report.profit": " прибыль",
    "report.profit_30": "Прибыль/30д",
    "report.margin": "Маржа",
    "report.cost_title": "Себестоимость добычи 1 BTC в сети",
    "report.machines_title": "Каталог машин (паспортные данные, штатный режим)",
    "report.machine_row": "{ths}, {w}, {j} Дж/TH",
    "report.machine_ths": "{ths} TH/s",
    "report.machine_w": "{w} Вт",
    "report.hashrate_unknown": "TH/s неизв.",
    "report.power_unknown": "мощность неизв.",
    "profile.describe_rated": (
        "<b>{name}</b> ({ths} TH/s, {j} Дж/TH) × {count}\n"
        "Тариф {power} · комиссия пула {fee} · аптайм {uptime} · PUE {pue}"
    ),
    "profile.describe": (
        "<b>{name}</b> ({j} Дж/TH) × {count}\n"
        "Тариф {power} · комиссия пула {fee} · аптайм {uptime} · PUE {pue}"
    ),
    "profile.change": "Изменить: <code>{example}</code>; ещё параметры: {options}",
    "profile.saved": "✅ Профиль сохранён.",
    "profile.bad_count": "Количество «{value}» должно быть целым числом от 1 до 1 000 000.",
    "profile.bad_fee": "Комиссия пула «{value}» должна быть в процентах от 0 до 50.",
    "profile.bad_uptime": "Аптайм «{value}» должен быть в процентах от 1 до 100.",
    "profile.bad_pue": "PUE «{value}» должен быть числом от 1 до 3, например 1.05.",
    "lang.current": "Язык: {name}. Доступны: {options}.",
    "lang.unknown": "Язык «{value}» пока не поддерживается. Выберите: {options}.",
    "lang.set": "Язык: {name}. Ответы и оповещения в этом чате теперь на русском.",
    "lang.set@discord": "Язык: {name}. Ответы и оповещения в этом канале теперь на русском.",
    # /fleet и /tariff
    "fleet.title": "Парк: {lines}, {machines}",
    "fleet.line_heading": "№{number} {label}",
    "fleet.site": " · {site}",
    "fleet.total_heading": "Итого",
    "fleet.row.tariff": "Тариф",
    "fleet.row.hashrate": "Хешрейт",
    "fleet.row.revenue": "Доход/сут",
    "fleet.row.power": "Энергия/сут",
    "fleet.row.profit": "Прибыль/сут",
    "fleet.row.profit_30": "Прибыль/30 д",
    "fleet.row.margin": "Маржа",
    "fleet.row.breakeven_power": "Безуб. тариф",
    "fleet.row.breakeven_price": "Безуб. BTC",
    "fleet.per_machine": "на машину",
    "fleet.per_ph": "на PH/s",
    "fleet.advice_off": (
        "⛔ Выключите {machine} ({count} шт.): {profit} {unit} в сутки при {power}; они выйдут в плюс "
        "при BTC выше {price} или тарифе ниже {breakeven}."
    ),
    "fleet.advice_run": (
        "✅ Пусть работают {machine} ({count} шт.): {profit} {unit} в сутки при {power}; они уйдут в минус "
        "при BTC ниже {price} или тарифе выше {breakeven}."
    ),
    "fleet.schedule": "Работать {hours} ({zone}): {scheduled}/сут против {flat}/сут без остановок.",
    "fleet.schedule_never": "Ни один час тарифа {tariff} не окупается: {flat}/сут без остановок.",
    "fleet.adjustment_in": " через ~{left}",
    "fleet.after_adjustment": (
        "Корректировка{when} ({change}, оценка) изменит маржу линии с {before} до {after}."
    ),
    "fleet.total_scheduled": (
        "Если каждая линия работает только в свои часы: {scheduled}/сут против {flat}/сут."
    ),
    "fleet.usage": (
        "Добавить линию: <code>/fleet add s19jpro 40 5.5c</code>; изменить: "
        "<code>/fleet set 2 s21 20 tariff=texas</code>; <code>/fleet remove 2</code>, "
        "<code>/fleet clear</code>."
    ),
    "fleet.more": "…и ещё {count}: /fleet {number} покажет линию №{number}.",
    "fleet.empty": "Парка пока нет. Добавьте линию: <code>/fleet add s19jpro 40 5.5c</code>",
    "fleet.added": "✅ Линия №{number} добавлена.",
    "fleet.updated": "✅ Линия №{number} изменена.",
    "fleet.removed": "Линия №{number} удалена.",
    "fleet.no_such": "В парке этого чата нет линии №{number}; см. /fleet.",
    "fleet.bad_number": "«{value}» — не номер линии; см. /fleet.",
    "fleet.full": "В парке не больше {limit} линий; сначала удалите одну.",
    "fleet.bad_site": "Площадка «{value}»: от 1 до 20 букв, цифр, «-» или «_».",
    "fleet.unknown_tariff": "В этом чате нет тарифа «{value}»; добавьте его через /tariff.",
    "fleet.confirm_clear": "Удалить все линии парка этого чата ({lines})?",
    "fleet.clear_yes": "Да, удалить все",
    "fleet.clear_no": "Нет, оставить",
    "fleet.kept": "Парк не тронут: ничего не удалено.",
    "fleet.cleared": "Удалено: {lines}. /profile теперь показывает машину по умолчанию.",
    "fleet.nothing": "Парк уже пуст.",
    "tariff.list_title": "Тарифы",
    "tariff.item": "<b>{name}</b>: {schedule}",
    "tariff.none": ("Тарифов пока нет. Добавьте: <code>/tariff add texas 0.045</code>"),
    "tariff.saved": "✅ Тариф {name} сохранён: {schedule}",
    "tariff.removed": "Тариф {name} удалён.",
    "tariff.no_such": "В этом чате нет тарифа «{name}»; см. /tariff.",
    "tariff.in_use": "Тариф {name} использует линия парка; сначала измените её.",
    "tariff.bad": (
        "Не удалось прочитать тариф «{text}»: напишите имя (до 16 латинских букв), базовую цену, затем "
        "периоды ЧЧ:ММ-ЧЧ:ММ ЦЕНА и часовой пояс IANA."
    ),
    "subscribe.fleet_added": "✅ Вы узнаете, когда линию парка стоит выключить или снова включить.",
    "subscribe.fleet_already": "Этот чат уже получает советы по выключению линий парка.",
    "alerts.kind.fleet": "советы по выключению для каждой линии парка",
    "subscribe.network_button": "🔔 Капитуляция и восстановление",
    "subscribe.what": (
        "Что отслеживать? Нажмите кнопку или напишите правило, например <code>{example}</code>."
    ),
    "subscribe.what@console": (
        "Что отслеживать? Введите одну из команд ниже или правило, например <code>{example}</code>."
    ),
    "subscribe.what@discord": (
        "Что отслеживать? Нажмите кнопку ниже или снова вызовите /subscribe с правилом, например "
        "<code>{example}</code>."
    ),
    "subscribe.network_added": (
        "✅ Вы подписаны на оповещения о капитуляции, восстановлении и корректировках сложности."
    ),
    "subscribe.network_already": "Этот чат уже получает новости о капитуляции, восстановлении и сложности.",
    "subscribe.network_already@discord": (
        "Этот канал уже получает новости о капитуляции, восстановлении и сложности."
    ),
    "subscribe.added": "✅ Оповещение #{id}: {rule}.",
    "subscribe.holds_now": "Условие уже выполняется, поэтому я сообщу при следующем пересечении.",
    "subscribe.remove_button": "Удалить",
    "subscribe.limit": (
        "В этом чате уже {limit} правил оповещений — это предел; ничего не добавлено. "
        "Удалите одно командой /unsubscribe N (номера в /alerts) и попробуйте снова."
    ),
    "subscribe.needs_profile": (
        "Не удалось настроить «{rule}» для машины и тарифа этого чата; проверьте /profile."
    ),
    "rule.metric_close": "Неизвестная метрика «{word}» (может быть, {close}?).",
    "rule.metric": "Неизвестная метрика «{word}»; используйте одну из: {names}.",
    "rule.op": "После {metric} напишите below или above.",
    "rule.value_missing": "В правиле не хватает значения: {noun}.",
    "rule.value": "«{value}» не подходит: нужна {noun}.",
    "rule.options": (
        "Не понял «{rest}»: после значения допустимы только band ВЕЛИЧИНА, repeat и every ИНТЕРВАЛ "
        "(от 1m до 30d)."
    ),
    "rule.noun.price": "цена BTC (от 100 $ до 10 млн $)",
    "rule.noun.hashprice": "величина хешпрайса в долларах за PH/s в сутки",
    "rule.noun.margin": "маржа в процентах, меньше 100",
    "rule.noun.breakeven": "цена электроэнергии, например 0.05 или 5c",
    "rule.noun.premium": "премия в процентах, больше −100",
    "rule.noun.difficulty": "величина изменения сложности в процентах, от −75 до 300",
    "alerts.none": "Оповещений пока нет. Попробуйте <code>/subscribe</code>.",
    "alerts.title": "<b>Оповещения в этом чате</b>",
    "alerts.title@discord": "<b>Оповещения в этом канале</b>",
    "alerts.item": "#{id} {description}",
    "alerts.item_waiting": "#{id} {description} (сработало, ждёт возврата за порог)",
    "alerts.more": "… и ещё {count}; лишние удалите командой /unsubscribe N",
    "alerts.remove_button": "Удалить #{id}",
    "alerts.kind.network": "новости о капитуляции, восстановлении и корректировках сложности",
    "alerts.kind.margin_warning": "предупреждение, если следующая корректировка уведёт вашу маржу ниже 0",
    "unsubscribe.nothing": "Удалять нечего: оповещений нет.",
    "unsubscribe.all": "Удалено: {alerts}. Теперь этот чат не получает оповещений.",
    "unsubscribe.all@discord": "Удалено: {alerts}. Теперь этот канал не получает оповещений.",
    "unsubscribe.not_a_number": "«{value}» — не номер оповещения; см. /alerts.",
    "unsubscribe.no_such": "В этом чате нет оповещения #{id}; см. /alerts.",
    "unsubscribe.one": "Оповещение #{id} удалено.",
    "unsubscribe.confirm": "Удалить все оповещения этого чата ({alerts})?",
    "unsubscribe.confirm@discord": "Удалить все оповещения этого канала ({alerts})?",
    "unsubscribe.yes": "Да, удалить все",
    "unsubscribe.no": "Нет, оставить",
    "unsubscribe.kept": "Ничего не удалено: оповещения ({alerts}) остались.",
    "chart.usage": (
        "Не понял «{value}»: укажите период (30d, 90d, 1y) и price, hashprice, stress или fleet."
    ),
    "chart.fleet_title": "Прибыль линий парка (только субсидия), {start} – {end}",
    "chart.usd_per_day": "USD в сутки",
    "chart.breakeven_axis": "Безуб. $/кВт·ч (пунктир: тариф)",
    "chart.fleet_caption": "№{number} {label}: {last}/сут в последний день, в плюсе: {profitable}.",
    "chart.fleet_empty": "Рисовать пока нечего: добавьте линию через /fleet add.",
    "chart.no_data": "Недостаточно дневной истории за {days}: для графика нужно хотя бы 2 дня данных.",
    "chart.window": "📈 {start} → {end} · данные по {end} ({days} данных)",
    "chart.price_caption": (
        "Последний день: BTC {price}, себестоимость {cost} (регрессия по сложности), цена {premium}; "
        "ниже себестоимости: {below}."
    ),
    "chart.hashprice_caption": (
        "Хешпрайс в последний день {last}/PH/сутки (только субсидия, без комиссий); "
        "минимум за период {low}, максимум {high}."
    ),
    "chart.price_title": "Цена BTC и себестоимость добычи, {start} – {end}",
    "chart.hashprice_title": "Хешпрайс, {start} – {end}",
    "chart.usd_per_btc": "USD за BTC",
    "chart.usd_per_ph_day": "USD за PH/s в сутки",
    "chart.price": "Цена BTC",
    "chart.cost": "Себестоимость (регрессия по сложности)",
    "chart.capitulation": "Капитуляция: цена ниже себестоимости",
    "chart.hashprice": "Хешпрайс (только субсидия)",
    "chart.months": "янв фев мар апр май июн июл авг сен окт ноя дек",
    # /stress
    "stress.title": "Индекс стресса майнеров (открытый прокси)",
    "stress.index": "Индекс",
    "stress.index_value": "{value}/100, {band}",
    "stress.multiple": " кратность",
    "stress.hashprice": " хешпрайс",
    "stress.puell": " Пуэлл",
    "stress.window": "Окно",
    "stress.bands_value": (
        "Зоны: ниже 25 капитуляция, 25–45 стресс, 45–60 нейтрально, 60–80 здорово, от 80 эйфория."
    ),
    "stress.proxy_value": (
        "Стресс майнеров — открытый прокси по публичным данным (0 = крайний стресс, 100 = эйфория), не "
        "индекс CryptoQuant."
    ),
    "stress.unavailable": "н/д: {days} из {need} дн.",
    "stress.no_history": (
        "Индекса стресса майнеров пока нет: он сравнивает сегодняшний день как минимум с {need} днями "
        "дневной истории до него, а в сохранённом ряду их {days}."
    ),
    "stress.band.capitulation": "капитуляция",
    "stress.band.stress": "стресс",
    "stress.band.neutral": "нейтрально",
    "stress.band.healthy": "здорово",
    "stress.band.euphoria": "эйфория",
    "report.stress": "Стресс",
    "command.stress": "открытый индекс стресса майнеров, 0-100 (прокси): сложность, хешпрайс, Пуэлл",
    "rule.noun.stress": "индекс стресса майнеров от 0 до 100",
    "chart.stress_caption": (
        "Индекс стресса майнеров (открытый прокси) в последний день {last}, {band}; минимум окна {low} "
        "({low_day}), максимум {high}."
    ),
    "chart.stress_title": "Индекс стресса майнеров (открытый прокси), {start} – {end}",
    "chart.stress_axis": "0 = крайний стресс, 100 = эйфория",
    "chart.stress": "Индекс стресса майнеров",
    "chart.stress_capitulation": "Капитуляция (ниже 25)",
    "chart.stress_no_data": (
        "Индекса стресса майнеров за {days} нет: каждому дню нужны 2 года дневной истории до него."
    ),
    "value.sats_per_th": "{sats} сат/TH/сутки",
    "value.btc": "{btc} BTC",
    "value.sats": "{sats} сат",
    "value.kwh": "{kwh} кВт·ч",
    "report.hashrate_value": "{ehs} EH/s",
    "report.subsidy": "Субсидия",
    "report.subsidy_only": "н/д, только субсидия",
    "report.cost_heading": "Себестоимость 1 BTC",
    "report.cost.bottom-up": " затраты",
    "report.cost.difficulty-regression": " регрессия",
    "report.cost_value": "{cost}, цена {premium}",
    "report.multiple_value": "{multiple}×",
    "report.multiple_note": "Кратность: цена ÷ себестоимость по регрессии; ниже 1 — цена ниже себестоимости.",
    "report.at_block": " блок",
    "report.blocks_left": " осталось",
    "report.at_price": "при BTC {price}",
    "report.breaks_even": "Безубыточно при",
    "report.be_power": " тарифе",
    "report.be_price": " цене BTC",
    "report.be_efficiency": " эффективн.",
    "report.breakeven_note": (
        "Безубыточность: тариф, цена BTC или эффективность, при которых прибыль равна нулю, а всё "
        "остальное как сейчас."
    ),
    "report.pool_fee": "Ком. пула",
    "report.uptime": "Аптайм",
    "report.per_day": "В сутки, {fleet}",
    "stress.components": "Составляющие → балл",
    "stress.scored": "{reading} → {score}",
    "stress.components_note": (
        "Кратность: цена ÷ себестоимость по регрессии сложности; хешпрайс: только субсидия, без "
        "комиссий; Пуэлл: стоимость эмиссии за день ÷ её среднее за 365 дней. Каждая составляющая "
        "ранжируется перцентилем в окне (балл 0–100); индекс берёт их с весом по ⅓."
    ),
}

CATALOGS: dict[str, Mapping[str, str]] = {"en": EN, "ru": RU}


def resolve_language(lang: str | None) -> str:
    """``lang`` when supported, else English."""
    return lang if lang is not None and lang in CATALOGS else DEFAULT_LANGUAGE


def t(lang: str, key: str, platform: str | None = None, /, **values: object) -> str:
    """The text ``key`` in ``lang`` filled with ``values`` (English when ``lang`` or its entry is missing).

    With ``platform``, its wording ``key@platform`` comes first where the catalog has one (Discord has no
    "administrators", a console no buttons to tap).
    Raises ``KeyError`` for a key that is not in the English catalog: that is a bug, not a translation gap.
    """
    catalog = CATALOGS.get(lang, EN)
    variant = f"{key}@{platform}"
    template = catalog.get(variant) or catalog.get(key) or EN.get(variant) or EN[key]
    return template.format(**values)


def _plural_index(lang: str, count: int) -> int:
    if lang == "ru":
        if count % 10 == 1 and count % 100 != 11:
            return 0
        return 1 if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14 else 2
    return 0 if count == 1 else 1


def plural(lang: str, key: str, count: int) -> str:
    """``count`` and the plural form of the unit ``key`` in ``lang``: ``5 дней``, ``1,720 blocks``."""
    lang = lang if lang in CATALOGS and key in CATALOGS[lang] else DEFAULT_LANGUAGE
    forms = t(lang, key).split("|")
    return f"{number(count, 0, lang)} {forms[_plural_index(lang, count)]}"


def missing_sources(lang: str, failing: Mapping[str, datetime], now: datetime) -> str:
    """``coinbase, kraken not answering since 14:02 UTC``: sources grouped by when they stopped giving a
    usable answer, oldest first; the date is added when that was not today (UTC)."""
    groups: dict[str, list[str]] = {}
    for source, since in sorted(failing.items(), key=lambda item: (item[1], item[0])):
        when = f"{since:%H:%M}" if since.date() == now.date() else f"{since:%Y-%m-%d %H:%M}"
        groups.setdefault(when, []).append(source)
    return "; ".join(
        t(lang, "sources.missing", sources=", ".join(sources), when=when) for when, sources in groups.items()
    )


def model_name(lang: str, model: str) -> str:
    """A production-cost model's label in ``lang``; an unknown model keeps its own name."""
    key = f"model.{model}"
    return t(lang, key) if key in EN else model
