"""Hash Ribbons, Puell multiple and difficulty ribbon (reference/economics.md §3.1, §3.2, §3.5)."""

import itertools
import statistics
from collections.abc import Sequence
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.data import load_history
from bot.economics.history import DailyRow
from bot.economics.indicators import (
    RIBBONS_CONFIRM_DAYS,
    RIBBONS_MIN_DAYS,
    RibbonEvent,
    daily_issuance_usd,
    difficulty_ribbon_compression,
    hash_ribbon_events,
    puell_multiple,
    sma,
    trailing_percentile_rank,
)

START = date(2020, 1, 1)


def make_rows(
    hashrate_ths: Sequence[float | None], prices_usd: Sequence[float] | None = None
) -> list[DailyRow]:
    prices = prices_usd if prices_usd is not None else [10_000.0] * len(hashrate_ths)
    return [
        DailyRow(START + timedelta(days=i), price, 1e13, hashrate, None)
        for i, (hashrate, price) in enumerate(zip(hashrate_ths, prices, strict=True))
    ]


def reference_cross_days(hashrate_ths: Sequence[float], smoothing_days: int = 7) -> list[tuple[int, str]]:
    """Brute-force crossings of SMA30/SMA60 of the smoothed hashrate: (index, "under" | "over")."""

    def mean_at(values: Sequence[float], n: int, i: int) -> float:
        return statistics.fmean(values[i - n + 1 : i + 1])

    smoothed = [
        mean_at(hashrate_ths, smoothing_days, i) for i in range(smoothing_days - 1, len(hashrate_ths))
    ]
    offset = smoothing_days - 1
    diff = {i + offset: mean_at(smoothed, 30, i) - mean_at(smoothed, 60, i) for i in range(59, len(smoothed))}
    days = sorted(diff)
    return [
        (day, "under" if diff[day] < 0 else "over")
        for previous, day in itertools.pairwise(days)
        if (diff[previous] >= 0 > diff[day]) or (diff[previous] <= 0 < diff[day])
    ]


def rising_then_drop(drop_at: int, length: int = 150, drop_ths: float = 400.0) -> list[float]:
    """Hashrate rising 1 TH/s a day (SMA30 above SMA60) that steps down by ``drop_ths`` on ``drop_at``;
    with the defaults SMA30 crosses under SMA60 on day 125 and back over only after day 150."""
    return [10_000.0 + i - (drop_ths if i >= drop_at else 0.0) for i in range(length)]


def test_sma_windows_and_gaps() -> None:
    assert sma([1.0, 2.0, 3.0, 4.0], 2) == [None, 1.5, 2.5, 3.5]
    assert sma([1.0, None, 3.0, 4.0, 5.0], 2) == [None, None, None, 3.5, 4.5]
    assert sma([1.0], 2) == [None]
    with pytest.raises(ValueError, match="at least 1"):
        sma([1.0], 0)


@given(st.lists(st.floats(1, 1e12), min_size=1, max_size=80), st.integers(1, 30))
def test_sma_of_a_tail_equals_the_tail_of_the_sma(values: list[float], n: int) -> None:
    """A streaming evaluator may pass only the latest window and get the bit-identical value."""
    full = sma(values, n)
    assert sma(values[-n:], n)[-1] == full[-1]


def test_capitulation_is_reported_on_the_exact_cross_day() -> None:
    hashrate = rising_then_drop(drop_at=120)
    crosses = reference_cross_days(hashrate)
    assert [kind for _, kind in crosses] == ["under"]
    cross_day = crosses[0][0]
    events = hash_ribbon_events(make_rows(hashrate), confirm_days=1)
    assert [(e.kind, e.date) for e in events] == [("ribbons_capitulation", START + timedelta(days=cross_day))]
    assert events[0].sma30_ths < events[0].sma60_ths


def test_confirmation_dates_the_event_on_the_kth_day_after_the_cross() -> None:
    hashrate = rising_then_drop(drop_at=120)
    cross_day = reference_cross_days(hashrate)[0][0]
    for confirm_days in (1, 2, 3, 5):
        events = hash_ribbon_events(make_rows(hashrate), confirm_days=confirm_days)
        assert [e.date for e in events] == [START + timedelta(days=cross_day + confirm_days - 1)]


def test_recovery_after_capitulation() -> None:
    hashrate = rising_then_drop(drop_at=120, length=260)
    hashrate = [h + (900.0 if i >= 170 else 0.0) for i, h in enumerate(hashrate)]
    crosses = reference_cross_days(hashrate)
    assert [kind for _, kind in crosses] == ["under", "over"]
    events = hash_ribbon_events(make_rows(hashrate), confirm_days=1)
    assert [(e.kind, e.date) for e in events if e.kind != "ribbons_buy"] == [
        ("ribbons_capitulation", START + timedelta(days=crosses[0][0])),
        ("ribbons_recovery", START + timedelta(days=crosses[1][0])),
    ]


