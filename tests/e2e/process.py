"""``minerwatch run`` as a child process for end-to-end tests: its environment, its start, a console rig."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from queue import Empty, Queue

ROOT = Path(__file__).parents[2]


def bot_environment(db: Path, settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without MINERWATCH_*, plus ``settings`` and fast polls on a fresh DB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINERWATCH_")}
    env.update({f"MINERWATCH_{name.upper()}": value for name, value in settings.items()})
    env.update(
        MINERWATCH_DB=str(db),
        MINERWATCH_PRICE_POLL_S="1",
        MINERWATCH_NETWORK_POLL_S="1",
        MINERWATCH_SOURCE_RETRIES="0",
        PTB_TIMEDELTA="true",
    )
    return env


def start_run(env: dict[str, str]) -> subprocess.Popen[str]:
    """``python -m bot.cli run`` with stdin closed and stderr folded into stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


class BotProcess:
    """A running ``minerwatch run`` with its stdout lines collected by a reader thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: Queue[str] = Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def type(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def wait_for(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except Empty:
                continue
            self.seen.append(line)
            if needle in line:
                return line
        raise AssertionError(
            f"{needle!r} not printed within {timeout} s; saw:\n" + "\n".join(self.seen[-40:])
        )

    def ask_until(self, command: str, needle: str, timeout: float = 30.0) -> str:
        """Type ``command`` again every 2 s until an answer prints ``needle`` (say, once the first polls
        have landed: how soon that is depends on how busy the machine is)."""
        deadline = time.monotonic() + timeout
        while True:
            self.type(command)
            try:
                return self.wait_for(needle, timeout=2.0)
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
