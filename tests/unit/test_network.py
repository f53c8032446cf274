"""Consensus maths against Bitcoin Core figures and reference/economics.md §1.2-§1.4, §1.10."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.economics.network import (
    DIFF1_TARGET,
    circulating_supply_sats,
    difficulty_from_bits,
    estimate_next_retarget,
    expected_blocks_per_day,
    implied_hashrate_ehs,
    next_retarget_height,
    subsidy_sats,
    target_from_bits,
)


def test_block_840000_bits_give_published_difficulty() -> None:
    assert difficulty_from_bits(0x17034219) == pytest.approx(86_388_558_925_171.02, abs=0.01)
    assert implied_hashrate_ehs(difficulty_from_bits(0x17034219)) == pytest.approx(618.39, abs=0.01)


def test_genesis_bits_are_difficulty_one() -> None:
    assert target_from_bits(0x1D00FFFF) == DIFF1_TARGET
    assert difficulty_from_bits(0x1D00FFFF) == 1.0


def test_negative_compact_target_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        target_from_bits(0x1D80FFFF)


@pytest.mark.parametrize(
    ("difficulty", "ehs"),
    [(110.57e12, 791.5), (141.67e12, 1014.1), (125.86e12, 900.9), (144.40e12, 1033.7)],
)
def test_implied_hashrate_table(difficulty: float, ehs: float) -> None:
    assert implied_hashrate_ehs(difficulty) == pytest.approx(ehs, abs=0.1)


@pytest.mark.parametrize(
    ("height", "btc"),
    [
        (0, 50),
        (209_999, 50),
        (210_000, 25),
        (420_000, 12.5),
        (630_000, 6.25),
        (840_000, 3.125),
        (1_049_999, 3.125),
        (1_050_000, 1.5625),
    ],
)
def test_subsidy_schedule(height: int, btc: float) -> None:
    assert subsidy_sats(height) == round(btc * 100_000_000)


def test_subsidy_ends_after_64_halvings() -> None:
    assert subsidy_sats(64 * 210_000) == 0
    assert subsidy_sats(33 * 210_000) == 0  # 5e9 >> 33 rounds to zero sats
    assert subsidy_sats(32 * 210_000) == 1


def test_a_day_is_144_blocks_at_the_target_spacing() -> None:
    assert expected_blocks_per_day() == 144


def test_realised_hashrate_above_implied_gives_faster_blocks() -> None:
    difficulty = 125.86e12
    implied_hs = implied_hashrate_ehs(difficulty) * 1e18
    assert expected_blocks_per_day(implied_hs * 1.1, difficulty) == pytest.approx(144 * 1.1)


def test_next_retarget_estimate_matches_mempool_capture() -> None:
    # mempool.space 2026-10-05: 296 blocks in 181,506 s -> timeAvg 613.195 s, change -2.15 %.
    height = 971_712 - 1720
    estimate = estimate_next_retarget(height, 132_716_002_350_731.3, 1_791_011_796, 1_791_011_796 + 181_506)
    assert estimate is not None
    assert estimate.remaining_blocks == 1720
    assert next_retarget_height(height) == 971_712
    assert estimate.mean_block_seconds == pytest.approx(613.195, abs=0.001)
    assert estimate.difficulty_change_pct == pytest.approx((600 * 296 / 181_506 - 1) * 100)


def test_no_estimate_before_the_first_block_of_an_epoch() -> None:
    assert estimate_next_retarget(2016 * 480, 1e14, 1_000, 2_000) is None


@given(
    blocks_in_epoch=st.integers(min_value=1, max_value=2015),
    elapsed_s=st.floats(min_value=1, max_value=1e9, allow_nan=False),
    difficulty=st.floats(min_value=1e6, max_value=1e18),
)
def test_adjustment_estimate_stays_within_consensus_clamp(
    blocks_in_epoch: int, elapsed_s: float, difficulty: float
) -> None:
    estimate = estimate_next_retarget(2016 * 400 + blocks_in_epoch, difficulty, 0.0, elapsed_s)
    assert estimate is not None
    assert 0.25 <= estimate.difficulty_change_ratio <= 4.0
    assert difficulty / 4 * (1 - 1e-12) <= estimate.next_difficulty <= difficulty * 4 * (1 + 1e-12)


@pytest.mark.parametrize(
    ("height", "sats"),
    [
        (0, 50 * 100_000_000),  # genesis
        (209_999, 10_500_000 * 100_000_000),
        (210_000, 10_500_025 * 100_000_000),
        (839_999, 19_687_500 * 100_000_000),
        (840_000, 1_968_750_312_500_000),  # + 3.125 BTC
        (6_929_999, 2_099_999_997_690_000),  # the schedule's whole issuance, in satoshis
        (10_000_000, 2_099_999_997_690_000),
    ],
)
def test_circulating_supply_is_the_exact_subsidy_sum(height: int, sats: int) -> None:
    assert circulating_supply_sats(height) == sats


@given(st.integers(0, 7_000_000))
def test_circulating_supply_adds_one_subsidy_per_block(height: int) -> None:
    assert circulating_supply_sats(height + 1) - circulating_supply_sats(height) == subsidy_sats(height + 1)


def test_circulating_supply_rejects_negative_height() -> None:
    with pytest.raises(ValueError, match="height"):
        circulating_supply_sats(-1)
