"""``minerwatch db``: online backup and restore round trip, exports, stats, one-line errors."""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.alerts.rules import KeyedRule, KeyMetric, Metric, Op, Rule, RuleState
from bot.chat.kinds import ChatKind
from bot.ops.dbtools import add_db_parser
from bot.store.chats import find_chat, upsert_chat
from bot.store.db import Store
from bot.store.outbox import NewMessage, OutboxStatus, counts, enqueue, get_message
from bot.store.subscriptions import add_network, add_threshold, list_for_chat

BELOW_60K = Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0, min_interval_s=3600)
BELOW_60K_KEYED = KeyedRule(KeyMetric.PRICE_USD, Op.BELOW, 60_000.0, 60_600.0)


def db_command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="minerwatch")
    add_db_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["db", *argv])
    code = int(args.sync_handler(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Store]:
    """A store the way the bot holds it open, with a chat, two subscriptions and an outbox row."""
    store = await Store.open(tmp_path / "live" / "minerwatch.db")
    chat = await store.run(upsert_chat, "telegram", "-100123", ChatKind.SUPERGROUP, 1_700_000_000.0)
    await store.run(add_network, chat.id, 1_700_000_001.0)
    await store.run(
        add_threshold, chat.id, BELOW_60K, BELOW_60K_KEYED, RuleState(armed=True), 1_700_000_002.0
    )
    message = NewMessage("regime:1", chat.id, "telegram", "-100123", "regime_capitulation", "<b>hi</b>")
    await store.run(enqueue, [message], 1_700_000_003.0)
    yield store
    await store.close()


def table_rows(path: Path | None) -> dict[str, list[tuple[object, ...]]]:
    assert path is not None, "a SQLite store"
    with sqlite3.connect(path) as connection:
        names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: connection.execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall() for name in names}


async def test_backup_while_running_restores_everything(
    running: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "backups" / "copy.db"
    target.parent.mkdir()
    code, out, err = db_command(capsys, "backup", str(target), "--db", str(running.path))
    assert (code, err) == (0, "")
    assert out.startswith(f"backed up {running.path} to {target}")
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.db"], "one self-contained file"
    assert table_rows(target) == table_rows(running.path)

    restored = await Store.open(target)  # restore = start the bot on the copy
    try:
        chat = await restored.run(find_chat, "telegram", "-100123")
        assert chat is not None and chat.kind is ChatKind.SUPERGROUP
        subscriptions = await restored.run(list_for_chat, chat.id)
        assert [s.rule for s in subscriptions] == [None, BELOW_60K]
        assert (await restored.run(counts))[OutboxStatus.PENDING] == 1
        message = await restored.run(get_message, 1)
        assert message is not None and message.text == "<b>hi</b>"
    finally:
        await restored.close()


async def test_backup_refuses_to_overwrite_without_force(
    running: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy.db"
    target.write_text("keep me")
    code, out, err = db_command(capsys, "backup", str(target), "--db", str(running.path))
    assert (code, out) == (2, "")
    assert err == f"minerwatch: {target} exists; pass --force to replace it\n"
    assert target.read_text() == "keep me"
    code, _, _ = db_command(capsys, "backup", str(target), "--force", "--db", str(running.path))
    assert code == 0
    code, _, err = db_command(capsys, "backup", str(running.path), "--force", "--db", str(running.path))
    assert (code, err) == (2, f"minerwatch: {running.path} is the database itself; name another file\n")
    assert table_rows(target)["chats"] == table_rows(running.path)["chats"]


def test_missing_database_and_unwritable_target_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.db"
    for action in (["stats"], ["export"], ["backup", str(tmp_path / "b.db")]):
        code, out, err = db_command(capsys, *action, "--db", str(missing))
        assert (code, out) == (2, "")
        assert err.count("\n") == 1 and f"database {missing} does not exist" in err
    assert not missing.exists(), "never creates the database"

    source = tmp_path / "real.db"
    sqlite3.connect(source).close()
    code, _, err = db_command(capsys, "backup", str(tmp_path / "no" / "dir" / "b.db"), "--db", str(source))
    assert code == 2
    assert err.startswith(f"minerwatch: cannot write {tmp_path / 'no' / 'dir' / 'b.db'}:")


async def test_exports_subscriptions_and_history(running: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = db_command(capsys, "export", "--db", str(running.path))
    header, network, threshold = out.splitlines()
    assert code == 0
    assert header.startswith("id,platform,chat_id,chat_kind,")
    assert threshold.startswith("2,telegram,-100123,supergroup,en,1,threshold,price,below,60000.0,600.0,")
    assert network.endswith(",2023-11-14T22:13:21+00:00")

    code, out, _ = db_command(capsys, "export", "--format", "json", "--db", str(running.path))
    rows = json.loads(out)
    assert [(r["kind"], r["metric"], r["threshold"]) for r in rows] == [
        ("network", None, None),
        ("threshold", "price", 60_000.0),
    ]
    code, out, _ = db_command(capsys, "export", "--what", "history", "--db", str(running.path))
    assert out == "date,price_usd,difficulty,hashrate_ths,issuance_btc,source\n"


async def test_stats_counts_rows_and_outbox(
    running: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("MINERWATCH_DB", str(running.path))  # the configured database, no --db
    code, out, _ = db_command(capsys, "stats")
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert ["database", str(running.path)] in lines
    assert ["subscriptions", "2"] in lines and ["chats", "1"] in lines
    assert ["pending", "1"] in lines and ["dead", "0"] in lines


@pytest.mark.parametrize("action", [["stats"], ["export"], ["prune"], ["backup", "copy.db"]])
def test_with_a_postgresql_store_the_file_tools_refuse_instead_of_reading_a_stale_file(
    action: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    stale = tmp_path / "old.db"
    sqlite3.connect(stale).close()
    monkeypatch.setenv("MINERWATCH_DB", str(stale))
    monkeypatch.setenv("MINERWATCH_DATABASE_URL", "postgresql://bot:pg-secret-1@127.0.0.1:9/minerwatch")
    code, out, err = db_command(capsys, *action)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "MINERWATCH_DATABASE_URL is set" in err and "--db" in err
    assert "pg-secret-1" not in err
    assert not (tmp_path / "copy.db").exists()
