"""The dependency rule of the layout: the core (bot/) never imports the chat commands (handlers/)."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.chat.commands import installed_commands
from handlers.router import COMMANDS, HANDLERS

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_bot_imports_handlers() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imported_modules(path) if name.split(".")[0] == "handlers"
        )
        for path in sorted((ROOT / "bot").rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_no_flat_modules_beside_the_packages() -> None:
    flat = sorted(path.name for path in (ROOT / "bot").glob("*.py"))
    assert flat == ["__init__.py", "app.py", "cli.py", "config.py"]


def test_the_installed_command_set_is_the_handlers() -> None:
    assert installed_commands() is COMMANDS
    menu = {name for name, _ in COMMANDS.menu("en")}
    assert "breakeven" in menu and menu <= set(HANDLERS)
