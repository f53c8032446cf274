"""Hash Ribbons, Puell multiple and difficulty ribbon."""

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
    RIBBONS_BAND,
    RIBBONS_MIN_CAPITULATION_DAYS,
    RIBBONS_MIN_DAYS,
    RibbonEvent,
    daily_issuance_usd,
    difficulty_ribbon_compression,
    hash_ribbon_events,
    puell_multiple,
    sma,
    trailing_percentile_rank,
)
from bot.market.poller import RIBBON_WINDOW_DAYS

START = date(2020, 1, 1)


def make_rows(
    hashrate_ths: Sequence[float | None], prices_usd: Sequence[float] | None = None
) -> list[DailyRow]:
    prices = prices_usd if prices_usd is not None else [10_000.0] * len(hashrate_ths)
    return [
        DailyRow(START + timedelta(days=i), price, 1e13, hashrate, None)
        for i, (hashrate, price) in enumerate(zip(hashrate_ths, prices, strict=True))
    ]


def raw_events(rows: Sequence[DailyRow]) -> list[RibbonEvent]:
    """Capriole's definition without the noise rules."""
    return hash_ribbon_events(rows, band=0.0, min_capitulation_days=0)


def ratios(hashrate_ths: Sequence[float]) -> dict[int, float]:
    """Brute-force SMA30/SMA60 of the hashrate by day index."""

    def mean_at(n: int, i: int) -> float:
        return statistics.fmean(hashrate_ths[i - n + 1 : i + 1])

    return {i: mean_at(30, i) / mean_at(60, i) for i in range(59, len(hashrate_ths))}


def reference_cross_days(hashrate_ths: Sequence[float]) -> list[tuple[int, str]]:
    """Brute-force crossings of SMA30/SMA60 of the hashrate: (index, "under" | "over")."""
    ratio = ratios(hashrate_ths)
    return [
        (day, "under" if ratio[day] < 1 else "over")
        for previous, day in itertools.pairwise(sorted(ratio))
        if (ratio[previous] >= 1 > ratio[day]) or (ratio[previous] <= 1 < ratio[day])
    ]


def rising_then_drop(drop_at: int, length: int = 150, drop_ths: float = 400.0) -> list[float]:
    """Hashrate rising 1 TH/s a day (SMA30 above SMA60) that steps down by ``drop_ths`` on ``drop_at``."""
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


def test_raw_definition_reports_the_exact_cross_day_of_the_unsmoothed_averages() -> None:
    """No pre-smoothing and no confirmation days: the event is the day SMA30 crosses SMA60."""
    hashrate = rising_then_drop(drop_at=120)
    crosses = reference_cross_days(hashrate)
    assert [kind for _, kind in crosses] == ["under"]
    cross_day = crosses[0][0]
    events = raw_events(make_rows(hashrate))
    assert [(e.kind, e.date) for e in events] == [("ribbons_capitulation", START + timedelta(days=cross_day))]
    assert events[0].sma30_ths < events[0].sma60_ths


def test_the_band_dates_a_cross_the_first_day_the_ratio_is_past_it() -> None:
    hashrate = rising_then_drop(drop_at=120, drop_ths=600.0)
    ratio = ratios(hashrate)
    cross_day = reference_cross_days(hashrate)[0][0]
    for band in (0.0, RIBBONS_BAND, 0.01):
        expected = next(day for day in sorted(ratio) if day >= cross_day and ratio[day] < 1 - band)
        events = hash_ribbon_events(make_rows(hashrate), band=band)
        assert [(e.date - START).days for e in events] == [expected]


def test_recovery_after_capitulation_carries_its_length() -> None:
    hashrate = rising_then_drop(drop_at=120, length=260)
    hashrate = [h + (900.0 if i >= 170 else 0.0) for i, h in enumerate(hashrate)]
    crosses = reference_cross_days(hashrate)
    assert [kind for _, kind in crosses] == ["under", "over"]
    events = raw_events(make_rows(hashrate))
    assert [(e.kind, e.date) for e in events if e.kind != "ribbons_buy"] == [
        ("ribbons_capitulation", START + timedelta(days=crosses[0][0])),
        ("ribbons_recovery", START + timedelta(days=crosses[1][0])),
    ]
    assert events[1].capitulation_days == crosses[1][0] - crosses[0][0]


def test_no_event_without_a_cross() -> None:
    assert hash_ribbon_events(make_rows([10_000.0 + i for i in range(300)])) == []
    assert hash_ribbon_events(make_rows([10_000.0] * 300)) == []
    # Already "under" when the averages first exist: the regime is adopted, not reported.
    assert raw_events(make_rows([20_000.0 - i for i in range(300)])) == []
    # Too short for SMA60 to exist on two days.
    assert hash_ribbon_events(make_rows(rising_then_drop(drop_at=10, length=RIBBONS_MIN_DAYS))) == []


def whipsaw_hashrate(dip_at: int = 150, length: int = 200) -> list[float]:
    """Rising hashrate (SMA30/SMA60 ≈ 1 + 0.15 %) with a one-day -1200 / next-day +1200 pulse: the ratio
    dips just under 1 on ``dip_at`` only, then returns above."""
    pulse = {dip_at: -1200.0, dip_at + 1: 1200.0}
    return [10_000.0 + i + pulse.get(i, 0.0) for i in range(length)]


