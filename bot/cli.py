"""``minerwatch`` command line: status, breakeven, margin, fleet, cost, stress and machines.

Every command accepts what-if overrides (``--price``, ``--difficulty``, ``--fees-per-block``, ``--height``);
with all four given no network is touched. ``--json`` prints one object whose keys carry units.
Exit codes: 0 ok, 1 sources unavailable, 2 usage error (bad value, unknown machine, bad setting, a chat
platform rejecting its token).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.chat.commands import CommandsNotInstalledError, installed_commands
from bot.chat.parsing import (
    ArgumentError,
    MachineArguments,
    Reading,
    parse_machine_arguments,
    parse_percent,
    parse_positive,
    parse_price_usd,
    read_power_usd_per_kwh,
)
from bot.cluster import EXIT_DEPOSED, LeadershipLostError
from bot.config import Settings, secret_settings
from bot.data import load_difficulty_regression, load_history
from bot.economics.machines import parse_machine
from bot.economics.mining import OperatingProfile
from bot.economics.production_cost import BottomUpAssumptions
from bot.economics.stress import NotEnoughHistoryError, StressIndex, stress_baseline, stress_for_market
from bot.market.replay import DEFAULT_DAYS_PER_S, REPLAY_START
from bot.market.view import MarketView, Overrides, resolve_market
from bot.ops.dbtools import add_db_parser
from bot.ops.logs import RedactingFilter, redact, setup_logging
from bot.render.i18n import t
from bot.render.readings import read_as_data
from bot.render.table import format_table
from bot.reports.backtest import add_backtest_parser
from bot.reports.figures import (
    Report,
    breakeven_report,
    cost_report,
    machines_report,
    margin_report,
    status_report,
    stress_report,
)
from bot.reports.fleet import fleet_report
from bot.reports.fleet_file import load_fleet
from bot.sources.snapshot import SourceOutcome
from bot.transports.lifecycle import TokenRejectedError

if TYPE_CHECKING:
    from bot.app import ReplayOptions
    from bot.sources.aggregate import GiveUp, SourcesUnavailable

EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE = 0, 1, 2
DEFAULT_DEADLINE_S: float = Settings.model_fields["command_deadline_s"].default
EXIT_BUG = 70
"""An unexpected error (a bug): ``EX_SOFTWARE`` of BSD ``sysexits.h``."""
EXIT_BROKEN_PIPE = 141
"""The reader of stdout went away: 128 + SIGPIPE, what a shell reports for a process that signal ended."""
_T = TypeVar("_T")
_OPTIONS = "[--pool-fee PCT] [--uptime PCT] [--pue X] [what-if overrides] [--json]"
"""The options of breakeven and margin, for a usage line that shows MACHINE [POWER] once."""


class UsageError(Exception):
    """A bad value on the command line, reported as one line with exit code 2."""


def _arg(parse: Callable[[str], _T]) -> Callable[[str], _T]:
    """Adapt a ``bot.chat.parsing`` parser for argparse, keeping its one-line message."""

    def convert(text: str) -> _T:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date; write it like 2022-01-01") from None


def _height(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 10_000_000:
        raise argparse.ArgumentTypeError(f"height '{text}' is not a block height; write it like 925000")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 10_000_000:
        raise argparse.ArgumentTypeError(f"count '{text}' must be a whole number of machines, like 3")
    return int(text)


def _fees(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"fees per block '{text}' is not a number; write BTC like 0.02"
        ) from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"fees per block '{text}' BTC is out of range; write it like 0.02")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each subcommand sets ``handler``."""
    what_if = argparse.ArgumentParser(add_help=False)
    group = what_if.add_argument_group("what-if overrides (all four given: no network is touched)")
    group.add_argument("--price", type=_arg(parse_price_usd), help="BTC price, USD: 60000 or 60k")
    group.add_argument(
        "--difficulty",
        type=_arg(lambda t: parse_positive(t, name="difficulty", example="1.2e14", high=1e18)),
        help="network difficulty, e.g. 1.2e14",
    )
    group.add_argument("--fees-per-block", type=_fees, help="average fees per block, BTC")
    group.add_argument("--height", type=_height, help="block height (sets the subsidy)")
    what_if.add_argument(
        "--deadline",
        type=_arg(lambda t: parse_positive(t, name="deadline", example="10 (seconds)", high=300)),
        help="seconds in all to wait for the sources; one still silent then is given up, with a line saying "
        f"so (default MINERWATCH_COMMAND_DEADLINE_S, {DEFAULT_DEADLINE_S:g})",
    )
    what_if.add_argument("--json", action="store_true", help="print one JSON object instead of a table")

    parser = argparse.ArgumentParser(
        prog="minerwatch",
        description="Do my Bitcoin miners make money? Market commands wait at most --deadline seconds "
        f"(MINERWATCH_COMMAND_DEADLINE_S, default {DEFAULT_DEADLINE_S:g}) for the data sources, naming each "
        "one given up.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status = commands.add_parser(
        "status", parents=[what_if], help="network, hashprice, production cost, next adjustment"
    )
    status.set_defaults(handler=_status)

    breakeven = commands.add_parser(
        "breakeven",
        parents=[what_if],
        help="breakeven power price and BTC price",
        usage=f"%(prog)s MACHINE [POWER] {_OPTIONS}",
    )
    _add_machine_and_power(breakeven)
    _add_profile_options(breakeven)
    breakeven.set_defaults(handler=_breakeven)

    margin = commands.add_parser(
        "margin",
        parents=[what_if],
        help="revenue, power cost and profit per day",
        usage=f"%(prog)s MACHINE [POWER] [--count N] {_OPTIONS}",
    )
    _add_machine_and_power(margin)
    margin.add_argument("--count", type=_count, default=1, help="number of machines")
    _add_profile_options(margin)
    margin.set_defaults(handler=_margin)

    fleet = commands.add_parser(
        "fleet", parents=[what_if], help="a fleet file's lines: profit, breakevens, switch-off advice"
    )
    fleet.add_argument("file", help="TOML with [[line]] and [tariff.NAME] tables (see the README)")
    fleet.set_defaults(handler=_fleet)

    cost = commands.add_parser("cost", parents=[what_if], help="network production cost per BTC, both models")
    cost.add_argument(
        "--efficiency",
        type=_arg(lambda t: parse_positive(t, name="efficiency", example="20 (J/TH)", high=200)),
        help="fleet efficiency, J/TH",
    )
    cost.add_argument(
        "--power-price",
        type=_arg(read_power_usd_per_kwh),
        help="fleet power price: $0.06 or 6c (see breakeven)",
    )
    cost.set_defaults(handler=_cost)

    stress = commands.add_parser(
        "stress", parents=[what_if], help="open miner-stress index (proxy, 0-100) with its components"
    )
    stress.add_argument(
        "--date",
        type=_date,
        help="day of the reading (default today, UTC): the ranges are the 4 years of history before it",
    )
    stress.set_defaults(handler=_stress)

    add_backtest_parser(commands)
    add_db_parser(commands)

    run = commands.add_parser("run", help="run the bot (console chat when no tokens are set)")
    run.add_argument("--replay", action="store_true", help="play the shipped history instead of live data")
    run.add_argument(
        "--speed",
        type=_arg(lambda t: parse_positive(t, name="speed", example="30", high=1000)),
        help=f"with --replay: days per second (default {DEFAULT_DAYS_PER_S:g})",
    )
    run.add_argument(
        "--from",
        dest="start",
        type=_date,
        help=f"with --replay: first replayed day (default {REPLAY_START})",
    )
    run.set_defaults(handler=_run)

    machines = commands.add_parser("machines", help="the machine catalog")
    machines.add_argument("--json", action="store_true", help="print JSON")
    machines.set_defaults(handler=_machines)
    return parser


