"""Alert evaluation speed: ``evaluate_thresholds`` over N stored rules for one new snapshot.

Run: ``.venv/bin/python -m benchmarks.alerts [--subscriptions N] [--snapshots K] [--quiet-repeat Q]
[--json]``.
Builds N rules in a temporary database (every key metric, both ops, thresholds spread ±20 % around the
current values, re-arm band 1 %; rules that hold, or are still inside their band, are disarmed; 5 % repeat
hourly, their last firing spread over the past hour), then evaluates K snapshots 60 s apart, each moving
every key metric by up to ±1 % from the current values (far more than a minute's usual move), and
reports the median wall time per snapshot (one committed transaction) and the peak RSS.

``--quiet-repeat Q`` adds Q ``repeat`` rules that hold and fired in the ten minutes before the first
snapshot with a one-day minimum interval: resting in their quiet period, they must cost nothing per snapshot.
``--fanout-chats N`` (default 100,000; 0 skips it): a network event fanned out to N subscribed chats, chunk
by chunk as the watch does (``bot.watch.loop.fan_out_chunk``, each chunk one commit): the longest time one
chunk held the store (what a command waits at most), the chunks and the total time.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks._common import print_figures
from bot.alerts.events import AlertEvent, EventKind
from bot.alerts.rules import KeyMetric, Metric, Op
from bot.store import connect, fanouts
from bot.store.subscriptions import evaluate_thresholds
from bot.watch.loop import fan_out_chunk

RULES_PER_CHAT = 5
START = 1_000_000.0
POLL_S = 60.0
CURRENT: dict[KeyMetric, float] = {
    KeyMetric.PRICE_USD: 95_000.0,
    KeyMetric.HASHPRICE_USD_PER_PH_DAY: 52.0,
    KeyMetric.PREMIUM_PCT: 12.0,
    KeyMetric.DIFFICULTY_CHANGE_PCT: 2.5,
    KeyMetric.NEXT_HASHPRICE_USD_PER_PH_DAY: 50.8,
}
SHOWN_AS: dict[KeyMetric, Metric] = {
    KeyMetric.PRICE_USD: Metric.PRICE,
    KeyMetric.HASHPRICE_USD_PER_PH_DAY: Metric.HASHPRICE,
    KeyMetric.PREMIUM_PCT: Metric.PREMIUM,
    KeyMetric.DIFFICULTY_CHANGE_PCT: Metric.DIFFICULTY,
    KeyMetric.NEXT_HASHPRICE_USD_PER_PH_DAY: Metric.MARGIN,
}
FANOUT_DATA = {"height": 935_424, "change_pct": -4.2, "old_difficulty": 1.3e14, "new_difficulty": 1.25e14}
PERCENT_KEYS = frozenset({KeyMetric.PREMIUM_PCT, KeyMetric.DIFFICULTY_CHANGE_PCT})


def _spread(rng: random.Random, key: KeyMetric, base: float, fraction: float) -> float:
    """``base`` moved by up to ``fraction`` of itself (levels) or ``fraction * 100`` points (percentages)."""
    if key in PERCENT_KEYS:
        return base + rng.uniform(-fraction, fraction) * 100
    return base * (1 + rng.uniform(-fraction, fraction))


def _rows(count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    keys = list(CURRENT)
    for i in range(count):
        key = keys[i % len(keys)]
        op = rng.choice((Op.BELOW, Op.ABOVE))
        threshold = _spread(rng, key, CURRENT[key], 0.20)
        band = 1.0 if key in PERCENT_KEYS else abs(threshold) * 0.01
        rearm = threshold + band if op is Op.BELOW else threshold - band
        value = CURRENT[key]
        holds = value < threshold if op is Op.BELOW else value > threshold
        rearms = value >= rearm if op is Op.BELOW else value <= rearm
        armed = not holds and rearms
        repeat = rng.random() < 0.05
        quiet_until = START + rng.uniform(0, 3600) if holds and repeat else 0.0
        kind = "margin_warning" if key is KeyMetric.NEXT_HASHPRICE_USD_PER_PH_DAY else "threshold"
        yield (
            i // RULES_PER_CHAT + 1,
            kind,
            SHOWN_AS[key].value,
            op.value,
            threshold,
            band,
            int(repeat),
            3600,
            key.value,
            op.value,
            threshold,
            rearm,
            int(armed),
            quiet_until,
            START,
        )


def build(db_path: Path, count: int, seed: int) -> None:
    """Create ``count`` subscriptions, one per key metric for each of ``count / RULES_PER_CHAT`` chats."""
    db = connect(db_path)
    rng = random.Random(seed)
    chats = -(-count // RULES_PER_CHAT)
    with db.atomic():
        db.sqlite.conn.executemany(
            """INSERT INTO chats (id, platform, chat_id, kind, created_at)
               VALUES (?, 'telegram', ?, 'private', 0)""",
            ((i, str(i)) for i in range(1, chats + 1)),
        )
        db.sqlite.conn.executemany(
            """INSERT INTO subscriptions (chat_ref, kind, metric, op, threshold, band, repeat, min_interval_s,
                   key_metric, key_op, key_threshold, key_rearm, armed, quiet_until, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            _rows(count, rng),
        )
        db.execute("UPDATE subscriptions SET quiet = 1 WHERE quiet_until > 0")  # as add_threshold marks them
    db.execute("ANALYZE")
    db.close()