def test_no_event_without_a_cross() -> None:
    assert hash_ribbon_events(make_rows([10_000.0 + i for i in range(300)])) == []
    assert hash_ribbon_events(make_rows([10_000.0] * 300)) == []
    # Already "under" when the averages first exist: the regime is adopted, not reported.
    assert hash_ribbon_events(make_rows([20_000.0 - i for i in range(300)]), confirm_days=1) == []
    # Too short for SMA60 of the 7-day smoothing to exist on two days.
    assert hash_ribbon_events(make_rows(rising_then_drop(drop_at=10, length=RIBBONS_MIN_DAYS - 1))) == []


def whipsaw_hashrate(dip_at: int = 150, length: int = 200) -> list[float]:
    """Rising hashrate (SMA30 - SMA60 = +15 with no smoothing) with a one-day -1200 / next-day +1200 pulse:
    the difference drops to -5 on ``dip_at`` only, then returns to +15."""
    pulse = {dip_at: -1200.0, dip_at + 1: 1200.0}
    return [10_000.0 + i + pulse.get(i, 0.0) for i in range(length)]


def test_confirmation_suppresses_a_one_day_whipsaw() -> None:
    hashrate = whipsaw_hashrate()
    assert [day for day, _ in reference_cross_days(hashrate, smoothing_days=1)] == [150, 151]
    raw = hash_ribbon_events(make_rows(hashrate), confirm_days=1, smoothing_days=1)
    assert [(e.kind, (e.date - START).days) for e in raw] == [
        ("ribbons_capitulation", 150),
        ("ribbons_recovery", 151),
    ]
    assert hash_ribbon_events(make_rows(hashrate), confirm_days=2, smoothing_days=1) == []
    assert RIBBONS_CONFIRM_DAYS >= 2  # the default suppresses it too
    assert hash_ribbon_events(make_rows(hashrate), smoothing_days=1) == []


def buy_scenario(prices: list[float]) -> list[RibbonEvent]:
    hashrate = rising_then_drop(drop_at=120, length=len(prices))
    hashrate = [h + (900.0 if i >= 170 else 0.0) for i, h in enumerate(hashrate)]
    return hash_ribbon_events(make_rows(hashrate, prices), confirm_days=1)


def recovery_day() -> int:
    return next(e for e in buy_scenario([1.0] * 260) if e.kind == "ribbons_recovery").date.toordinal()


def test_buy_on_recovery_day_when_price_trend_is_up() -> None:
    events = buy_scenario([1_000.0 + 10 * i for i in range(260)])
    recovery = next(e for e in events if e.kind == "ribbons_recovery")
    buys = [e for e in events if e.kind == "ribbons_buy"]
    assert [b.date for b in buys] == [recovery.date]


def test_buy_waits_for_the_price_crossover_after_recovery() -> None:
    recovery_index = recovery_day() - START.toordinal()
    turn = recovery_index + 15
    prices = [50_000.0 - 10 * i if i < turn else 50_000.0 - 10 * turn + 100 * (i - turn) for i in range(260)]
    fast, slow = sma(prices, 10), sma(prices, 20)
    crossover = next(
        i
        for i in range(recovery_index + 1, 260)
        if (f := fast[i]) is not None and (s := slow[i]) is not None and f > s
    )
    buys = [e for e in buy_scenario(prices) if e.kind == "ribbons_buy"]
    assert [(b.date - START).days for b in buys] == [crossover]
    assert buys[0].price_usd == prices[crossover]


def test_no_buy_when_capitulation_returns_before_the_price_crossover() -> None:
    hashrate = rising_then_drop(drop_at=120, length=250)
    hashrate = [
        h + (900.0 if i >= 170 else 0.0) - (2000.0 if i >= 200 else 0.0) for i, h in enumerate(hashrate)
    ]
    assert [day for day, _ in reference_cross_days(hashrate)] == [125, 175, 212]
    prices = [50_000.0 - 10 * i if i < 225 else 47_750.0 + 500 * (i - 225) for i in range(250)]
    events = hash_ribbon_events(make_rows(hashrate, prices), confirm_days=1)
    assert [e.kind for e in events] == ["ribbons_capitulation", "ribbons_recovery", "ribbons_capitulation"]


def test_gaps_in_dates_are_rejected() -> None:
    rows = make_rows([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="consecutive"):
        hash_ribbon_events([rows[0], rows[2]])
    with pytest.raises(ValueError, match="confirm_days"):
        hash_ribbon_events(rows, confirm_days=0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(1e3, 2e3), min_size=70, max_size=200),
    st.integers(1, 4),
)
def test_event_invariants(hashrate: list[float], confirm_days: int) -> None:
    events = hash_ribbon_events(
        make_rows(hashrate, [1e4 + (i % 17) * 100.0 for i in range(len(hashrate))]), confirm_days=confirm_days
    )
    ribbons = [e for e in events if e.kind != "ribbons_buy"]
    kinds = [e.kind for e in ribbons]
    assert all(a != b for a, b in itertools.pairwise(kinds))  # alternate
    assert all((b.date - a.date).days >= confirm_days for a, b in itertools.pairwise(ribbons))
    for event in ribbons:
        assert (event.sma30_ths < event.sma60_ths) == (event.kind == "ribbons_capitulation")
    last_ribbon = None
    for event in events:
        if event.kind == "ribbons_buy":
            assert last_ribbon == "ribbons_recovery"  # at most one buy per recovery, never in capitulation
        last_ribbon = event.kind


