"""deploy/: the image's command exists, the env example lists every setting, the unit is hardened."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV_NAMES = {f"MINERWATCH_{name.upper()}" for name in Settings.model_fields}


def dockerfile_instruction(name: str) -> str:
    """The (last) instruction ``name`` of the Dockerfile, continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    found = re.findall(rf"^{name} (.+)$", text, flags=re.MULTILINE)
    assert found, f"no {name} in deploy/Dockerfile"
    return str(found[-1])


def test_image_command_is_a_console_script_of_the_project(capsys: pytest.CaptureFixture[str]) -> None:
    command = json.loads(dockerfile_instruction("CMD"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert command == ["minerwatch", "run"]
    module, _, function = scripts[command[0]].partition(":")
    entry = getattr(importlib.import_module(module), function)
    with pytest.raises(SystemExit) as exited:
        entry([*command[1:], "--help"])
    assert exited.value.code == 0
    assert "--replay" in capsys.readouterr().out


def test_image_keeps_the_database_on_a_volume_and_checks_health() -> None:
    env = dockerfile_instruction("ENV")
    assert "MINERWATCH_DB=/data/minerwatch.db" in env and "MINERWATCH_HTTP_PORT=" in env
    assert dockerfile_instruction("VOLUME") == "/data"
    assert dockerfile_instruction("USER") != "root"
    assert "/healthz" in dockerfile_instruction("HEALTHCHECK")
    assert dockerfile_instruction("FROM").startswith("python:3.11-slim")


def test_env_example_is_generated_and_lists_every_setting() -> None:
    example = (DEPLOY / "minerwatch.env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^# (MINERWATCH_\w+)=", example, flags=re.MULTILINE))
    assert listed == ENV_NAMES
    generated = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_table.py"), "--env"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert example == generated, (
        "regenerate: .venv/bin/python scripts/settings_table.py --env > deploy/minerwatch.env.example"
    )


def test_deploy_files_name_only_real_settings() -> None:
    for path in DEPLOY.iterdir():
        named = set(re.findall(r"MINERWATCH_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8")))
        assert not named - ENV_NAMES, f"{path.name} names unknown settings: {sorted(named - ENV_NAMES)}"


def test_systemd_unit_is_hardened() -> None:
    lines = (DEPLOY / "minerwatch.service").read_text(encoding="utf-8").splitlines()
    directives = {tuple(line.split("=", 1)) for line in lines if "=" in line and not line.startswith("#")}
    for directive in (
        ("DynamicUser", "yes"),
        ("StateDirectory", "minerwatch"),
        ("Environment", "MINERWATCH_DB=%S/minerwatch/minerwatch.db"),
        ("EnvironmentFile", "-/etc/minerwatch/minerwatch.env"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("Restart", "on-failure"),
        ("RestartSec", "5"),
    ):
        assert directive in directives
    exec_start = next(value for key, value in directives if key == "ExecStart")
    assert exec_start.endswith("/minerwatch run")
