"""Shared by the benchmarks: the table / JSON printer and the fake Bot API run as a separate process.

The fake Telegram server runs in its own process so its HTTP and JSON work does not share the bot's GIL:
the figures then measure the bot, not the fake.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def print_table(rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """Aligned columns: the first left, the values right; with three or more, the last left too."""
    if title:
        print(title)
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows)))]
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            left = i == 0 or (i == len(row) - 1 and len(row) > 2)
            cells.append(f"{cell:<{widths[i]}}" if left else f"{cell:>{max(widths[i], 12)}}")
        print("  ".join(cells).rstrip())


def _shown(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return json.dumps(value) if isinstance(value, dict | list) else str(value)
    return f"{value:,}"


def print_figures(
    figures: Mapping[str, Any],
    as_json: bool,
    rows: Sequence[Sequence[str]] | None = None,
    title: str | None = None,
) -> None:
    """One JSON object with ``as_json``, else ``rows`` (default: the figures themselves) as a table."""
    if as_json:
        print(json.dumps(figures))
        return
    print_table(rows if rows is not None else [(name, _shown(v)) for name, v in figures.items()], title)


class FakeTelegramProcess:
    """``python -m tests.fakes.telegram_api`` on 127.0.0.1, driven through its ``/_control`` endpoints."""

    def __init__(self, *, enforce_limits: bool) -> None:
        command = [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0"]
        if enforce_limits:
            command.append("--enforce-limits")
        self._process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        self.token = self._process.stdout.readline().strip().removeprefix("TOKEN=")
        self.control_url = self._process.stdout.readline().strip().removeprefix("CONTROL=")
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError("the fake Bot API did not start")
        self._client = httpx.Client(timeout=600)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def cpu_s(self) -> float | None:
        """CPU seconds the fake has used so far (Linux ``/proc``; ``None`` elsewhere)."""
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def settings(self, **overrides: Any) -> Settings:
        """Settings for a bot talking to this fake (environment and ``.env`` ignored)."""
        return Settings.model_validate(
            {"telegram_token": self.token, "telegram_base_url": self.base_url, **overrides}
        )

    def control(self, op: str, **kwargs: Any) -> Any:
        """``POST /_control/<op>`` with keyword arguments; returns the result."""
        response = self._client.post(f"{self.control_url}/{op}", json={"kwargs": kwargs})
        response.raise_for_status()
        return response.json()["result"]

    def sent(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every recorded call (of ``method``), successful or not."""
        params = {"method": method} if method else {}
        response = self._client.get(f"{self.control_url}/sent", params=params)
        response.raise_for_status()
        calls: list[dict[str, Any]] = response.json()
        return calls

    def wait(self, method: str, count: int, timeout: float) -> bool:
        """Block until the fake has answered ``count`` successful ``method`` calls (any chat), at most
        ``timeout`` seconds; ``False`` when they did not all come."""
        params = {"method": method, "count": str(count), "timeout": str(timeout)}
        response = self._client.get(f"{self.control_url}/wait", params=params, timeout=timeout + 10)
        if response.status_code == 408:
            return False
        response.raise_for_status()
        return True

    def state(self) -> dict[str, Any]:
        """Counters: ``http_429``, ``limit_hits``, ``server_errors``, ..."""
        response = self._client.get(f"{self.control_url}/state")
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state
