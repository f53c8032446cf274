"""Number formatting at the edge: money is rounded only here, never in the economics."""

from __future__ import annotations

import math
from datetime import timedelta


def usd(value: float, decimals: int = 0) -> str:
    """``66680.4`` -> ``$66,680``; negative values keep their sign in front: ``-$1.20``."""
    if not math.isfinite(value):
        return "n/a"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{decimals}f}"


def usd_per_kwh(value: float) -> str:
    """Power prices to a tenth of a cent: ``$0.0406/kWh``."""
    return "n/a" if not math.isfinite(value) else f"${value:.4f}/kWh"


def percent(fraction: float, decimals: int = 1, *, signed: bool = True) -> str:
    """``-0.1107`` -> ``-11.1%``; with ``signed`` a plus sign marks gains."""
    if not math.isfinite(fraction):
        return "n/a"
    return f"{fraction * 100:+.{decimals}f}%" if signed else f"{fraction * 100:.{decimals}f}%"


def big(value: float, unit: str = "") -> str:
    """Short form for large numbers: ``125.86e12`` -> ``125.86 T``."""
    for threshold, suffix in ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")):
        if abs(value) >= threshold:
            return f"{value / threshold:,.2f} {suffix}{unit}".rstrip()
    return f"{value:,.2f} {unit}".rstrip()


def duration(delta: timedelta) -> str:
    """Human duration, coarse: ``3d 4h``, ``5h 12m``, ``42s``."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"
