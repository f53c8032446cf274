"""Replicas on one PostgreSQL: which one leads (``bot.cluster.leader``); this module is light (the CLI
imports it)."""

from __future__ import annotations

EXIT_DEPOSED = 75
"""``minerwatch run``'s exit code after this replica lost the lead: ``EX_TEMPFAIL`` of BSD ``sysexits.h``, so
the supervisor (systemd ``Restart=on-failure``, compose ``restart: unless-stopped``) starts it again, as a
standby."""


class LeadershipLostError(Exception):
    """This replica led and lost the lock; it stopped sending and exits so a fresh start stands by."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"this replica lost the lead ({reason}); it stopped sending and exits so it restarts as a standby"
        )
