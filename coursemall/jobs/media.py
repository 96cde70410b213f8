"""Media pipeline worker loop (issue 5: being built)."""

from __future__ import annotations


async def media_jobs_loop() -> None:
    """Lifespan task: claim and run transcoding jobs (being built)."""
    return None
