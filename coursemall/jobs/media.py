"""Media pipeline worker loop: claim one transcoding job at a time and run it in a worker thread.

Started once per app worker by `app.register_lifespan_task`; several workers (or hosts sharing
the database and media dir) are safe because jobs are claimed with a compare-and-set lease
(services/media/transcode.py). COURSEMALL_MEDIA_WORKER=0 turns the loop off in this process (e.g. on
web-only hosts, or in tests).
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlmodel import Session

from coursemall.services.media import transcode, uploads

log = logging.getLogger("coursemall.jobs")

IDLE_SECONDS = 3.0
SWEEP_EVERY_SECONDS = 600.0  # abandoned uploads are cleaned this often (per worker; idempotent)


def run_once(owner: str) -> int | None:
    """One claim-and-run pass (blocking)."""
    from coursemall.db import get_engine
    from coursemall.settings import get_settings

    settings = get_settings()
    return transcode.process_one(get_engine(), media_dir=settings.media_dir, public_dir=settings.public_dir,
                                 timeout_seconds=settings.transcode_timeout_seconds, owner=owner)


def sweep_uploads() -> int:
    """Abort uploads left unfinished for a day and free their disk space; queue the preview clips
    and encrypted HLS that lessons lack (made before these existed). Blocking; idempotent."""
    from coursemall.db import get_engine
    from coursemall.settings import get_settings

    with Session(get_engine()) as session:
        expired = uploads.expire_stale_uploads(session, media_dir=get_settings().media_dir)
        transcode.queue_missing_work(session)
        return expired


async def media_jobs_loop(idle_seconds: float = IDLE_SECONDS) -> None:
    """Lifespan task: run jobs back to back; sleep `idle_seconds` when the queue is empty."""
    from coursemall.settings import get_settings

    if not get_settings().media_worker:
        return None
    owner = transcode.worker_id()
    last_sweep = 0.0
    while True:
        try:
            if time.monotonic() - last_sweep >= SWEEP_EVERY_SECONDS:
                last_sweep = time.monotonic()
                await asyncio.to_thread(sweep_uploads)
            handled = await asyncio.to_thread(run_once, owner)
        except Exception:  # noqa: BLE001 - keep the loop alive; the next pass retries
            log.exception("media job pass failed")
            handled = None
        if handled is None:
            await asyncio.sleep(idle_seconds)
