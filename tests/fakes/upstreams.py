"""A loopback fake of every upstream API, serving the recorded bodies in ``tests/fixtures/upstreams``.

One ``ThreadingHTTPServer`` on 127.0.0.1 serves all sources, each under its own path prefix, so it works
from sync and async tests alike and from another process::

    python -m tests.fakes.upstreams --port 8099   # prints the base URL, then MINERWATCH_*_URL=... lines

Per source it can move the market (``set_price``, ``set_difficulty``, ...) and inject faults
(``inject(source, Fault.HTTP_503, times=1)``); every request is recorded in ``requests``. Another process
drives it with ``POST /_control/<method>`` and a JSON body ``{"args": [...], "kwargs": {...}}`` (fault names
as strings), and reads ``GET /_control/requests``.
"""

from __future__ import annotations

import argparse
import enum
import json
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upstreams"
HOST = "127.0.0.1"

BASE_PATHS = {
    "mempool": "/mempool/api",
    "blockchain.info": "/blockchain.info",
    "coinbase": "/coinbase",
    "kraken": "/kraken",
    "bitstamp": "/bitstamp",
    "coingecko": "/coingecko/api/v3",
    "gate": "/gate/api/v4",
    "binance": "/binance",
    "bitcoind": "/bitcoind",
}
"""Where each source lives on the fake; ``url(source)`` is the base URL to put in Settings."""
NETWORK_SOURCES = ("mempool", "blockchain.info", "bitcoind")
REWARD_STATS_BLOCKS = 100
"""Blocks covered by the recorded reward-stats body (startBlock 736556 .. endBlock 736655)."""
STATS_BLOCKS_MINED = 166
"""``n_blocks_mined`` of the recorded blockchain.info ``/stats`` body (its fees are over these blocks)."""

_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Attention Required!</title></head><body>blocked</body></html>"
)


class Fault(enum.Enum):
    """What ``inject`` makes a route do instead of answering normally."""

    TIMEOUT = "hold the response (``hold_s``) longer than any client timeout"
    HTTP_404 = "404 with a JSON error body"
    HTTP_429 = "429 without Retry-After"
    HTTP_429_RETRY_AFTER = "429 with Retry-After"
    HTTP_500 = "500"
    HTTP_503 = "503 without Retry-After"
    HTTP_503_RETRY_AFTER = "503 with Retry-After"
    TRUNCATED_JSON = "the first half of the body (an empty body on text/plain routes)"
    HTML_ERROR = "200 with an HTML page"
    ABSURD_VALUE = "the route's main value replaced by an impossible one"
    API_ERROR = "the source's in-band error body with HTTP 200 (kraken, bitcoind)"
    HUGE_INTEGER = "the route's main value replaced by a 400-digit integer (a JSON number, or text)"
    TRICKLE = "200 with the body sent one byte every ``hold_s`` seconds (each read is quick, the whole slow)"


_FAULT_STATUS = {
    Fault.HTTP_404: 404,
    Fault.HTTP_429: 429,
    Fault.HTTP_429_RETRY_AFTER: 429,
    Fault.HTTP_500: 500,
    Fault.HTTP_503: 503,
    Fault.HTTP_503_RETRY_AFTER: 503,
}
_CONTROL_OPS = frozenset(
    {
        "set_price",
        "set_difficulty",
        "set_hashrate",
        "set_height",
        "set_fees_per_block",
        "set_retarget_date_ms",
        "inject",
        "reset",
    }
)
HUGE_INTEGER = 10**399
"""Fits no float: ``float(HUGE_INTEGER)`` raises OverflowError."""
_ERROR_BODIES = {
    ("mempool", 503): "mempool__error_503.json",
    ("coinbase", 429): "coinbase__error_429.json",
    ("coingecko", 429): "coingecko__error_429.json",
}


@dataclass(frozen=True, slots=True)
class Slot:
    """Where a quantity sits in a body: a JSON path (``()`` = the whole text body), wire style and scale."""

    path: tuple[str | int, ...] = ()
    style: Literal["number", "string", "int-string"] = "number"
    scale: float = 1.0

    def encode(self, value: float) -> Any:
        wire = value * self.scale
        if self.style == "int-string":
            return str(round(wire))
        if self.style == "string" or not self.path:
            return format(wire, ".15g")
        return int(wire) if wire.is_integer() and abs(wire) < 2**53 else wire


