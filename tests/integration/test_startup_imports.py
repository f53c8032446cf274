"""Heavy libraries load only when used: the command line and the bot start without them (fresh processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
HEAVY = ("matplotlib", "numpy", "sqlite_utils", "httpx", "telegram", "discord")
WHAT_IF = ["--price", "66680", "--difficulty", "125.86e12", "--fees-per-block", "0.02", "--height", "935000"]


def _loaded_after(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; it leaves a JSON-able ``result``; returns it with the heavy
    modules then in ``sys.modules``."""
    script = f"""
import json, sys
{code}
print(json.dumps({{"result": result, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT, timeout=60
    )
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_importing_the_command_line_loads_no_heavy_library() -> None:
    assert _loaded_after("import bot.cli\nresult = None")["loaded"] == []


def test_a_what_if_command_answers_without_heavy_libraries() -> None:
    code = f"""
import contextlib, io
from bot.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(["breakeven", "s19xp", "0.05", *{WHAT_IF!r}, "--json"])
result = [code, json.loads(out.getvalue())["machine"]]
"""
    found = _loaded_after(code)
    assert found["result"] == [0, "Antminer S19 XP"]
    assert found["loaded"] == []


def test_the_bot_loads_matplotlib_only_when_a_chart_is_drawn() -> None:
    code = """
import bot.app
before = "matplotlib" in sys.modules
from datetime import date, timedelta
from bot.economics.history import DailyRow
from bot.render.charts import hashprice_png
rows = [DailyRow(date(2024, 1, 1) + timedelta(days=i), 42000.0 + i, 7.2e13, 5.0e8, 900.0) for i in range(30)]
png = hashprice_png(rows, [60.0 + i for i in range(30)], "en")
result = [before, png[:8].hex()]
"""
    found = _loaded_after(code)
    assert found["result"] == [False, "89504e470d0a1a0a"]
    assert "matplotlib" in found["loaded"]