def _add_machine_and_power(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "words",
        nargs="+",
        metavar="MACHINE [POWER]",
        help="machine: a catalog name (s19xp, 'S21 Pro'), 21.5 (J/TH) or 200@3500 (TH/s at W) "
        "(default MINERWATCH_MACHINE); power price: $0.06 or 6c, a bare number is $/kWh below 1 and cents "
        "from 1 up (default MINERWATCH_POWER_USD_PER_KWH)",
    )


def _add_profile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pool-fee",
        type=_arg(lambda t: parse_percent(t, name="pool fee", high=50)),
        help="percent (default 2)",
    )
    parser.add_argument(
        "--uptime", type=_arg(lambda t: parse_percent(t, name="uptime", low=1)), help="percent (default 100)"
    )
    parser.add_argument(
        "--pue", type=_arg(lambda t: parse_positive(t, name="PUE", example="1.05", high=3)), help="site PUE"
    )


def _overrides(args: argparse.Namespace) -> Overrides:
    return Overrides(args.price, args.difficulty, args.fees_per_block, args.height)


def _machine_and_power(args: argparse.Namespace) -> MachineArguments:
    """``MACHINE [POWER]`` by the chat's grammar; a refusal is a usage error (one line, exit 2)."""
    try:
        return parse_machine_arguments(" ".join(args.words))
    except ArgumentError as error:
        raise UsageError(str(error)) from None


def _with_readings(report: Report, readings: Sequence[Reading]) -> Report:
    """``report`` whose data says how values typed without a unit were read (``read_as``)."""
    report.data["read_as"] = read_as_data(readings)
    return report


