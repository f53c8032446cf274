"""One validated Settings object, read from the environment (``MINERWATCH_*``) and a ``.env`` file.

Every upstream base URL is configurable so a user can point minerwatch at a self-hosted mempool
instance or Bitcoin Core node, and tests can point it at loopback fakes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, HttpUrl, SecretStr, WebsocketUrl, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.economics.machines import UnknownMachine, parse_machine

PriceSourceName = Literal["coinbase", "kraken", "bitstamp", "coingecko", "gate", "binance"]


WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""Telegram's rule for setWebhook's secret_token (https://core.telegram.org/bots/api#setwebhook)."""


def _default_price_sources() -> list[PriceSourceName]:
    return ["coinbase", "kraken", "bitstamp", "coingecko"]


class Settings(BaseSettings):
    """Runtime configuration; each field maps to ``MINERWATCH_<FIELD NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="MINERWATCH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Upstream base URLs (each client's module names its public API docs).
    mempool_url: HttpUrl = Field(HttpUrl("https://mempool.space/api"), description="mempool.space API base")
    blockchain_info_url: HttpUrl = Field(
        HttpUrl("https://blockchain.info"), description="blockchain.info base"
    )
    coinbase_url: HttpUrl = Field(HttpUrl("https://api.coinbase.com"), description="Coinbase API base")
    kraken_url: HttpUrl = Field(HttpUrl("https://api.kraken.com"), description="Kraken API base")
    bitstamp_url: HttpUrl = Field(HttpUrl("https://www.bitstamp.net"), description="Bitstamp API base")
    coingecko_url: HttpUrl = Field(
        HttpUrl("https://api.coingecko.com/api/v3"), description="CoinGecko API base"
    )
    gate_url: HttpUrl = Field(HttpUrl("https://api.gateio.ws/api/v4"), description="Gate.io API v4 base")
    binance_url: HttpUrl = Field(HttpUrl("https://api.binance.com"), description="Binance API base")
    coinbase_ws_url: WebsocketUrl = Field(
        WebsocketUrl("wss://advanced-trade-ws.coinbase.com"),
        description="Coinbase Advanced Trade market-data WebSocket (price stream)",
    )
    kraken_ws_url: WebsocketUrl = Field(
        WebsocketUrl("wss://ws.kraken.com/v2"), description="Kraken Spot WebSocket v2 (price stream)"
    )
    bitcoind_url: HttpUrl | None = Field(None, description="Bitcoin Core JSON-RPC URL; unset = not used")
    bitcoind_user: str | None = Field(None, description="Bitcoin Core RPC user")
    bitcoind_password: SecretStr | None = Field(None, description="Bitcoin Core RPC password")

    price_sources: list[PriceSourceName] = Field(
        default_factory=_default_price_sources,
        description="price sources whose median is the BTC price; add gate/binance for USDT books",
    )
    source_timeout_s: float = Field(
        5.0, gt=0, le=60, description="per-read timeout, seconds (each byte received resets it)"
    )
    source_retries: int = Field(2, ge=0, le=10, description="retries per request after the first try")
    source_deadline_s: float = Field(
        20.0, gt=0, le=300, description="total time one request may take with its retries, seconds"
    )
    command_deadline_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="a command line gives up on sources still silent after this long, seconds (--deadline)",
    )
    max_quote_deviation_pct: float = Field(
        2.0, gt=0, le=50, description="a price quote this far off the others' median is dropped"
    )
    max_price_jump_pct: float = Field(
        20.0,
        gt=0,
        le=1000,
        description="a price this far from the last accepted one waits for the next poll to confirm it",
    )

    # Chat platforms (a token enables each; none set: the console).
    telegram_token: SecretStr | None = Field(None, description="Telegram bot token from @BotFather")
    telegram_base_url: str = Field(
        "https://api.telegram.org/bot", description="Bot API base URL; point at a self-hosted Bot API server"
    )
    telegram_webhook_url: str | None = Field(
        None, description="public HTTPS URL for webhook mode; unset = long polling"
    )
    telegram_webhook_listen: str = Field("127.0.0.1", description="address the webhook server binds")
    telegram_webhook_port: int = Field(8443, ge=1, le=65535, description="port the webhook server binds")
    telegram_webhook_secret: SecretStr | None = Field(
        None,
        description="secret Telegram sends with each webhook update (1-256 of A-Z a-z 0-9 _ -); "
        "unset = derived from the token",
    )
    telegram_paid_broadcast: bool = Field(
        False,
        description="send what goes to every subscriber (network alerts, data stale/fresh notices) with "
        "allow_paid_broadcast: up to 1000 msg/s instead of 30, for 0.1 "
        "Telegram Star per message, withdrawn from the bot's balance (Bot API sendMessage; eligibility: "
        "https://core.telegram.org/bots/faq#broadcasting-to-users)",
    )
    discord_token: SecretStr | None = Field(None, description="Discord bot token (Developer Portal > Bot)")
    discord_api_base: str | None = Field(
        None,
        description="Discord REST base replacing discord.http.Route.BASE (https://discord.com/api/v10), "
        "e.g. a proxy or a fake; process-global",
    )
    discord_gateway_url: str | None = Field(
        None,
        description="Discord gateway URL replacing DiscordWebSocket.DEFAULT_GATEWAY; process-global",
    )

    # The watch loop.
    db: Path | None = Field(None, description="SQLite file; default: the user's data directory")
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:password@host:port/dbname: a shared store for several replicas "
        "(replaces the SQLite file)",
    )
    price_poll_s: float = Field(60.0, ge=1, le=3600, description="seconds between price polls")
    network_poll_s: float = Field(300.0, ge=1, le=3600, description="seconds between network polls")
    stale_after_s: float = Field(
        300.0,
        ge=1,
        le=86400,
        description="data unconfirmed this long pauses alerts and marks every reply stale, seconds",
    )

    price_stream: bool = Field(
        False,
        description="also follow the Coinbase and Kraken WebSocket tickers: price alerts within seconds "
        "(a streamed price must agree with the polled one or another stream; polling stays the fallback)",
    )
    price_stream_stall_s: float = Field(
        10.0, ge=1, le=300, description="a price stream silent this long is reconnected, seconds"
    )

    # Delivery and retention.
    alert_expiry_s: float = Field(
        86400.0,
        ge=60,
        le=30 * 86400,
        description="an alert still undelivered this long after it was made is dropped (logged, counted)",
    )
    snapshot_retention_days: float = Field(
        30.0, ge=1, le=36500, description="per-poll snapshots older than this are pruned (daily rows: kept)"
    )
    outbox_sent_retention_days: float = Field(
        7.0, ge=1, le=36500, description="sent outbox messages older than this are pruned"
    )
    outbox_failed_retention_days: float = Field(
        30.0,
        ge=1,
        le=36500,
        description="dead, dropped and expired outbox messages older than this are pruned",
    )

    # Operations: logs and the optional health/metrics endpoint.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")
    log_format: Literal["text", "json"] = Field("text", description="text, or json: one object per line")
    http_port: int | None = Field(
        None, ge=1, le=65535, description="port of /healthz and /metrics; unset = no HTTP endpoint"
    )
    http_host: str = Field("127.0.0.1", description="address /healthz and /metrics bind")

    # Network production-cost model, bottom-up (CBECI methodology, https://ccaf.io/cbnsi/cbeci/methodology).
    fleet_j_per_th: float = Field(20.0, gt=1, lt=200, description="network fleet efficiency incl. PUE, J/TH")
    fleet_power_usd_per_kwh: float = Field(0.06, gt=0, lt=1, description="fleet average power price, $/kWh")
    electricity_share_of_cash_cost: float = Field(
        0.8, gt=0, le=1, description="electricity's share of miners' cash cost"
    )

    # Defaults for a chat's or the CLI's machine profile.
    machine: str = Field("S19 XP", description="machine of a chat that has not set one (catalog name)")
    power_usd_per_kwh: float = Field(0.05, gt=0, le=5, description="power price when none is given, $/kWh")
    pool_fee_pct: float = Field(2.0, ge=0, lt=100, description="pool fee, percent")
    uptime_pct: float = Field(100.0, gt=0, le=100, description="machine uptime, percent")
    pue: float = Field(1.0, ge=1, le=3, description="power usage effectiveness of the site")

    @field_validator("machine")
    @classmethod
    def _machine_can_be_costed(cls, value: str) -> str:
        """The default machine must resolve and have a known power: every /breakeven falls back on it."""
        try:
            parse_machine(value)
        except UnknownMachine as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret_charset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("use 1 to 256 characters from A-Z, a-z, 0-9, _ and -")
        return value

    def webhook_secret(self) -> str | None:
        """The webhook's ``secret_token``: ``telegram_webhook_secret``, else HMAC-SHA256 of a fixed label
        keyed by the bot token (stable across restarts, reveals nothing about the token)."""
        if self.telegram_webhook_secret is not None:
            return self.telegram_webhook_secret.get_secret_value()
        if self.telegram_token is None:
            return None
        key = self.telegram_token.get_secret_value().encode()
        return hmac.new(key, b"minerwatch telegram webhook", hashlib.sha256).hexdigest()

    def secrets(self) -> list[str]:
        """Every configured secret value: each ``SecretStr`` setting, the derived webhook secret and the
        passwords written into ``bitcoind_url`` and ``database_url``."""
        values = [getattr(self, name) for name in secret_settings()]
        found = [value.get_secret_value() for value in values if value is not None]
        derived = [
            self.webhook_secret(),
            self.bitcoind_url.password if self.bitcoind_url else None,
            urlsplit(self.database_url.get_secret_value()).password if self.database_url else None,
        ]
        return found + [value for value in derived if value]

    @field_validator("price_sources")
    @classmethod
    def _at_least_one_price_source(cls, value: list[PriceSourceName]) -> list[PriceSourceName]:
        if not value:
            raise ValueError("name at least one price source")
        return list(dict.fromkeys(value))


def secret_settings() -> list[str]:
    """Names of the settings that hold secrets (typed ``SecretStr``)."""
    return [
        name
        for name, field in Settings.model_fields.items()
        if field.annotation is not None
        and SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ()))
    ]
