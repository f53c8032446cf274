"""Fail-over: two real ``minerwatch run`` replicas, the leader SIGKILLed again and again mid-fan-out.

Run: ``.venv/bin/python -m benchmarks.failover [--chats 1500] [--kills 5] [--kill-every 60] [--seed N]``
(``--json`` for one JSON object).
A throwaway PostgreSQL (initdb/pg_ctl, ``tests/fakes/postgres.py``) holds the leader election, the fake Bot
API (enforcing Telegram's limits) and the fake upstreams stand in for the network (``tests/e2e/failover.py``).
Each kill: SIGKILL the leader once ``--kill-every`` more chats got the alert; the killed replica restarts as
a standby, as its supervisor would. Printed: per kill the alerts sent before it, the outbox rows in flight,
the seconds until the standby leads and until it sends again; at the end sent, duplicates and lost. Each
kill uses up ``--kill-every`` chats plus those sent while the killed replica restarts (~100 at 30/s): give
``--chats`` about 200 per kill.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks._common import print_figures
from tests.e2e.failover import run_failover
from tests.fakes.postgres import PostgresServer
from tests.fakes.upstreams import FakeUpstreams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1500)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--kill-every", type=int, default=60)
    parser.add_argument("--seed", type=int, default=14, help="of the random delay before each kill")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with PostgresServer() as server, FakeUpstreams() as upstreams, tempfile.TemporaryDirectory() as work:
        outcome = run_failover(
            Path(work),
            server.create_database(),
            upstreams,
            chats=args.chats,
            kills=args.kills,
            kill_every=args.kill_every,
            within_s=300.0,
            random_seed=args.seed,
        )
    figures = {
        "chats": outcome.chats,
        "kills": len(outcome.kills),
        "sent": outcome.sent,
        "duplicates": outcome.duplicates,
        "lost": outcome.lost,
        "http_429": outcome.http_429,
        "in_flight_at_kills": [kill.in_flight for kill in outcome.kills],
        "took_over_s": [round(kill.took_over_s, 2) for kill in outcome.kills],
        "sent_again_s": [round(kill.resumed_s, 2) for kill in outcome.kills],
    }
    print_figures(figures, args.json, title="fail-over: SIGKILL of the leader mid-fan-out")


if __name__ == "__main__":
    main()
