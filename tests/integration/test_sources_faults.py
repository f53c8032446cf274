"""Injected upstream faults become one-line SourceErrors; retries honour Retry-After or back off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import get_args

import httpx
import pytest

from bot.config import PriceSourceName
from bot.sources import bitcoind, coinbase, coingecko, kraken, mempool
from bot.sources.aggregate import PRICE_FETCHERS
from bot.sources.http import AbsurdValueError, FetchPolicy, SourceError
from tests.fakes import RecordingSleep
from tests.fakes.upstreams import FakeUpstreams, Fault

FIXED_NOW = datetime(2026, 10, 5, 9, 41, 44, tzinfo=UTC)


@pytest.fixture
def policy(fake_sleep: RecordingSleep) -> FetchPolicy:
    """Three attempts; jitter pinned to its maximum so back-off delays are exactly 0.5 s, 1 s, ..."""
    return FetchPolicy(
        timeout_s=2.0, retries=2, sleep=fake_sleep, clock=lambda: FIXED_NOW, jitter=lambda: 1.0
    )


async def _coinbase(fake: FakeUpstreams, client: httpx.AsyncClient, policy: FetchPolicy) -> float:
    return await coinbase.fetch_price(client, fake.url("coinbase"), policy)


@pytest.mark.parametrize(
    ("fault", "message", "requests", "delays"),
    [
        (Fault.HTTP_500, "coinbase: HTTP 500", 3, [0.5, 1.0]),
        (Fault.HTTP_503, "coinbase: HTTP 503", 3, [0.5, 1.0]),
        (Fault.HTTP_429, "coinbase: rate limited (HTTP 429)", 3, [0.5, 1.0]),
        (Fault.HTTP_429_RETRY_AFTER, "coinbase: rate limited (HTTP 429)", 3, [2.0, 2.0]),
        (Fault.HTTP_503_RETRY_AFTER, "coinbase: HTTP 503", 3, [2.0, 2.0]),
        (Fault.HTTP_404, "coinbase: HTTP 404 (not found)", 1, []),
        (Fault.TRUNCATED_JSON, "coinbase: invalid JSON", 1, []),
        (Fault.HTML_ERROR, "coinbase: HTML error page instead of JSON", 1, []),
        (Fault.ABSURD_VALUE, "coinbase: absurd price 1000000000 USD (expected 100..10000000)", 1, []),
    ],
)
async def test_persistent_fault_gives_one_line(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    policy: FetchPolicy,
    fake_sleep: RecordingSleep,
    fault: Fault,
    message: str,
    requests: int,
    delays: list[float],
) -> None:
    fake_upstreams.inject("coinbase", fault, times=None)
    with pytest.raises(SourceError) as caught:
        await _coinbase(fake_upstreams, http_client, policy)
    assert str(caught.value) == message
    assert (caught.value.source, fake_upstreams.count("coinbase"), fake_sleep.delays) == (
        "coinbase",
        requests,
        delays,
    )


async def test_timeout_names_the_limit(fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient) -> None:
    fake_upstreams.inject("kraken", Fault.TIMEOUT)
    with pytest.raises(SourceError, match=r"^kraken: timed out after 0\.2 s$"):
        await kraken.fetch_price(
            http_client, fake_upstreams.url("kraken"), FetchPolicy(timeout_s=0.2, retries=0)
        )


async def test_timeout_then_answer_is_retried(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, fake_sleep: RecordingSleep
) -> None:
    fake_upstreams.inject("kraken", Fault.TIMEOUT, times=1)
    policy = FetchPolicy(timeout_s=0.2, retries=1, sleep=fake_sleep)
    assert await kraken.fetch_price(http_client, fake_upstreams.url("kraken"), policy) == 85861.2
    assert len(fake_sleep.delays) == 1 and 0.25 <= fake_sleep.delays[0] <= 0.5


async def test_connection_refused(http_client: httpx.AsyncClient, policy: FetchPolicy) -> None:
    with FakeUpstreams() as closed:
        url = closed.url("coinbase")
    with pytest.raises(SourceError, match=r"^coinbase: connection failed \(.+\)$") as caught:
        await coinbase.fetch_price(http_client, url, policy)
    assert "\n" not in str(caught.value)


async def test_retry_after_is_honoured_then_the_answer_used(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    policy: FetchPolicy,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("coinbase", Fault.HTTP_429_RETRY_AFTER, times=1, retry_after=7)
    assert await _coinbase(fake_upstreams, http_client, policy) == 85866.185
    assert fake_sleep.delays == [7.0]
    assert fake_upstreams.count("coinbase") == 2


async def test_retry_after_as_http_date(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    policy: FetchPolicy,
    fake_sleep: RecordingSleep,
) -> None:
    when = format_datetime(FIXED_NOW + timedelta(seconds=5), usegmt=True)
    fake_upstreams.inject("coinbase", Fault.HTTP_503_RETRY_AFTER, times=1, retry_after=when)
    assert await _coinbase(fake_upstreams, http_client, policy) == 85866.185
    assert fake_sleep.delays == [5.0]


async def test_too_long_retry_after_fails_at_once(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    policy: FetchPolicy,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("coingecko", Fault.HTTP_429_RETRY_AFTER, times=None, retry_after=120)
    with pytest.raises(SourceError) as caught:
        await coingecko.fetch_price(http_client, fake_upstreams.url("coingecko"), policy)
    assert str(caught.value) == "coingecko: rate limited (HTTP 429), asked to wait 120 s"
    assert (fake_upstreams.count("coingecko"), fake_sleep.delays) == (1, [])


async def test_backoff_is_exponential_with_jitter(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, fake_sleep: RecordingSleep
) -> None:
    fake_upstreams.inject("coinbase", Fault.HTTP_429, times=4)
    policy = FetchPolicy(retries=4, sleep=fake_sleep)
    assert await _coinbase(fake_upstreams, http_client, policy) == 85866.185
    for attempt, delay in enumerate(fake_sleep.delays):
        nominal = 0.5 * 2**attempt
        assert nominal / 2 <= delay <= nominal
    assert len(fake_sleep.delays) == 4


async def test_transient_5xx_recovers(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    policy: FetchPolicy,
    fake_sleep: RecordingSleep,
) -> None:
    fake_upstreams.inject("coinbase", Fault.HTTP_503, times=2)
    assert await _coinbase(fake_upstreams, http_client, policy) == 85866.185
    assert fake_sleep.delays == [0.5, 1.0]


async def test_kraken_error_array_on_http_200(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    fake_upstreams.inject("kraken", Fault.API_ERROR)
    with pytest.raises(SourceError) as caught:
        await kraken.fetch_price(http_client, fake_upstreams.url("kraken"), policy)
    assert str(caught.value) == "kraken: API error EGeneral:Too many requests"


async def test_bitcoind_rpc_error(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy
) -> None:
    fake_upstreams.inject("bitcoind", Fault.API_ERROR, times=None)
    with pytest.raises(SourceError) as caught:
        await bitcoind.fetch_network(http_client, fake_upstreams.url("bitcoind"), None, policy)
    assert str(caught.value) == "bitcoind: RPC error -8: Block does not exist at specified height"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault.TRUNCATED_JSON, "mempool: tip height is not a number: ''"),
        (Fault.HTML_ERROR, "mempool: HTML error page instead of a number"),
        (Fault.ABSURD_VALUE, "mempool: non-positive height 0"),
    ],
)
async def test_text_endpoint_faults(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    policy: FetchPolicy,
    fault: Fault,
    message: str,
) -> None:
    fake_upstreams.inject("mempool", fault, path="tip/height")
    with pytest.raises(SourceError) as caught:
        await mempool.fetch_tip_height(http_client, fake_upstreams.url("mempool"), policy)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.0, "kraken: non-positive price 0 USD"),
        (-5.0, "kraken: non-positive price -5 USD"),
        (42.0, "kraken: absurd price 42 USD (expected 100..10000000)"),
    ],
)
async def test_absurd_prices_name_the_value(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    policy: FetchPolicy,
    value: float,
    message: str,
) -> None:
    fake_upstreams.set_price("kraken", value)
    with pytest.raises(AbsurdValueError) as caught:
        await kraken.fetch_price(http_client, fake_upstreams.url("kraken"), policy)
    assert str(caught.value) == message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
async def test_non_finite_prices_are_malformed(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient, policy: FetchPolicy, value: float
) -> None:
    fake_upstreams.set_price("kraken", value)
    with pytest.raises(SourceError) as caught:
        await kraken.fetch_price(http_client, fake_upstreams.url("kraken"), policy)
    assert str(caught.value) == f"kraken: c[0] is not a finite number: {value}"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("hashrate/3d", "mempool: absurd difficulty 1e+20 (expected 1000000..1e+18)"),
        ("reward-stats", "mempool: absurd fees per block 1000 BTC (expected 0..100)"),
        ("difficulty-adjustment", "mempool: absurd remaining blocks 5000 (expected 1..2016)"),
    ],
)
async def test_absurd_network_values(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    policy: FetchPolicy,
    path: str,
    message: str,
) -> None:
    fake_upstreams.inject("mempool", Fault.ABSURD_VALUE, path=path)
    with pytest.raises(AbsurdValueError) as caught:
        await mempool.fetch_network(http_client, fake_upstreams.url("mempool"), policy)
    assert str(caught.value) == message


@pytest.mark.parametrize("source", get_args(PriceSourceName))
async def test_every_price_source_rejects_an_absurd_quote(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    policy: FetchPolicy,
    source: PriceSourceName,
) -> None:
    fake_upstreams.inject(source, Fault.ABSURD_VALUE)
    with pytest.raises(AbsurdValueError) as caught:
        await PRICE_FETCHERS[source](http_client, fake_upstreams.url(source), policy)
    assert caught.value.value == 1e9
