"""``minerwatch db backup PATH | export | stats | prune | migrate-to-postgres SQLITE_PATH``: copies, views
and retention of the SQLite file, bot running or not, and its move into PostgreSQL.

The database is ``--db``, else ``MINERWATCH_DB`` (Settings), else the user's data directory. It is never
created; every command but ``prune`` opens it read-only. ``prune`` deletes what the daily retention job
deletes (``bot.store.retention``), in short transactions; ``--dry-run`` only counts. ``backup`` uses
SQLite's online backup API (a consistent copy even while the bot writes), writes a temporary file beside the
target, checks it and renames it into place, so a failed backup leaves nothing behind.
``migrate-to-postgres`` migrates the PostgreSQL at ``MINERWATCH_DATABASE_URL`` to this version's schema
and copies the file into it (``bot.store.sqlite_to_postgres``: resumable, idempotent), printing rows per
table copied and already there. Exit codes: 0 ok, 1 PostgreSQL unreachable or failing mid-copy (a rerun
resumes), 2 a one-line error (missing database, target exists or is not writable, bad settings, a schema
version other than this code's, a PostgreSQL holding other data).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from pydantic import ValidationError

from bot.config import Settings

if TYPE_CHECKING:
    from bot.store.sqlite_to_postgres import TableCopy

EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE = 0, 1, 2  # as bot.cli
EXPORTS = {
    "subscriptions": """SELECT s.id, c.platform, c.chat_id, c.kind AS chat_kind, c.language,
            c.active AS chat_active, s.kind, s.metric, s.op, s.threshold, s.band, s.repeat, s.min_interval_s,
            s.active, s.fire_count, s.last_fired_at, s.created_at
        FROM subscriptions s JOIN chats c ON c.id = s.chat_ref ORDER BY s.id""",
    "history": """SELECT date, price_usd, difficulty, hashrate_ths, issuance_btc, source
        FROM daily ORDER BY date""",
}
TIME_COLUMNS = frozenset({"last_fired_at", "created_at"})
"""Unix seconds in the store, ISO 8601 UTC in exports."""


Action = Callable[[argparse.Namespace, TextIO], None]
SyncHandler = Callable[[argparse.Namespace, TextIO | None, TextIO | None], int]


class DbToolError(Exception):
    """A one-line problem reported with exit code 2."""


class DbUnavailableError(DbToolError):
    """A database server that cannot be reached or failed mid-way: exit code 1 (a retry may succeed)."""


def add_db_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``db`` with ``backup``, ``export``, ``stats`` and ``prune``; each sets
    ``sync_handler(args) -> code``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, help="database file (default: MINERWATCH_DB or the data dir)")
    parser = subparsers.add_parser("db", help="back up, export, count or prune the database")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    backup = actions.add_parser(
        "backup", parents=[common], help="consistent copy of the database, safe while the bot runs"
    )
    backup.add_argument("path", type=Path, help="file to write")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    backup.set_defaults(sync_handler=_command(backup_command))
    export = actions.add_parser("export", parents=[common], help="print subscriptions or the daily history")
    export.add_argument("--format", choices=("csv", "json"), default="csv", help="default csv")
    export.add_argument(
        "--what", choices=sorted(EXPORTS), default="subscriptions", help="default subscriptions"
    )
    export.set_defaults(sync_handler=_command(export_command))
    stats = actions.add_parser("stats", parents=[common], help="rows per table, outbox by status, file size")
    stats.set_defaults(sync_handler=_command(stats_command))
    prune = actions.add_parser(
        "prune", parents=[common], help="delete old snapshots and finished outbox rows (the daily job)"
    )
    prune.add_argument("--dry-run", action="store_true", help="print what would be removed, change nothing")
    prune.set_defaults(sync_handler=_command(prune_command))
    to_postgres = actions.add_parser(
        "migrate-to-postgres",
        help="copy a SQLite database into the PostgreSQL at MINERWATCH_DATABASE_URL (resumable, idempotent)",
    )
    to_postgres.add_argument("sqlite_path", type=Path, metavar="SQLITE_PATH", help="the file (read only)")
    to_postgres.add_argument(
        "--batch-rows", type=_positive_int, default=1000, help="rows per transaction (default 1000)"
    )
    to_postgres.set_defaults(sync_handler=_command(migrate_to_postgres_command))
    return parser


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number above 0")
    return int(text)


def _command(run: Action) -> SyncHandler:
    """Wrap ``run(args, out)`` so a ``DbToolError`` or SQLite error is one line on stderr and exit 2."""

    def handler(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
        try:
            run(args, out or sys.stdout)
        except DbToolError as error:
            print(f"minerwatch: {error}", file=err or sys.stderr)
            return EXIT_UNAVAILABLE if isinstance(error, DbUnavailableError) else EXIT_USAGE
        except sqlite3.Error as error:
            print(f"minerwatch: database {database_path(args)}: {error}", file=err or sys.stderr)
            return EXIT_USAGE
        return EXIT_OK

    return handler


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        field = "_".join(str(part) for part in first["loc"]).upper()
        raise DbToolError(f"bad setting MINERWATCH_{field}: {first['msg']}") from None


def database_path(args: argparse.Namespace) -> Path:
    """``--db``, else the configured or default path; refused when the bot's store is PostgreSQL, where a
    SQLite file would be a stale copy (``pg_dump`` and ``psql`` are the tools there)."""
    if args.db is not None:
        return Path(args.db).expanduser()
    settings = _settings()
    if settings.database_url is not None:
        raise DbToolError(
            f"MINERWATCH_DATABASE_URL is set: `db {args.db_command}` reads a SQLite file; name one with "
            "--db, or use pg_dump / psql on PostgreSQL (old rows there are pruned by the running bot)"
        )
    configured = settings.db
    if configured:
        return configured.expanduser()
    from bot.store.db import default_db_path  # the store loads with a db command only (see prune_command)

    return default_db_path()


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to an existing database (never creates one)."""
    if not path.is_file():
        raise DbToolError(f"database {path} does not exist (set MINERWATCH_DB or pass --db)")
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
        connection.execute("PRAGMA busy_timeout = 5000")
        yield connection


