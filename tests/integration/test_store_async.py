"""The async facade on both backends: one worker thread owns the connection; atomic rolls back; storage errors
are clear; bookkeeping commits skip the wait for the disk."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.chat.kinds import ChatKind
from bot.store import Connection, StorageUnavailable, Store, StoreError
from bot.store.chats import find_chat, upsert_chat
from bot.store.snapshots import get_state, set_state
from tests.store_backends import open_at


async def test_open_runs_everything_in_one_worker_thread(backend_store: Store) -> None:
    def where(db: Connection) -> str:
        db.execute("SELECT 1")
        return threading.current_thread().name

    names = await asyncio.gather(*(backend_store.run(where) for _ in range(50)))
    assert len(set(names)) == 1
    assert names[0].startswith("minerwatch-db")
    assert names[0] != threading.current_thread().name


async def test_concurrent_writes_are_serialised(backend_store: Store) -> None:
    store = backend_store

    def bump(db: Connection) -> None:
        set_state(db, "n", (get_state(db, "n") or 0) + 1)

    await asyncio.gather(*(store.atomic(bump) for _ in range(50)))
    assert await store.run(get_state, "n") == 50


async def test_atomic_rolls_back_on_error(backend_store: Store) -> None:
    store = backend_store

    def half_done(db: Connection) -> None:
        upsert_chat(db, "telegram", "1", ChatKind.PRIVATE, now=0.0)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.atomic(half_done)
    assert await store.run(find_chat, "telegram", "1") is None
    chat = await store.run(upsert_chat, "telegram", "1", ChatKind.PRIVATE, now=0.0)
    assert chat.chat_id == "1"


async def test_close_is_idempotent_and_final(store_location: str) -> None:
    store = await open_at(store_location)
    await store.close()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.run(get_state, "x")


async def test_unopenable_path_raises_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError) as caught:
        await Store.open(tmp_path / "file" / "m.db")
    assert str(tmp_path / "file" / "m.db") in str(caught.value)


async def test_full_disk_becomes_a_store_error_naming_the_path(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "m.db")

    def fill(db: Connection) -> None:
        pages = db.execute("PRAGMA page_count").one()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 1}")
        set_state(db, "big", "x" * 100_000)

    with pytest.raises(StoreError) as caught:
        await store.run(fill)
    assert str(tmp_path / "m.db") in str(caught.value)
    assert "full" in str(caught.value)
    await store.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_database_file_deleted_or_replaced_refuses_every_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    path = tmp_path / "m.db"
    store = await Store.open(path)
    await store.run(upsert_chat, "telegram", "1", ChatKind.PRIVATE, now=0.0)
    assert store.unavailable is None
    path.unlink()
    if how == "replaced":
        Database(path).execute("CREATE TABLE other (x)")  # a new file at the same path: another inode
    with pytest.raises(StorageUnavailable) as caught:
        await store.atomic(upsert_chat, "telegram", "2", ChatKind.PRIVATE, now=0.0)
    assert (
        str(caught.value) == f"storage unavailable: database file {path} was {how} while the bot was running"
    )
    assert store.unavailable == f"database file {path} was {how} while the bot was running"
    assert (await store.run(find_chat, "telegram", "1")) is not None  # reads go on from the open file
    with pytest.raises(StorageUnavailable):
        await store.run(set_state, "n", 1)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"storage unavailable: database file {path} was {how} while the bot was running; "
        "every change is refused until a restart"
    ]
    await store.close()


async def test_a_database_path_that_cannot_be_checked_refuses_changes(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "m.db"
    store = await Store.open(path)
    (tmp_path / "dir").rename(tmp_path / "moved")
    (tmp_path / "dir").write_text("a file where the directory was")  # stat(path) -> NotADirectoryError
    with pytest.raises(StorageUnavailable, match=r"cannot be checked \(Not a directory\)"):
        await store.run(set_state, "n", 1)
    await store.close()


async def test_commits_fsync_except_bookkeeping(tmp_path: Path) -> None:
    """synchronous=FULL (2) for every call; NORMAL (1) inside ``bookkeeping``, and FULL again after it."""
    store = await Store.open(tmp_path / "m.db")

    def synchronous(db: Connection) -> int:
        value: int = db.execute("PRAGMA synchronous").one()[0]
        return value

    def write_and_read(db: Connection) -> int:
        db.execute("INSERT INTO state (key, value) VALUES ('k', '1')")
        return synchronous(db)

    assert await store.run(synchronous) == 2
    assert await store.bookkeeping(write_and_read) == 1
    assert await store.run(synchronous) == 2
    with pytest.raises(sqlite3.IntegrityError):
        await store.bookkeeping(write_and_read)  # the same key again: rolled back, and FULL again after
    assert await store.run(synchronous) == 2
    assert await store.run(lambda db: db.execute("SELECT COUNT(*) FROM state").one()[0]) == 1
    await store.close()
