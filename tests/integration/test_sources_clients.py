"""Each upstream client parses its recorded body (served by the fake) to the expected numbers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from bot.sources import (
    binance,
    bitcoind,
    bitstamp,
    blockchain_info,
    coinbase,
    coingecko,
    gate,
    kraken,
    mempool,
)
from bot.sources.aggregate import PriceFetcher
from bot.sources.http import FetchPolicy, SourceError
from tests.fakes import RecordingSleep
from tests.fakes.upstreams import FIXTURES, FakeUpstreams

FIXED_NOW = datetime(2026, 10, 5, 9, 41, 44, tzinfo=UTC)


@pytest.fixture
def policy(fake_sleep: RecordingSleep) -> FetchPolicy:
    return FetchPolicy(
        timeout_s=2.0, retries=2, sleep=fake_sleep, clock=lambda: FIXED_NOW, jitter=lambda: 1.0
    )


PRICES = [
    ("coinbase", coinbase.fetch_price, 85866.185),
    ("kraken", kraken.fetch_price, 85861.2),
    ("bitstamp", bitstamp.fetch_price, 85864.00),
    ("coingecko", coingecko.fetch_price, 85843.0),
    ("gate", gate.fetch_price, 85772.9),
    ("binance", binance.fetch_price, 85770.85),
]


@pytest.mark.parametrize(("source", "fetch", "expected"), PRICES)
@pytest.mark.parametrize("slash", ["", "/"])
async def test_price_clients_parse_recorded_bodies(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    policy: FetchPolicy,
    source: str,
    fetch: PriceFetcher,
    expected: float,
    slash: str,
) -> None:
    assert await fetch(http_client, fake_upstreams.url(source) + slash, policy) == expected
    assert fake_upstreams.count(source) == 1


async def test_exchange_query_parameters_are_sent(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    await kraken.fetch_price(http_client, fake_upstreams.url("kraken"), policy)
    await gate.fetch_price(http_client, fake_upstreams.url("gate"), policy)
    await binance.fetch_price(http_client, fake_upstreams.url("binance"), policy)
    assert [r.query for r in fake_upstreams.requests] == [
        "pair=XBTUSD",
        "currency_pair=BTC_USDT",
        "symbol=BTCUSDT",
    ]


async def test_mempool_difficulty_adjustment_units(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    estimate = await mempool.fetch_adjustment(http_client, fake_upstreams.url("mempool"), policy)
    assert estimate.remaining_blocks == 1720
    assert estimate.next_retarget_height == 971712
    assert estimate.difficulty_change_pct == pytest.approx(-1.909509687533617)
    assert estimate.progress_pct == pytest.approx(14.682539682539684)
    assert estimate.previous_retarget_pct == pytest.approx(-0.03093703234718248)
    # estimatedRetargetDate is in ms, previousTime in SECONDS (reference/apis.md §1.1).
    assert estimate.estimated_retarget_at == datetime(2026, 10, 17, 14, 31, 23, 120000, tzinfo=UTC)
    assert estimate.epoch_start_at == datetime(2026, 10, 3, 7, 16, 36, tzinfo=UTC)
    # The capture's own identity: remainingTime = remainingBlocks × adjustedTimeAvg.
    raw = json.loads((FIXTURES / "mempool__v1_difficulty-adjustment.json").read_text())
    assert raw["remainingBlocks"] * raw["adjustedTimeAvg"] == raw["remainingTime"]


async def test_mempool_hashrate_fees_and_tip(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    base = fake_upstreams.url("mempool")
    reading = await mempool.fetch_hashrate(http_client, base, policy)
    assert reading == mempool.HashrateReading(hashrate_hs=9.295752407509031e20, difficulty=132716002350731.3)
    # reward-stats: "1311748254" sats over blocks 736556..736655 (100 blocks).
    assert await mempool.fetch_fees_per_block(http_client, base, policy) == pytest.approx(0.1311748254)
    assert await mempool.fetch_tip_height(http_client, base, policy) == 969992
    assert [r.path.removeprefix("/mempool/api/") for r in fake_upstreams.requests] == [
        "v1/mining/hashrate/3d",
        "v1/mining/reward-stats/144",
        "blocks/tip/height",
    ]


async def test_mempool_network_state(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    state = await mempool.fetch_network(
        http_client, fake_upstreams.url("mempool") + "/", policy, lambda: FIXED_NOW
    )
    assert (state.source, state.difficulty, state.height) == ("mempool", 132716002350731.3, 969992)
    assert state.adjustment is not None and state.adjustment.remaining_blocks == 1720
    assert state.fetched_at == FIXED_NOW and state.notes == ()


async def test_blockchain_info_text_bodies_and_gh_per_s(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    state = await blockchain_info.fetch_network(http_client, fake_upstreams.url("blockchain.info"), policy)
    assert state.difficulty == 132716002350731.0
    assert state.hashrate_hs == pytest.approx(1.095159811329552e21)  # 1 095 159 811 329.552 GH/s
    assert state.height == 969990
    # The recorded /stats says total_fees_btc = -51875000000 (minus the BTC mined): rejected, fees unknown.
    assert state.fees_per_block_btc is None
    assert state.notes == (
        "blockchain.info: fees per block unknown (non-positive fees per block -3.125 BTC): "
        "hashprice is subsidy only",
    )
    assert state.adjustment is None


async def test_blockchain_info_difficulty_in_exponent_form(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    fake_upstreams.set_difficulty(1.5e17, source="blockchain.info")
    response = await http_client.get(fake_upstreams.url("blockchain.info") + "/q/getdifficulty")
    assert response.text == "1.5e+17" and response.headers["content-type"].startswith("text/plain")
    assert (
        await blockchain_info.fetch_difficulty(http_client, fake_upstreams.url("blockchain.info"), policy)
        == 1.5e17
    )


async def test_bitcoind_rpc_with_basic_auth(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    auth = httpx.BasicAuth("rpcuser", "rpcpass")
    state = await bitcoind.fetch_network(http_client, fake_upstreams.url("bitcoind"), auth, policy)
    expected_header = "Basic " + base64.b64encode(b"rpcuser:rpcpass").decode()
    assert (state.difficulty, state.height) == (132716002350731.3, 969992)
    assert state.hashrate_hs == 1.0391022331977515e21
    assert state.fees_per_block_btc == pytest.approx(0.09876543) and state.notes == ()
    rpcs = sorted(r.rpc or "" for r in fake_upstreams.requests)
    assert rpcs == ["getblockchaininfo", "getblockstats", "getmininginfo"]
    assert {r.headers["authorization"] for r in fake_upstreams.requests} == {expected_header}


async def test_bitcoind_difficulty_must_match_the_tip_bits(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    fake_upstreams.set_difficulty(132716002350731.3 * 1000, source="bitcoind")  # bits stay 17021ef0
    with pytest.raises(SourceError) as caught:
        await bitcoind.fetch_network(http_client, fake_upstreams.url("bitcoind"), None, policy)
    assert str(caught.value) == (
        "bitcoind: difficulty 1.32716e+17 does not match the tip header's bits 17021ef0 (1.32716e+14)"
    )


PRUNED = {"code": -1, "message": "Block not available (pruned data)"}


def _rpc_transport(
    results: dict[str, object], stats: Callable[[int], object] | None = None
) -> httpx.MockTransport:
    """Single calls answered from ``results``; a ``getblockstats`` batch by ``stats(height)`` (a result
    dict, or an error dict when it has a ``code``), or as a pruned node when ``stats`` is None."""

    def one(call: dict[str, Any]) -> dict[str, Any]:
        if call["method"] != "getblockstats":
            return {"result": results[call["method"]], "error": None, "id": call["id"]}
        answer = stats(call["params"][0]) if stats else PRUNED
        if isinstance(answer, dict) and "code" in answer:
            return {"result": None, "error": answer, "id": call["id"]}
        return {"result": answer, "error": None, "id": call["id"]}

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(200, json=[one(c) for c in body] if isinstance(body, list) else one(body))

    return httpx.MockTransport(answer)


CHAIN = {"chain": "main", "blocks": 969992, "difficulty": 132716002350731.3}
MINING = {"blocks": 969992, "difficulty": 132716002350731.3, "networkhashps": 1.04e21}


async def test_bitcoind_fees_are_the_mean_totalfee_of_the_last_144_blocks(policy: FetchPolicy) -> None:
    asked: list[int] = []

    def stats(height: int) -> dict[str, int]:
        asked.append(height)
        return {"totalfee": 10_000_000 if height % 2 else 30_000_000}  # 0.1 and 0.3 BTC, alternating

    transport = _rpc_transport({"getblockchaininfo": CHAIN, "getmininginfo": MINING}, stats)
    async with httpx.AsyncClient(transport=transport) as client:
        state = await bitcoind.fetch_network(client, "http://127.0.0.1:8332/", None, policy)
    assert sorted(asked) == list(range(969992 - 143, 969992 + 1))
    assert state.fees_per_block_btc == pytest.approx(0.2) and state.notes == ()


async def test_bitcoind_pruned_node_leaves_fees_unknown_not_zero(policy: FetchPolicy) -> None:
    transport = _rpc_transport({"getblockchaininfo": CHAIN, "getmininginfo": MINING})
    async with httpx.AsyncClient(transport=transport) as client:
        state = await bitcoind.fetch_network(client, "http://127.0.0.1:8332/", None, policy)
    assert (state.height, state.fees_per_block_btc) == (969992, None)
    assert state.notes == (
        "bitcoind: fees per block unknown (RPC error -1: Block not available (pruned data)): "
        "hashprice is subsidy only",
    )


async def test_blockchain_info_fees_from_stats(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    fake_upstreams.set_fees_per_block(0.0425, source="blockchain.info")
    state = await blockchain_info.fetch_network(http_client, fake_upstreams.url("blockchain.info"), policy)
    assert state.fees_per_block_btc == pytest.approx(0.0425) and state.notes == ()
    assert fake_upstreams.count("blockchain.info", "/stats") == 1


async def test_bitcoind_tolerates_pre_v28_replies(policy: FetchPolicy) -> None:
    """A v27 node: no bits/target/next, ``warnings`` a string, and here no ``networkhashps`` at all."""
    chain = {"chain": "main", "blocks": 969992, "difficulty": 132716002350731.3, "warnings": ""}
    mining = {"blocks": 969992, "difficulty": 132716002350731.3, "chain": "main", "warnings": ""}
    transport = _rpc_transport({"getblockchaininfo": chain, "getmininginfo": mining})
    async with httpx.AsyncClient(transport=transport) as client:
        state = await bitcoind.fetch_network(client, "http://127.0.0.1:8332/", None, policy)
    assert (state.height, state.hashrate_hs) == (969992, None)


async def test_bitcoind_refuses_a_syncing_node(policy: FetchPolicy) -> None:
    chain = {"blocks": 500000, "difficulty": 3.4e12, "initialblockdownload": True}
    transport = _rpc_transport({"getblockchaininfo": chain, "getmininginfo": {}})
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(SourceError, match=r"^bitcoind: node is still in initial block download$"):
            await bitcoind.fetch_network(client, "http://127.0.0.1:8332/", None, policy)


async def test_coingecko_daily_history_drops_the_now_point(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    history = await coingecko.fetch_daily_history(http_client, fake_upstreams.url("coingecko"), 7, policy)
    assert [p.day for p in history] == [date(2023, 12, d) for d in range(9, 14)]
    assert history[0].price_usd == 43711.21 and history[-1].price_usd == 42879.31
    assert fake_upstreams.requests[0].query == "vs_currency=usd&days=7&interval=daily"


async def test_coingecko_history_rejects_more_than_a_year(http_client: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match=r"1\.\.365"):
        await coingecko.fetch_daily_history(http_client, "http://127.0.0.1:9/api/v3", 400)
