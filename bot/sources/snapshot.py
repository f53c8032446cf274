"""Value objects produced by the sources: one source's answer, and the aggregated market snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What one upstream answered on one poll: a value, or why it gave none."""

    source: str
    fetched_at: datetime
    ok: bool
    value: float | None = None
    error: str | None = None
    dropped: str | None = None
    """Set when the value arrived but aggregation discarded it (absurd, or too far off the others)."""

    @property
    def used(self) -> bool:
        """True when this value went into the aggregate. ``error``/``dropped`` are one line, "source: why"."""
        return self.ok and self.dropped is None


@dataclass(frozen=True, slots=True)
class AdjustmentEstimate:
    """The upstream's view of the current difficulty epoch and the next retarget."""

    progress_pct: float
    difficulty_change_pct: float
    remaining_blocks: int
    next_retarget_height: int
    estimated_retarget_at: datetime | None
    previous_retarget_pct: float | None
    epoch_start_at: datetime | None


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """The aggregated BTC/USD price: the median of the quotes that survived the sanity checks."""

    price_usd: float
    fetched_at: datetime
    outcomes: tuple[SourceOutcome, ...]


@dataclass(frozen=True, slots=True)
class NetworkState:
    """Difficulty, height, fees and hashrate, from the first network source that answered in full."""

    difficulty: float
    height: int
    fees_per_block_btc: float | None
    """Mean fees per recent block; ``None`` when this source could not tell (never taken as 0)."""
    hashrate_hs: float | None
    adjustment: AdjustmentEstimate | None
    fetched_at: datetime
    source: str
    outcomes: tuple[SourceOutcome, ...]
    notes: tuple[str, ...] = ()
    """Caveats of the answering source, e.g. why its fees are unknown (``fees_unknown_note``)."""


def fees_unknown_note(source: str, why: str) -> str:
    """The note a network reading carries when its source could not report fees per block."""
    return f"{source}: fees per block unknown ({why}): hashprice is subsidy only"


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Everything the economics needs at one moment, with where and when each part came from."""

    price: PriceQuote
    network: NetworkState
    taken_at: datetime
    notes: tuple[str, ...] = field(default=())

    @property
    def outcomes(self) -> tuple[SourceOutcome, ...]:
        return self.price.outcomes + self.network.outcomes
