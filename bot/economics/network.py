"""Network-level consensus maths: compact bits, targets, difficulty, hashrate, subsidy, retargets.

Sources: Bitcoin Core ``src/arith_uint256.cpp`` (``SetCompact``), ``src/pow.cpp``
(``CalculateNextWorkRequired``), ``src/validation.cpp`` (``GetBlockSubsidy``), and the Bitcoin wiki's
"Difficulty" and "Controlled supply" pages (https://en.bitcoin.it/wiki/Difficulty,
https://en.bitcoin.it/wiki/Controlled_supply).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.economics.units import (
    EXPECTED_BLOCKS_PER_DAY,
    HASHES_PER_EH,
    SATS_PER_BTC,
    SECONDS_PER_DAY,
    TARGET_BLOCK_SECONDS,
    require_positive,
)

DIFF1_TARGET = 0x00000000FFFF0000000000000000000000000000000000000000000000000000
"""The difficulty-1 target, compact ``0x1d00ffff`` (Bitcoin Core ``powLimit`` on mainnet)."""
HASHES_PER_DIFFICULTY = 2**32
"""Expected hashes per unit of difficulty, 2^32 (exactly 2^256/diff1 is 0.0015 % larger;
https://en.bitcoin.it/wiki/Difficulty)."""

HALVING_INTERVAL_BLOCKS = 210_000
INITIAL_SUBSIDY_SATS = 50 * SATS_PER_BTC
SUBSIDY_END_HEIGHT = INITIAL_SUBSIDY_SATS.bit_length() * HALVING_INTERVAL_BLOCKS
"""First height whose subsidy is 0: 6,930,000, after the 33rd halving, where 5,000,000,000 sats shifted right
33 times rounds down to 0 (Bitcoin Core ``GetBlockSubsidy``, https://en.bitcoin.it/wiki/Controlled_supply)."""
RETARGET_INTERVAL_BLOCKS = 2016
TARGET_TIMESPAN_SECONDS = RETARGET_INTERVAL_BLOCKS * TARGET_BLOCK_SECONDS
"""Bitcoin Core ``nPowTargetTimespan`` = 1,209,600 s (14 days)."""
RETARGET_MIN_FACTOR = 0.25
RETARGET_MAX_FACTOR = 4.0


def target_from_bits(bits: int) -> int:
    """Decode a compact ``nBits`` value into the full 256-bit target.

    ``exp = bits >> 24``, ``mant = bits & 0x007fffff``, ``target = mant * 256^(exp-3)``
    (Bitcoin Core ``arith_uint256::SetCompact``; the sign bit 0x00800000 is rejected as consensus does).
    """
    if bits < 0 or bits > 0xFFFFFFFF:
        raise ValueError(f"bits must fit in 32 bits, got {bits!r}")
    exponent = bits >> 24
    mantissa = bits & 0x007FFFFF
    if bits & 0x00800000:
        raise ValueError(f"bits {bits:#010x} encode a negative target")
    if exponent <= 3:
        return mantissa >> (8 * (3 - exponent))
    return mantissa << (8 * (exponent - 3))


def difficulty_from_target(target: int) -> float:
    """Difficulty ``D = diff1_target / target`` (https://en.bitcoin.it/wiki/Difficulty)."""
    if target <= 0:
        raise ValueError(f"target must be positive, got {target!r}")
    return DIFF1_TARGET / target


def difficulty_from_bits(bits: int) -> float:
    """Difficulty from compact bits; block 840,000's ``0x17034219`` gives 86,388,558,925,171.02."""
    return difficulty_from_target(target_from_bits(bits))


def implied_hashrate_hs(difficulty: float, block_seconds: float = TARGET_BLOCK_SECONDS) -> float:
    """Network hashrate implied by difficulty: ``H = D * 2^32 / block_seconds`` in H/s."""
    require_positive("difficulty", difficulty)
    require_positive("block_seconds", block_seconds)
    return difficulty * HASHES_PER_DIFFICULTY / block_seconds


def implied_hashrate_ehs(difficulty: float) -> float:
    """Implied network hashrate in EH/s at 600 s blocks (86.39 T -> 618.4 EH/s)."""
    return implied_hashrate_hs(difficulty) / HASHES_PER_EH


def subsidy_sats(height: int) -> int:
    """Block subsidy at ``height`` in integer satoshis (Bitcoin Core ``GetBlockSubsidy``).

    ``halvings = height // 210000``; 0 from 64 halvings on; else ``5_000_000_000 >> halvings``.
    """
    if height < 0:
        raise ValueError(f"height must not be negative, got {height!r}")
    halvings = height // HALVING_INTERVAL_BLOCKS
    if halvings >= 64:
        return 0
    return INITIAL_SUBSIDY_SATS >> halvings


def circulating_supply_sats(height: int) -> int:
    """Satoshis issued by blocks 0..``height`` inclusive: ``Σ subsidy_sats(h)``, exact in integers.

    Each completed 210,000-block era contributes ``210,000 * (5e9 >> era)``; the current era contributes
    its blocks so far. Counts the genesis block's 50 BTC and every subsidy in full, as the schedule does
    (https://en.bitcoin.it/wiki/Controlled_supply); coins lost to under-claimed coinbases (e.g. block
    501,726) or the unspendable genesis output are not subtracted (< 200 BTC in all, ~0.001 %).
    Height 839,999 (the last block before the 2024 halving) gives 19,687,500 BTC exactly.
    """
    if height < 0:
        raise ValueError(f"height must not be negative, got {height!r}")
    era, offset = divmod(height, HALVING_INTERVAL_BLOCKS)
    completed = sum(HALVING_INTERVAL_BLOCKS * (INITIAL_SUBSIDY_SATS >> e) for e in range(min(era, 64)))
    return completed + (offset + 1) * subsidy_sats(height)


def expected_blocks_per_day(
    network_hashrate_hs: float | None = None, difficulty: float | None = None
) -> float:
    """Expected network blocks per day: 144 at target pace, or ``86400 * H / (D * 2^32)`` when both are given.

    https://en.bitcoin.it/wiki/Difficulty. With a realised hashrate above the implied one, blocks come faster.
    """
    if network_hashrate_hs is None or difficulty is None:
        return float(EXPECTED_BLOCKS_PER_DAY)
    require_positive("network_hashrate_hs", network_hashrate_hs)
    require_positive("difficulty", difficulty)
    return SECONDS_PER_DAY * network_hashrate_hs / (difficulty * HASHES_PER_DIFFICULTY)


def epoch_start_height(height: int) -> int:
    """First block of the 2016-block epoch containing ``height``."""
    return height - height % RETARGET_INTERVAL_BLOCKS


def next_retarget_height(height: int) -> int:
    """Height at which the next difficulty applies (a multiple of 2016, Bitcoin Core pow.cpp)."""
    return epoch_start_height(height) + RETARGET_INTERVAL_BLOCKS


@dataclass(frozen=True, slots=True)
class RetargetEstimate:
    """Estimated next difficulty from the epoch's pace so far."""

    blocks_in_epoch: int
    remaining_blocks: int
    mean_block_seconds: float
    difficulty_change_ratio: float
    """New/old difficulty, clamped to [1/4, 4]."""
    next_difficulty: float
    seconds_to_retarget: float

    @property
    def difficulty_change_pct(self) -> float:
        return (self.difficulty_change_ratio - 1.0) * 100.0


def clamp_retarget_ratio(ratio: float) -> float:
    """Clamp a difficulty ratio to the consensus bounds x1/4..x4 (``pow.cpp`` timespan clamp)."""
    return min(RETARGET_MAX_FACTOR, max(RETARGET_MIN_FACTOR, ratio))


def estimate_next_retarget(
    height: int, difficulty: float, epoch_start_unix: float, now_unix: float
) -> RetargetEstimate | None:
    """Epoch-to-date estimate of the next retarget, as mempool.space computes it
    (https://mempool.space/docs/api/rest#get-difficulty-adjustment).

    ``mean = (now - epoch_start) / blocks_in_epoch``; ``ratio = 600 / mean`` clamped to [1/4, 4];
    ``remaining = 2016 - height % 2016`` blocks at ``mean`` seconds each. ``None`` before the first block
    of the epoch is mined or when the clock runs backwards: there is no pace to extrapolate yet.
    """
    require_positive("difficulty", difficulty)
    blocks_in_epoch = height % RETARGET_INTERVAL_BLOCKS
    elapsed_seconds = now_unix - epoch_start_unix
    if blocks_in_epoch == 0 or elapsed_seconds <= 0:
        return None
    mean_block_seconds = elapsed_seconds / blocks_in_epoch
    ratio = clamp_retarget_ratio(TARGET_BLOCK_SECONDS / mean_block_seconds)
    remaining_blocks = RETARGET_INTERVAL_BLOCKS - blocks_in_epoch
    return RetargetEstimate(
        blocks_in_epoch=blocks_in_epoch,
        remaining_blocks=remaining_blocks,
        mean_block_seconds=mean_block_seconds,
        difficulty_change_ratio=ratio,
        next_difficulty=difficulty * ratio,
        seconds_to_retarget=remaining_blocks * mean_block_seconds,
    )
