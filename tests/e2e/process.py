"""``minerwatch run`` as a child process for end-to-end tests: its environment and its start."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

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
