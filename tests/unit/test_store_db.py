"""Opening the database: paths, pragmas, migrations, errors; and the schema's evaluation indexes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.alerts.rules import Op
from bot.store import Connection, StoreError, connect, default_db_path
from bot.store.migrations import migrations
from bot.store.subscriptions import _statements


def test_default_db_path_prefers_the_environment(tmp_path: Path) -> None:
    assert default_db_path({"MINERWATCH_DB": str(tmp_path / "x.db")}) == tmp_path / "x.db"


def test_default_db_path_is_in_the_user_data_directory(tmp_path: Path) -> None:
    path = default_db_path({"XDG_DATA_HOME": str(tmp_path)})
    assert path.name == "minerwatch.db"
    assert path.parent.name == "minerwatch"


def test_connect_creates_directories_and_configures(tmp_path: Path) -> None:
    db = connect(tmp_path / "a" / "b" / "m.db")
    assert (tmp_path / "a" / "b" / "m.db").exists()
    assert db.sqlite.journal_mode == "wal"
    assert db.execute("PRAGMA foreign_keys").one()[0] == 1
    assert db.execute("PRAGMA busy_timeout").one()[0] == 5000
    assert {
        "chats",
        "fleet_lines",
        "tariffs",
        "subscriptions",
        "snapshots",
        "daily",
        "state",
        "outbox",
        "events",
    } <= set(db.sqlite.table_names())
    db.close()


def test_migrations_apply_once(tmp_path: Path) -> None:
    connect(tmp_path / "m.db").close()
    db = connect(tmp_path / "m.db")
    names = [m.name for m in migrations.applied(db.sqlite)]
    assert names == sorted(set(names))
    assert names[0].startswith("m001_")
    assert migrations.pending(db.sqlite) == []


def test_unopenable_path_raises_one_line_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError) as caught:
        connect(blocker / "m.db")
    assert str(blocker / "m.db") in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_a_database_raises(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"x" * 4096)
    with pytest.raises(StoreError, match=r"junk\.db"):
        connect(path)


def test_foreign_keys_are_enforced(connection: Connection) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key") as caught:
        connection.execute(
            "INSERT INTO subscriptions (chat_ref, kind, created_at) VALUES (999, 'network', 0)"
        )
    assert type(caught.value).__name__ in ("IntegrityError", "ForeignKeyViolation")
    assert connection.execute("SELECT COUNT(*) FROM subscriptions").one() == (0,)


@pytest.mark.parametrize("op", list(Op))
def test_evaluation_statements_are_index_range_scans(tmp_path: Path, op: Op) -> None:
    db = connect(tmp_path / "m.db")
    params = {"metric": "price_usd", "op": op.value, "value": 1.0, "now": 0.0}
    for statement in _statements(db, op):
        plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", params))
        assert plan.startswith("SEARCH subscriptions USING INDEX"), plan
        assert "key_metric=? AND key_op=?" in plan
        assert "key_threshold" in plan or "key_rearm" in plan


def test_the_priority_migration_ranks_queued_rows_by_their_event_kind(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m008_outbox_priority_and_fanouts")
    db.execute(
        """INSERT INTO chats (id, platform, chat_id, kind, created_at)
           VALUES (1, 'telegram', '7', 'private', 0)"""
    )
    for key, kind in (("a", "regime_capitulation"), ("b", "threshold"), ("c", "data_stale")):
        db.execute(
            """INSERT INTO outbox (dedupe_key, chat_ref, platform, destination, event_kind, text,
                   next_attempt_at, created_at) VALUES (?, 1, 'telegram', '7', ?, 'x', 0, 0)""",
            [key, kind],
        )
    db.close()
    migrated = connect(path)
    assert dict(migrated.execute("SELECT dedupe_key, priority FROM outbox").fetchall()) == {
        "a": 2,
        "b": 1,
        "c": 2,
    }
    assert "fanouts" in migrated.sqlite.table_names()
    migrated.close()
