"""Learning reminders loop (issue 4: being built)."""

from __future__ import annotations


async def learning_jobs_loop() -> None:
    """Lifespan task: "not studied for N days" reminders (being built)."""
    return None
