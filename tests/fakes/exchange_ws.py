"""A loopback fake of the Coinbase Advanced Trade and Kraken v2 WebSocket ticker feeds.

One aiohttp server on 127.0.0.1, run by a background thread with its own event loop, serves
``/coinbase`` and ``/kraken/v2`` with the documented bodies in ``tests/fixtures/exchange_ws``:

* Coinbase: ``subscribe`` per channel (``ticker``, ``heartbeats``) for ``BTC-USD`` is confirmed with a
  ``subscriptions`` message, then a ticker snapshot (when a price is set) and updates; ``heartbeats``
  every ``heartbeat_s``; any other request gets ``{"type": "error", ...}``.
* Kraken: a ``status`` message on connect; a ticker subscribe for ``BTC/USD`` is acknowledged
  (``"success": true``), then a snapshot and updates; ``{"channel": "heartbeat"}`` every ``heartbeat_s``;
  any other symbol gets the ``"success": false`` acknowledgement.

Tests move the market with ``set_price`` (pushed to every subscribed connection at once), cut the
connections with ``drop``, and silence a feed with ``stall`` (the connection stays open, nothing is sent).
Every connection and request is recorded; ``wait_for`` waits on a condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Self

from aiohttp import WSMsgType, web

from tests.fakes import Waiting

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exchange_ws"
HOST = "127.0.0.1"
Source = Literal["coinbase", "kraken"]
SOURCES: tuple[Source, ...] = ("coinbase", "kraken")
PATHS: dict[Source, str] = {"coinbase": "/coinbase", "kraken": "/kraken/v2"}
COINBASE_PRODUCT = "BTC-USD"
KRAKEN_SYMBOL = "BTC/USD"


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return loaded


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass(eq=False)
class _Client:
    source: Source
    ws: web.WebSocketResponse
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    channels: set[str] = field(default_factory=set)
    snapshot_sent: bool = False


class FakeExchangeStreams(Waiting):
    """Both exchanges' ticker feeds on one loopback port (module docstring)."""

    def __init__(self, *, heartbeat_s: float = 0.2) -> None:
        self.heartbeat_s = heartbeat_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._clients: set[_Client] = set()
        self._changed = threading.Condition()
        self._prices: dict[Source, float] = {}
        self._stalled: set[Source] = set()
        self._sequence = 0
        self.connections: dict[Source, int] = dict.fromkeys(SOURCES, 0)
        """Connections accepted per feed, ever."""
        self.requests: dict[Source, list[Any]] = {source: [] for source in SOURCES}
        """Every message a client sent, per feed."""

    # lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> Self:
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="fake-exchange-ws", daemon=True
        )
        self._thread.start()
        if not started.wait(10) or self._loop is None:
            raise RuntimeError("FakeExchangeStreams did not start within 10 s")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._serve())
        self._loop = loop
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            loop.close()
            self._loop = None

    async def _serve(self) -> None:
        app = web.Application()
        for source, path in PATHS.items():
            app.router.add_get(path, self._handler(source))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _shutdown(self) -> None:
        for client in list(self._clients):
            client.queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # addresses ------------------------------------------------------------------------------------------
    def url(self, source: Source) -> str:
        return f"ws://{HOST}:{self._port}{PATHS[source]}"

    def settings_overrides(self) -> dict[str, str]:
        """``coinbase_ws_url`` / ``kraken_ws_url`` aimed at this fake."""
        return {f"{source}_ws_url": self.url(source) for source in SOURCES}

    # controls (any thread) ------------------------------------------------------------------------------
    def set_price(self, source: Source, usd: float) -> None:
        """``source`` trades at ``usd``: a ticker update goes to every subscribed connection."""
        self._call(self._set_price, source, usd)

    def set_prices(self, usd: float) -> None:
        for source in SOURCES:
            self.set_price(source, usd)

    def send_raw(self, source: Source, text: str) -> None:
        """Send ``text`` as it is to every subscribed connection of ``source`` (garbage, odd shapes)."""
        self._call(self._send_raw, source, text)

    def drop(self, source: Source) -> None:
        """Close every open connection of ``source`` (code 1001, going away)."""
        self._call(self._drop, source)

    def stall(self, source: Source, stalled: bool = True) -> None:
        """Keep ``source``'s connections open but send nothing on them (no ticks, no heartbeats)."""
        self._call(self._stall, source, stalled)

    def live(self, source: Source) -> int:
        """Open connections of ``source`` that subscribed to its ticker."""
        return sum(1 for c in list(self._clients) if c.source == source and "ticker" in c.channels)

    def _call(self, function: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            raise RuntimeError("FakeExchangeStreams is not running")
        done = threading.Event()

        def run() -> None:
            try:
                function(*args)
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        if threading.current_thread() is not self._thread:
            done.wait(5)

    def _set_price(self, source: Source, usd: float) -> None:
        self._prices[source] = usd
        for client in list(self._clients):
            if client.source == source and "ticker" in client.channels:
                client.queue.put_nowait(self._ticker(client, usd))

    def _send_raw(self, source: Source, text: str) -> None:
        for client in list(self._clients):
            if client.source == source and "ticker" in client.channels:
                client.queue.put_nowait(text)

    def _drop(self, source: Source) -> None:
        for client in list(self._clients):
            if client.source == source:
                client.queue.put_nowait(None)

    def _stall(self, source: Source, stalled: bool) -> None:
        (self._stalled.add if stalled else self._stalled.discard)(source)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _timeout_message(self, timeout: float) -> str:
        return (
            f"condition not met within {timeout} s; connections {self.connections}, "
            f"live {[self.live(s) for s in SOURCES]}, requests {self.requests}"
        )

    # protocol -------------------------------------------------------------------------------------------
    def _handler(self, source: Source) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            client = _Client(source, ws)
            self._clients.add(client)
            self.connections[source] += 1
            self._notify()
            writer = asyncio.create_task(self._write(client))
            beats = asyncio.create_task(self._heartbeats(client))
            if source == "kraken":
                client.queue.put_nowait(json.dumps(fixture("kraken__status.json")))
            try:
                async for message in ws:
                    if message.type is WSMsgType.TEXT:
                        self._request(client, json.loads(message.data))
            finally:
                self._clients.discard(client)
                beats.cancel()
                client.queue.put_nowait(None)
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
                self._notify()
            return ws

        return handle

    async def _write(self, client: _Client) -> None:
        while (text := await client.queue.get()) is not None:
            if client.source not in self._stalled and not client.ws.closed:
                await client.ws.send_str(text)
        await client.ws.close(code=1001, message=b"going away")

    async def _heartbeats(self, client: _Client) -> None:
        counter = 0
        while True:
            await asyncio.sleep(self.heartbeat_s)
            counter += 1
            if client.source == "coinbase" and "heartbeats" in client.channels:
                beat = fixture("coinbase__heartbeats.json")
                beat["timestamp"] = _now()
                beat["events"][0]["heartbeat_counter"] = str(counter)
                client.queue.put_nowait(json.dumps(beat))
            elif client.source == "kraken" and "ticker" in client.channels:
                client.queue.put_nowait(json.dumps(fixture("kraken__heartbeat.json")))

    def _request(self, client: _Client, request: Any) -> None:
        self.requests[client.source].append(request)
        if not isinstance(request, dict):
            return
        if client.source == "coinbase":
            self._coinbase_request(client, request)
        else:
            self._kraken_request(client, request)
        self._notify()

    def _coinbase_request(self, client: _Client, request: dict[str, Any]) -> None:
        channel, wanted = request.get("channel"), request.get("product_ids")
        if request.get("type") != "subscribe" or channel not in ("ticker", "heartbeats"):
            client.queue.put_nowait(json.dumps(fixture("coinbase__error__shape.json")))
            return
        if channel == "ticker" and wanted != [COINBASE_PRODUCT]:
            client.queue.put_nowait(json.dumps(fixture("coinbase__error__shape.json")))
            return
        client.channels.add(channel)
        ack = fixture("coinbase__subscriptions.json")
        ack["timestamp"] = _now()
        ack["events"][0]["subscriptions"] = {c: [COINBASE_PRODUCT] for c in sorted(client.channels)}
        client.queue.put_nowait(json.dumps(ack))
        self._snapshot(client)

    def _kraken_request(self, client: _Client, request: dict[str, Any]) -> None:
        params = request.get("params")
        symbols = params.get("symbol") if isinstance(params, dict) else None
        if request.get("method") != "subscribe" or not isinstance(params, dict):
            return
        if params.get("channel") != "ticker" or symbols != [KRAKEN_SYMBOL]:
            refusal = fixture("kraken__subscribe_error__shape.json")
            refusal["symbol"] = symbols[0] if symbols else None
            refusal["error"] = f"Currency pair not supported {refusal['symbol']}"
            client.queue.put_nowait(json.dumps(refusal))
            return
        client.channels.add("ticker")
        ack = fixture("kraken__subscribe_ack.json")
        ack["result"]["symbol"] = KRAKEN_SYMBOL
        client.queue.put_nowait(json.dumps(ack))
        self._snapshot(client)

    def _snapshot(self, client: _Client) -> None:
        price = self._prices.get(client.source)
        if "ticker" in client.channels and price is not None and not client.snapshot_sent:
            client.queue.put_nowait(self._ticker(client, price))

    def _ticker(self, client: _Client, usd: float) -> str:
        kind = "update" if client.snapshot_sent else "snapshot"
        client.snapshot_sent = True
        self._sequence += 1
        if client.source == "coinbase":
            body = fixture("coinbase__ticker.json")
            body["timestamp"] = _now()
            body["sequence_num"] = self._sequence
            event = body["events"][0]
            event["type"] = kind
            ticker = event["tickers"][0]
            ticker.update(
                product_id=COINBASE_PRODUCT,
                price=f"{usd:.2f}",
                best_bid=f"{usd - 0.01:.2f}",
                best_ask=f"{usd + 0.01:.2f}",
            )
            return json.dumps(body)
        body = fixture("kraken__ticker_snapshot.json")
        body["type"] = kind
        item = body["data"][0]
        item.update(symbol=KRAKEN_SYMBOL, last=usd, bid=usd - 0.1, ask=usd + 0.1, timestamp=_now())
        return json.dumps(body)
