"""A winning network reading without fees borrows them from a reading that agrees with it."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.sources.aggregate import with_fees_of_an_agreeing_source
from bot.sources.snapshot import NetworkState

AT = datetime(2026, 2, 5, tzinfo=UTC)


def reading(source: str, fees: float | None) -> NetworkState:
    return NetworkState(125.86e12, 935_000, fees, None, None, AT, source, ())


def test_unknown_fees_come_from_an_agreeing_source() -> None:
    states = [reading("bitcoind", None), reading("blockchain.info", 0.0425)]
    chosen = with_fees_of_an_agreeing_source(states, [None, None], 0)
    assert (chosen.source, chosen.fees_per_block_btc) == ("bitcoind", 0.0425)
    assert chosen.notes == ("fees per block from blockchain.info",)


def test_a_disagreeing_source_lends_nothing() -> None:
    states = [reading("bitcoind", None), reading("blockchain.info", 0.0425)]
    chosen = with_fees_of_an_agreeing_source(states, [None, "difficulty differs"], 0)
    assert chosen.fees_per_block_btc is None


def test_known_fees_are_kept() -> None:
    states = [reading("mempool", 0.02), reading("blockchain.info", 0.0425)]
    assert with_fees_of_an_agreeing_source(states, [None, None], 0).fees_per_block_btc == 0.02
