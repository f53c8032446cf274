"""Daily history format (bot/economics/history.py) and the shipped bot/data/history.csv."""

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.data import load_history, read_data_text
from bot.economics.history import (
    HALVING_DATES_UTC,
    DailyRow,
    estimated_height_on,
    format_daily_csv,
    height_at_end_of,
    parse_daily_csv,
    subsidy_btc_on,
    supply_btc_at_end_of,
)


def test_columns_in_any_order_with_extras_and_optional_hashrate() -> None:
    text = (
        "difficulty,note,date,hashrate_ths,price_usd\n"
        "2.5e13,x,2021-01-02,1.5e8,30000\n"
        "2e13,y,2021-01-01,,29000.5\n"
    )
    rows = parse_daily_csv(text)
    assert rows == [
        DailyRow(date(2021, 1, 1), 29000.5, 2e13, None, None),
        DailyRow(date(2021, 1, 2), 30000.0, 2.5e13, 1.5e8, None),
    ]


def test_hashrate_column_may_be_absent_and_header_may_have_bom_quotes_and_blanks() -> None:
    text = '\ufeff"Date", "Price_USD" ,"difficulty"\r\n2021-01-01,29000,2e13\r\n\r\n'
    assert parse_daily_csv(text) == [DailyRow(date(2021, 1, 1), 29000.0, 2e13, None, None)]


