"""Combine the upstream clients into one price, one network state and one ``MarketSnapshot``.

Price: the sources in ``settings.price_sources`` are queried in parallel; failed answers, absurd values
(see ``bot.sources.http`` bounds) and outliers are dropped and the median of the rest is the price. A quote
is an outlier when it lies more than ``max_quote_deviation_pct`` % from the median of the OTHER quotes;
outliers are removed worst first (``outlier_reasons``), so one liar among three cannot drag the honest two
out with it. CoinGecko is a fallback only: it is queried when fewer than two of the other sources give a
usable quote (answered, plausible, not an outlier), which also lets it break a tie between two disagreeing
exchanges. A single surviving quote is returned (the snapshot notes it) but is no quorum: it never drives
an alert (``bot.sources.quorum``).

Network: mempool.space, Bitcoin Core (when ``bitcoind_url`` is set) and blockchain.info are queried in
parallel and cross-checked (``bot.sources.quorum.consensus``): the first, in that order, that a strict
majority agrees with wins, those that disagree with it are dropped; with no majority (two sources that
disagree) the call raises ``SourcesDisagree``. Every attempt is recorded as a ``SourceOutcome`` stamped by
the ``now`` clock. A malformed answer (any field that does not parse) drops that source for that call only.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

import httpx

from bot.config import PriceSourceName, Settings
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
from bot.sources.http import (
    PARSE_ERRORS,
    AbsurdValueError,
    Clock,
    FetchPolicy,
    SleepFn,
    SourceError,
    malformed,
    unwrap,
    utc_now,
)
from bot.sources.quorum import consensus
from bot.sources.snapshot import MarketSnapshot, NetworkState, PriceQuote, SourceOutcome

PriceFetcher = Callable[[httpx.AsyncClient, str, FetchPolicy], Awaitable[float]]
OutcomeHook = Callable[[SourceOutcome], None]
T = TypeVar("T")
FALLBACK_PRICE_SOURCE: PriceSourceName = "coingecko"

PRICE_FETCHERS: dict[PriceSourceName, PriceFetcher] = {
    "coinbase": coinbase.fetch_price,
    "kraken": kraken.fetch_price,
    "bitstamp": bitstamp.fetch_price,
    "coingecko": coingecko.fetch_price,
    "gate": gate.fetch_price,
    "binance": binance.fetch_price,
}


class SourcesUnavailable(Exception):  # noqa: N818 (name fixed by the callers)
    """No source gave a usable value; ``str()`` is a summary line then one line per source."""

    def __init__(self, what: str, outcomes: Sequence[SourceOutcome]) -> None:
        self.what = what
        self.outcomes = tuple(outcomes)
        super().__init__("\n".join([f"{what} unavailable from every source:", *self.lines]))

    @property
    def lines(self) -> list[str]:
        return [o.error or o.dropped or f"{o.source}: no usable value" for o in self.outcomes]


class SourcesDisagree(SourcesUnavailable):
    """Sources answered but no majority agrees; the summary line names the disagreement."""

    def __init__(self, what: str, outcomes: Sequence[SourceOutcome]) -> None:
        super().__init__(what, outcomes)
        self.args = ("\n".join([f"{what}: sources disagree:", *self.lines]),)


@dataclass(frozen=True, slots=True)
class GiveUp:
    """A command's budget for the sources: each still silent at ``at`` (``loop.time()``) is given up, and
    ``told`` hears every source that gave no usable answer as soon as it is known."""

    at: float
    budget_s: float
    told: OutcomeHook

    @classmethod
    def after(cls, budget_s: float, told: OutcomeHook) -> GiveUp:
        return cls(asyncio.get_running_loop().time() + budget_s, budget_s, told)


async def _within(give_up: GiveUp | None, source: str, attempt: Awaitable[T]) -> T:
    """``attempt``, or ``SourceError`` when ``give_up`` comes first."""
    if give_up is None:
        return await attempt
    try:
        async with asyncio.timeout_at(give_up.at):
            return await attempt
    except TimeoutError:
        raise SourceError(source, f"gave no answer in {give_up.budget_s:g} s") from None


def _told(give_up: GiveUp | None, outcome: SourceOutcome) -> SourceOutcome:
    if give_up is not None and not outcome.used:
        give_up.told(outcome)
    return outcome


def policy_for(settings: Settings, now: Clock = utc_now, sleep: SleepFn = asyncio.sleep) -> FetchPolicy:
    """The fetch policy the settings ask for, with an injectable clock and sleep."""
    return FetchPolicy(
        timeout_s=settings.source_timeout_s,
        retries=settings.source_retries,
        deadline_s=settings.source_deadline_s,
        sleep=sleep,
        clock=now,
    )


def outlier_reasons(values: Sequence[float], max_deviation_pct: float) -> list[str | None]:
    """For each value, why it is dropped as an outlier, or None when it is kept.

    Worst first: while some kept value lies more than the limit from the median of the OTHER kept values,
    the one farthest off is dropped and the rest re-checked. When only two are left and they disagree,
    neither can be trusted and both are dropped. A single value has nothing to be compared with.
    """
    reasons: list[str | None] = [None] * len(values)
    kept = list(range(len(values)))
    while len(kept) >= 2:
        medians = {i: statistics.median(values[j] for j in kept if j != i) for i in kept}
        deviation_pct = {i: abs(values[i] - medians[i]) / medians[i] * 100 for i in kept}
        worst = max(kept, key=deviation_pct.__getitem__)
        if deviation_pct[worst] <= max_deviation_pct:
            break
        losers = list(kept) if len(kept) == 2 else [worst]
        limit = f"limit {max_deviation_pct:g}%"
        for i in losers:
            reasons[i] = f"{deviation_pct[i]:.1f}% off the others' median {medians[i]:.2f} USD ({limit})"
        kept = [i for i in kept if i not in losers]
    return reasons


def _drop_outliers(outcomes: Sequence[SourceOutcome], max_deviation_pct: float) -> list[SourceOutcome]:
    candidates = [o for o in outcomes if o.used and o.value is not None]
    reasons = outlier_reasons([o.value for o in candidates if o.value is not None], max_deviation_pct)
    dropped = {o.source: f"{o.source}: {r}" for o, r in zip(candidates, reasons, strict=True) if r}
    return [replace(o, dropped=dropped[o.source]) if o.source in dropped else o for o in outcomes]


async def _quote(
    name: PriceSourceName,
    client: httpx.AsyncClient,
    settings: Settings,
    policy: FetchPolicy,
    give_up: GiveUp | None = None,
) -> SourceOutcome:
    base_url = str(getattr(settings, f"{name}_url"))
    try:
        value = await _within(give_up, name, PRICE_FETCHERS[name](client, base_url, policy))
    except AbsurdValueError as exc:
        outcome = SourceOutcome(name, policy.clock(), ok=True, value=exc.value, dropped=str(exc))
    except SourceError as exc:
        outcome = SourceOutcome(name, policy.clock(), ok=False, error=str(exc))
    except PARSE_ERRORS as exc:
        outcome = SourceOutcome(name, policy.clock(), ok=False, error=str(malformed(name, exc)))
    else:
        outcome = SourceOutcome(name, policy.clock(), ok=True, value=value)
    return _told(give_up, outcome)


async def fetch_price(
    client: httpx.AsyncClient,
    settings: Settings,
    now: Clock = utc_now,
    *,
    sleep: SleepFn = asyncio.sleep,
    give_up: GiveUp | None = None,
) -> PriceQuote:
    """Median BTC/USD of the configured sources (rules in the module docstring); raises SourcesUnavailable.

    With ``give_up`` a source still silent at its deadline counts as failed, and each failure is told.
    """
    policy = policy_for(settings, now, sleep)
    primary = [name for name in settings.price_sources if name != FALLBACK_PRICE_SOURCE]
    raw = list(await asyncio.gather(*(_quote(name, client, settings, policy, give_up) for name in primary)))
    outcomes = _drop_outliers(raw, settings.max_quote_deviation_pct)
    if FALLBACK_PRICE_SOURCE in settings.price_sources and sum(o.used for o in outcomes) < 2:
        raw.append(await _quote(FALLBACK_PRICE_SOURCE, client, settings, policy, give_up))
        outcomes = _drop_outliers(raw, settings.max_quote_deviation_pct)
    survivors = [o.value for o in outcomes if o.used and o.value is not None]
    if not survivors:
        raise SourcesUnavailable("BTC price", outcomes)
    return PriceQuote(price_usd=statistics.median(survivors), fetched_at=now(), outcomes=tuple(outcomes))


def _network_chain(
    client: httpx.AsyncClient, settings: Settings, policy: FetchPolicy
) -> list[tuple[str, Callable[[], Awaitable[NetworkState]]]]:
    mempool_url, blockchain_info_url = str(settings.mempool_url), str(settings.blockchain_info_url)
    chain: list[tuple[str, Callable[[], Awaitable[NetworkState]]]] = [
        (mempool.SOURCE, partial(mempool.fetch_network, client, mempool_url, policy, policy.clock))
    ]
    if settings.bitcoind_url is not None:
        auth = None
        if settings.bitcoind_user is not None:
            password = settings.bitcoind_password.get_secret_value() if settings.bitcoind_password else ""
            auth = httpx.BasicAuth(settings.bitcoind_user, password)
        rpc = partial(bitcoind.fetch_network, client, str(settings.bitcoind_url), auth, policy, policy.clock)
        chain.append((bitcoind.SOURCE, rpc))
    chain.append(
        (
            blockchain_info.SOURCE,
            partial(blockchain_info.fetch_network, client, blockchain_info_url, policy, policy.clock),
        )
    )
    return chain


async def _network_attempt(
    name: str, attempt: Callable[[], Awaitable[NetworkState]], now: Clock, give_up: GiveUp | None = None
) -> NetworkState | SourceOutcome:
    """One network source's reading, or the outcome saying why it gave none (told to ``give_up``)."""
    try:
        return await _within(give_up, name, attempt())
    except AbsurdValueError as exc:
        outcome = SourceOutcome(name, now(), ok=True, value=exc.value, dropped=str(exc))
    except SourceError as exc:
        outcome = SourceOutcome(name, now(), ok=False, error=str(exc))
    except PARSE_ERRORS as exc:
        outcome = SourceOutcome(name, now(), ok=False, error=str(malformed(name, exc)))
    return _told(give_up, outcome)


