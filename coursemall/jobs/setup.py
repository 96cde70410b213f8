"""Start-up notice: a production shop that is not open yet says, on the console, how to open it.

`make run` / `make serve` print the setup link itself (`python -m coursemall banner`). A shop
started another way (e.g. `reflex run` under a service manager) gets this line from every worker;
it mints nothing, so workers cannot invalidate each other's links.
"""

from __future__ import annotations

import asyncio
import logging

from coursemall.db import session_scope
from coursemall.services.shop import setup
from coursemall.settings import get_settings

log = logging.getLogger("coursemall.setup")

NOTICE = ("CourseMall: the shop is NOT OPEN yet (checkout and the shop admin are closed). Open the "
          "setup link printed by `python -m coursemall banner`, or print a new one with "
          "`python -m coursemall setup-link`.")


def _is_open() -> bool:
    with session_scope() as s:
        return setup.shop_is_open(s)


async def setup_notice() -> None:
    """Lifespan task: print NOTICE once when the shop is not open."""
    if get_settings().demo:
        return
    try:
        is_open = await asyncio.to_thread(_is_open)
    except Exception:  # noqa: BLE001 - e.g. not migrated yet; the health route reports it
        log.warning("could not tell whether the shop is open", exc_info=True)
        return
    if not is_open:
        print(NOTICE, flush=True)
        log.warning("shop not open yet: run `python -m coursemall setup-link`")
