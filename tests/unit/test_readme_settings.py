"""README's configuration table and the Settings class agree (the table is generated from the class)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV_NAMES = {f"MINERWATCH_{name.upper()}" for name in Settings.model_fields}


def configuration_table() -> list[str]:
    section = README.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("|")]


def table_variables() -> list[str]:
    rows = configuration_table()[2:]  # header and separator
    return [match.group(1) for row in rows if (match := re.match(r"\| `(MINERWATCH_\w+)` \|", row))]


def test_every_setting_has_one_row() -> None:
    names = table_variables()
    assert len(names) == len(set(names)), "a setting is listed twice"
    assert not ENV_NAMES - set(names), f"settings missing from README: {sorted(ENV_NAMES - set(names))}"


def test_readme_names_no_setting_that_does_not_exist() -> None:
    named = set(re.findall(r"MINERWATCH_[A-Z0-9_]*[A-Z0-9]", README))
    assert not named - ENV_NAMES, f"README names unknown settings: {sorted(named - ENV_NAMES)}"


def test_table_is_the_generated_one() -> None:
    generated = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_table.py"), "--markdown"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert configuration_table() == generated.splitlines(), (
        "README's table differs from Settings: run .venv/bin/python scripts/settings_table.py --markdown "
        "and paste it into README.md's Configuration section"
    )
