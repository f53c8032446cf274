"""Unit constants and conversions used across the economics package
(https://en.bitcoin.it/wiki/Difficulty)."""

from __future__ import annotations

import math

SATS_PER_BTC = 100_000_000
SECONDS_PER_DAY = 86_400
TARGET_BLOCK_SECONDS = 600
"""Bitcoin Core ``nPowTargetSpacing``."""
EXPECTED_BLOCKS_PER_DAY = SECONDS_PER_DAY // TARGET_BLOCK_SECONDS
"""144 blocks a day at the 600 s target spacing."""

HASHES_PER_TH = 1e12
HASHES_PER_PH = 1e15
HASHES_PER_EH = 1e18

KWH_PER_J_PER_TH_DAY = SECONDS_PER_DAY / 3_600_000
"""1 J/TH at 1 TH/s for one day = 86,400 J = 0.024 kWh (https://en.bitcoin.it/wiki/Difficulty)."""


def require_positive(name: str, value: float) -> float:
    """Return ``value`` if it is a finite number above zero, else raise ``ValueError`` naming it."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def require_fraction(name: str, value: float, *, allow_zero: bool = True) -> float:
    """Return ``value`` if it lies in [0, 1] (or (0, 1] without ``allow_zero``), else raise naming it."""
    low_ok = value >= 0 if allow_zero else value > 0
    if not math.isfinite(value) or not low_ok or value > 1:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return value