def backup(source: Path, target: Path, *, force: bool = False) -> int:
    """Copy ``source`` to ``target`` with the online backup API; returns the copy's size in bytes."""
    if target.is_dir():
        raise DbToolError(f"{target} is a directory; name a file")
    if target.exists() and not force:
        raise DbToolError(f"{target} exists; pass --force to replace it")
    if target.resolve() == source.resolve():
        raise DbToolError(f"{target} is the database itself; name another file")
    with read_only(source) as connection:
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        except OSError as error:
            raise DbToolError(f"cannot write {target}: {error.strerror or error}") from None
        os.close(handle)
        try:
            with closing(sqlite3.connect(temporary)) as copy:
                connection.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                if (check := copy.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
                    raise DbToolError(f"the copy failed its check: {check}")
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return target.stat().st_size


def backup_command(args: argparse.Namespace, out: TextIO) -> None:
    source = database_path(args)
    size = backup(source, args.path, force=args.force)
    print(f"backed up {source} to {args.path} ({size:,} bytes)", file=out)


def _value(column: str, value: object) -> object:
    if column in TIME_COLUMNS and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return value


def export_rows(connection: sqlite3.Connection, what: str) -> tuple[list[str], list[list[Any]]]:
    """Column names and rows of one export (times as ISO 8601 UTC)."""
    cursor = connection.execute(EXPORTS[what])
    columns = [column[0] for column in cursor.description]
    rows = [[_value(c, v) for c, v in zip(columns, row, strict=True)] for row in cursor.fetchall()]
    return columns, rows


def export_command(args: argparse.Namespace, out: TextIO) -> None:
    with read_only(database_path(args)) as connection:
        columns, rows = export_rows(connection, args.what)
    if args.format == "json":
        json.dump([dict(zip(columns, row, strict=True)) for row in rows], out, indent=2)
        out.write("\n")
    else:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def stats(path: Path) -> dict[str, Any]:
    """``{"path", "bytes" (file plus WAL), "tables": {name: rows}, "outbox": {status: rows}}``."""
    with read_only(path) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            )
        ]
        tables = {name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}
        found = dict(connection.execute("SELECT status, COUNT(*) FROM outbox GROUP BY 1"))
    from bot.store.outbox import OutboxStatus

    outbox = {status.value: found.get(status.value, 0) for status in OutboxStatus}
    wal = path.with_name(path.name + "-wal")
    size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return {"path": str(path), "bytes": size, "tables": tables, "outbox": outbox}


def stats_command(args: argparse.Namespace, out: TextIO) -> None:
    found = stats(database_path(args))
    lines = [f"database  {found['path']}", f"size      {found['bytes']:,} bytes", "rows"]
    lines += [f"  {name:<22}{count:>10,}" for name, count in found["tables"].items()]
    lines += ["outbox"] + [f"  {status:<22}{count:>10,}" for status, count in found["outbox"].items()]
    print("\n".join(lines), file=out)


def _iso(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="seconds")


