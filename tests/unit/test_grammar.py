"""The rule grammar (bot.alerts.grammar): every accepted form, every error message, canonical text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.alerts.grammar import DEFAULT_MIN_INTERVAL_S, describe_rule, parse_rule
from bot.alerts.rules import Metric, Op, Rule


def test_default_interval_matches_the_rule_default() -> None:
    assert Rule(Metric.PRICE, Op.BELOW, 1.0, 0.0).min_interval_s == DEFAULT_MIN_INTERVAL_S


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("price below 60k", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0)),
        ("price < 60000", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0)),
        ("price<60000", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0)),
        ("price under $60k", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0)),
        ("Price Below $60,000", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0)),
        ("price below 60 k", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0)),
        ("price above 100k", Rule(Metric.PRICE, Op.ABOVE, 100_000.0, 1000.0)),
        ("price over 1.2m", Rule(Metric.PRICE, Op.ABOVE, 1_200_000.0, 12_000.0)),
        ("price > 95000", Rule(Metric.PRICE, Op.ABOVE, 95_000.0, 950.0)),
        ("hashprice below 35", Rule(Metric.HASHPRICE, Op.BELOW, 35.0, 0.35)),
        ("hashprice below $35.5/PH/day", Rule(Metric.HASHPRICE, Op.BELOW, 35.5, 0.355)),
        ("margin below 0", Rule(Metric.MARGIN, Op.BELOW, 0.0, 1.0)),
        ("margin < 10%", Rule(Metric.MARGIN, Op.BELOW, 10.0, 1.0)),
        ("margin < 10 %", Rule(Metric.MARGIN, Op.BELOW, 10.0, 1.0)),
        ("margin below -20%", Rule(Metric.MARGIN, Op.BELOW, -20.0, 1.0)),
        ("breakeven below 5c", Rule(Metric.BREAKEVEN, Op.BELOW, 0.05, 0.0005)),
        ("breakeven below 0.055", Rule(Metric.BREAKEVEN, Op.BELOW, 0.055, 0.00055)),
        ("breakeven under $0.06/kWh", Rule(Metric.BREAKEVEN, Op.BELOW, 0.06, 0.0006)),
        ("breakeven below 6", Rule(Metric.BREAKEVEN, Op.BELOW, 0.06, 0.0006)),  # a bare 6 is cents
        ("premium below -10%", Rule(Metric.PREMIUM, Op.BELOW, -10.0, 1.0)),
        ("premium above 20", Rule(Metric.PREMIUM, Op.ABOVE, 20.0, 1.0)),
        ("difficulty above 5%", Rule(Metric.DIFFICULTY, Op.ABOVE, 5.0, 1.0)),
        ("difficulty > +5%", Rule(Metric.DIFFICULTY, Op.ABOVE, 5.0, 1.0)),
        ("difficulty below -3.5%", Rule(Metric.DIFFICULTY, Op.BELOW, -3.5, 1.0)),
        ("stress below 25", Rule(Metric.STRESS, Op.BELOW, 25.0, 1.0)),  # 1 point, as percentages
        ("stress > 80 band 5", Rule(Metric.STRESS, Op.ABOVE, 80.0, 5.0)),
        ("price below 60k band 500", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 500.0)),
        ("price below 60k band $1k", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 1000.0)),
        ("price below 60k band 0", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 0.0)),
        ("margin below 0 band 2%", Rule(Metric.MARGIN, Op.BELOW, 0.0, 2.0)),
        ("breakeven below 5c band 0.2c", Rule(Metric.BREAKEVEN, Op.BELOW, 0.05, 0.002)),
        ("price below 60k repeat", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0, repeat=True)),
        ("price below 60k every 30m", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0, min_interval_s=1800)),
        ("price below 60k every 6h", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0, min_interval_s=21_600)),
        ("price below 60k every 1d", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0, min_interval_s=86_400)),
        ("price below 60k every 6 h", Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0, min_interval_s=21_600)),
        (
            "  price  below 60k  repeat every 6h band 250 ",
            Rule(Metric.PRICE, Op.BELOW, 60_000.0, 250.0, repeat=True, min_interval_s=21_600),
        ),
    ],
)
def test_accepted_forms(text: str, rule: Rule) -> None:
    parsed = parse_rule(text)
    assert parsed.metric is rule.metric
    assert parsed.op is rule.op
    assert parsed.threshold == pytest.approx(rule.threshold, rel=1e-12)
    assert parsed.band == pytest.approx(rule.band, rel=1e-12)
    assert (parsed.repeat, parsed.min_interval_s) == (rule.repeat, rule.min_interval_s)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty rule; try: price below 60k"),
        ("prise below 60k", "unknown metric 'prise' (did you mean price?); try: price below 60k"),
        ("hash below 35", "unknown metric 'hash' (did you mean hashprice?); try: hashprice below 35"),
        ("marjin < 10%", "unknown metric 'marjin' (did you mean margin?); try: margin below 0"),
        (
            "temperature above 40",
            "unknown metric 'temperature' (one of price, hashprice, margin, breakeven, premium, difficulty, "
            "stress); try: price below 60k",
        ),
        ("price", "expected below or above after price, got nothing; try: price below 60k"),
        ("price equals 60k", "expected below or above after price, got 'equals'; try: price below 60k"),
        ("price below", "expected a BTC price ($100 to $10M), got nothing; try: price below 60k"),
        ("price below cheap", "expected a BTC price ($100 to $10M), got 'cheap'; try: price below 60k"),
        ("price below 5", "expected a BTC price ($100 to $10M), got '5'; try: price below 60k"),
        (
            "hashprice below 0",
            "expected a hashprice (USD per PH/s per day), got '0'; try: hashprice below 35",
        ),
        ("margin below 100", "expected a margin (a percentage below 100), got '100'; try: margin below 0"),
        ("margin below lots", "expected a margin (a percentage below 100), got 'lots'; try: margin below 0"),
        (
            "breakeven below 0",
            "expected a power price ($/kWh, like 0.05 or 5c), got '0'; try: breakeven below 5c",
        ),
        (
            "premium below -100%",
            "expected a premium (a percentage above -100), got '-100%'; try: premium below -10%",
        ),
        (
            "difficulty above 400%",
            "expected a difficulty change (a percentage from -75 to 300), got '400%'; "
            "try: difficulty above 5%",
        ),
        ("stress below 101", "expected a miner-stress index (0 to 100), got '101'; try: stress below 25"),
        (
            "price below 60k band",
            "band needs an amount in the unit of price, got nothing; try: price below 60k band 500",
        ),
        (
            "price below 60k band -5",
            "band needs an amount in the unit of price, got '-5'; try: price below 60k band 500",
        ),
        (
            "breakeven below 5c band x",
            "band needs an amount in the unit of breakeven, got 'x'; try: breakeven below 5c band 0.2c",
        ),
        (
            "price below 60k every",
            "every needs a duration from 1m to 30d, got nothing; try: price below 60k every 6h",
        ),
        (
            "price below 60k every 6x",
            "every needs a duration from 1m to 30d, got '6x'; try: price below 60k every 6h",
        ),
        (
            "price below 60k every 0m",
            "every needs a duration from 1m to 30d, got '0m'; try: price below 60k every 6h",
        ),
        (
            "price below 60k every 31d",
            "every needs a duration from 1m to 30d, got '31d'; try: price below 60k every 6h",
        ),
        ("price below 60k repeat repeat", "'repeat' is given twice; try: price below 60k repeat every 6h"),
        ("price below 60k band 1 band 2", "'band' is given twice; try: price below 60k repeat every 6h"),
        (
            "price below 60k please",
            "unexpected 'please' (options: band AMOUNT, repeat, every 6h); "
            "try: price below 60k repeat every 6h",
        ),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_rule(text)
    assert str(raised.value) == message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("price under $60k", "price below $60,000"),
        ("price > 60500.5", "price above $60,500.5"),
        ("hashprice < 35", "hashprice below $35/PH/day"),
        ("margin below 0", "margin below 0%"),
        ("breakeven below 5.5c", "breakeven below $0.055/kWh"),
        ("premium below -10%", "premium below -10%"),
        ("difficulty over 5", "difficulty above +5%"),
        ("price below 60k band 500 repeat every 6h", "price below $60,000 band $500 repeat every 6h"),
        ("breakeven below 5c band 0.2c every 1d", "breakeven below $0.05/kWh band $0.002/kWh every 1d"),
        ("premium above 10 every 90m", "premium above 10% every 90m"),
    ],
)
def test_describe_rule_gives_canonical_text(text: str, canonical: str) -> None:
    assert describe_rule(parse_rule(text)) == canonical
    assert parse_rule(canonical) == parse_rule(text)


def rules() -> st.SearchStrategy[Rule]:
    """Rules as the grammar can write them: cents for money, hundredths for percentages."""
    values = {
        Metric.PRICE: st.integers(10_000, 1_000_000_000).map(lambda cents: cents / 100),
        Metric.HASHPRICE: st.integers(1, 10_000_000).map(lambda cents: cents / 100),
        Metric.MARGIN: st.integers(-50_000, 9_990).map(lambda hundredths: hundredths / 100),
        Metric.BREAKEVEN: st.integers(1, 100_000).map(lambda units: units / 100_000),
        Metric.PREMIUM: st.integers(-9_990, 50_000).map(lambda hundredths: hundredths / 100),
        Metric.DIFFICULTY: st.integers(-7_500, 30_000).map(lambda hundredths: hundredths / 100),
        Metric.STRESS: st.integers(0, 10_000).map(lambda hundredths: hundredths / 100),
    }
    bands = {
        Metric.PRICE: st.integers(0, 100_000).map(lambda cents: cents / 100),
        Metric.HASHPRICE: st.integers(0, 10_000).map(lambda cents: cents / 100),
        Metric.BREAKEVEN: st.integers(1, 1000).map(lambda units: units / 100_000),
    }
    percent_band = st.integers(0, 10_000).map(lambda hundredths: hundredths / 100)

    def build(metric: Metric) -> st.SearchStrategy[Rule]:
        return st.builds(
            Rule,
            metric=st.just(metric),
            op=st.sampled_from(Op),
            threshold=values[metric],
            band=bands.get(metric, percent_band),
            repeat=st.booleans(),
            min_interval_s=st.integers(1, 43_200).map(lambda minutes: minutes * 60),
        )

    return st.sampled_from(Metric).flatmap(build)


@given(rules())
def test_describe_then_parse_round_trips(rule: Rule) -> None:
    assert parse_rule(describe_rule(rule)) == rule
