"""requirements/: the hash-checked locks that make, CI and the image install agree with pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
TEST_LOCK = ROOT / "requirements" / "test.txt"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
RELOCK = "run `make lock` and commit requirements/"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
BUILD = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
TEST = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]]
TARGET = {
    "python_version": "3.11",
    "python_full_version": "3.11.16",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}
"""The one platform the locks are resolved for (`make lock`: CPython 3.11, x86_64 Linux)."""


@dataclass(frozen=True, slots=True)
class Lock:
    """A requirements file as `uv pip compile --generate-hashes` writes it."""

    pins: dict[str, str]
    hashes: dict[str, tuple[str, ...]]
    options: tuple[str, ...]


def read_lock(path: Path) -> Lock:
    pins: dict[str, str] = {}
    hashes: dict[str, tuple[str, ...]] = {}
    options: list[str] = []
    for raw in path.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-"):
            options.append(line)
        elif line:
            requirement, *rest = line.split()
            name, _, version = requirement.partition("==")
            assert version, f"{path.name}: {requirement!r} is not pinned with ==: {RELOCK}"
            pins[canonicalize_name(name)] = version
            hashes[canonicalize_name(name)] = tuple(r.removeprefix("--hash=") for r in rest)
    return Lock(pins, hashes, tuple(options))


def unmet(lock: Lock, path: Path, requirements: list[Requirement]) -> list[str]:
    """Each requirement (for the target platform) that ``lock`` does not pin within its bounds."""
    problems = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate(TARGET):
            continue
        version = lock.pins.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{path.name} does not pin {requirement.name} (pyproject.toml: {requirement})")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(
                f"{path.name} pins {requirement.name}=={version}, outside pyproject.toml's {requirement}"
            )
    return problems


@pytest.mark.parametrize(
    ("path", "requirements"),
    [(RUNTIME_LOCK, RUNTIME + BUILD), (TEST_LOCK, RUNTIME + BUILD + TEST)],
    ids=["runtime", "test"],
)
def test_every_direct_dependency_is_pinned_within_its_bounds(
    path: Path, requirements: list[Requirement]
) -> None:
    problems = unmet(read_lock(path), path, requirements)
    assert not problems, "\n".join([*problems, RELOCK])


def test_a_pyproject_change_without_relocking_is_named() -> None:
    lock = read_lock(TEST_LOCK)
    added = Requirement("websockets>=13,<16")
    raised = Requirement(f"httpx>{lock.pins['httpx']}")
    assert unmet(lock, TEST_LOCK, [added, raised]) == [
        "test.txt does not pin websockets (pyproject.toml: websockets<16,>=13)",
        f"test.txt pins httpx=={lock.pins['httpx']}, outside pyproject.toml's {raised}",
    ]
    assert unmet(lock, TEST_LOCK, [Requirement("websockets>=13; sys_platform == 'win32'")]) == []


@pytest.mark.parametrize("path", [RUNTIME_LOCK, TEST_LOCK], ids=["runtime", "test"])
def test_every_pin_is_hash_checked_and_a_wheel(path: Path) -> None:
    lock = read_lock(path)
    assert lock.pins
    for name, hashes in lock.hashes.items():
        assert hashes, f"{path.name}: {name} has no --hash: {RELOCK}"
        assert all(h.startswith("sha256:") and len(h) == len("sha256:") + 64 for h in hashes), name
    # Wheels only: installing needs no compiler (the image's final stage has none).
    assert "--only-binary :all:" in lock.options


def test_the_image_runs_the_versions_the_tests_ran() -> None:
    runtime, test = read_lock(RUNTIME_LOCK), read_lock(TEST_LOCK)
    differing = {name for name, version in runtime.pins.items() if test.pins.get(name) != version}
    assert not differing, f"runtime.txt and test.txt disagree on {sorted(differing)}: {RELOCK}"
    assert not {"pytest", "pytest-asyncio", "hypothesis", "ruff", "mypy"} & runtime.pins.keys()


def test_every_direct_dependency_has_an_upper_bound() -> None:
    """A new major (or, for the linters, minor) release must not reach `make lock` unasked."""
    unbounded = [
        str(r) for r in RUNTIME + TEST if not any(s.operator in ("<", "<=", "==", "~=") for s in r.specifier)
    ]
    assert not unbounded, f"pyproject.toml: give these an upper bound: {unbounded}"


def test_the_venv_holds_exactly_the_test_lock() -> None:
    """What `make` installed is the lock, nothing more or less: the tests ran against the pinned set."""
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if canonicalize_name(d.metadata["Name"]) != "minerwatch"
    }
    pinned = read_lock(TEST_LOCK).pins
    assert installed == pinned, (
        f"not in the lock: {sorted(set(installed.items()) - set(pinned.items()))}; "
        f"missing: {sorted(set(pinned.items()) - set(installed.items()))}; "
        "rebuild .venv: rm .venv/.installed && make .venv/.installed"
    )


def make(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``make ARGS`` in ``folder`` as a top-level make (also when the suite itself runs under `make test`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_make_builds_the_venv_from_the_lock_and_rebuilds_it_when_the_lock_changes(tmp_path: Path) -> None:
    for name in ("Makefile", "pyproject.toml", "requirements/test.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    stamp = tmp_path / ".venv" / ".installed"
    stamp.parent.mkdir()
    stamp.touch()
    for name in ("Makefile", "pyproject.toml", "requirements/test.txt"):
        os.utime(tmp_path / name, (1_000_000_000, 1_000_000_000))
    assert make(tmp_path, "-q", ".venv/.installed").returncode == 0  # up to date: nothing to do

    os.utime(tmp_path / "requirements/test.txt")  # `make lock` rewrote it
    assert make(tmp_path, "-q", ".venv/.installed").returncode == 1
    commands = make(tmp_path, "-n", ".venv/.installed").stdout.splitlines()
    installs = [c for c in commands if " -m pip install " in c]
    assert installs == [
        ".venv/bin/python -m pip install --quiet --require-hashes -r requirements/test.txt",
        ".venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .",
    ]
    assert make(tmp_path, "-n", "test").stdout.splitlines()[: len(commands)] == commands


def test_ci_runs_make_test() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert script[-1] == "make test"
