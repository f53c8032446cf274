"""The quorum rules that decide whether fetched data may drive alerts (bot.sources.quorum)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.sources.quorum import (
    NetworkReference,
    check_price_jump,
    consensus,
    difficulty_step_problem,
    history_problem,
    price_quorum_problem,
)
from bot.sources.snapshot import NetworkState, PriceQuote, SourceOutcome

AT = datetime(2026, 10, 5, 9, 41, tzinfo=UTC)
D = 132_716_002_350_731.3
"""Difficulty of the epoch starting at 969,696 (= 481 x 2016), recorded from mempool.space."""


def quote(*values: float | None) -> PriceQuote:
    names = ("coinbase", "kraken", "bitstamp")
    outcomes = tuple(
        SourceOutcome(n, AT, ok=v is not None, value=v, error=None if v else f"{n}: HTTP 503")
        for n, v in zip(names, values, strict=False)
    )
    used = [v for v in values if v is not None]
    return PriceQuote(used[0] if used else 0.0, AT, outcomes)


def state(source: str, difficulty: float, height: int, at: datetime = AT) -> NetworkState:
    return NetworkState(difficulty, height, 0.1, None, None, at, source, ())


def test_two_agreeing_quotes_are_a_quorum() -> None:
    assert price_quorum_problem(quote(85_000.0, 85_100.0, None)) is None


def test_a_lone_quote_is_no_quorum() -> None:
    assert price_quorum_problem(quote(None, None, 150.0)) == (
        "BTC price from bitstamp (150.00 USD) alone: at least 2 sources must agree"
    )


def test_a_move_within_the_bound_is_accepted() -> None:
    verdict = check_price_jump(100_000.0, 85_000.0, None, max_jump_pct=20, confirm_pct=2)
    assert verdict.accepted and verdict.problem is None


def test_a_40_percent_jump_is_held_then_confirmed() -> None:
    first = check_price_jump(119_000.0, 85_000.0, None, max_jump_pct=20, confirm_pct=2)
    assert not first.accepted and first.held_usd == 119_000.0
    assert first.problem == (
        "BTC price jumped +40.0% from 85,000.00 to 119,000.00 USD (limit 20%): "
        "held until the next poll confirms it"
    )
    second = check_price_jump(119_500.0, 85_000.0, first.held_usd, max_jump_pct=20, confirm_pct=2)
    assert second.accepted


def test_a_jump_the_next_poll_contradicts_is_held_again() -> None:
    verdict = check_price_jump(51_000.0, 85_000.0, 119_000.0, max_jump_pct=20, confirm_pct=2)
    assert not verdict.accepted and verdict.held_usd == 51_000.0


def test_difficulty_is_constant_inside_an_epoch() -> None:
    assert difficulty_step_problem(D, 969_700, D * (1 + 1e-9), 969_990) is None
    assert difficulty_step_problem(D, 969_700, D * 1.0004, 969_990) == (
        "difficulty 1.32769e+14 at height 969990 vs 1.32716e+14 at 969700, in the same 2016-block epoch"
    )


def test_a_retarget_moves_difficulty_by_at_most_four_times() -> None:
    assert difficulty_step_problem(D, 971_711, D * 4, 971_712) is None
    assert difficulty_step_problem(D, 971_711, D / 4, 971_712) is None
    assert difficulty_step_problem(D, 971_711, D * 4.01, 971_712) == (
        "difficulty ×4.01 from 1.32716e+14 to 5.32191e+14 over 1 retarget(s) (at most ×4 each)"
    )
    assert difficulty_step_problem(D, 969_700, D * 10, 969_700 + 2 * 2016) is None  # two retargets: ×16


def test_consensus_of_two_agreeing_sources() -> None:
    winner, problems = consensus([state("mempool", D, 969_992), state("blockchain.info", D, 969_990)])
    assert (winner, problems) == (0, [None, None])


def test_two_disagreeing_sources_have_no_consensus() -> None:
    winner, problems = consensus([state("mempool", D * 1000, 969_992), state("blockchain.info", D, 969_990)])
    assert winner is None
    assert problems == [
        "difficulty 1.32716e+17 vs 1.32716e+14 from blockchain.info",
        "difficulty 1.32716e+14 vs 1.32716e+17 from mempool",
    ]


def test_the_majority_outvotes_a_lying_primary() -> None:
    states = [
        state("mempool", D * 1000, 969_992),
        state("bitcoind", D, 969_992),
        state("blockchain.info", D, 969_990),
    ]
    winner, problems = consensus(states)
    assert winner == 1
    assert problems == ["difficulty 1.32716e+17 vs 1.32716e+14 from bitcoind", None, None]


def test_heights_far_apart_disagree() -> None:
    winner, problems = consensus([state("mempool", D, 969_992), state("blockchain.info", D, 969_900)])
    assert winner is None and problems[0] == "height 969992 vs 969900 from blockchain.info"


def test_a_lone_source_alone_is_its_own_majority() -> None:
    assert consensus([state("blockchain.info", D, 969_990)]) == (0, [None])


REFERENCE = NetworkReference(D, 969_990, AT)


@pytest.mark.parametrize(
    ("difficulty", "height", "minutes", "problem"),
    [
        (D, 969_992, 5, None),
        (D, 969_985, 5, None),  # a short reorg
        (D, 969_980, 5, "height 969980 is 10 blocks below the last accepted 969990"),
        (D, 970_010, 5, "height 970010 is 20 blocks above the last accepted 969990 after 300 s (at most 11)"),
        (D * 1.05, 971_712, 12 * 24 * 60, None),  # the retarget, 12 days later
        (
            D * 1000,
            969_992,
            5,
            "difficulty 1.32716e+17 at height 969992 vs 1.32716e+14 at 969990, in the same 2016-block epoch, "
            "against the last accepted reading",
        ),
    ],
)
def test_a_reading_must_follow_the_last_accepted_one(
    difficulty: float, height: int, minutes: int, problem: str | None
) -> None:
    later = state("mempool", difficulty, height, AT + timedelta(minutes=minutes))
    assert history_problem(REFERENCE, later) == problem