def shipped_events() -> list[RibbonEvent]:
    return [e for e in hash_ribbon_events(load_history()) if e.date >= date(2019, 1, 1)]


@pytest.mark.parametrize(
    ("episode", "kind", "first", "last"),
    [
        ("late-2019 capitulation", "ribbons_capitulation", date(2019, 11, 1), date(2019, 12, 15)),
        ("early-2020 recovery", "ribbons_recovery", date(2019, 12, 1), date(2020, 1, 31)),
        ("March 2020 crash", "ribbons_capitulation", date(2020, 3, 10), date(2020, 4, 15)),
        ("2020 halving", "ribbons_capitulation", date(2020, 5, 11), date(2020, 6, 30)),
        ("post-halving recovery", "ribbons_recovery", date(2020, 6, 15), date(2020, 7, 31)),
        ("China mining ban", "ribbons_capitulation", date(2021, 5, 20), date(2021, 7, 15)),
        ("post-ban recovery", "ribbons_recovery", date(2021, 7, 15), date(2021, 9, 15)),
        ("2022 bear (June)", "ribbons_capitulation", date(2022, 5, 25), date(2022, 7, 15)),
        ("2022 bear (Nov/Dec)", "ribbons_capitulation", date(2022, 11, 1), date(2022, 12, 31)),
        ("2023 recovery", "ribbons_recovery", date(2023, 1, 1), date(2023, 2, 15)),
        ("2023 buy", "ribbons_buy", date(2023, 1, 1), date(2023, 2, 28)),
        ("2024 halving", "ribbons_capitulation", date(2024, 4, 20), date(2024, 6, 30)),
    ],
)
def test_shipped_history_contains_known_episodes(episode: str, kind: str, first: date, last: date) -> None:
    assert any(e.kind == kind and first <= e.date <= last for e in shipped_events()), episode


def test_shipped_history_buy_prices_follow_recoveries() -> None:
    events = shipped_events()
    for buy in (e for e in events if e.kind == "ribbons_buy"):
        recovery = max(e.date for e in events if e.kind == "ribbons_recovery" and e.date <= buy.date)
        assert (buy.date - recovery).days < 120


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2018, 12, 15), 0.394),
        (date(2020, 3, 12), 0.74),
        (date(2022, 6, 18), 0.469),
        (date(2022, 11, 21), 0.442),
        (date(2024, 4, 21), 0.805),
        (date(2024, 12, 17), 1.203),
        (date(2025, 3, 8), 0.979),
    ],
)
def test_puell_matches_reference_values(day: date, expected: float) -> None:
    rows = load_history()
    puell = puell_multiple(daily_issuance_usd(rows))
    value = puell[next(i for i, row in enumerate(rows) if row.date == day)]
    assert value == pytest.approx(expected, abs=0.005)


def test_puell_issuance_falls_back_to_144_blocks_of_subsidy() -> None:
    rows = [
        DailyRow(date(2024, 4, 19), 60_000.0, 8e13, None, 900.0),
        DailyRow(date(2024, 4, 20), 60_000.0, 8e13, None, None),
    ]
    assert daily_issuance_usd(rows) == [900.0 * 60_000.0, 144 * 3.125 * 60_000.0]
    assert puell_multiple([1.0, 3.0, None, 2.0], window_days=2) == [None, 1.5, None, None]
    assert puell_multiple([2.0, 2.0, 2.0], window_days=3)[-1] == 1.0


def test_difficulty_ribbon_compression() -> None:
    flat = difficulty_ribbon_compression([5e13] * 250)
    assert flat[198] is None
    assert flat[199] == pytest.approx(0.0, abs=1e-15)
    rising = difficulty_ribbon_compression([1e13 * 1.01**i for i in range(250)])
    assert rising[-1] is not None and rising[-1] > 0.1
    # From 2012 on (2011's GPU rush compressed the ribbon to 0.55).
    shipped = difficulty_ribbon_compression(
        [row.difficulty for row in load_history() if row.date.year >= 2012]
    )
    assert all(value is None or 0 <= value < 0.5 for value in shipped)


def test_trailing_percentile_rank() -> None:
    assert trailing_percentile_rank([3.0, 1.0, 2.0, 5.0, None, 4.0], 3) == [
        None,
        None,
        2 / 3,
        1.0,
        None,
        None,
    ]
    with pytest.raises(ValueError, match="window_days"):
        trailing_percentile_rank([1.0], 0)
