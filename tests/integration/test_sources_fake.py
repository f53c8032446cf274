"""The fake upstream server: real paths and content types, fault counting, script mode, control API."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.upstreams import FIXTURES, FakeUpstreams, Fault

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("source", "path", "fixture", "content_type"),
    [
        ("mempool", "/blocks/tip/height", "mempool__blocks_tip_height.txt", "text/plain"),
        ("blockchain.info", "/q/hashrate", "blockchaininfo__q_hashrate.txt", "text/plain"),
        (
            "mempool",
            "/v1/difficulty-adjustment",
            "mempool__v1_difficulty-adjustment.json",
            "application/json",
        ),
        ("bitstamp", "/api/v2/ticker/btcusd/", "bitstamp__api_v2_ticker_btcusd.json", "application/json"),
    ],
)
async def test_serves_recorded_bodies_verbatim(
    fake_upstreams: FakeUpstreams,
    http_client: httpx.AsyncClient,
    source: str,
    path: str,
    fixture: str,
    content_type: str,
) -> None:
    response = await http_client.get(fake_upstreams.url(source) + path)
    assert response.status_code == 200
    assert response.content == (FIXTURES / fixture).read_bytes()
    assert response.headers["content-type"].startswith(content_type)


async def test_faults_count_down_and_requests_are_recorded(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient
) -> None:
    fake_upstreams.inject("binance", Fault.HTTP_429_RETRY_AFTER, times=2, retry_after=3)
    url = fake_upstreams.url("binance") + "/api/v3/ticker/price"
    before = time.time()
    statuses = [(await http_client.get(url)).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]
    assert [r.path for r in fake_upstreams.requests] == ["/binance/api/v3/ticker/price"] * 3
    assert all(before <= r.at <= time.time() for r in fake_upstreams.requests)
    assert (await http_client.get(fake_upstreams.url("binance") + "/nope")).status_code == 404


async def test_error_bodies_are_the_recorded_ones(
    fake_upstreams: FakeUpstreams, http_client: httpx.AsyncClient
) -> None:
    fake_upstreams.inject("coinbase", Fault.HTTP_429_RETRY_AFTER, retry_after=9)
    response = await http_client.get(fake_upstreams.url("coinbase") + "/v2/prices/BTC-USD/spot")
    assert response.headers["retry-after"] == "9"
    assert response.json()["errors"][0]["id"] == "rate_limit_exceeded"


def test_overrides_are_rejected_for_sources_without_that_value(fake_upstreams: FakeUpstreams) -> None:
    with pytest.raises(ValueError, match="mempool serves no price"):
        fake_upstreams.set_price("mempool", 1)
    with pytest.raises(ValueError, match="unknown source"):
        fake_upstreams.inject("nasdaq", Fault.HTTP_500)


def test_script_mode_and_control_api() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.upstreams", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        env = dict(line.strip().split("=", 1) for line in iter(process.stdout.readline, "\n"))
        assert base_url.startswith("http://127.0.0.1:")
        assert env["MINERWATCH_MEMPOOL_URL"] == base_url + "/mempool/api"
        assert env["MINERWATCH_BLOCKCHAIN_INFO_URL"] == base_url + "/blockchain.info"
        spot = env["MINERWATCH_COINBASE_URL"] + "/v2/prices/BTC-USD/spot"
        with httpx.Client() as client:
            client.post(
                f"{base_url}/_control/set_price", json={"args": ["coinbase", 50000]}
            ).raise_for_status()
            assert client.get(spot).json()["data"]["amount"] == "50000"
            inject = {"kwargs": {"source": "coinbase", "fault": "HTTP_503"}}
            client.post(f"{base_url}/_control/inject", json=inject).raise_for_status()
            assert client.get(spot).status_code == 503
            recorded = client.get(f"{base_url}/_control/requests").json()
            assert [r["source"] for r in recorded] == ["coinbase", "coinbase"]
            assert client.post(f"{base_url}/_control/stop").status_code == 404
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