def _profile(args: argparse.Namespace, settings: Settings, power_usd_per_kwh: float) -> OperatingProfile:
    pool_fee_pct = settings.pool_fee_pct if args.pool_fee is None else args.pool_fee
    uptime_pct = settings.uptime_pct if args.uptime is None else args.uptime
    pue = settings.pue if args.pue is None else args.pue
    return OperatingProfile(power_usd_per_kwh, pool_fee_pct / 100, uptime_pct / 100, pue)


def _assumptions(
    settings: Settings, efficiency: float | None = None, power: float | None = None
) -> BottomUpAssumptions:
    return BottomUpAssumptions(
        fleet_j_per_th=efficiency or settings.fleet_j_per_th,
        power_usd_per_kwh=power or settings.fleet_power_usd_per_kwh,
        electricity_share_of_cash_cost=settings.electricity_share_of_cash_cost,
    )


def _tell(told: list[str]) -> Callable[[SourceOutcome], None]:
    """Print at once each source given up (``minerwatch: kraken: HTTP 503; going on without it``)."""

    def tell(outcome: SourceOutcome) -> None:
        line = outcome.error or outcome.dropped or f"{outcome.source}: no usable value"
        told.append(line)
        print(f"minerwatch: {line}; going on without it", file=sys.stderr, flush=True)

    return tell


async def _view(args: argparse.Namespace, settings: Settings) -> MarketView:
    deadline_s = args.deadline or settings.command_deadline_s
    overrides = _overrides(args)
    fetches = overrides.needs_price or overrides.needs_network
    give_up = _give_up(deadline_s, args.told) if fetches else None
    try:
        return await resolve_market(overrides, settings, give_up=give_up)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _stress_index(view: MarketView, day: date) -> StressIndex:
    """The index against the shipped daily history; raises ``NotEnoughHistoryError``."""
    return stress_for_market(view.market, stress_baseline(day, load_history()), load_difficulty_regression())


async def _status(args: argparse.Namespace, settings: Settings) -> Report:
    view = await _view(args, settings)
    now = _now()
    try:
        stress: StressIndex | NotEnoughHistoryError = _stress_index(view, now.date())
    except NotEnoughHistoryError as error:
        stress = error
    return status_report(view, _assumptions(settings), load_difficulty_regression(), now, stress=stress)


async def _stress(args: argparse.Namespace, settings: Settings) -> Report:
    view = await _view(args, settings)
    now = _now()
    try:
        stress = _stress_index(view, args.date or now.date())
    except NotEnoughHistoryError as error:
        raise UsageError(f"no miner-stress index on that day: {error}") from None
    return stress_report(view, stress, now)


async def _breakeven(args: argparse.Namespace, settings: Settings) -> Report:
    typed = _machine_and_power(args)
    machine = typed.machine or parse_machine(settings.machine)
    profile = _profile(args, settings, typed.power_usd_per_kwh or settings.power_usd_per_kwh)
    report = breakeven_report(await _view(args, settings), machine, profile, _now())
    return _with_readings(report, typed.readings)


async def _margin(args: argparse.Namespace, settings: Settings) -> Report:
    typed = _machine_and_power(args)
    machine = typed.machine or parse_machine(settings.machine)
    profile = _profile(args, settings, typed.power_usd_per_kwh or settings.power_usd_per_kwh)
    report = margin_report(await _view(args, settings), machine, profile, args.count, _now())
    return _with_readings(report, typed.readings)


async def _fleet(args: argparse.Namespace, settings: Settings) -> Report:
    """The fleet report as a table: each section's heading, rows and sentences (same figures as /fleet)."""
    defaults = OperatingProfile(0.0, settings.pool_fee_pct / 100, settings.uptime_pct / 100, settings.pue)
    try:
        with open(args.file, encoding="utf-8") as file:  # noqa: ASYNC230 (one small local file)
            lines = load_fleet(file.read(), defaults)
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{args.file}: cannot read it ({error.__class__.__name__})") from None
    except ValueError as error:
        raise UsageError(f"{args.file}: {error}") from None
    report = fleet_report(await _view(args, settings), lines, _now())
    rows: list[tuple[str, str]] = []
    for section in report.sections:
        rows += [("", ""), (section.heading, ""), *section.rows, *((note, "") for note in section.notes)]
    return Report(report.title, rows, report.data)


async def _cost(args: argparse.Namespace, settings: Settings) -> Report:
    view = await _view(args, settings)
    power, reading = args.power_price or (None, None)
    assumptions = _assumptions(settings, args.efficiency, power)
    report = cost_report(view, assumptions, load_difficulty_regression(), _now())
    return _with_readings(report, [] if reading is None else [reading])