@dataclass(frozen=True, slots=True)
class Route:
    """One recorded endpoint: ``path`` is relative to the source's base URL (JSON-RPC: ``rpc`` method)."""

    source: str
    path: str
    fixture: str
    slots: dict[str, Slot] = field(default_factory=dict)
    absurd: tuple[str, float] | None = None
    rpc: str | None = None
    api_error: str | None = None

    @property
    def is_text(self) -> bool:
        return self.fixture.endswith(".txt")


_PRICE = "price"


def _price_route(
    source: str, path: str, fixture: str, *where: str | int, style: Literal["number", "string"] = "string"
) -> Route:
    return Route(source, path, fixture, {_PRICE: Slot(where, style)}, (_PRICE, 1e9))


def _text_route(
    source: str, path: str, fixture: str, quantity: str, absurd: float, scale: float = 1
) -> Route:
    return Route(source, path, fixture, {quantity: Slot(scale=scale)}, (quantity, absurd))


_RPC_ERROR = "bitcoincore__error_rpc.json"
ROUTES = (
    Route(
        "mempool",
        "v1/difficulty-adjustment",
        "mempool__v1_difficulty-adjustment.json",
        {
            "remaining_blocks": Slot(("remainingBlocks",)),
            "retarget_date_ms": Slot(("estimatedRetargetDate",)),
        },
        ("remaining_blocks", 5000),
    ),
    Route(
        "mempool",
        "v1/mining/hashrate/3d",
        "mempool__v1_mining_hashrate_3d.json",
        {"difficulty": Slot(("currentDifficulty",)), "hashrate": Slot(("currentHashrate",))},
        ("difficulty", 1e20),
    ),
    Route("mempool", "v1/mining/hashrate/1y", "mempool__v1_mining_hashrate_1y__synth.json"),
    Route(
        "mempool",
        "v1/mining/reward-stats/144",
        "mempool__v1_mining_reward-stats_100.json",
        {"fees_per_block": Slot(("totalFee",), "int-string", 1e8 * REWARD_STATS_BLOCKS)},
        ("fees_per_block", 1000),
    ),
    _text_route("mempool", "blocks/tip/height", "mempool__blocks_tip_height.txt", "height", 0),
    _text_route(
        "blockchain.info", "q/getdifficulty", "blockchaininfo__q_getdifficulty.txt", "difficulty", 1e20
    ),
    _text_route("blockchain.info", "q/hashrate", "blockchaininfo__q_hashrate.txt", "hashrate", 1e9, 1e-9),
    _text_route("blockchain.info", "q/getblockcount", "blockchaininfo__q_getblockcount.txt", "height", 0),
    Route(
        "blockchain.info",
        "stats",
        "blockchaininfo__stats.json",
        {"fees_per_block": Slot(("total_fees_btc",), scale=1e8 * STATS_BLOCKS_MINED)},
        ("fees_per_block", 1000),
    ),
    _price_route(
        "coinbase", "v2/prices/BTC-USD/spot", "coinbase__v2_prices_BTC-USD_spot.json", "data", "amount"
    ),
    _price_route("bitstamp", "api/v2/ticker/btcusd/", "bitstamp__api_v2_ticker_btcusd.json", "last"),
    _price_route("gate", "spot/tickers", "gateio__spot_tickers_BTC_USDT.json", 0, "last"),
    _price_route("binance", "api/v3/ticker/price", "binance__api_v3_ticker_price_BTCUSDT.json", "price"),
    _price_route(
        "coingecko",
        "simple/price",
        "coingecko__simple_price_bitcoin_usd.json",
        "bitcoin",
        "usd",
        style="number",
    ),
    Route(
        "coingecko", "coins/bitcoin/market_chart", "coingecko__coins_bitcoin_market_chart_days7_daily.json"
    ),
    Route(
        "kraken",
        "0/public/Ticker",
        "kraken__0_public_Ticker_XBTUSD.json",
        {_PRICE: Slot(("result", "XXBTZUSD", "c", 0), "string")},
        (_PRICE, 1e9),
        api_error="kraken__error_rate_limited__shape.json",
    ),
    Route(
        "bitcoind",
        "",
        "bitcoincore__getblockchaininfo__v29-shape.json",
        {"difficulty": Slot(("result", "difficulty")), "height": Slot(("result", "blocks"))},
        ("difficulty", 1e20),
        rpc="getblockchaininfo",
        api_error=_RPC_ERROR,
    ),
    Route(
        "bitcoind",
        "",
        "bitcoincore__getmininginfo__v29-shape.json",
        {
            "difficulty": Slot(("result", "difficulty")),
            "height": Slot(("result", "blocks")),
            "hashrate": Slot(("result", "networkhashps")),
        },
        ("hashrate", 1e30),
        rpc="getmininginfo",
        api_error=_RPC_ERROR,
    ),
    Route(
        "bitcoind",
        "",
        "bitcoincore__getblockstats__shape.json",
        {"fees_per_block": Slot(("result", "totalfee"), scale=1e8)},
        ("fees_per_block", 1000),
        rpc="getblockstats",
        api_error=_RPC_ERROR,
    ),
)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the fake saw it; ``at`` is ``time.time()`` on arrival."""

    source: str
    method: str
    path: str
    query: str
    rpc: str | None
    headers: dict[str, str]
    at: float


@dataclass(slots=True)
class _Injection:
    source: str
    fault: Fault
    remaining: int | None
    path: str | None
    retry_after: str
    hold_s: float


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    hold_s: float = 0.0
    trickle_s: float = 0.0


def _rpc_calls(body: bytes) -> list[dict[str, Any]] | None:
    """The JSON-RPC calls in a body: one object, or a batch (a list); ``None`` when it is neither."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    calls = document if isinstance(document, list) else [document]
    return calls if all(isinstance(c, dict) and isinstance(c.get("method"), str) for c in calls) else None


