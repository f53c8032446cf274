"""Start-up time: wall time of fresh interpreter processes, min / median of N runs.

Run: ``.venv/bin/python -m benchmarks.startup [--runs N] [--json]``.
Times ``python -c pass`` (the interpreter alone), ``import bot.cli``, ``import bot.app`` and a what-if
``minerwatch breakeven`` that touches no network (all four overrides given), each as a new process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from benchmarks._common import ROOT, print_figures

WHAT_IF = ["--price", "95000", "--difficulty", "1.1e14", "--fees-per-block", "0.02", "--height", "925000"]
CASES: dict[str, list[str]] = {
    "interpreter": ["-c", "pass"],
    "import_bot_cli": ["-c", "import bot.cli"],
    "import_bot_app": ["-c", "import bot.app"],
    "breakeven_what_if": ["-m", "bot.cli", "breakeven", "s19xp", "0.05", *WHAT_IF],
}


def wall_ms(args: list[str], runs: int) -> list[float]:
    """Milliseconds from spawn to exit of ``python args``, ``runs`` times."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="processes per case")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    rows = [("case", "min ms", "median ms")]
    for name, command in CASES.items():
        timings = wall_ms(command, args.runs)
        low, mid = min(timings), statistics.median(timings)
        figures[f"{name}_min_ms"] = round(low, 1)
        figures[f"{name}_median_ms"] = round(mid, 1)
        rows.append((name, f"{low:.0f}", f"{mid:.0f}"))
    print_figures(figures, args.json, rows)


if __name__ == "__main__":
    main()
