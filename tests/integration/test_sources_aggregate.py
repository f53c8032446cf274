"""Price median with failures and liars, network failover, and the snapshot, against the fake upstreams."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from statistics import median

import httpx
import pytest

from bot.config import Settings
from bot.sources.aggregate import (
    SourcesDisagree,
    SourcesUnavailable,
    fetch_network,
    fetch_price,
    fetch_snapshot,
)
from tests.fakes import RecordingSleep
from tests.fakes.upstreams import FakeUpstreams, Fault

FIXED_NOW = datetime(2026, 10, 5, 9, 41, 44, tzinfo=UTC)
COINBASE, KRAKEN, BITSTAMP, COINGECKO = 85866.185, 85861.2, 85864.00, 85843.0
MakeSettings = Callable[..., Settings]


def clock() -> datetime:
    return FIXED_NOW


async def test_median_of_three_and_coingecko_left_alone(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    quote = await fetch_price(http_client, make_settings(), clock)
    assert quote.price_usd == BITSTAMP
    assert [(o.source, o.value, o.used) for o in quote.outcomes] == [
        ("coinbase", COINBASE, True),
        ("kraken", KRAKEN, True),
        ("bitstamp", BITSTAMP, True),
    ]
    assert all(o.fetched_at == FIXED_NOW for o in quote.outcomes) and quote.fetched_at == FIXED_NOW
    assert fake_upstreams.count("coingecko") == 0


async def test_one_source_down(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("coinbase", Fault.HTTP_503, times=None)
    quote = await fetch_price(http_client, make_settings(), clock, sleep=fake_sleep)
    assert quote.price_usd == pytest.approx(median([KRAKEN, BITSTAMP]))
    assert quote.outcomes[0].error == "coinbase: HTTP 503" and not quote.outcomes[0].ok
    assert len(fake_sleep.delays) == 2  # source_retries=2, no real sleeping
    assert fake_upstreams.count("coingecko") == 0  # two others still answered


async def test_lying_source_is_dropped_and_recorded(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    fake_upstreams.set_price("kraken", KRAKEN * 1.10)
    quote = await fetch_price(http_client, make_settings(), clock)
    assert quote.price_usd == pytest.approx(median([COINBASE, BITSTAMP]))
    kraken = quote.outcomes[1]
    assert kraken.ok and not kraken.used and kraken.value == pytest.approx(KRAKEN * 1.10)
    assert kraken.dropped == "kraken: 10.0% off the others' median 85865.09 USD (limit 2%)"


async def test_absurd_quote_is_dropped_not_failed(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    fake_upstreams.set_price("bitstamp", 5)
    quote = await fetch_price(http_client, make_settings(), clock)
    assert quote.price_usd == pytest.approx(median([COINBASE, KRAKEN]))
    bitstamp = quote.outcomes[2]
    assert (bitstamp.ok, bitstamp.value) == (True, 5.0)
    assert bitstamp.dropped == "bitstamp: absurd price 5 USD (expected 100..10000000)"


async def test_coingecko_is_the_fallback_when_two_fail(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("coinbase", Fault.HTTP_500, times=None)
    fake_upstreams.inject("kraken", Fault.API_ERROR, times=None)
    quote = await fetch_price(http_client, make_settings(), clock, sleep=fake_sleep)
    assert quote.price_usd == pytest.approx(median([BITSTAMP, COINGECKO]))
    assert [o.source for o in quote.outcomes if o.used] == ["bitstamp", "coingecko"]
    assert fake_upstreams.count("coingecko") == 1


async def test_coingecko_breaks_a_tie_between_two_disagreeing_exchanges(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("coinbase", Fault.HTTP_500, times=None)
    fake_upstreams.set_price("kraken", 95000)
    quote = await fetch_price(http_client, make_settings(), clock, sleep=fake_sleep)
    assert quote.price_usd == pytest.approx(median([BITSTAMP, COINGECKO]))
    assert quote.outcomes[1].dropped is not None and quote.outcomes[1].dropped.startswith("kraken: ")


async def test_usdt_books_when_configured(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    settings = make_settings(price_sources=["gate", "binance", "kraken"])
    quote = await fetch_price(http_client, settings, clock)
    assert quote.price_usd == 85772.9
    assert fake_upstreams.count("coinbase") == 0


async def test_all_price_sources_down(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    for source in ("coinbase", "kraken", "bitstamp", "coingecko"):
        fake_upstreams.inject(source, Fault.HTTP_503, times=None)
    with pytest.raises(SourcesUnavailable) as caught:
        await fetch_price(http_client, make_settings(), clock, sleep=fake_sleep)
    assert caught.value.lines == [
        "coinbase: HTTP 503",
        "kraken: HTTP 503",
        "bitstamp: HTTP 503",
        "coingecko: HTTP 503",
    ]
    assert str(caught.value).splitlines()[0] == "BTC price unavailable from every source:"
    assert len(str(caught.value).splitlines()) == 5


async def test_network_from_mempool(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    state = await fetch_network(http_client, make_settings(), clock)
    assert (state.source, state.difficulty, state.height) == ("mempool", 132716002350731.3, 969992)
    assert state.fees_per_block_btc == pytest.approx(0.1311748254)
    assert [(o.source, o.used, o.value) for o in state.outcomes] == [
        ("mempool", True, 132716002350731.3),
        ("blockchain.info", True, 132716002350731.0),  # queried too, to cross-check
    ]
    assert (fake_upstreams.count("mempool"), fake_upstreams.count("blockchain.info")) == (4, 4)


async def test_network_fails_over_to_blockchain_info(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("mempool", Fault.HTTP_500, times=None)
    state = await fetch_network(http_client, make_settings(), clock, sleep=fake_sleep)
    assert state.source == "blockchain.info"
    assert state.hashrate_hs == pytest.approx(1_095_159_811_329.552 * 1e9)  # GH/s → H/s
    assert (state.difficulty, state.height, state.fees_per_block_btc) == (132716002350731.0, 969990, None)
    assert state.notes == (BROKEN_STATS_NOTE,) and state.adjustment is None
    assert [(o.source, o.error) for o in state.outcomes] == [
        ("mempool", "mempool: HTTP 500"),
        ("blockchain.info", None),
    ]


BROKEN_STATS_NOTE = (
    "blockchain.info: fees per block unknown (non-positive fees per block -3.125 BTC): "
    "hashprice is subsidy only"
)


async def test_mempool_down_fees_come_from_blockchain_info(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.set_fees_per_block(0.0425)
    fake_upstreams.inject("mempool", Fault.HTTP_503, times=None)
    state = await fetch_network(http_client, make_settings(), clock, sleep=fake_sleep)
    assert (state.source, state.notes) == ("blockchain.info", ())
    assert state.fees_per_block_btc == pytest.approx(0.0425)


async def test_mempool_down_fees_come_from_bitcoind_getblockstats(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("mempool", Fault.HTTP_503, times=None)
    settings = make_settings(bitcoind_url=fake_upstreams.url("bitcoind"))
    state = await fetch_network(http_client, settings, clock, sleep=fake_sleep)
    assert (state.source, state.notes) == ("bitcoind", ())
    assert state.fees_per_block_btc == pytest.approx(0.09876543)
    assert fake_upstreams.count("bitcoind") == 3
    assert [(o.source, o.used) for o in state.outcomes] == [
        ("mempool", False),
        ("bitcoind", True),
        ("blockchain.info", True),  # asked too, to cross-check
    ]


async def test_one_bad_mempool_endpoint_fails_the_whole_reading(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    fake_upstreams.inject("mempool", Fault.ABSURD_VALUE, path="hashrate")
    state = await fetch_network(http_client, make_settings(), clock)
    assert state.source == "blockchain.info"
    assert state.outcomes[0].dropped == "mempool: absurd difficulty 1e+20 (expected 1000000..1e+18)"


async def test_network_fails_over_to_bitcoind_when_configured(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("mempool", Fault.TRUNCATED_JSON, times=None, path="difficulty-adjustment")
    settings = make_settings(
        bitcoind_url=fake_upstreams.url("bitcoind"), bitcoind_user="u", bitcoind_password="p"
    )
    state = await fetch_network(http_client, settings, clock, sleep=fake_sleep)
    assert (state.source, state.height) == ("bitcoind", 969992)
    assert state.outcomes[0].error == "mempool: invalid JSON"
    assert all(r.headers["authorization"].startswith("Basic ") for r in fake_upstreams.requests if r.rpc)
    assert [(o.source, o.used) for o in state.outcomes] == [
        ("mempool", False),
        ("bitcoind", True),
        ("blockchain.info", True),
    ]


async def test_all_network_sources_down(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("mempool", Fault.HTTP_503, times=None)
    fake_upstreams.inject("blockchain.info", Fault.HTML_ERROR, times=None)
    with pytest.raises(SourcesUnavailable) as caught:
        await fetch_network(http_client, make_settings(), clock, sleep=fake_sleep)
    assert caught.value.lines == ["mempool: HTTP 503", "blockchain.info: HTML error page instead of a number"]


async def test_snapshot_gathers_both(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    snapshot = await fetch_snapshot(http_client, make_settings(), clock)
    assert (snapshot.price.price_usd, snapshot.network.source, snapshot.taken_at) == (
        BITSTAMP,
        "mempool",
        FIXED_NOW,
    )
    assert [o.source for o in snapshot.outcomes] == [
        "coinbase",
        "kraken",
        "bitstamp",
        "mempool",
        "blockchain.info",
    ]
    assert snapshot.notes == ()


async def test_snapshot_notes_caveats(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("mempool", Fault.HTTP_500, times=None)
    settings = make_settings(price_sources=["kraken"])
    snapshot = await fetch_snapshot(http_client, settings, clock, sleep=fake_sleep)
    assert snapshot.notes == (
        BROKEN_STATS_NOTE,
        "BTC price from kraken alone: no other source to cross-check it",
    )


async def test_snapshot_reports_the_missing_part(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    make_settings: MakeSettings,
    fake_sleep: RecordingSleep,
) -> None:
    settings = make_settings(price_sources=["binance"])
    fake_upstreams.inject("binance", Fault.HTTP_404, times=None)
    with pytest.raises(SourcesUnavailable) as caught:
        await fetch_snapshot(http_client, settings, clock, sleep=fake_sleep)
    assert caught.value.lines == ["binance: HTTP 404 (not found)"]
    fake_upstreams.inject("mempool", Fault.HTTP_500, times=None)
    fake_upstreams.inject("blockchain.info", Fault.HTTP_500, times=None)
    with pytest.raises(SourcesUnavailable) as both:
        await fetch_snapshot(http_client, settings, clock, sleep=fake_sleep)
    assert len(both.value.lines) == 3


async def test_a_400_digit_kraken_price_drops_kraken_only(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    fake_upstreams.inject("kraken", Fault.HUGE_INTEGER)
    quote = await fetch_price(http_client, make_settings(), clock)
    assert quote.price_usd == pytest.approx(median([COINBASE, BITSTAMP]))
    assert quote.outcomes[1].error == "kraken: c[0] is not a number: " + repr(10**399)[:40]
    assert fake_upstreams.count("coingecko") == 0


async def test_an_impossible_retarget_date_falls_back(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    fake_upstreams.set_retarget_date_ms(1e20)
    state = await fetch_network(http_client, make_settings(), clock)
    assert (state.source, state.difficulty, state.height) == ("blockchain.info", 132716002350731.0, 969990)
    assert state.outcomes[0].error == "mempool: estimatedRetargetDate is not a plausible time: 1e+20"


async def test_disagreeing_network_sources_raise_naming_the_difference(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    fake_upstreams.set_difficulty(132716002350731.3 * 1000, "mempool")
    with pytest.raises(SourcesDisagree) as caught:
        await fetch_network(http_client, make_settings(), clock)
    assert str(caught.value).splitlines() == [
        "network data: sources disagree:",
        "mempool: difficulty 1.32716e+17 vs 1.32716e+14 from blockchain.info",
        "blockchain.info: difficulty 1.32716e+14 vs 1.32716e+17 from mempool",
    ]


async def test_a_majority_outvotes_a_lying_mempool(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    fake_upstreams.set_difficulty(132716002350731.3 * 1000, "mempool")
    settings = make_settings(bitcoind_url=fake_upstreams.url("bitcoind"))
    state = await fetch_network(http_client, settings, clock)
    assert (state.source, state.difficulty) == ("bitcoind", 132716002350731.3)
    assert [o.dropped for o in state.outcomes] == [
        "mempool: difficulty 1.32716e+17 vs 1.32716e+14 from bitcoind",
        None,
        None,
    ]


async def test_a_trickling_source_is_cut_at_the_deadline(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    fake_upstreams.inject("kraken", Fault.TRICKLE, hold_s=0.1)  # every read well within the 2 s timeout
    settings = make_settings(source_retries=0, source_deadline_s=0.5)
    started = time.monotonic()
    quote = await fetch_price(http_client, settings, clock)
    assert time.monotonic() - started < 1.5
    assert quote.outcomes[1].error == "kraken: no complete answer within 0.5 s"
    assert quote.price_usd == pytest.approx(median([COINBASE, BITSTAMP]))
