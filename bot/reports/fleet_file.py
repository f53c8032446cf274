"""A fleet described in TOML for ``minerwatch fleet FILE.toml`` (https://toml.io/en/v1.0.0).

``[[line]]`` tables hold ``machine``, ``count``, and ``power_usd_per_kwh`` or ``tariff``, with optional
``pool_fee_pct``, ``uptime_pct``, ``pue`` and ``site``; ``[tariff.NAME]`` tables hold ``usd_per_kwh`` (the
base price), optional ``timezone`` (IANA, default UTC) and ``periods``, a list of ``{from = "14:00",
to = "20:00", usd_per_kwh = 0.12}``. Every mistake raises ``ValueError`` with one line naming where it is.
"""

from __future__ import annotations

import math
import tomllib
from typing import Any

from bot.chat.parsing import TARIFF_NAME, parse_clock_minute
from bot.economics.fleet import MAX_LINES, FleetLine, Period, Tariff, flat_tariff
from bot.economics.machines import parse_machine
from bot.economics.mining import OperatingProfile

LINE_KEYS = frozenset(
    {"machine", "count", "power_usd_per_kwh", "tariff", "pool_fee_pct", "uptime_pct", "pue", "site"}
)
TARIFF_KEYS = frozenset({"usd_per_kwh", "timezone", "periods"})
PERIOD_KEYS = frozenset({"from", "to", "usd_per_kwh"})


def _number(where: str, table: dict[str, Any], key: str, default: float | None = None) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _unknown(where: str, table: dict[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ValueError(f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _tariff(name: str, table: Any) -> Tariff:
    where = f"[tariff.{name}]"
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table")
    if not TARIFF_NAME.fullmatch(name):
        raise ValueError(f"{where}: a tariff name is 1 to 16 lowercase letters, digits, '-' or '_'")
    _unknown(where, table, TARIFF_KEYS)
    periods = []
    for index, period in enumerate(table.get("periods", []), start=1):
        at = f"{where} period {index}"
        if not isinstance(period, dict):
            raise ValueError(
                f'{at} must be a table like {{from = "14:00", to = "20:00", usd_per_kwh = 0.12}}'
            )
        _unknown(at, period, PERIOD_KEYS)
        try:
            start, end = parse_clock_minute(str(period["from"])), parse_clock_minute(str(period["to"]))
            periods.append(Period(start, end, _number(at, period, "usd_per_kwh")))
        except (KeyError, ValueError) as error:
            raise ValueError(f"{at}: {error}") from None
    try:
        return Tariff(
            name, _number(where, table, "usd_per_kwh"), tuple(periods), str(table.get("timezone", "UTC"))
        )
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _line(index: int, table: Any, tariffs: dict[str, Tariff], defaults: OperatingProfile) -> FleetLine:
    where = f"[[line]] {index}"
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table")
    _unknown(where, table, LINE_KEYS)
    if "machine" not in table:
        raise ValueError(f"{where}: machine is missing")
    count = table.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000_000:
        raise ValueError(f"{where}: count must be a whole number of machines, got {count!r}")
    if ("power_usd_per_kwh" in table) == ("tariff" in table):
        raise ValueError(f"{where}: give power_usd_per_kwh or tariff (one of them)")
    tariff = None
    if "tariff" in table:
        name = str(table["tariff"])
        if name not in tariffs:
            raise ValueError(f"{where}: no [tariff.{name}] table")
        tariff = tariffs[name]
    site = table.get("site")
    try:
        machine = parse_machine(str(table["machine"]))
        if tariff is None:
            tariff = flat_tariff(_number(where, table, "power_usd_per_kwh"))
        operating = OperatingProfile(
            0.0,
            _number(where, table, "pool_fee_pct", defaults.pool_fee_fraction * 100) / 100,
            _number(where, table, "uptime_pct", defaults.uptime_fraction * 100) / 100,
            _number(where, table, "pue", defaults.pue),
        )
    except (LookupError, ValueError) as error:  # UnknownMachine is a LookupError
        raise ValueError(f"{where}: {error}") from None
    return FleetLine(machine, count, operating, tariff, str(site) if site is not None else None)


def load_fleet(text: str, defaults: OperatingProfile) -> list[FleetLine]:
    """The lines of a fleet file; pool fee, uptime and PUE a line leaves out come from ``defaults``."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"not valid TOML: {error}") from None
    _unknown("the file", document, frozenset({"line", "tariff"}))
    tables = document.get("tariff", {})
    if not isinstance(tables, dict):
        raise ValueError("tariff must hold [tariff.NAME] tables")
    tariffs = {name: _tariff(name, table) for name, table in tables.items()}
    lines = document.get("line", [])
    if not isinstance(lines, list) or not lines:
        raise ValueError("no [[line]] tables: describe at least one line of machines")
    if len(lines) > MAX_LINES:
        raise ValueError(f"at most {MAX_LINES} [[line]] tables, got {len(lines)}")
    return [_line(index, table, tariffs, defaults) for index, table in enumerate(lines, start=1)]
