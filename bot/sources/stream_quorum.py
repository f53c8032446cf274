"""When streamed exchange quotes may stand for the BTC price between polls.

The polled price that passed the quorum (``bot.sources.quorum``) is the witness every streamed quote is
checked against:

* a quote further than ``max_jump_pct`` from it is not used: only the polls may confirm such a move;
* the witness and the remaining quotes go through the same outlier rule as one poll's quotes
  (``bot.sources.aggregate.outlier_reasons``, limit ``max_quote_deviation_pct``), so a lone quote must
  lie within the deviation limit of the polled price, while two streams that agree outvote the witness
  (a real move the polls have not caught yet);
* at least ``MIN_PRICE_SOURCES`` values must survive, one of them streamed; the price is the median of
  the surviving streamed quotes.

A lone absurd tick is therefore either beyond the jump limit or an outlier, and never moves the price.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from bot.sources.aggregate import outlier_reasons
from bot.sources.quorum import MIN_PRICE_SOURCES


@dataclass(frozen=True, slots=True)
class StreamVerdict:
    """The streamed price that may drive price alerts, or why there is none."""

    price_usd: float | None
    sources: tuple[str, ...] = ()
    problem: str | None = None


def _off_pct(value: float, reference: float) -> float:
    return abs(value - reference) / reference * 100


def stream_verdict(
    quotes: Mapping[str, float],
    polled_usd: float | None,
    *,
    max_deviation_pct: float,
    max_jump_pct: float,
) -> StreamVerdict:
    """The price the live ``quotes`` (source -> USD) agree on with the polled witness ``polled_usd``."""
    if polled_usd is None:
        return StreamVerdict(None, problem="no fresh polled price to check the streams against")
    near = {s: p for s, p in quotes.items() if _off_pct(p, polled_usd) <= max_jump_pct}
    far = ", ".join(f"{s} {p:,.2f}" for s, p in quotes.items() if s not in near)
    if not near:
        return StreamVerdict(
            None, problem=f"no streamed quote within {max_jump_pct:g}% of {polled_usd:,.2f} USD ({far})"
        )
    names = list(near)
    reasons = outlier_reasons([polled_usd, *near.values()], max_deviation_pct)
    kept = [name for name, reason in zip(names, reasons[1:], strict=True) if reason is None]
    if not kept or sum(reason is None for reason in reasons) < MIN_PRICE_SOURCES:
        shown = ", ".join(f"{s} {p:,.2f}" for s, p in near.items())
        return StreamVerdict(
            None,
            problem=f"streamed {shown} USD not confirmed by another stream or by the polled "
            f"{polled_usd:,.2f} USD (limit {max_deviation_pct:g}%)",
        )
    return StreamVerdict(statistics.median(near[name] for name in kept), tuple(kept))
