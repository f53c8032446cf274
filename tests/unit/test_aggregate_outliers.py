"""The median/outlier rule of ``bot.sources.aggregate.outlier_reasons``: examples and properties."""

from __future__ import annotations

from datetime import UTC, datetime
from statistics import median

from hypothesis import given
from hypothesis import strategies as st

from bot.sources.aggregate import SourcesUnavailable, outlier_reasons
from bot.sources.snapshot import SourceOutcome

LIMIT_PCT = st.floats(min_value=0.1, max_value=50)
CENTER = st.floats(min_value=1_000, max_value=1_000_000)
FIXED_NOW = datetime(2026, 10, 5, 9, 41, 44, tzinfo=UTC)


def test_one_liar_among_three_leaves_the_honest_two() -> None:
    reasons = outlier_reasons([85866.185, 85861.2 * 1.10, 85864.0], 2.0)
    assert reasons[0] is None and reasons[2] is None
    assert reasons[1] == "10.0% off the others' median 85865.09 USD (limit 2%)"


def test_two_disagreeing_quotes_are_both_dropped() -> None:
    assert all(outlier_reasons([95_000.0, 85_864.0], 2.0))


def test_fewer_than_two_quotes_are_never_outliers() -> None:
    assert outlier_reasons([], 2.0) == []
    assert outlier_reasons([123.0], 2.0) == [None]


@given(LIMIT_PCT, CENTER, st.lists(st.floats(min_value=0, max_value=0.999), min_size=1, max_size=8))
def test_quotes_within_the_band_are_all_kept(limit_pct: float, low: float, offsets: list[float]) -> None:
    """If max/min ≤ 1 + limit, every quote is within the limit of any median of the others."""
    values = [low * (1 + limit_pct / 100 * offset) for offset in offsets]
    assert outlier_reasons(values, limit_pct) == [None] * len(values)


@given(
    LIMIT_PCT,
    CENTER,
    st.lists(st.floats(min_value=-1, max_value=1), min_size=3, max_size=6),
    st.floats(min_value=0.01, max_value=0.9),
    st.booleans(),
    st.integers(min_value=0, max_value=6),
)
def test_a_single_liar_is_dropped_and_the_median_stays_honest(
    limit_pct: float, center: float, jitters: list[float], extra: float, above: bool, position: int
) -> None:
    honest = [center * (1 + limit_pct / 400 * j) for j in jitters]  # within ±limit/4 of the center
    gap = 2 * limit_pct / 100 + extra
    liar = center * (1 + gap) if above else center * (1 - min(gap, 0.95))
    values = [*honest]
    values.insert(position % (len(values) + 1), liar)
    reasons = outlier_reasons(values, limit_pct)
    survivors = [v for v, r in zip(values, reasons, strict=True) if r is None]
    assert sorted(survivors) == sorted(honest)
    assert min(honest) <= median(survivors) <= max(honest)


@given(LIMIT_PCT, st.lists(st.floats(min_value=100, max_value=10_000_000), max_size=7))
def test_survivors_agree_with_each_other(limit_pct: float, values: list[float]) -> None:
    reasons = outlier_reasons(values, limit_pct)
    survivors = [v for v, r in zip(values, reasons, strict=True) if r is None]
    for index, value in enumerate(survivors):
        others = survivors[:index] + survivors[index + 1 :]
        if others:
            assert abs(value - median(others)) / median(others) * 100 <= limit_pct


def test_sources_unavailable_lists_one_line_per_source() -> None:
    outcomes = [
        SourceOutcome("coinbase", FIXED_NOW, ok=False, error="coinbase: HTTP 503"),
        SourceOutcome("kraken", FIXED_NOW, ok=True, value=5.0, dropped="kraken: absurd price 5 USD"),
    ]
    error = SourcesUnavailable("BTC price", outcomes)
    assert (
        str(error)
        == "BTC price unavailable from every source:\ncoinbase: HTTP 503\nkraken: absurd price 5 USD"
    )
    assert error.outcomes == tuple(outcomes)
