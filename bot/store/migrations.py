"""Schema migrations (sqlite-utils built-in ``Migrations``); append new ones, never edit applied ones.

Times are Unix seconds (REAL); JSON columns hold UTF-8 JSON text; booleans are 0/1 integers.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("minerwatch")


def _run(db: Database, *statements: str) -> None:
    for statement in statements:
        db.execute(statement)


@migrations()
def m001_chats_and_profiles(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE chats (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            kind TEXT NOT NULL
                CHECK (kind IN ('private', 'group', 'supergroup', 'channel', 'dm', 'console')),
            language TEXT NOT NULL DEFAULT 'en',
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            reason TEXT,
            created_at REAL NOT NULL,
            UNIQUE (platform, chat_id)
        )""",
        """CREATE TABLE profiles (
            chat_ref INTEGER PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
            machine TEXT,
            hashrate_ths REAL,
            j_per_th REAL NOT NULL,
            count INTEGER NOT NULL DEFAULT 1,
            power_usd_per_kwh REAL NOT NULL,
            pool_fee_pct REAL NOT NULL,
            uptime_pct REAL NOT NULL,
            pue REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
    )


@migrations()
def m002_subscriptions(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            chat_ref INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('threshold', 'network', 'margin_warning')),
            metric TEXT,
            op TEXT CHECK (op IN ('below', 'above')),
            threshold REAL,
            band REAL,
            repeat INTEGER NOT NULL DEFAULT 0 CHECK (repeat IN (0, 1)),
            min_interval_s INTEGER NOT NULL DEFAULT 0,
            key_metric TEXT,
            key_op TEXT CHECK (key_op IN ('below', 'above')),
            key_threshold REAL,
            key_rearm REAL,
            armed INTEGER NOT NULL DEFAULT 1 CHECK (armed IN (0, 1)),
            quiet_until REAL NOT NULL DEFAULT 0,
            last_fired_at REAL,
            fire_count INTEGER NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at REAL NOT NULL
        )""",
        """CREATE INDEX subscriptions_fire
            ON subscriptions (key_metric, key_op, active, armed, key_threshold)""",
        """CREATE INDEX subscriptions_rearm
            ON subscriptions (key_metric, key_op, active, armed, key_rearm)""",
        # Disarmed "repeat" rules fire again while they hold: a small partial index finds them.
        """CREATE INDEX subscriptions_repeat
            ON subscriptions (key_metric, key_op, key_threshold) WHERE repeat = 1 AND active = 1""",
        "CREATE INDEX subscriptions_chat ON subscriptions (chat_ref)",
        "CREATE INDEX subscriptions_kind ON subscriptions (kind, active)",
        # At most one network and one margin-warning subscription per chat.
        """CREATE UNIQUE INDEX subscriptions_one_per_chat
            ON subscriptions (chat_ref, kind) WHERE kind != 'threshold'""",
    )


@migrations()
def m003_market_data(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            taken_at REAL NOT NULL,
            price_usd REAL NOT NULL,
            difficulty REAL NOT NULL,
            height INTEGER NOT NULL,
            fees_per_block_btc REAL NOT NULL,
            hashrate_hs REAL,
            adjustment TEXT,
            outcomes TEXT NOT NULL,
            stale INTEGER NOT NULL DEFAULT 0 CHECK (stale IN (0, 1))
        )""",
        "CREATE INDEX snapshots_taken_at ON snapshots (taken_at)",
        """CREATE TABLE daily (
            date TEXT PRIMARY KEY,
            price_usd REAL NOT NULL,
            difficulty REAL NOT NULL,
            hashrate_ths REAL,
            issuance_btc REAL,
            source TEXT NOT NULL
        )""",
        "CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            occurred_at REAL NOT NULL,
            data TEXT NOT NULL
        )""",
    )


