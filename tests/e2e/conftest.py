"""Browser journeys against the production build of this checkout (see tests/e2e/server.py).

Every test here is marked `e2e`. The server starts once per test process: data/e2e is wiped,
migrated and seeded, then `reflex run --env prod --single-port` serves it on a free port
(3107 or above). COURSEMALL_E2E_BASE_URL=http://localhost:PORT reuses a shop already running.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.fixtures import browser, desktop, live_server, page, phone, shop_db  # noqa: F401

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