async def fetch_network(
    client: httpx.AsyncClient,
    settings: Settings,
    now: Clock = utc_now,
    *,
    sleep: SleepFn = asyncio.sleep,
    give_up: GiveUp | None = None,
) -> NetworkState:
    """mempool, bitcoind (if configured) and blockchain.info in parallel, cross-checked (module docstring).

    Raises SourcesDisagree when no majority agrees, SourcesUnavailable when no source answers. With
    ``give_up`` a source still silent at its deadline counts as failed, and each failure is told.
    """
    policy = policy_for(settings, now, sleep)
    chain = _network_chain(client, settings, policy)
    results = await asyncio.gather(
        *(_network_attempt(name, attempt, now, give_up) for name, attempt in chain)
    )
    states = [r for r in results if isinstance(r, NetworkState)]
    winner, problems = consensus(states)
    dropped = {s.source: p for s, p in zip(states, problems, strict=True) if p is not None}
    outcomes = [
        r
        if isinstance(r, SourceOutcome)
        else SourceOutcome(
            r.source,
            r.fetched_at,
            ok=True,
            value=r.difficulty,
            dropped=f"{r.source}: {dropped[r.source]}" if r.source in dropped else None,
        )
        for r in results
    ]
    if winner is None:
        raise (SourcesDisagree if states else SourcesUnavailable)("network data", outcomes)
    return replace(with_fees_of_an_agreeing_source(states, problems, winner), outcomes=tuple(outcomes))