def test_the_band_suppresses_a_one_day_whipsaw() -> None:
    hashrate = whipsaw_hashrate()
    assert [day for day, _ in reference_cross_days(hashrate)] == [150, 151]
    raw = raw_events(make_rows(hashrate))
    assert [(e.kind, (e.date - START).days) for e in raw] == [
        ("ribbons_capitulation", 150),
        ("ribbons_recovery", 151),
    ]
    assert min(ratios(hashrate).values()) > 1 - RIBBONS_BAND  # the dip stays inside the band
    assert hash_ribbon_events(make_rows(hashrate)) == []


def short_capitulation(days: int, length: int = 260) -> list[float]:
    """A capitulation (day 125 on the raw definition) that the hashrate reverses ``days`` days later."""
    hashrate = rising_then_drop(drop_at=120, length=length, drop_ths=600.0)
    cross_day = reference_cross_days(hashrate)[0][0]
    back = cross_day + days
    for i in range(back, length):
        hashrate[i] += 3_000.0
    return hashrate


def test_a_short_capitulation_ends_with_a_recovery_but_no_buy() -> None:
    rising_prices = [1_000.0 + 10 * i for i in range(260)]
    short = hash_ribbon_events(make_rows(short_capitulation(5), rising_prices))
    assert [e.kind for e in short] == ["ribbons_capitulation", "ribbons_recovery"]
    assert short[1].capitulation_days is not None
    assert short[1].capitulation_days < RIBBONS_MIN_CAPITULATION_DAYS
    # The raw definition calls the same 5-day cycle a buy.
    assert [e.kind for e in raw_events(make_rows(short_capitulation(5), rising_prices))] == [
        "ribbons_capitulation",
        "ribbons_recovery",
        "ribbons_buy",
    ]
    long = hash_ribbon_events(make_rows(short_capitulation(30), rising_prices))
    assert [e.kind for e in long] == ["ribbons_capitulation", "ribbons_recovery", "ribbons_buy"]
    assert long[1].capitulation_days is not None
    assert long[1].capitulation_days >= RIBBONS_MIN_CAPITULATION_DAYS


def buy_scenario(prices: list[float]) -> list[RibbonEvent]:
    hashrate = rising_then_drop(drop_at=120, length=len(prices))
    hashrate = [h + (900.0 if i >= 170 else 0.0) for i, h in enumerate(hashrate)]
    return hash_ribbon_events(make_rows(hashrate, prices))


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
    assert [day for day, _ in reference_cross_days(hashrate)] == [122, 172, 209]
    prices = [50_000.0 - 10 * i if i < 225 else 47_750.0 + 500 * (i - 225) for i in range(250)]
    events = hash_ribbon_events(make_rows(hashrate, prices))
    assert [e.kind for e in events] == ["ribbons_capitulation", "ribbons_recovery", "ribbons_capitulation"]


def test_bad_arguments_are_rejected() -> None:
    rows = make_rows([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="consecutive"):
        hash_ribbon_events([rows[0], rows[2]])
    with pytest.raises(ValueError, match="band"):
        hash_ribbon_events(rows, band=-0.01)
    with pytest.raises(ValueError, match="min_capitulation_days"):
        hash_ribbon_events(rows, min_capitulation_days=-1)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(1e3, 2e3), min_size=70, max_size=200),
    st.sampled_from([0.0, RIBBONS_BAND, 0.01]),
    st.integers(0, 20),
)
def test_event_invariants(hashrate: list[float], band: float, min_days: int) -> None:
    events = hash_ribbon_events(
        make_rows(hashrate, [1e4 + (i % 17) * 100.0 for i in range(len(hashrate))]),
        band=band,
        min_capitulation_days=min_days,
    )
    ribbons = [e for e in events if e.kind != "ribbons_buy"]
    kinds = [e.kind for e in ribbons]
    assert all(a != b for a, b in itertools.pairwise(kinds))  # alternate
    for event in ribbons:
        if event.kind == "ribbons_capitulation":
            assert event.sma30_ths < event.sma60_ths * (1 - band)
        else:
            assert event.sma30_ths > event.sma60_ths * (1 + band)
    last_ribbon: RibbonEvent | None = None
    for event in events:
        if event.kind == "ribbons_buy":
            # at most one buy per recovery, never in capitulation, never after a short capitulation
            assert last_ribbon is not None and last_ribbon.kind == "ribbons_recovery"
            assert last_ribbon.capitulation_days is not None
            assert last_ribbon.capitulation_days >= min_days
        last_ribbon = event


def test_a_trailing_window_reports_the_latest_days_like_the_whole_history() -> None:
    """The live bot evaluates a trailing window each day; it must find what the whole history finds."""
    rows = [row for row in load_history() if row.hashrate_ths is not None]
    whole = hash_ribbon_events(rows)
    window = RIBBON_WINDOW_DAYS
    streamed = [
        event
        for end in range(window, len(rows) + 1)
        for event in hash_ribbon_events(rows[end - window : end])
        if event.date == rows[end - 1].date
    ]
    assert [(e.date, e.kind) for e in streamed] == [
        (e.date, e.kind) for e in whole if e.date >= rows[window - 1].date
    ]


