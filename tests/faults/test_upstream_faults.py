"""Upstream faults through the real LivePoller, Watch and Store on virtual time: never a false alert.

A subscribed chat holds network news and price / hashprice / premium / difficulty alerts that bad data
would trip. Faulty sources must leave either the correct values (the other sources' median, the fallback
network source) or, when nothing usable is left for long enough, ONE stale notice; when the sources come
back, one "data fresh" notice and alerts on the true values again.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.alerts.regime import RegimeParams
from bot.chat.commands import parse_command
from bot.chat.context import Chat
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression
from bot.market.poller import LivePoller
from bot.store import Store
from bot.store.snapshots import latest_snapshot
from bot.watch.loop import Watch
from handlers.router import dispatch
from tests.fakes.upstreams import FakeUpstreams, Fault
from tests.faults.conftest import VirtualTime

PRICES = {"coinbase": 85_000.0, "kraken": 85_100.0, "bitstamp": 85_200.0, "coingecko": 85_050.0}
PRIMARY = ("coinbase", "kraken", "bitstamp")
DIFFICULTY = 132_716_002_350_731.0
CHAT = Chat(platform="telegram", chat_id="100")
RULES = (
    "network",
    "price below 70k",
    "price above 100k",
    "hashprice below 20",
    "hashprice above 100",
    "premium below -60%",
    "difficulty above 20%",
    "difficulty below -20%",
)
NOTICES = frozenset({"data_stale", "data_fresh"})
STALE_AFTER_S = 300
# The HTTP timeout runs on real time (the fake upstreams answer from a thread of this process): it must be
# roomy enough that a healthy source answers within it however busy the machine is, or a slow moment
# turns a scenario into another one (a source "not answering" since setup). A TIMEOUT fault holds its
# answer well past it, so it still times out every time.
SOURCE_TIMEOUT_S = 2.0
HOLD_S = SOURCE_TIMEOUT_S * 3


@dataclass
class Rig:
    """The poller and watch over a store, the fake upstreams and the virtual clock."""

    store: Store
    upstreams: FakeUpstreams
    poller: LivePoller
    client: httpx.AsyncClient
    clock: VirtualTime
    services: StoreServices
    minute: int = 0

    async def run(self, minutes: int) -> None:
        """Poll the price every minute and the network every fifth, as the app schedules them."""
        for _ in range(minutes):
            self.minute += 1
            self.clock.advance(60)
            await self.poller.poll_price()
            if self.minute % 5 == 0:
                await self.poller.poll_network()

    async def outbox(self) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = await self.store.run(
            lambda db: db.execute("SELECT event_kind, text FROM outbox ORDER BY id").fetchall()
        )
        return [(kind, text) for kind, text in rows]

    async def alerts(self) -> list[str]:
        """Every outbox row that is not a data notice."""
        return [f"{kind}: {text}" for kind, text in await self.outbox() if kind not in NOTICES]

    async def notices(self) -> list[str]:
        return [kind for kind, _ in await self.outbox() if kind in NOTICES]

    async def minutes_until_stale(self, limit: int) -> int | None:
        """Run minute by minute until the stale notice is queued; the minutes it took (None: never)."""
        for minutes in range(1, limit + 1):
            await self.run(1)
            if "data_stale" in await self.notices():
                return minutes
        return None

    async def reply(self, command: str) -> str:
        request = parse_command(CHAT, command)
        assert request is not None
        return (await dispatch(request, self.services)).text

    async def latest(self) -> tuple[float, float]:
        snapshot = await self.store.run(latest_snapshot)
        assert snapshot is not None
        return snapshot.price_usd, snapshot.difficulty

    async def snapshot_prices(self) -> list[float]:
        rows: list[tuple[float]] = await self.store.run(
            lambda db: db.execute("SELECT price_usd FROM snapshots ORDER BY id").fetchall()
        )
        return [row[0] for row in rows]

    def set_prices(self, prices: dict[str, float]) -> None:
        for source, usd in prices.items():
            self.upstreams.set_price(source, usd)

    def set_market(self) -> None:
        """PRICES, and the same difficulty from every network source."""
        self.set_prices(PRICES)
        self.upstreams.set_difficulty(DIFFICULTY)

    def heal(self) -> None:
        """Every source answers again (with the same market)."""
        self.upstreams.reset()
        self.set_market()


def settings_for(upstreams: FakeUpstreams, **overrides: Any) -> Settings:
    return Settings.model_validate(
        {
            **upstreams.settings_overrides(),
            "source_retries": 0,
            "source_timeout_s": SOURCE_TIMEOUT_S,
            "stale_after_s": STALE_AFTER_S,
            **overrides,
        }
    )


async def make_rig(store: Store, upstreams: FakeUpstreams, clock: VirtualTime, **overrides: Any) -> Rig:
    settings = settings_for(upstreams, **overrides)
    regression = load_difficulty_regression()
    watch = Watch(store, regression, RegimeParams(), clock=clock, on_enqueued=lambda: None)
    client = httpx.AsyncClient(timeout=settings.source_timeout_s)
    poller = LivePoller(store, settings, watch, client, clock=clock.datetime)
    services = StoreServices(store, settings, regression, clock=clock.datetime)
    rig = Rig(store, upstreams, poller, client, clock, services)
    rig.set_market()
    await rig.poller.poll_price()
    await rig.poller.poll_network()
    for rule in RULES:
        request = parse_command(CHAT, f"/subscribe {rule}")
        assert request is not None
        reply = await dispatch(request, services)
        assert not reply.error, reply.text
    return rig


@pytest.fixture
async def rig(
    request: pytest.FixtureRequest, store: Store, fake_upstreams: FakeUpstreams, clock: VirtualTime
) -> AsyncIterator[Rig]:
    """The rig; ``indirect`` parametrization passes Settings overrides."""
    made = await make_rig(store, fake_upstreams, clock, **getattr(request, "param", {}))
    yield made
    await made.client.aclose()


async def test_the_quiet_market_alerts_nobody(rig: Rig) -> None:
    await rig.run(10)
    assert await rig.latest() == (85_100.0, DIFFICULTY)
    assert await rig.outbox() == []


@pytest.mark.parametrize(
    ("source", "fault"),
    [
        ("coinbase", Fault.TIMEOUT),
        ("kraken", Fault.HTTP_429),
        ("kraken", Fault.HTTP_429_RETRY_AFTER),
        ("bitstamp", Fault.HTTP_500),
        ("coinbase", Fault.HTTP_503),
        ("kraken", Fault.TRUNCATED_JSON),
        ("bitstamp", Fault.HTML_ERROR),
        ("kraken", Fault.API_ERROR),
        ("coinbase", Fault.ABSURD_VALUE),
        ("bitstamp", Fault.ABSURD_VALUE),
    ],
)
async def test_a_faulty_price_source_leaves_the_median_of_the_others(
    rig: Rig, source: str, fault: Fault
) -> None:
    rig.upstreams.inject(source, fault, times=None, hold_s=HOLD_S)
    await rig.run(3 if fault is Fault.TIMEOUT else 6)
    others = [PRICES[name] for name in PRIMARY if name != source]
    assert await rig.latest() == (statistics.median(others), DIFFICULTY)
    assert max(await rig.snapshot_prices()) < 100_000
    assert await rig.outbox() == []


@pytest.mark.parametrize(
    "fault", [Fault.TIMEOUT, Fault.HTTP_429, Fault.HTTP_503, Fault.TRUNCATED_JSON, Fault.ABSURD_VALUE]
)
async def test_a_faulty_mempool_falls_back_to_blockchain_info(rig: Rig, fault: Fault) -> None:
    rig.upstreams.inject("mempool", fault, times=None, hold_s=HOLD_S)
    await rig.run(10)
    assert rig.upstreams.count("blockchain.info") > 0
    assert await rig.latest() == (85_100.0, DIFFICULTY)
    assert await rig.outbox() == []


async def test_a_lying_exchange_is_outvoted(rig: Rig) -> None:
    rig.upstreams.set_price("coinbase", 50_000)
    await rig.run(10)
    assert await rig.latest() == (85_150.0, DIFFICULTY)
    assert await rig.outbox() == []


@pytest.mark.parametrize("rig", [{"price_sources": ["coinbase", "kraken", "coingecko"]}], indirect=True)
async def test_two_disagreeing_sources_are_settled_by_the_fallback(rig: Rig) -> None:
    rig.upstreams.set_price("coinbase", 50_000)
    await rig.run(6)
    assert await rig.latest() == (statistics.median([85_100.0, 85_050.0]), DIFFICULTY)
    assert await rig.outbox() == []
    rig.upstreams.inject("coingecko", Fault.HTTP_429, times=None)  # now nobody can settle it
    await rig.run(15)
    assert min(await rig.snapshot_prices()) > 80_000
    assert await rig.alerts() == []
    assert await rig.notices() == ["data_stale"]


async def test_absurd_values_everywhere_are_never_used(rig: Rig) -> None:
    for source in (*PRICES, "mempool", "blockchain.info"):
        rig.upstreams.inject(source, Fault.ABSURD_VALUE, times=None)
    await rig.run(20)
    assert await rig.latest() == (85_100.0, DIFFICULTY)  # the last good values
    assert max(await rig.snapshot_prices()) < 100_000
    assert await rig.alerts() == []
    assert await rig.notices() == ["data_stale"]


async def test_every_source_down_gives_one_stale_notice_then_recovers(rig: Rig) -> None:
    for source in (*PRICES, "mempool", "blockchain.info"):
        rig.upstreams.inject(source, Fault.HTTP_503, times=None)
    await rig.run(4)  # within stale_after_s the last price still stands
    assert await rig.outbox() == []
    await rig.run(56)
    assert await rig.notices() == ["data_stale"]
    assert await rig.alerts() == []

    rig.heal()
    await rig.run(5)
    assert await rig.notices() == ["data_stale", "data_fresh"]
    assert await rig.latest() == (85_100.0, DIFFICULTY)
    assert await rig.alerts() == []

    rig.set_prices({source: 65_000.0 for source in PRICES})  # a real move: alerts work again
    await rig.run(2)
    alerts = await rig.alerts()
    assert len(alerts) == 1 and alerts[0].startswith("threshold:") and "$65,000" in alerts[0]


async def test_a_network_outage_alone_goes_stale_once(rig: Rig) -> None:
    for source in ("mempool", "blockchain.info"):
        rig.upstreams.inject(source, Fault.TIMEOUT, times=3, hold_s=HOLD_S)
        rig.upstreams.inject(source, Fault.HTTP_503, times=None)
    await rig.run(30)
    assert await rig.notices() == ["data_stale"]
    rig.heal()
    await rig.run(5)
    assert await rig.notices() == ["data_stale", "data_fresh"]
    assert await rig.alerts() == []


# Bad data never becomes an alert (issue 11): quorum, jump rule, cross-checks, malformed fields, deadlines.


async def test_a_lone_absurd_quote_never_alerts_and_goes_stale_naming_the_sources(rig: Rig) -> None:
    for source in PRIMARY:
        rig.upstreams.inject(source, Fault.HTTP_503, times=None)
    rig.upstreams.set_price("coingecko", 150.0)
    await rig.run(4)
    assert await rig.outbox() == []  # not one row: no "price below", no capitulation, no notice yet
    assert (
        await rig.minutes_until_stale(10) == 2
    )  # the first poll more than STALE_AFTER_S after the last good one
    assert await rig.alerts() == []
    notice = (await rig.outbox())[0][1]
    assert "coingecko (150.00 USD) alone" in notice
    assert "bitstamp, coinbase, kraken not answering since 12:01 UTC" in notice
    assert max(await rig.snapshot_prices()) < 100_000 and min(await rig.snapshot_prices()) > 80_000
    status = await rig.reply("/status")
    assert "Data 6m 0s old: bitstamp, coinbase, kraken not answering since 12:01 UTC" in status
    assert "$150" not in status
    await rig.reply("/lang ru")
    assert "bitstamp, coinbase, kraken не отвечают с 12:01 UTC" in await rig.reply("/hashprice")


async def test_a_lone_network_source_cannot_change_difficulty_inside_an_epoch(rig: Rig) -> None:
    rig.upstreams.inject("blockchain.info", Fault.HTTP_503, times=None)
    rig.upstreams.set_difficulty(DIFFICULTY * 1000, "mempool")
    await rig.run(20)
    assert await rig.latest() == (85_100.0, DIFFICULTY)
    assert await rig.alerts() == []
    assert await rig.notices() == ["data_stale"]
    notice = (await rig.outbox())[0][1]
    assert "in the same 2016-block epoch, against the last accepted reading" in notice
    # mempool answered, but with a reading the poller refused: it is named among the failing sources.
    assert "blockchain.info, mempool not answering since 12:05 UTC" in notice


async def test_network_sources_that_disagree_make_the_data_stale(rig: Rig) -> None:
    rig.upstreams.set_difficulty(DIFFICULTY * 1000, "mempool")
    assert await rig.minutes_until_stale(30) == 16  # first poll > 300 s + 2 network polls after 12:00
    assert await rig.latest() == (85_100.0, DIFFICULTY)
    assert await rig.alerts() == []
    notice = (await rig.outbox())[0][1]
    assert "network data: sources disagree" in notice
    assert "blockchain.info, mempool not answering since 12:05 UTC" in notice
    status = await rig.reply("/difficulty")
    assert "132.72 T" in status and "blockchain.info, mempool not answering since 12:05 UTC" in status
    rig.heal()
    await rig.run(5)
    assert await rig.notices() == ["data_stale", "data_fresh"]
    assert await rig.alerts() == []


async def test_a_400_digit_price_drops_kraken_alone(rig: Rig) -> None:
    rig.upstreams.inject("kraken", Fault.HUGE_INTEGER, times=None)
    await rig.run(6)
    assert await rig.latest() == (statistics.median([PRICES["coinbase"], PRICES["bitstamp"]]), DIFFICULTY)
    assert await rig.outbox() == []


async def test_an_impossible_retarget_date_falls_back_to_blockchain_info(rig: Rig) -> None:
    rig.upstreams.set_retarget_date_ms(1e20)
    await rig.run(20)
    snapshot = await rig.store.run(latest_snapshot)
    assert snapshot is not None and snapshot.adjustment is None  # blockchain.info's reading
    assert [o.source for o in snapshot.outcomes if o.used][-1] == "blockchain.info"
    assert any("estimatedRetargetDate is not a plausible time" in (o.error or "") for o in snapshot.outcomes)
    assert await rig.outbox() == []


# The deadline binds the healthy network sources too: as roomy as the timeout (see SOURCE_TIMEOUT_S).
@pytest.mark.parametrize("rig", [{"source_deadline_s": SOURCE_TIMEOUT_S}], indirect=True)
async def test_a_trickling_server_is_cut_at_the_deadline(rig: Rig) -> None:
    for source in PRIMARY:  # one byte every 0.2 s: each read beats the timeout, a whole body takes > 12 s
        rig.upstreams.inject(source, Fault.TRICKLE, times=None, hold_s=0.2)
    rig.upstreams.inject("coingecko", Fault.HTTP_503, times=None)
    started = time.monotonic()
    minutes = await rig.minutes_until_stale(10)
    elapsed_s = time.monotonic() - started
    assert minutes == 6
    # Each price poll ends at the 2 s deadline, far sooner than the 63-byte coinbase body (12.6 s) would
    # arrive; the bound leaves room for a busy machine.
    assert elapsed_s < minutes * 6
    notice = (await rig.outbox())[0][1]
    assert "coinbase: no complete answer within 2 s" not in notice  # the summary, not raw errors
    assert "bitstamp, coinbase, coingecko, kraken not answering since 12:01 UTC" in notice
    assert await rig.alerts() == []


async def test_a_40_percent_jump_waits_for_the_next_poll(rig: Rig) -> None:
    rig.set_prices({source: usd * 1.4 for source, usd in PRICES.items()})
    await rig.run(1)
    assert await rig.latest() == (85_100.0, DIFFICULTY)  # held
    assert await rig.outbox() == []
    await rig.run(1)
    price, _ = await rig.latest()
    assert price == pytest.approx(85_100.0 * 1.4)  # confirmed by the next poll
    alerts = await rig.alerts()
    assert len(alerts) == 1 and "$119,140" in alerts[0]
    assert await rig.notices() == []


async def test_a_one_poll_spike_never_alerts(rig: Rig) -> None:
    rig.set_prices({source: usd * 1.4 for source, usd in PRICES.items()})
    await rig.run(1)
    rig.set_prices(PRICES)
    await rig.run(5)
    assert await rig.outbox() == []
    assert max(await rig.snapshot_prices()) < 100_000
