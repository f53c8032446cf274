"""A replica's leader election alone, as a process the tests SIGKILL and SIGSTOP (run as a script).

``election_worker.py URL RENEW_S RETRY_S IDLE_SESSION_TIMEOUT_S``: campaign for the lock; print
``leader <unix time>`` once this process leads and ``lost <reason>`` once it lost the lead (then exit 3).
"""

from __future__ import annotations

import asyncio
import sys
import time

from bot.cluster.leader import LeaderElection


async def main(url: str, renew_s: float, retry_s: float, idle_s: float) -> int:
    election = LeaderElection(url, renew_s=renew_s, retry_s=retry_s, idle_session_timeout_s=idle_s)
    stop = asyncio.Event()
    running = asyncio.create_task(election.run(stop))
    await election.elected.wait()
    print(f"leader {time.time():.3f}", flush=True)
    await election.lost.wait()
    print(f"lost {election.lost_reason}", flush=True)
    await running
    return 3


if __name__ == "__main__":
    url, renew, retry, idle = sys.argv[1:5]
    sys.exit(asyncio.run(main(url, float(renew), float(retry), float(idle))))
