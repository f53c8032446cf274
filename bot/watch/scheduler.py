"""The one APScheduler 3.11 ``AsyncIOScheduler`` and how every job runs on it.

Job defaults are explicit
(https://apscheduler.readthedocs.io/en/3.x/userguide.html#missed-job-executions-and-coalescing):
APScheduler's own ``misfire_grace_time=1`` would
silently drop polls whenever the loop is busy for a second, so polls get a grace of half their interval;
``coalesce`` runs a backlog once; ``max_instances=1`` means a job never overlaps itself. A job that raises is
logged and counted and simply runs again at its next time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

JobFunc = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A repeating job: its name, coroutine function, interval and first run time."""

    name: str
    func: JobFunc
    every_s: float
    first_run_at: datetime | None = None


@dataclass
class JobStats:
    """Runs and failures per job name, for logs, /healthz and tests."""

    runs: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    last_error: dict[str, str] = field(default_factory=dict)


def _guarded(spec: JobSpec, stats: JobStats) -> JobFunc:
    async def run() -> None:
        stats.runs[spec.name] += 1
        try:
            await spec.func()
        except Exception as error:
            stats.failures[spec.name] += 1
            stats.last_error[spec.name] = f"{type(error).__name__}: {error}"
            log.exception("job %s failed; it runs again at its next time", spec.name)

    return run


def build_scheduler(specs: list[JobSpec], stats: JobStats, timezone: str = "UTC") -> AsyncIOScheduler:
    """An ``AsyncIOScheduler`` (bound to the running loop on ``start()``) holding the given jobs."""
    scheduler = AsyncIOScheduler(
        timezone=timezone, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
    )
    for spec in specs:
        scheduler.add_job(
            _guarded(spec, stats),
            IntervalTrigger(seconds=spec.every_s, timezone=timezone),
            id=spec.name,
            name=spec.name,
            next_run_time=spec.first_run_at,
            misfire_grace_time=max(1, int(spec.every_s / 2)),
            replace_existing=True,
        )
    return scheduler


async def finish_running_jobs(scheduler: AsyncIOScheduler, timeout_s: float) -> None:
    """Stop scheduling, then let the jobs already running finish (up to ``timeout_s``) before returning.

    APScheduler 3's ``shutdown(wait=True)`` cannot wait for coroutine jobs and its AsyncIOExecutor would
    cancel them mid-write; like python-telegram-bot's ``JobQueue.stop`` we wait on the executor's pending
    futures first (https://docs.python-telegram-bot.org/en/stable/telegram.ext.application.html).
    """
    scheduler.pause()
    executor = scheduler._lookup_executor("default")
    pending = set(getattr(executor, "_pending_futures", ()))
    if pending:
        await asyncio.wait(pending, timeout=timeout_s)
    scheduler.shutdown(wait=False)
