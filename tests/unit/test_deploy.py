"""deploy/: the image is built from the lock on a pinned base and runs its real command unprivileged; the
build context holds what the image needs; compose and the unit are hardened and outlast the bot's drain;
the env example lists every setting.

There is no Docker engine on CI: these tests read the Dockerfile, .dockerignore and compose.yaml as the
engine would (instructions per stage, .dockerignore's last-match-wins patterns).
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.app import JOB_FINISH_TIMEOUT_S
from bot.config import Settings
from bot.transports.discord import CLOSE_TIMEOUT_S
from bot.transports.telegram import REQUEST_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV_NAMES = {f"MINERWATCH_{name.upper()}" for name in Settings.model_fields}
DIGEST_PINNED = re.compile(r"(?P<image>[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64})(?: AS (?P<stage>\w+))?")
DRAIN_S = JOB_FINISH_TIMEOUT_S + 3 * REQUEST_TIMEOUT_S + CLOSE_TIMEOUT_S
"""The longest clean stop after SIGTERM (bot/app.py ``BotApp.stop``): running jobs finish, Telegram's last
getUpdates (connect + write + read timeouts), Discord's gateway close."""


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (INSTRUCTION, arguments), continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    stages: list[list[tuple[str, str]]] = []
    for line in "\n".join(lines).replace("\\\n", " ").splitlines():
        if not line.strip():
            continue
        instruction, _, arguments = line.strip().partition(" ")
        if instruction == "FROM":
            stages.append([])
        assert stages, f"deploy/Dockerfile: {instruction} before the first FROM"
        stages[-1].append((instruction, " ".join(arguments.split())))
    return stages


def dockerfile_instruction(name: str) -> str:
    """The last instruction ``name`` of the image's (final) stage; FROM: the final stage's base."""
    found = [arguments for instruction, arguments in dockerfile_stages()[-1] if instruction == name]
    assert found, f"no {name} in deploy/Dockerfile's final stage"
    return found[-1]


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
        ("CapabilityBoundingSet", ""),
    ):
        assert directive in directives
    exec_start = next(value for key, value in directives if key == "ExecStart")
    assert exec_start.endswith("/minerwatch run")


def test_image_stages_start_from_one_base_pinned_by_digest() -> None:
    stages = dockerfile_stages()
    bases = [DIGEST_PINNED.fullmatch(stage[0][1]) for stage in stages]
    assert len(stages) >= 2 and all(bases), [stage[0][1] for stage in stages]
    assert {base["image"] for base in bases if base} == {dockerfile_instruction("FROM")}
    assert dockerfile_instruction("FROM").startswith("python:3.11-slim-bookworm@sha256:")


def test_build_stage_installs_the_hash_checked_lock_then_the_project_alone() -> None:
    build = dockerfile_stages()[0]
    runs = [arguments for instruction, arguments in build if instruction == "RUN"]
    installs = [run for run in runs if " install " in run]
    assert installs == [
        "/opt/minerwatch/bin/pip install --require-hashes -r /src/requirements/runtime.txt",
        "/opt/minerwatch/bin/pip install --no-deps --no-build-isolation /src",
    ]
    assert ("COPY", "requirements/runtime.txt /src/requirements/runtime.txt") in build
    # The lock holds wheels only, so this stage compiles nothing and the base needs no compiler.
    assert "--only-binary :all:" in (ROOT / "requirements" / "runtime.txt").read_text(encoding="utf-8")