@migrations()
def m004_outbox(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dedupe_key TEXT NOT NULL UNIQUE,
            chat_ref INTEGER NOT NULL REFERENCES chats (id),
            platform TEXT NOT NULL,
            destination TEXT NOT NULL,
            event_kind TEXT NOT NULL,
            text TEXT NOT NULL,
            image BLOB,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'dropped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            created_at REAL NOT NULL,
            sent_at REAL
        )""",
        "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
        "CREATE INDEX outbox_destination ON outbox (destination, status, id)",
        "CREATE INDEX outbox_chat ON outbox (chat_ref, status)",
    )


@migrations()
def m005_fees_may_be_unknown(db: Database) -> None:
    """``snapshots.fees_per_block_btc`` becomes nullable: NULL = no source knew the fees.

    Before this, the fall-back sources stored an unknown as exactly 0; a mean over 144 real blocks is never
    exactly 0, so those rows are marked unknown.
    """
    db.table("snapshots").transform(not_null={"fees_per_block_btc": False})
    db.execute("UPDATE snapshots SET fees_per_block_btc = NULL WHERE fees_per_block_btc = 0")


@migrations()
def m006_outbox_expired(db: Database) -> None:
    """Status ``expired`` (undelivered past the alert expiry); SQLite cannot alter a CHECK, so the table is
    rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter), keeping ids and the AUTOINCREMENT
    counter. Index ``outbox_sent`` lets the retention job find old sent rows without a scan."""
    _run(
        db,
        """CREATE TABLE outbox_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dedupe_key TEXT NOT NULL UNIQUE,
            chat_ref INTEGER NOT NULL REFERENCES chats (id),
            platform TEXT NOT NULL,
            destination TEXT NOT NULL,
            event_kind TEXT NOT NULL,
            text TEXT NOT NULL,
            image BLOB,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'dropped', 'expired')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            created_at REAL NOT NULL,
            sent_at REAL
        )""",
        "INSERT INTO outbox_new SELECT * FROM outbox",
        "DELETE FROM sqlite_sequence WHERE name = 'outbox_new'",
        """INSERT INTO sqlite_sequence (name, seq)
            SELECT 'outbox_new', seq FROM sqlite_sequence WHERE name = 'outbox'""",
        "DROP TABLE outbox",
        "ALTER TABLE outbox_new RENAME TO outbox",
        "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
        "CREATE INDEX outbox_destination ON outbox (destination, status, id)",
        "CREATE INDEX outbox_chat ON outbox (chat_ref, status)",
        "CREATE INDEX outbox_sent ON outbox (status, sent_at)",
    )


@migrations()
def m007_quiet_rules_out_of_the_scan(db: Database) -> None:
    """Rules inside their minimum interval leave the firing indexes, so evaluation costs what fires.

    ``quiet = 1`` marks a rule whose ``quiet_until`` may still be ahead; each evaluation first clears it on
    the rules whose quiet period has ended (partial index ``subscriptions_quiet``, ordered by time). The
    firing indexes are partial on ``quiet = 0``: a rule resting in its quiet period (a holding ``repeat``
    rule between two firings) is no longer read on every snapshot. Rules that ever fired start quiet and
    are woken by the first evaluation after their ``quiet_until``.
    """
    _run(
        db,
        "ALTER TABLE subscriptions ADD COLUMN quiet INTEGER NOT NULL DEFAULT 0 CHECK (quiet IN (0, 1))",
        "UPDATE subscriptions SET quiet = 1 WHERE quiet_until > 0",
        "DROP INDEX subscriptions_fire",
        "DROP INDEX subscriptions_repeat",
        """CREATE INDEX subscriptions_armed_due ON subscriptions (key_metric, key_op, key_threshold)
            WHERE active = 1 AND armed = 1 AND quiet = 0""",
        """CREATE INDEX subscriptions_repeat_due ON subscriptions (key_metric, key_op, key_threshold)
            WHERE repeat = 1 AND active = 1 AND armed = 0 AND quiet = 0""",
        "CREATE INDEX subscriptions_quiet ON subscriptions (quiet_until) WHERE quiet = 1",
    )


@migrations()
def m008_outbox_priority_and_fanouts(db: Database) -> None:
    """Outbox ``priority`` (0 command reply, 1 personal alert, 2 broadcast; lower goes first) with the claim
    index, and ``fanouts``: a network event still being turned into outbox rows, chunk by chunk, with the
    last chat done, so a restart resumes it. Rows queued before this are personal unless their event kind
    goes to every subscriber."""
    _run(
        db,
        "ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 1 CHECK (priority IN (0, 1, 2))",
        """UPDATE outbox SET priority = 2 WHERE event_kind IN ('regime_capitulation', 'regime_recovery',
            'ribbons_capitulation', 'ribbons_recovery', 'ribbons_buy', 'retarget', 'data_stale',
            'data_fresh')""",
        "CREATE INDEX outbox_claim ON outbox (status, priority, next_attempt_at, id)",
        """CREATE TABLE fanouts (
            id INTEGER PRIMARY KEY,
            event TEXT NOT NULL,
            audience TEXT NOT NULL CHECK (audience IN ('network', 'subscribed')),
            after_chat_ref INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        )""",
    )


@migrations()
def m009_fleet(db: Database) -> None:
    """A chat's fleet: ``fleet_lines`` (machine x count on a power price or a named tariff, with the line's
    switch-off alert state) and ``tariffs``; every stored profile becomes that chat's one-line fleet, and
    ``profiles`` goes. Subscriptions gain the kind ``fleet`` (a rebuilt table: SQLite cannot alter a
    CHECK, https://www.sqlite.org/lang_altertable.html#otheralter)."""
    _run(
        db,
        """CREATE TABLE tariffs (
            chat_ref INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            base_usd_per_kwh REAL NOT NULL,
            periods TEXT NOT NULL DEFAULT '[]',
            timezone TEXT NOT NULL DEFAULT 'UTC',
            updated_at REAL NOT NULL,
            PRIMARY KEY (chat_ref, name)
        )""",
        """CREATE TABLE fleet_lines (
            id INTEGER PRIMARY KEY,
            chat_ref INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
            machine TEXT,
            hashrate_ths REAL,
            j_per_th REAL NOT NULL,
            count INTEGER NOT NULL DEFAULT 1,
            power_usd_per_kwh REAL,
            tariff TEXT,
            pool_fee_pct REAL NOT NULL,
            uptime_pct REAL NOT NULL,
            pue REAL NOT NULL,
            site TEXT,
            advice TEXT CHECK (advice IN ('run', 'switch off')),
            quiet_until REAL NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL,
            CHECK ((power_usd_per_kwh IS NULL) != (tariff IS NULL))
        )""",
        "CREATE INDEX fleet_lines_chat ON fleet_lines (chat_ref, id)",
        """INSERT INTO fleet_lines (chat_ref, machine, hashrate_ths, j_per_th, count, power_usd_per_kwh,
               pool_fee_pct, uptime_pct, pue, updated_at)
           SELECT chat_ref, machine, hashrate_ths, j_per_th, count, power_usd_per_kwh, pool_fee_pct,
               uptime_pct, pue, updated_at FROM profiles ORDER BY chat_ref""",
        "DROP TABLE profiles",
        """CREATE TABLE subscriptions_new (
            id INTEGER PRIMARY KEY,
            chat_ref INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('threshold', 'network', 'margin_warning', 'fleet')),
            metric TEXT,
            op TEXT CHECK (op IN ('below', 'above')),
            threshold REAL,
            band REAL,
            repeat INTEGER NOT NULL DEFAULT 0 CHECK (repeat IN (0, 1)),
            min_interval_s INTEGER NOT NULL DEFAULT 0,
            key_metric TEXT,
            key_op TEXT CHECK (key_op IN ('below', 'above')),
            key_threshold REAL,
            key_rearm REAL,
            armed INTEGER NOT NULL DEFAULT 1 CHECK (armed IN (0, 1)),
            quiet_until REAL NOT NULL DEFAULT 0,
            last_fired_at REAL,
            fire_count INTEGER NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at REAL NOT NULL,
            quiet INTEGER NOT NULL DEFAULT 0 CHECK (quiet IN (0, 1))
        )""",
        "INSERT INTO subscriptions_new SELECT * FROM subscriptions",
        "DROP TABLE subscriptions",
        "ALTER TABLE subscriptions_new RENAME TO subscriptions",
        """CREATE INDEX subscriptions_armed_due ON subscriptions (key_metric, key_op, key_threshold)
            WHERE active = 1 AND armed = 1 AND quiet = 0""",
        """CREATE INDEX subscriptions_rearm
            ON subscriptions (key_metric, key_op, active, armed, key_rearm)""",
        """CREATE INDEX subscriptions_repeat_due ON subscriptions (key_metric, key_op, key_threshold)
            WHERE repeat = 1 AND active = 1 AND armed = 0 AND quiet = 0""",
        "CREATE INDEX subscriptions_quiet ON subscriptions (quiet_until) WHERE quiet = 1",
        "CREATE INDEX subscriptions_chat ON subscriptions (chat_ref)",
        "CREATE INDEX subscriptions_kind ON subscriptions (kind, active)",
        """CREATE UNIQUE INDEX subscriptions_one_per_chat
            ON subscriptions (chat_ref, kind) WHERE kind != 'threshold'""",
    )