def _set_in(document: Any, path: tuple[str | int, ...], value: Any) -> None:
    *parents, last = path
    for key in parents:
        document = document[key]
    document[last] = value


class FakeUpstreams:
    """The fake upstream server; use as a context manager or call ``start()``/``stop()``."""

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._overrides: dict[tuple[str, str], float] = {}
        self._injections: list[_Injection] = []
        self._requests: list[RecordedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------------
    def start(self) -> Self:
        self._server = _Server(self._port, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-upstreams",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeUpstreams is not started")
        return f"http://{HOST}:{self._server.server_address[1]}"

    def url(self, source: str) -> str:
        """The base URL to configure for ``source`` (mempool's includes ``/api``, like the real one)."""
        return self.base_url + BASE_PATHS[source]

    def settings_overrides(self, *, include_bitcoind: bool = False) -> dict[str, str]:
        """``{"<source>_url": url}`` for every source, ready for ``Settings.model_validate``."""
        return {
            f"{source.replace('.', '_')}_url": self.url(source)
            for source in BASE_PATHS
            if include_bitcoind or source != "bitcoind"
        }

    # moving the market -----------------------------------------------------------------------------
    def set_price(self, source: str, usd: float) -> None:
        self._override([source], _PRICE, usd)

    def set_difficulty(self, difficulty: float, source: str | None = None) -> None:
        self._override([source] if source else NETWORK_SOURCES, "difficulty", difficulty)

    def set_hashrate(self, hashrate_hs: float, source: str | None = None) -> None:
        """In H/s for every source (blockchain.info's GH/s conversion is done here)."""
        self._override([source] if source else NETWORK_SOURCES, "hashrate", hashrate_hs)

    def set_height(self, height: int, source: str | None = None) -> None:
        self._override([source] if source else NETWORK_SOURCES, "height", height)

    def set_fees_per_block(self, btc: float, source: str | None = None) -> None:
        """BTC per block for every network source (mempool's reward stats, bitcoind's getblockstats and
        blockchain.info's ``/stats``, whose recorded body has a broken negative total) or one of them."""
        self._override([source] if source else NETWORK_SOURCES, "fees_per_block", btc)

    def set_retarget_date_ms(self, ms: float) -> None:
        """mempool's ``estimatedRetargetDate`` (Unix milliseconds)."""
        self._override(["mempool"], "retarget_date_ms", ms)

    def _override(self, sources: list[str] | tuple[str, ...], quantity: str, value: float) -> None:
        for source in sources:
            if not any(r.source == source and quantity in r.slots for r in ROUTES):
                raise ValueError(f"{source} serves no {quantity}")
        with self._lock:
            self._overrides.update({(source, quantity): float(value) for source in sources})

    # faults and records ----------------------------------------------------------------------------
    def inject(
        self,
        source: str,
        fault: Fault | str,
        times: int | None = 1,
        *,
        path: str | None = None,
        retry_after: float | str = 2,
        hold_s: float = 10.0,
    ) -> None:
        """Make the next ``times`` requests (``None`` = all) to ``source`` fail with ``fault``.

        ``fault`` may be a ``Fault`` or its name; ``path`` limits it to requests whose path contains that
        text; ``retry_after`` is the header value (seconds or an HTTP-date).
        """
        if source not in BASE_PATHS:
            raise ValueError(f"unknown source {source!r}")
        fault = fault if isinstance(fault, Fault) else Fault[fault]
        injection = _Injection(source, fault, times, path, str(retry_after), hold_s)
        with self._lock:
            self._injections.append(injection)

    def reset(self) -> None:
        """Forget overrides, pending faults and recorded requests."""
        with self._lock:
            self._overrides.clear()
            self._injections.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, source: str, path_contains: str = "") -> int:
        return sum(1 for r in self.requests if r.source == source and path_contains in r.path)

    # serving ---------------------------------------------------------------------------------------
    def _dispatch(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> _Reply:
        split = urlsplit(target)
        if split.path.startswith("/_control/"):
            return self._control(method, split.path.removeprefix("/_control/"), body)
        source = next(
            (s for s, base in BASE_PATHS.items() if split.path == base or split.path.startswith(base + "/")),
            None,
        )
        calls = _rpc_calls(body) if source == "bitcoind" else None
        rpc = calls[0]["method"] if calls else None
        record = RecordedRequest(source or "?", method, split.path, split.query, rpc, headers, time.time())
        with self._lock:
            self._requests.append(record)
            relative = split.path.removeprefix(BASE_PATHS.get(source or "", "")).strip("/")
            routes = [
                next(
                    (
                        r
                        for r in ROUTES
                        if r.source == source and r.path.strip("/") == relative and r.rpc == m
                    ),
                    None,
                )
                for m in ([c["method"] for c in calls] if calls else [rpc])
            ]
            if None in routes:
                return _Reply(404, b'{"error":"no such route on the fake"}')
            injection = self._take_injection(source or "", split.path)
            overrides = {q: v for (s, q), v in self._overrides.items() if s == source}
        replies = [_render(r, overrides, injection) for r in routes if r is not None]
        if calls is None or not body.lstrip().startswith(b"["):
            return replies[0]
        return _batch_reply(calls, replies)

    def _take_injection(self, source: str, path: str) -> _Injection | None:
        for injection in self._injections:
            if injection.source == source and (injection.path is None or injection.path in path):
                if injection.remaining is not None:
                    injection.remaining -= 1
                    if injection.remaining <= 0:
                        self._injections.remove(injection)
                return injection
        return None

    def _control(self, method: str, op: str, body: bytes) -> _Reply:
        if method == "GET" and op == "requests":
            return _Reply(200, json.dumps([asdict(r) for r in self.requests]).encode())
        if method != "POST" or op not in _CONTROL_OPS:
            return _Reply(404, b'{"error":"unknown control operation"}')
        call = json.loads(body or b"{}")
        try:
            getattr(self, op)(*call.get("args", []), **call.get("kwargs", {}))
        except (ValueError, KeyError, TypeError) as exc:
            return _Reply(400, json.dumps({"error": str(exc)}).encode())
        return _Reply(200, b'{"ok":true}')


def _render(route: Route, overrides: dict[str, float], injection: _Injection | None) -> _Reply:
    fault = injection.fault if injection else None
    content_type = "text/plain; charset=utf-8" if route.is_text else "application/json; charset=utf-8"
    if injection is not None and fault in _FAULT_STATUS:
        status = _FAULT_STATUS[fault]
        error_file = _ERROR_BODIES.get((route.source, status))
        body = (FIXTURES / error_file).read_bytes() if error_file else b'{"error":"injected fault"}'
        retry = {"Retry-After": injection.retry_after} if fault.name.endswith("RETRY_AFTER") else {}
        return _Reply(status, body, "application/json", retry)
    if fault is Fault.HTML_ERROR:
        return _Reply(200, _HTML_PAGE, "text/html; charset=utf-8")
    if fault is Fault.API_ERROR and route.api_error:
        return _Reply(200, (FIXTURES / route.api_error).read_bytes())
    if fault is Fault.ABSURD_VALUE and route.absurd:
        overrides = {**overrides, route.absurd[0]: route.absurd[1]}
    body = _patched(route, overrides)
    if fault is Fault.HUGE_INTEGER and route.absurd:
        body = _with_huge_integer(route, body)
    if fault is Fault.TRUNCATED_JSON:
        body = b"" if route.is_text else body[: len(body) // 2]
    hold_s = injection.hold_s if injection and fault is Fault.TIMEOUT else 0.0
    trickle_s = injection.hold_s if injection and fault is Fault.TRICKLE else 0.0
    return _Reply(200, body, content_type, hold_s=hold_s, trickle_s=trickle_s)


def _with_huge_integer(route: Route, body: bytes) -> bytes:
    assert route.absurd is not None
    if route.is_text:
        return str(HUGE_INTEGER).encode()
    document = json.loads(body)
    _set_in(document, route.slots[route.absurd[0]].path, HUGE_INTEGER)
    return json.dumps(document).encode()


def _batch_reply(calls: list[dict[str, Any]], replies: list[_Reply]) -> _Reply:
    """A JSON-RPC batch answer: each call's reply with its ``id``; a failed HTTP reply fails the batch."""
    failed = next((r for r in replies if r.status != 200 or r.hold_s), None)
    if failed is not None:
        return failed
    answers = []
    for call, reply in zip(calls, replies, strict=True):
        try:
            answer = json.loads(reply.body)
        except ValueError:
            return reply
        answers.append({**answer, "id": call.get("id")} if isinstance(answer, dict) else answer)
    return _Reply(200, json.dumps(answers).encode())


def _patched(route: Route, overrides: dict[str, float]) -> bytes:
    raw = (FIXTURES / route.fixture).read_bytes()
    patches = {q: v for q, v in overrides.items() if q in route.slots}
    if not patches:
        return raw
    if route.is_text:
        (quantity, value), *_ = patches.items()
        return str(route.slots[quantity].encode(value)).encode()
    document = json.loads(raw)
    for quantity, value in patches.items():
        slot = route.slots[quantity]
        _set_in(document, slot.path, slot.encode(value))
    return json.dumps(document).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, fake: FakeUpstreams) -> None:
        super().__init__((HOST, port), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        assert isinstance(self.server, _Server)
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = fake._dispatch(self.command, self.path, body, {k.lower(): v for k, v in self.headers.items()})
        if reply.hold_s:
            fake._released.wait(reply.hold_s)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not reply.trickle_s:
                self.wfile.write(reply.body)
                return
            self.wfile.flush()
            for index in range(len(reply.body)):
                if fake._released.wait(reply.trickle_s):
                    return
                self.wfile.write(reply.body[index : index + 1])
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM. Prints the base URL, one ``MINERWATCH_<SOURCE>_URL=...`` line per source
    (bitcoind included), then a blank line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    args = parser.parse_args(argv)
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    with FakeUpstreams(args.port) as fake:
        print(fake.base_url)
        for name, url in fake.settings_overrides(include_bitcoind=True).items():
            print(f"MINERWATCH_{name.upper()}={url}")
        print(flush=True)
        done.wait()


if __name__ == "__main__":
    main()