def _replay_options(args: argparse.Namespace) -> ReplayOptions | None:
    """``--replay`` with its ``--speed`` and ``--from``; either of those alone, or a day outside the shipped
    history, is a ``UsageError``."""
    if not args.replay:
        given = [
            flag for flag, value in (("--speed", args.speed), ("--from", args.start)) if value is not None
        ]
        if given:
            verb = "are" if len(given) > 1 else "is"
            example = "minerwatch run --replay --speed 60 --from 2022-01-01"
            raise UsageError(f"{' and '.join(given)} {verb} for --replay only ({example})")
        return None
    start = args.start or REPLAY_START
    rows = load_history()
    first, last = rows[0].date, rows[-1].date
    if not first <= start <= last:
        raise UsageError(f"--from {start} is outside the shipped history ({first} to {last})")
    from bot.app import ReplayOptions

    return ReplayOptions(start=start, days_per_s=args.speed or DEFAULT_DAYS_PER_S)


async def _run(args: argparse.Namespace, settings: Settings) -> None:
    options = _replay_options(args)
    # The chat platforms' libraries and the store load only when the bot runs (see _sources_unavailable).
    from bot.app import run_bot
    from bot.store.db import StoreError

    setup_logging(settings)
    try:
        await run_bot(settings, installed_commands(), options)
    except (StoreError, TokenRejectedError, CommandsNotInstalledError) as error:
        raise UsageError(str(error)) from None


async def _machines(args: argparse.Namespace, settings: Settings) -> Report:
    return machines_report()


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.data, indent=2, sort_keys=True))
    else:
        print(format_table(report.rows, title=report.title))
        for note in report.notes:
            print(note)
        read_as = report.data.get("read_as")
        if read_as:
            print(t("en", "read.line", readings=", ".join(item["read_as"] for item in read_as)))


def _environment_secrets() -> list[str]:
    """The secret settings' values as the environment has them (Settings failed: nothing else is known)."""
    names = {f"MINERWATCH_{name.upper()}" for name in secret_settings()}
    return [value for key, value in os.environ.items() if key.upper() in names and value]


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        hide = RedactingFilter(_environment_secrets()).redact  # before shortening: a cut secret slips by
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        got = first.get("input")
        shown = f" (got {hide(str(got))!r:.60})" if isinstance(got, str | int | float) else ""
        raise UsageError(hide(f"bad setting MINERWATCH_{field.upper()}: {first['msg']}{shown}")) from None
    except SettingsError as error:
        named = re.search(r'field "(\w+)"', str(error))
        variable = f"MINERWATCH_{named[1].upper()}" if named else "a MINERWATCH_ variable"
        raise UsageError(
            f'bad setting {variable}: cannot parse it (write lists as JSON: ["a", "b"])'
        ) from None


def _give_up(deadline_s: float, told: list[str]) -> GiveUp:
    """The command's deadline for the sources (imported here: only a command that fetches loads them)."""
    from bot.sources.aggregate import GiveUp

    return GiveUp.after(deadline_s, _tell(told))


def _sources_unavailable() -> type[SourcesUnavailable]:
    """The exception class, imported only when an exception is being matched: the sources (and httpx) then
    load only for a command that fetches, so a what-if command starts in a fraction of a second."""
    from bot.sources.aggregate import SourcesUnavailable

    return SourcesUnavailable


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minerwatch`` console script; returns the process exit code.

    Output cut short by a reader that went away (``minerwatch machines | head -1``) ends quietly with
    ``EXIT_BROKEN_PIPE``: stdout is pointed at /dev/null so the interpreter's final flush cannot fail again
    (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
    """
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    args.told = []
    try:
        if getattr(args, "sync_handler", None):
            return int(args.sync_handler(args))
        settings = _settings()
        report = asyncio.run(args.handler(args, settings))
    except UsageError as error:
        print(f"minerwatch: {error}", file=sys.stderr)
        return EXIT_USAGE
    except _sources_unavailable() as error:
        summary, *lines = str(error).splitlines()
        untold = [line for line in lines if line not in args.told]  # each source once: told as it failed
        for line in [summary if untold else summary.rstrip(":"), *untold]:
            print(f"minerwatch: {line}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except LeadershipLostError as error:  # the supervisor restarts it, as a standby
        print(f"minerwatch: {error}", file=sys.stderr)
        return EXIT_DEPOSED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise
    except Exception as error:  # a bug: one line (secrets hidden) instead of a traceback
        print(f"minerwatch: internal error, please report it: {redact(repr(error))}", file=sys.stderr)
        return EXIT_BUG
    if report is not None:
        _print(report, args.json)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