def test_final_stage_gets_only_the_venv_and_runs_unprivileged() -> None:
    final = dockerfile_stages()[-1]
    copies = [arguments for instruction, arguments in final if instruction in ("COPY", "ADD")]
    assert copies == ["--from=build /opt/minerwatch /opt/minerwatch"]
    runs = " ".join(arguments for instruction, arguments in final if instruction == "RUN")
    for tool in ("apt-get", "gcc", "build-essential", "pip "):
        assert tool not in runs, f"the final stage installs with {tool}"
    user = dockerfile_instruction("USER").split(":")[0]
    assert user not in ("root", "0")
    assert re.search(rf"useradd .*--uid {user} ", runs)
    assert "PATH=/opt/minerwatch/bin:$PATH" in dockerfile_instruction("ENV")
    assert "/healthz" in dockerfile_instruction("HEALTHCHECK")


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context: the last pattern matching the path or one
    of its parent folders wins, ``!`` re-includes (https://docs.docker.com/build/concepts/context/)."""
    ignored = False
    parts = path.split("/")
    for pattern in patterns:
        include = pattern.startswith("!")
        glob = pattern.removeprefix("!").strip("/")
        regex = re.escape(glob).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]").replace(r"\[", "[").replace(r"\]", "]")
        if any(re.fullmatch(regex, "/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            ignored = not include
    return ignored


def test_build_context_holds_what_the_image_copies_and_nothing_else() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    build = dockerfile_stages()[0]
    sources = [arguments.split()[:-1] for instruction, arguments in build if instruction == "COPY"]
    needed = [
        path.relative_to(ROOT).as_posix()
        for source in sources
        for name in source
        for path in ([ROOT / name] if (ROOT / name).is_file() else (ROOT / name).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert {"pyproject.toml", "README.md", "requirements/runtime.txt", "bot/app.py"} <= set(needed)
    assert any(path.startswith("bot/data/") for path in needed)  # package data the image reads
    assert [path for path in needed if dockerignored(path, patterns)] == []
    kept_out = [
        ".git/HEAD",
        ".venv/bin/python",
        ".venv-lock/bin/uv",
        "tests/conftest.py",
        "deploy/minerwatch.env",
        ".env",
        "minerwatch.db",
        "requirements/test.txt",
        "bot/__pycache__/app.cpython-311.pyc",
        "handlers/__pycache__/help.cpython-311.pyc",
        ".mypy_cache/3.11/bot/app.meta.json",
        ".pytest_cache/v/cache/lastfailed",
        ".hypothesis/examples/x",
        *(p.name for p in ROOT.iterdir() if p.name not in {s.split("/")[0] for s in needed}),
    ]
    assert [path for path in kept_out if not dockerignored(path, patterns)] == []


def compose_service(name: str = "minerwatch", file: str = "compose.yaml") -> str:
    """Service ``name`` of ``deploy/<file>``, comments dropped."""
    text = (DEPLOY / file).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    pattern = rf"^  {re.escape(name)}:\n((?:    .*\n|\n)+)"
    service = re.search(pattern, "\n".join(lines) + "\n", flags=re.MULTILINE)
    assert service, f"no {name} service in deploy/{file}"
    return service.group(1)


def assert_hardened(service: str) -> None:
    """A read-only root with /tmp (the image's MPLCONFIGDIR, replay) writable, no capabilities."""
    assert re.search(r"^    read_only: true$", service, flags=re.MULTILINE)
    assert re.search(r"^    tmpfs:\n      - /tmp(:\S+)?$", service, flags=re.MULTILINE)
    assert "MPLCONFIGDIR=/tmp/" in dockerfile_instruction("ENV")
    assert re.search(r"^    cap_drop: \[ALL\]$", service, flags=re.MULTILINE)
    assert re.search(r"^    security_opt:\n      - no-new-privileges:true$", service, flags=re.MULTILINE)


def test_compose_runs_the_image_read_only_without_capabilities() -> None:
    service = compose_service()
    assert_hardened(service)
    # Writable too: the database volume (the image's MINERWATCH_DB).
    assert re.search(r"^      - minerwatch-data:/data$", service, flags=re.MULTILINE)


def test_stop_grace_outlasts_the_bots_drain() -> None:
    """docker stop and systemctl stop send SIGTERM, then SIGKILL after the grace period: the bot's
    clean stop must fit (Docker's default is 10 s, less than the running jobs alone may take)."""
    grace = re.search(r"^    stop_grace_period: (\d+)s$", compose_service(), flags=re.MULTILINE)
    assert grace and int(grace.group(1)) > DRAIN_S
    unit = (DEPLOY / "minerwatch.service").read_text(encoding="utf-8")
    timeout = re.search(r"^TimeoutStopSec=(\d+)$", unit, flags=re.MULTILINE)
    assert timeout and int(timeout.group(1)) > DRAIN_S


REPLICAS = "compose.replicas.yaml"


def test_replicas_compose_runs_postgresql_15_with_a_volume_and_a_healthcheck() -> None:
    postgres = compose_service("postgres", REPLICAS)
    assert re.search(r"^    image: postgres:15(-\w+)?$", postgres, flags=re.MULTILINE)
    assert re.search(r"^      - postgres-data:/var/lib/postgresql/data$", postgres, flags=re.MULTILINE)
    assert re.search(
        r"^  postgres-data:$", (DEPLOY / REPLICAS).read_text(encoding="utf-8"), flags=re.MULTILINE
    )
    assert re.search(
        r'^      test: \["CMD-SHELL", "pg_isready -U minerwatch -d minerwatch"\]$', postgres, re.M
    )
    assert "POSTGRES_PASSWORD" not in postgres  # only from its env file
    assert re.search(r"^    env_file: postgres\.env$", postgres, flags=re.MULTILINE)


def test_replicas_compose_runs_two_identical_hardened_replicas_on_the_database() -> None:
    replicas = [compose_service(f"minerwatch-{n}", REPLICAS) for n in (1, 2)]
    assert replicas[0] == replicas[1]
    service = replicas[0]
    assert service.startswith("    build:\n      context: ..\n      dockerfile: deploy/Dockerfile\n")
    assert_hardened(service)
    url = re.search(r"^      MINERWATCH_DATABASE_URL: (.+)$", service, flags=re.MULTILINE)
    # The password comes from the environment compose reads (--env-file), never written here.
    assert url and re.fullmatch(
        r"postgresql://minerwatch:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/minerwatch", url.group(1)
    ), url
    assert re.search(r"^    depends_on:\n      postgres:\n        condition: service_healthy$", service, re.M)
    assert "/data" not in service  # no SQLite file: the store is the shared database
    grace = re.search(r"^    stop_grace_period: (\d+)s$", service, flags=re.MULTILINE)
    assert grace and int(grace.group(1)) > DRAIN_S


def test_env_files_with_secrets_stay_out_of_git_and_the_image() -> None:
    text = (DEPLOY / REPLICAS).read_text(encoding="utf-8") + (DEPLOY / "compose.yaml").read_text(
        encoding="utf-8"
    )
    env_files = set(re.findall(r"^    env_file: (\S+)$", text, flags=re.MULTILINE))
    assert env_files == {"minerwatch.env", "postgres.env"}
    paths = [f"deploy/{name}" for name in sorted(env_files)]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], capture_output=True, text=True, cwd=ROOT, check=False
    ).stdout.split()
    assert ignored == paths
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert all(dockerignored(path, patterns) for path in paths)
