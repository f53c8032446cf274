"""PriceStream's throttle and witness: ticks are coalesced into at most one evaluation per interval, and
nothing is evaluated without a fresh polled price (a poll's ``recheck`` then picks the quotes up)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.market.price_stream import MAX_QUOTE_AGE_S, PriceStream
from bot.ops import metrics
from tests.fakes import Waiting

INTERVAL_S = 0.2


class Recorder(Waiting):
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.reference: float | None = 60_000.0
        self.evaluated: list[tuple[float, float]] = []
        self.failures: list[Exception] = []

    async def evaluate(self, price_usd: float) -> None:
        if self.failures:
            raise self.failures.pop()
        self.evaluated.append((time.monotonic(), price_usd))

    def _timeout_message(self, timeout: float) -> str:
        return f"after {timeout} s evaluated {self.evaluated}"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def stream(recorder: Recorder) -> AsyncIterator[PriceStream]:
    settings = Settings.model_validate({})
    price_stream = PriceStream(
        settings, lambda: recorder.reference, recorder.evaluate, feeds=[], min_interval_s=INTERVAL_S
    )
    stop = asyncio.Event()
    task = asyncio.create_task(price_stream.run(stop))
    yield price_stream
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_ticks_within_the_interval_are_coalesced_into_the_latest(
    stream: PriceStream, recorder: Recorder
) -> None:
    stream.tick("coinbase", 60_100.0)
    await recorder.wait_for(lambda: len(recorder.evaluated) == 1)
    for price in (60_200.0, 60_300.0, 60_400.0):
        stream.tick("coinbase", price)
    await recorder.wait_for(lambda: len(recorder.evaluated) == 2)
    (first_at, first), (second_at, second) = recorder.evaluated
    assert (first, second) == (60_100.0, 60_400.0)
    assert second_at - first_at >= INTERVAL_S


async def test_an_unchanged_price_is_not_evaluated_again(stream: PriceStream, recorder: Recorder) -> None:
    stream.tick("kraken", 60_100.0)
    await recorder.wait_for(lambda: len(recorder.evaluated) == 1)
    checks = stream.checks
    stream.tick("kraken", 60_100.0)
    await recorder.wait_for(lambda: stream.checks > checks)
    assert len(recorder.evaluated) == 1


async def test_without_a_polled_witness_nothing_is_evaluated_until_a_poll_rechecks(
    stream: PriceStream, recorder: Recorder
) -> None:
    recorder.reference = None  # before the first polls, or stale data
    stream.tick("coinbase", 60_100.0)
    await recorder.wait_for(lambda: stream.checks == 1)
    assert stream.last_verdict is not None and stream.last_verdict.price_usd is None
    assert recorder.evaluated == []
    recorder.reference = 60_000.0  # a poll is accepted
    stream.recheck()
    await recorder.wait_for(lambda: recorder.evaluated)
    assert recorder.evaluated[0][1] == 60_100.0


async def test_a_feed_that_went_down_no_longer_counts(stream: PriceStream, recorder: Recorder) -> None:
    stream.tick("coinbase", 60_100.0)
    stream.down("coinbase")
    stream.recheck()
    await recorder.wait_for(lambda: stream.checks >= 1)
    assert recorder.evaluated == [] and stream.quotes == {}


async def test_a_refused_spell_is_logged_once_not_per_tick(
    stream: PriceStream, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="bot.market.price_stream")
    for checks, price in enumerate((50_000.0, 50_100.0, 50_200.0), start=1):  # far off the polled 60,000
        stream.tick("coinbase", price)
        await checked(stream, recorder, checks)
    stream.tick("coinbase", 60_050.0)
    await recorder.wait_for(lambda: recorder.evaluated)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.market.price_stream"]
    assert len(lines) == 2
    assert lines[0].startswith("streamed price not used: streamed coinbase 50,000.00 USD not confirmed")
    assert lines[1] == "streamed price used again (coinbase)"


async def checked(stream: PriceStream, recorder: Recorder, checks: int) -> None:
    await recorder.wait_for(lambda: stream.checks == checks)


async def test_a_failed_evaluation_is_logged_and_the_next_price_is_evaluated(
    stream: PriceStream, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.failures.append(RuntimeError("storage unavailable"))
    stream.tick("coinbase", 60_100.0)
    await checked(stream, recorder, 1)
    stream.recheck()  # the same price again: retried, as it was never evaluated
    await recorder.wait_for(lambda: recorder.evaluated)
    assert recorder.evaluated[0][1] == 60_100.0
    lines = [r.getMessage() for r in caplog.records]
    assert "streamed price not evaluated (RuntimeError: storage unavailable)" in lines


async def test_a_quote_older_than_the_age_limit_is_left_out(recorder: Recorder) -> None:
    now = [1_000.0]
    price_stream = PriceStream(
        Settings.model_validate({}),
        lambda: recorder.reference,
        recorder.evaluate,
        feeds=[],
        clock=lambda: now[0],
    )
    price_stream.tick("coinbase", 60_100.0)  # then the ticker froze (its heartbeats may go on)
    now[0] += MAX_QUOTE_AGE_S + 1
    price_stream.tick("kraken", 59_900.0)
    await price_stream.check()
    assert price_stream.last_verdict is not None
    assert price_stream.last_verdict.sources == ("kraken",)
    assert recorder.evaluated[-1][1] == 59_900.0


async def test_metrics_show_each_stream_up_then_down(stream: PriceStream) -> None:
    counted = re.search(
        r'minerwatch_price_stream_downs_total\{source="kraken"\} (\S+)', metrics.exposition().decode()
    )
    before = float(counted[1]) if counted else 0.0
    stream.tick("kraken", 60_100.0)
    assert 'minerwatch_price_stream_up{source="kraken"} 1.0' in metrics.exposition().decode()
    stream.down("kraken")
    text = metrics.exposition().decode()
    assert 'minerwatch_price_stream_up{source="kraken"} 0.0' in text
    assert f'minerwatch_price_stream_downs_total{{source="kraken"}} {before + 1}' in text