QUIET_INTERVAL_S = 86_400


def _quiet_rows(count: int, first_chat: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Repeat rules that hold at ``CURRENT`` (and through a 1 % move) and last fired within 10 minutes."""
    keys = list(CURRENT)
    for i in range(count):
        key = keys[i % len(keys)]
        op = rng.choice((Op.BELOW, Op.ABOVE))
        distance = rng.uniform(0.02, 0.20)
        gap = distance * 100 if key in PERCENT_KEYS else abs(CURRENT[key]) * distance
        threshold = CURRENT[key] + gap if op is Op.BELOW else CURRENT[key] - gap
        band = 1.0 if key in PERCENT_KEYS else abs(threshold) * 0.01
        rearm = threshold + band if op is Op.BELOW else threshold - band
        fired_at = START - rng.uniform(0, 600)
        yield (
            first_chat + i // RULES_PER_CHAT,
            "threshold",
            SHOWN_AS[key].value,
            op.value,
            threshold,
            band,
            1,
            QUIET_INTERVAL_S,
            key.value,
            op.value,
            threshold,
            rearm,
            0,
            fired_at + QUIET_INTERVAL_S,
            1,
            fired_at,
            START - 86_400,
        )


def add_quiet_repeat(db_path: Path, count: int, seed: int) -> None:
    """Add ``count`` quiet repeat rules (``_quiet_rows``) for new chats to a database ``build`` made."""
    db = connect(db_path)
    rng = random.Random(seed + 2)
    first_chat = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chats").one()[0]
    chats = -(-count // RULES_PER_CHAT)
    with db.atomic():
        db.sqlite.conn.executemany(
            """INSERT INTO chats (id, platform, chat_id, kind, created_at)
               VALUES (?, 'telegram', ?, 'private', 0)""",
            ((i, str(i)) for i in range(first_chat, first_chat + chats)),
        )
        db.sqlite.conn.executemany(
            """INSERT INTO subscriptions (chat_ref, kind, metric, op, threshold, band, repeat, min_interval_s,
                   key_metric, key_op, key_threshold, key_rearm, armed, quiet_until, quiet, last_fired_at,
                   created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            _quiet_rows(count, first_chat, rng),
        )
    db.execute("ANALYZE")
    db.close()


def measure(db_path: Path, snapshots: int, seed: int) -> tuple[list[float], list[int]]:
    """Milliseconds and rules fired per snapshot, each evaluation one committed transaction."""
    db = connect(db_path)
    rng = random.Random(seed + 1)
    timings, fired = [], []
    for n in range(snapshots):
        values = {key: _spread(rng, key, base, 0.01) for key, base in CURRENT.items()}
        started = time.perf_counter()
        fired.append(len(evaluate_thresholds(db, values, now=START + (n + 1) * POLL_S)))
        timings.append((time.perf_counter() - started) * 1000)
    db.close()
    return timings, fired


def measure_fanout(db_path: Path, chats: int) -> tuple[list[float], float]:
    """Milliseconds each fan-out chunk held the store (work and commit), and the total seconds."""
    db = connect(db_path)
    with db.atomic():
        db.sqlite.conn.executemany(
            "INSERT INTO chats (platform, chat_id, kind, created_at) VALUES ('telegram', ?, 'private', 0)",
            ((str(700_000_000 + i),) for i in range(chats)),
        )
        db.execute(
            "INSERT INTO subscriptions (chat_ref, kind, created_at) SELECT id, 'network', 0 FROM chats "
            "WHERE chat_id >= '7'"
        )
    at = datetime.fromtimestamp(START, UTC)
    event = AlertEvent(EventKind.RETARGET, f"retarget:{at.isoformat()}", at, FANOUT_DATA)
    fanout_id = fanouts.add(db, event.to_json(), fanouts.Audience.NETWORK, START)
    db.execute("PRAGMA synchronous = NORMAL")  # as Store.bookkeeping commits the chunks
    holds, started = [], time.perf_counter()
    while True:
        began = time.perf_counter()
        with db.atomic():
            done = fan_out_chunk(db, fanout_id, START).done
        holds.append((time.perf_counter() - began) * 1000)
        if done:
            break
    total_s = time.perf_counter() - started
    db.close()
    return holds, total_s


def peak_rss_mb() -> float:
    """Peak resident set size of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscriptions", type=int, default=100_000, help="rules to create")
    parser.add_argument("--snapshots", type=int, default=9, help="snapshots to evaluate (median reported)")
    parser.add_argument("--quiet-repeat", type=int, default=0, help="quiet repeat rules to add")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--fanout-chats", type=int, default=100_000, help="chats for the fan-out case (0: skip)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="minerwatch-bench-") as tmp:
        db_path = Path(tmp) / "alerts.db"
        started = time.perf_counter()
        build(db_path, args.subscriptions, args.seed)
        if args.quiet_repeat:
            add_quiet_repeat(db_path, args.quiet_repeat, args.seed)
        build_s = time.perf_counter() - started
        timings, fired = measure(db_path, args.snapshots, args.seed)
        holds, fanout_s = (
            measure_fanout(Path(tmp) / "fanout.db", args.fanout_chats) if args.fanout_chats else ([], 0.0)
        )
    median_ms = statistics.median(timings)
    rss = peak_rss_mb()
    figures = {
        "subscriptions": args.subscriptions,
        "quiet_repeat": args.quiet_repeat,
        "fired_per_snapshot": statistics.median(fired),
        "ms_per_snapshot": round(median_ms, 2),
        "peak_rss_mb": round(rss, 1),
    }
    if holds:
        figures |= {
            "fanout_chats": args.fanout_chats,
            "fanout_longest_hold_ms": round(max(holds), 1),
            "fanout_chunks": len(holds),
            "fanout_s": round(fanout_s, 2),
        }
    rows = [
        ("subscriptions", f"{args.subscriptions:,}"),
        ("quiet repeat rules", f"{args.quiet_repeat:,}"),
        ("build (s)", f"{build_s:.1f}"),
        ("snapshots", f"{args.snapshots}"),
        ("ms per snapshot, median", f"{median_ms:.1f}"),
        ("ms per snapshot, min / max", f"{min(timings):.1f} / {max(timings):.1f}"),
        ("rules fired per snapshot, median", f"{statistics.median(fired):,.0f}"),
        ("peak RSS (MB)", f"{rss:.1f}"),
    ]
    if holds:
        rows += [
            (f"fan-out to {args.fanout_chats:,} chats: longest store hold (ms)", f"{max(holds):.1f}"),
            ("fan-out: chunks, total (s)", f"{len(holds):,}, {fanout_s:.2f}"),
        ]
    print_figures(figures, args.json, rows)


if __name__ == "__main__":
    main()
