"""Daily history format (bot/economics/history.py) and the shipped bot/data/history.csv."""

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.data import load_history, read_data_text
from bot.economics.history import DailyRow, format_daily_csv, parse_daily_csv, subsidy_btc_on


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
        assert back.difficulty == pytest.approx(row.difficulty, abs=0.5)
        assert (back.hashrate_ths is None) == (row.hashrate_ths is None)
        assert back.issuance_btc == row.issuance_btc


def test_shipped_history_shape() -> None:
    assert (
        read_data_text("history.csv").splitlines()[0] == "date,price_usd,difficulty,hashrate_ths,issuance_btc"
    )
    rows = load_history()
    assert rows[0].date == date(2017, 8, 17)
    assert rows[-1].date == date(2025, 6, 2)
    assert all(b.date - a.date == timedelta(days=1) for a, b in itertools.pairwise(rows))
    with_hashrate = [row for row in rows if row.hashrate_ths is not None]
    assert with_hashrate[-1].date == date(2025, 3, 8)
    assert len(with_hashrate) == (date(2025, 3, 8) - date(2017, 8, 17)).days + 1
    assert all(row.hashrate_ths >= 1e6 for row in with_hashrate if row.hashrate_ths)  # ≥ 7 significant digits
    assert all(row.issuance_btc is not None for row in with_hashrate)


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