def with_fees_of_an_agreeing_source(
    states: Sequence[NetworkState], problems: Sequence[str | None], winner: int
) -> NetworkState:
    """The winning reading, its unknown fees taken from another reading that agrees with it (if any)."""
    chosen = states[winner]
    if chosen.fees_per_block_btc is not None:
        return chosen
    donors = [
        s for s, p in zip(states, problems, strict=True) if p is None and s.fees_per_block_btc is not None
    ]
    if not donors:
        return chosen
    note = f"fees per block from {donors[0].source}"
    return replace(chosen, fees_per_block_btc=donors[0].fees_per_block_btc, notes=(note,))


async def fetch_price_history(
    client: httpx.AsyncClient, settings: Settings, days: int, *, sleep: SleepFn = asyncio.sleep
) -> tuple[coingecko.DailyPrice, ...]:
    """CoinGecko daily BTC/USD closes for the last ``days`` (≤365) days; raises SourceError on failure."""
    policy = policy_for(settings, sleep=sleep)
    return await coingecko.fetch_daily_history(client, str(settings.coingecko_url), days, policy)


async def fetch_snapshot(
    client: httpx.AsyncClient, settings: Settings, now: Clock = utc_now, *, sleep: SleepFn = asyncio.sleep
) -> MarketSnapshot:
    """Price and network in parallel; raises the SourcesUnavailable of whichever part (or both) failed."""
    price_result, network_result = await asyncio.gather(
        fetch_price(client, settings, now, sleep=sleep),
        fetch_network(client, settings, now, sleep=sleep),
        return_exceptions=True,
    )
    if isinstance(price_result, SourcesUnavailable) and isinstance(network_result, SourcesUnavailable):
        raise SourcesUnavailable(
            "BTC price and network data", price_result.outcomes + network_result.outcomes
        )
    price, network = unwrap(price_result), unwrap(network_result)
    notes = list(network.notes)
    used = [o.source for o in price.outcomes if o.used]
    if len(used) == 1:
        notes.append(f"BTC price from {used[0]} alone: no other source to cross-check it")
    return MarketSnapshot(price=price, network=network, taken_at=now(), notes=tuple(notes))