def test_issuance_column_is_read_when_present() -> None:
    text = "date,price_usd,difficulty,issuance_btc\n2024-04-21,64000,8.6e13,456.25\n"
    assert parse_daily_csv(text)[0].issuance_btc == 456.25


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"line 1: empty"),
        ("date,difficulty\n2021-01-01,1\n", r"line 1: price_usd: missing column"),
        ("date,price_usd,difficulty\n2021-01-01,1,1\n2021-01-02,abc,1\n", r"line 3: price_usd: not a number"),
        ("date,price_usd,difficulty\n2021-01-01,1,-5\n", r"line 2: difficulty: must be > 0"),
        ("date,price_usd,difficulty\n2021-01-01,nan,1\n", r"line 2: price_usd: must be > 0"),
        ("date,price_usd,difficulty\n01/02/2021,1,1\n", r"line 2: date: not an ISO date"),
        ("date,price_usd,difficulty,hashrate_ths\n2021-01-01,1,1,0\n", r"line 2: hashrate_ths: must be > 0"),
        (
            "date,price_usd,difficulty,issuance_btc\n2021-01-01,1,1,-1\n",
            r"line 2: issuance_btc: must be >= 0",
        ),
        (
            "date,price_usd,difficulty\n2021-01-01,1,1\n2021-01-01,2,2\n",
            r"line 3: date: 2021-01-01 repeats line 2",
        ),
        ("date,price_usd,difficulty\n2021-01-01,1\n", r"line 2: row: expected 3 fields, got 2"),
        ("date,price_usd,difficulty,date\n2021-01-01,1,1,2021-01-02\n", r"line 1: date: repeated column"),
    ],
)
def test_bad_input_names_line_and_field(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_daily_csv(text)


@pytest.mark.parametrize(
    ("day", "subsidy_btc"),
    [
        (date(2016, 7, 8), 25.0),
        (date(2016, 7, 9), 12.5),
        (date(2020, 5, 10), 12.5),
        (date(2020, 5, 11), 6.25),
        (date(2024, 4, 19), 6.25),
        (date(2024, 4, 20), 3.125),
        (date(2025, 6, 1), 3.125),
    ],
)
def test_subsidy_follows_halving_dates(day: date, subsidy_btc: float) -> None:
    assert subsidy_btc_on(day) == subsidy_btc


@given(
    st.lists(
        st.tuples(
            st.floats(0.01, 1e7),
            st.floats(1.0, 1e16),
            st.none() | st.floats(1.0, 1e10),
            st.none() | st.sampled_from([0.0, 328.125, 1781.25, 900.0]),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_format_then_parse_round_trips_to_the_shipped_precision(
    values: list[tuple[float, float, float | None, float | None]],
) -> None:
    rows = [DailyRow(date(2020, 1, 1) + timedelta(days=i), *value) for i, value in enumerate(values)]
    parsed = parse_daily_csv(format_daily_csv(rows))
    for row, back in zip(rows, parsed, strict=True):
        assert back.date == row.date
        assert back.price_usd == pytest.approx(row.price_usd, abs=0.005)
        assert back.difficulty == row.difficulty
        assert (back.hashrate_ths is None) == (row.hashrate_ths is None)
        assert back.issuance_btc == row.issuance_btc


def test_shipped_history_shape() -> None:
    header = read_data_text("history.csv").splitlines()[0]
    assert header == "date,price_usd,difficulty,hashrate_ths,issuance_btc,height"
    rows = load_history()
    assert rows[0].date == date(2010, 7, 17)
    assert rows[-1].date == date(2025, 6, 2)
    assert all(b.date - a.date == timedelta(days=1) for a, b in itertools.pairwise(rows))
    with_hashrate = [row for row in rows if row.hashrate_ths is not None]
    assert with_hashrate[-1].date == date(2025, 3, 8)
    assert len(with_hashrate) == (date(2025, 3, 8) - date(2010, 7, 17)).days + 1
    assert all(row.issuance_btc is not None for row in with_hashrate)
    assert all(row.height is not None for row in rows)
    assert all(
        a.height is not None and b.height is not None and a.height < b.height
        for a, b in itertools.pairwise(rows)
    )


def test_shipped_heights_put_each_halving_block_on_its_day() -> None:
    """Heights come from cumulative issuance: block 210,000 · k must fall on the k-th halving day."""
    rows = {row.date: row for row in load_history()}
    for k, day in enumerate(HALVING_DATES_UTC, start=1):
        eve, halving_day = rows[day - timedelta(days=1)], rows[day]
        assert eve.height is not None and halving_day.height is not None
        assert eve.height < 210_000 * k <= halving_day.height
    # Block 840,000 was mined at 00:09 UTC on 2024-04-20, so 839,999 ended 2024-04-19; the issuance file
    # books two late blocks of the 19th on the 20th.
    assert rows[date(2024, 4, 19)].height == 839_997
    # Past the issuance file (2025-03-08), 144 blocks a day.
    assert rows[date(2025, 6, 2)].height == rows[date(2025, 3, 8)].height + 144 * 86  # type: ignore[operator]


def test_shipped_difficulty_before_2017_is_the_days_mean_block_difficulty() -> None:
    rows = {row.date: row for row in load_history()}
    # 2016-07-09 (block 420,000): 213.40 G; 2012-11-28 (block 210,000): 3.44 M (bits 0x1a03a30c).
    assert rows[date(2016, 7, 9)].difficulty == pytest.approx(213_398_925_331, rel=1e-7)
    assert rows[date(2012, 11, 28)].difficulty == pytest.approx(3_438_908.96, rel=1e-7)


@pytest.mark.parametrize(
    ("day", "height"),
    [
        (date(2009, 1, 3), 0),
        (date(2012, 11, 28), 210_000),
        (date(2024, 4, 20), 840_000),
        (date(2024, 4, 21), 840_144),
        (date(2026, 2, 5), 840_000 + 144 * 656),
    ],
)
def test_estimated_height_follows_the_halving_anchors(day: date, height: int) -> None:
    assert estimated_height_on(day) == height


def test_recorded_height_beats_the_estimate_and_sets_the_supply() -> None:
    recorded = DailyRow(date(2024, 4, 19), 64_000.0, 8.6e13, None, None, 839_999)
    assert height_at_end_of(recorded) == 839_999
    assert supply_btc_at_end_of(recorded) == 19_687_500.0
    estimated = DailyRow(date(2024, 4, 20), 64_000.0, 8.6e13, None, None)
    assert height_at_end_of(estimated) == 840_000
    assert supply_btc_at_end_of(estimated) == 19_687_503.125


@pytest.mark.parametrize(("text", "message"), [("1.5", "not an integer"), ("-3", "must be >= 0")])
def test_bad_height_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"line 2: height: {message}"):
        parse_daily_csv(f"date,price_usd,difficulty,height\n2024-01-01,1,1,{text}\n")


@pytest.mark.parametrize(
    ("day", "difficulty", "hashrate_ehs", "price_usd"),
    [
        (date(2024, 4, 20), 86.39e12, 558.3, 64030.54),  # height 840,000's difficulty (§1.2)
        (date(2025, 3, 8), 110.57e12, 753.0, 86179.61),  # §1.2 table: 110.57 T
    ],
)
def test_shipped_history_known_values(
    day: date, difficulty: float, hashrate_ehs: float, price_usd: float
) -> None:
    row = next(row for row in load_history() if row.date == day)
    assert row.difficulty == pytest.approx(difficulty, rel=1e-4)
    assert row.hashrate_ths is not None
    assert row.hashrate_ths / 1e6 == pytest.approx(hashrate_ehs, rel=1e-3)
    assert row.price_usd == price_usd
