"""Hourly purge of rate-limit counters whose window ended more than a day ago.

A plain DELETE by an indexed expiry: several workers running it at once delete each row once.
"""

from __future__ import annotations

import asyncio
import logging

from coursemall.services.rate_limit import purge_expired

log = logging.getLogger("coursemall.jobs")

PURGE_EVERY_SECONDS = 3600


def purge_once() -> int:
    from coursemall.db import session_scope

    with session_scope() as session:
        return purge_expired(session)


async def limits_jobs_loop() -> None:
    """Lifespan task: purge old counters every hour."""
    while True:
        try:
            await asyncio.to_thread(purge_once)
        except Exception:  # noqa: BLE001 - the next pass retries
            log.exception("rate-limit purge failed")
        await asyncio.sleep(PURGE_EVERY_SECONDS)