def prune_command(args: argparse.Namespace, out: TextIO) -> None:
    # The store (sqlite-utils, which loads numpy) is imported by the db commands that use it, not when the
    # command line starts: every ``minerwatch`` command registers ``db`` and would pay for it.
    from bot.store.db import StoreError, connect
    from bot.store.outbox import OutboxStatus
    from bot.store.retention import Cutoffs, Retention, count_prunable, prune

    path = database_path(args)
    if not path.is_file():
        raise DbToolError(f"database {path} does not exist (set MINERWATCH_DB or pass --db)")
    cutoffs = Cutoffs.at(Retention.from_settings(_settings()), time.time())
    try:
        db = connect(path)
    except StoreError as error:
        raise DbToolError(str(error)) from None
    try:
        found = count_prunable(db, cutoffs)
        started = time.monotonic()
        removed = 0 if args.dry_run else prune(db, cutoffs)
        seconds = time.monotonic() - started
    finally:
        db.close()
    rows = [("snapshots", f"taken before {_iso(cutoffs.snapshots_before)}", found.snapshots)]
    rows += [
        (
            f"outbox {status.value}",
            f"sent before {_iso(cutoffs.sent_before)}"
            if status is OutboxStatus.SENT
            else f"made before {_iso(cutoffs.failed_before)}",
            count,
        )
        for status, count in found.outbox.items()
    ]
    lines = [f"database  {path}", "would remove (dry run, nothing changed):" if args.dry_run else "removed:"]
    lines += [f"  {what:<16}{when:<40}{count:>12,}" for what, when, count in rows]
    total = f"total {found.total if args.dry_run else removed:,} row(s)"
    lines.append(total if args.dry_run else f"{total} in {seconds:.1f} s")
    print("\n".join(lines), file=out)


def _where(url: str) -> str:
    """``host:port/dbname`` of a PostgreSQL URL: what to print instead of the URL (it holds the password)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


def migrate_to_postgres_command(args: argparse.Namespace, out: TextIO) -> None:
    settings = _settings()
    if settings.database_url is None:
        raise DbToolError(
            "set MINERWATCH_DATABASE_URL to the PostgreSQL to copy into (postgresql://user:password@host/dbname)"
        )
    if urlsplit(settings.database_url.get_secret_value()).scheme not in ("postgresql", "postgres"):
        raise DbToolError("MINERWATCH_DATABASE_URL must be a postgresql:// URL")
    path = Path(args.sqlite_path).expanduser()
    copied = _copy_into_postgres(path, settings, args.batch_rows, out)
    total = sum(each.rows for each in copied)
    new = sum(each.copied for each in copied)
    lines = [f"{'table':<16}{'rows':>12}{'copied':>12}{'already there':>15}"]
    lines += [f"{c.table:<16}{c.rows:>12,}{c.copied:>12,}{c.already_there:>15,}" for c in copied]
    lines.append(f"{'total':<16}{total:>12,}{new:>12,}{total - new:>15,}")
    lines.append(
        f"copied {new:,} row(s); sequences moved past the copied ids"
        if new
        else "nothing to copy: every row is already there"
    )
    print("\n".join(lines), file=out)


def _copy_into_postgres(path: Path, settings: Settings, batch_rows: int, out: TextIO) -> list[TableCopy]:
    """Check the file's schema, migrate the target, copy; every failure becomes one line (no password)."""
    # psycopg and the store load only for this command (see prune_command).
    import psycopg

    from bot.ops.logs import RedactingFilter
    from bot.ops.progress import ProgressBar
    from bot.store.errors import StoreError, first_line
    from bot.store.migrations import POSTGRESQL
    from bot.store.postgres import connect_postgresql
    from bot.store.sqlite_to_postgres import CopyRefusedError, applied_migrations, check_schema, copy_database

    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
    where = _where(url)
    code_schema = [name for name, _statements in POSTGRESQL]
    try:
        with read_only(path) as source:
            applied = applied_migrations(source)
            check_schema(applied, code_schema)
            connect_postgresql(url).close()  # migrates it to this version's schema, under the migration lock
            with psycopg.connect(url) as target:
                found = [
                    name for (name,) in target.execute("SELECT name FROM schema_migrations ORDER BY name")
                ]
                check_schema(found, code_schema, holder="PostgreSQL")
                print(f"copying {path} (schema {applied[-1]}) into PostgreSQL {where}", file=out)
                return copy_database(source, target, batch_rows=batch_rows, progress=ProgressBar(sys.stderr))
    except CopyRefusedError as error:
        raise DbToolError(f"{path}: {error}") from None
    except sqlite3.Error as error:
        raise DbToolError(f"database {path}: {error}") from None
    except StoreError as error:  # connecting or migrating: one line, the password already hidden
        raise DbUnavailableError(
            f"{RedactingFilter(settings.secrets()).redact(str(error))} (run again)"
        ) from None
    except psycopg.Error as error:
        first = RedactingFilter(settings.secrets()).redact(first_line(error))
        raise DbUnavailableError(f"PostgreSQL {where}: {first} (run again to resume)") from None
