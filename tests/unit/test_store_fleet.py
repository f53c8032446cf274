"""Fleet lines and tariffs in the store, and the migration of stored profiles into one-line fleets."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.chat.kinds import ChatKind
from bot.economics.fleet import MAX_LINES, FleetFullError, Period, Tariff, TariffInUseError
from bot.store import Connection, connect
from bot.store import fleet as fleet_repo
from bot.store.chats import Profile, get_profile, migrate_chat, set_profile, upsert_chat
from bot.store.migrations import migrations
from bot.store.subscriptions import SubscriptionKind, list_for_chat

S19J = fleet_repo.StoredLine(29.5, 40, 0.055, 2.0, 100.0, 1.0, "Antminer S19j Pro", 104.0, site="north")
S21 = fleet_repo.StoredLine(15.0, 20, None, 2.0, 95.0, 1.05, "Antminer S21 Pro", 234.0, tariff="texas")
TEXAS = Tariff("texas", 0.045, (Period(840, 1200, 0.12),), "America/Chicago")


@pytest.fixture
def db(connection: Connection) -> Connection:
    """A migrated connection, on SQLite and on PostgreSQL."""
    return connection


def test_lines_are_numbered_in_order_and_renumber_on_removal(db: Connection) -> None:
    chat = upsert_chat(db, "telegram", "1", ChatKind.PRIVATE, now=0.0)
    fleet_repo.set_tariff(db, chat.id, TEXAS, now=0.0)
    assert fleet_repo.add_line(db, chat.id, S19J, now=1.0) == 1
    assert fleet_repo.add_line(db, chat.id, S21, now=2.0) == 2
    assert fleet_repo.lines(db, chat.id) == [S19J, S21]
    assert fleet_repo.tariffs(db, chat.id) == {"texas": TEXAS}
    assert fleet_repo.remove_line(db, chat.id, 1)
    assert fleet_repo.lines(db, chat.id) == [S21]
    assert not fleet_repo.remove_line(db, chat.id, 2)
    assert not fleet_repo.set_line(db, chat.id, 2, S19J, now=3.0)
    # line 1 on a tariff is the profile, at the tariff's average (18 h at 4.5c, 6 h at 12c)
    profile = get_profile(db, chat.id)
    assert profile is not None and profile.power_usd_per_kwh == pytest.approx(0.06375)
    with pytest.raises(TariffInUseError):
        fleet_repo.remove_tariff(db, chat.id, "texas")
    assert fleet_repo.clear(db, chat.id) == 1
    assert fleet_repo.remove_tariff(db, chat.id, "texas")
    assert get_profile(db, chat.id) is None


def test_a_fleet_holds_at_most_max_lines(db: Connection) -> None:
    chat = upsert_chat(db, "telegram", "1", ChatKind.PRIVATE, now=0.0)
    for _ in range(MAX_LINES):
        fleet_repo.add_line(db, chat.id, S19J, now=1.0)
    with pytest.raises(FleetFullError):
        fleet_repo.add_line(db, chat.id, S19J, now=1.0)
    assert len(fleet_repo.lines(db, chat.id)) == MAX_LINES


def test_a_line_has_a_price_or_a_tariff_never_both() -> None:
    with pytest.raises(ValueError):
        fleet_repo.StoredLine(29.5, 1, 0.05, 0, 100, 1, tariff="texas")
    with pytest.raises(ValueError):
        fleet_repo.StoredLine(29.5, 1, None, 0, 100, 1)


def test_set_profile_changes_line_1_and_keeps_the_others(db: Connection) -> None:
    chat = upsert_chat(db, "telegram", "1", ChatKind.PRIVATE, now=0.0)
    fleet_repo.add_line(db, chat.id, S19J, now=1.0)
    fleet_repo.add_line(db, chat.id, S19J, now=1.0)
    changed = Profile(j_per_th=21.5, power_usd_per_kwh=0.06, pool_fee_pct=2.0, uptime_pct=97.0, pue=1.05)
    set_profile(db, chat.id, changed, now=2.0)
    assert get_profile(db, chat.id) == changed
    first, second = fleet_repo.lines(db, chat.id)
    assert first.site == "north" and first.j_per_th == 21.5
    assert second == S19J


def test_line_alert_state_resets_when_the_line_changes(db: Connection) -> None:
    chat = upsert_chat(db, "telegram", "1", ChatKind.PRIVATE, now=0.0)
    fleet_repo.add_line(db, chat.id, S19J, now=1.0)
    fleet_repo.set_line_alert(db, chat.id, 1, fleet_repo.LineAlert("switch off", 99.0))
    assert fleet_repo.line_alerts(db, chat.id) == [fleet_repo.LineAlert("switch off", 99.0)]
    fleet_repo.set_line(db, chat.id, 1, S19J, now=2.0)
    assert fleet_repo.line_alerts(db, chat.id) == [fleet_repo.LineAlert(None, 0.0)]


def test_a_migrated_chat_takes_its_fleet_and_tariffs(db: Connection) -> None:
    old = upsert_chat(db, "telegram", "-1", ChatKind.GROUP, now=0.0)
    fleet_repo.set_tariff(db, old.id, TEXAS, now=0.0)
    fleet_repo.add_line(db, old.id, S19J, now=0.0)
    fleet_repo.add_line(db, old.id, S21, now=0.0)
    new = upsert_chat(db, "telegram", "-100", ChatKind.SUPERGROUP, now=1.0)
    assert migrate_chat(db, old.id, "-100") == new.id
    assert fleet_repo.lines(db, new.id) == [S19J, S21]
    assert fleet_repo.tariffs(db, new.id) == {"texas": TEXAS}
    assert fleet_repo.lines(db, old.id) == []


def test_stored_profiles_migrate_to_one_line_fleets_without_loss(tmp_path: Path) -> None:
    """A database built at m006 (profiles table) opens at m007 with each profile as its chat's line 1."""
    old = Database(tmp_path / "old.db")
    migrations.apply(old, stop_before="m009_fleet")
    rows = [
        (1, "Antminer S19 XP", 140.0, 21.5, 3, 0.055, 2.0, 97.0, 1.05, 10.0),
        (2, None, None, 17.5, 1, 0.0712345678, 0.0, 100.0, 1.0, 20.0),
    ]
    for ref, *_ in rows:
        old.execute(
            """INSERT INTO chats (id, platform, chat_id, kind, created_at)
               VALUES (?, 'telegram', ?, 'private', 0)""",
            [ref, str(ref)],
        )
    old.conn.executemany(
        """INSERT INTO profiles (chat_ref, machine, hashrate_ths, j_per_th, count, power_usd_per_kwh,
               pool_fee_pct, uptime_pct, pue, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        rows,
    )
    old.execute("INSERT INTO subscriptions (chat_ref, kind, created_at) VALUES (1, 'network', 0)")
    old.conn.commit()
    old.close()
    db = connect(tmp_path / "old.db")
    assert "profiles" not in db.sqlite.table_names()
    assert get_profile(db, 1) == Profile(21.5, 0.055, 2.0, 97.0, 1.05, "Antminer S19 XP", 140.0, 3)
    assert get_profile(db, 2) == Profile(17.5, 0.0712345678, 0.0, 100.0, 1.0, None, None, 1)
    assert [len(fleet_repo.lines(db, ref)) for ref in (1, 2)] == [1, 1]
    assert [s.kind for s in list_for_chat(db, 1)] == [SubscriptionKind.NETWORK]
    indexes = {index.name for index in db.sqlite.table("subscriptions").indexes}
    assert {"subscriptions_armed_due", "subscriptions_rearm", "subscriptions_one_per_chat"} <= indexes
    db.execute("INSERT INTO subscriptions (chat_ref, kind, created_at) VALUES (2, 'fleet', 0)")
    db.close()