PINNED_SINCE = date(2017, 8, 17)
SHIPPED_EVENTS = [
    ("2018-10-31", "ribbons_capitulation"),
    ("2019-01-10", "ribbons_recovery"),
    ("2019-01-10", "ribbons_buy"),
    ("2019-11-20", "ribbons_capitulation"),
    ("2019-12-21", "ribbons_recovery"),
    ("2019-12-28", "ribbons_buy"),
    ("2020-03-20", "ribbons_capitulation"),
    ("2020-04-24", "ribbons_recovery"),
    ("2020-04-24", "ribbons_buy"),
    ("2020-05-24", "ribbons_capitulation"),
    ("2020-06-23", "ribbons_recovery"),
    ("2020-07-13", "ribbons_buy"),
    ("2020-10-29", "ribbons_capitulation"),
    ("2020-12-03", "ribbons_recovery"),
    ("2020-12-03", "ribbons_buy"),
    ("2021-04-27", "ribbons_capitulation"),
    ("2021-05-17", "ribbons_recovery"),
    ("2021-06-03", "ribbons_capitulation"),
    ("2021-08-08", "ribbons_recovery"),
    ("2021-08-08", "ribbons_buy"),
    ("2022-06-10", "ribbons_capitulation"),
    ("2022-08-20", "ribbons_recovery"),
    ("2022-08-20", "ribbons_buy"),
    ("2022-11-27", "ribbons_capitulation"),
    ("2023-01-15", "ribbons_recovery"),
    ("2023-01-15", "ribbons_buy"),
    ("2023-07-13", "ribbons_capitulation"),
    ("2023-07-23", "ribbons_recovery"),
    ("2024-05-14", "ribbons_capitulation"),
    ("2024-07-23", "ribbons_recovery"),
    ("2024-07-23", "ribbons_buy"),
    ("2024-10-08", "ribbons_capitulation"),
    ("2024-10-11", "ribbons_recovery"),
    ("2025-02-04", "ribbons_capitulation"),
    ("2025-02-07", "ribbons_recovery"),
]
"""Every event on the shipped history (hashrate ends 2025-03-08); the notes compare them with the dates
Capriole and the press published."""


def test_shipped_history_events_are_pinned() -> None:
    """Pinned since 2017-08-17, where the hashrate series has daily values (earlier years: see below)."""
    events = hash_ribbon_events(load_history())
    assert [(e.date.isoformat(), e.kind) for e in events if e.date >= PINNED_SINCE] == SHIPPED_EVENTS


@pytest.mark.parametrize(
    ("published", "kind", "source"),
    [
        (date(2020, 4, 25), "ribbons_buy", "Hash Ribbon buy 'April 25' (Cointelegraph, IBTimes, July 2020)"),
        (date(2020, 7, 13), "ribbons_buy", "Edwards: buy confirmed by the 2020-07-13 daily close"),
        (date(2022, 6, 10), "ribbons_capitulation", "Edwards 2022-08-20: capitulation lasted 71 days"),
        (date(2022, 8, 20), "ribbons_recovery", "Edwards 2022-08-20: 'officially ended today'"),
        (date(2022, 11, 28), "ribbons_capitulation", "Edwards/Clemente, 'today's hash band bear cross'"),
        (date(2024, 5, 15), "ribbons_capitulation", "CryptoQuant 2024-05-15: 'Hash Ribbons says yes'"),
        (date(2024, 7, 23), "ribbons_recovery", "'On July 23, the hash ribbons exited capitulation'"),
    ],
)
def test_shipped_history_lands_within_a_day_of_published_dates(
    published: date, kind: str, source: str
) -> None:
    events = hash_ribbon_events(load_history())
    nearest = min((e for e in events if e.kind == kind), key=lambda e: abs((e.date - published).days))
    assert abs((nearest.date - published).days) <= 1, source


def test_the_2022_capitulation_lasted_71_days_as_published() -> None:
    recovery = next(e for e in hash_ribbon_events(load_history()) if e.date == date(2022, 8, 20))
    assert recovery.capitulation_days == 71


def test_short_shipped_cycles_give_no_buy() -> None:
    """2023-07, 2024-10 and 2025-02: capitulation and recovery within days, no buy signal."""
    events = hash_ribbon_events(load_history())
    short = [
        e
        for e in events
        if e.kind == "ribbons_recovery"
        and e.date >= PINNED_SINCE
        and e.capitulation_days is not None
        and e.capitulation_days < RIBBONS_MIN_CAPITULATION_DAYS
    ]
    assert [(e.date.isoformat(), e.capitulation_days) for e in short] == [
        ("2023-07-23", 10),
        ("2024-10-11", 3),
        ("2025-02-07", 3),
    ]
    buys = {e.date for e in events if e.kind == "ribbons_buy"}
    assert not buys & {e.date + timedelta(days=d) for e in short for d in range(60)}


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
