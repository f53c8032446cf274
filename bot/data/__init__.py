"""Package data (provenance in PROVENANCE.md): daily history, difficulty-regression fit, ASIC catalog.

The files are read with ``importlib.resources`` (works from a wheel or a zip) and parsed by the pure
functions in ``bot.economics``; each loader reads its file once per process.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from bot.economics.history import DailyRow, parse_daily_csv
from bot.economics.machines import Machine, parse_machines_csv
from bot.economics.regression import DifficultyRegression, difficulty_regression_from_json


def read_data_text(name: str) -> str:
    """Text of the shipped data file ``name`` (e.g. ``"history.csv"``)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@cache
def _history() -> tuple[DailyRow, ...]:
    return tuple(parse_daily_csv(read_data_text("history.csv")))


def load_history() -> list[DailyRow]:
    """The shipped daily history (2017-08-17 onward), sorted by date; a fresh list on each call."""
    return list(_history())


@cache
def load_difficulty_regression() -> DifficultyRegression:
    """The difficulty-regression fit written by ``scripts/build_history.py``."""
    return difficulty_regression_from_json(read_data_text("difficulty_regression.json"))


@cache
def load_machines() -> tuple[Machine, ...]:
    """The ASIC catalog of ``machines.csv``, in file order."""
    return tuple(parse_machines_csv(read_data_text("machines.csv")))
