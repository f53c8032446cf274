"""A streamed quote stands only with a second witness: the polled price or another stream."""

from __future__ import annotations

import pytest

from bot.sources.stream_quorum import stream_verdict

LIMITS = {"max_deviation_pct": 2.0, "max_jump_pct": 20.0}


def test_one_stream_near_the_polled_price_is_used() -> None:
    verdict = stream_verdict({"coinbase": 59_500.0}, 60_000.0, **LIMITS)
    assert verdict.price_usd == 59_500.0 and verdict.sources == ("coinbase",)


def test_one_stream_off_the_polled_price_is_not_used() -> None:
    verdict = stream_verdict({"kraken": 57_000.0}, 60_000.0, **LIMITS)  # -5 %
    assert verdict.price_usd is None
    assert verdict.problem is not None and "not confirmed" in verdict.problem


def test_two_agreeing_streams_outvote_the_polled_price() -> None:
    verdict = stream_verdict({"coinbase": 57_000.0, "kraken": 57_100.0}, 60_000.0, **LIMITS)
    assert verdict.price_usd == pytest.approx(57_050.0)
    assert verdict.sources == ("coinbase", "kraken")


def test_a_lone_absurd_tick_is_dropped_and_the_honest_stream_stands() -> None:
    for absurd in (600_000.0, 6_000.0, 51_000.0):  # beyond the jump limit, or within it but an outlier
        verdict = stream_verdict({"coinbase": absurd, "kraken": 60_050.0}, 60_000.0, **LIMITS)
        assert verdict.price_usd == 60_050.0 and verdict.sources == ("kraken",)


def test_a_lone_absurd_tick_alone_is_no_price() -> None:
    for absurd in (600_000.0, 51_000.0):
        assert stream_verdict({"coinbase": absurd}, 60_000.0, **LIMITS).price_usd is None


def test_two_streams_beyond_the_jump_limit_wait_for_the_polls() -> None:
    verdict = stream_verdict({"coinbase": 45_000.0, "kraken": 45_000.0}, 60_000.0, **LIMITS)  # -25 %
    assert verdict.price_usd is None
    assert verdict.problem is not None and "within 20%" in verdict.problem


def test_no_polled_witness_means_no_streamed_price() -> None:
    verdict = stream_verdict({"coinbase": 60_000.0, "kraken": 60_000.0}, None, **LIMITS)
    assert verdict.price_usd is None


def test_no_live_stream_means_no_streamed_price() -> None:
    assert stream_verdict({}, 60_000.0, **LIMITS).price_usd is None
