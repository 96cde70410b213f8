"""The event websocket only accepts the shop's own Origin (cors_allowed_origins from the public URL).

Reflex 0.10.1 mounts its socket.io server at /_event (engine.io path "/_event", namespace
"/_event", websocket transport only). A page on another site that opens this socket with the
visitor's cookies must be refused during the handshake.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

import aiohttp
import pytest
import socketio

from tests.e2e.fixtures import live_server  # noqa: F401  (shared, one server per process)

pytestmark = pytest.mark.e2e

EVENT_PATH = "/_event"


async def _try_connect(base_url: str, origin: str | None) -> tuple[bool, str]:
    client = socketio.AsyncClient(reconnection=False)
    headers = {"Origin": origin} if origin else {}
    try:
        await client.connect(base_url, headers=headers, transports=["websocket"],
                             socketio_path=EVENT_PATH, namespaces=[EVENT_PATH], wait_timeout=10)
    except socketio.exceptions.ConnectionError as exc:
        return False, str(exc)
    finally:
        if not client.connected and client.eio.http is not None and not client.eio.http.closed:
            await client.eio.http.close()  # the refused client leaves its aiohttp session open
    try:
        return client.connected and EVENT_PATH in client.namespaces, "connected"
    finally:
        await client.disconnect()
        if client.eio.http is not None and not client.eio.http.closed:
            await client.eio.http.close()


async def _raw_handshake(base_url: str, origin: str) -> str:
    """The engine.io websocket handshake itself: 'open' or the HTTP status it was refused with."""
    url = base_url.replace("http://", "ws://", 1) + f"{EVENT_PATH}/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, headers={"Origin": origin},
                                       timeout=aiohttp.ClientWSTimeout(ws_close=10)) as ws:
                msg = await ws.receive(timeout=10)
                return "open" if str(msg.data).startswith("0{") else f"unexpected {msg.data!r}"
        except aiohttp.WSServerHandshakeError as exc:
            return str(exc.status)


def _raw(base_url: str, origin: str) -> str:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _raw_handshake(base_url, origin)).result(timeout=60)


def _connect(base_url: str, origin: str | None) -> tuple[bool, str]:
    # A thread of its own: no clash with pytest-asyncio's or Playwright's event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _try_connect(base_url, origin)).result(timeout=60)


def test_own_origin_connects(live_server):
    ok, detail = _connect(live_server, live_server)
    assert ok, f"the shop's own origin was refused: {detail}"


@pytest.mark.parametrize("origin", [
    "http://evil.example",
    "https://evil.example",
    "null",
    "http://localhost.evil.example",
])
def test_foreign_origin_is_refused(live_server, origin):
    ok, detail = _connect(live_server, origin)
    assert not ok, f"websocket from Origin {origin} was accepted"


def test_handshake_is_refused_before_upgrade(live_server):
    """The refusal happens in the HTTP upgrade (no websocket, no event processed)."""
    assert _raw(live_server, live_server) == "open"
    status = _raw(live_server, "http://evil.example")
    assert status.isdigit() and 400 <= int(status) < 500, status


def test_same_host_other_port_is_refused(live_server):
    host, port = live_server.rsplit(":", 1)
    ok, _ = _connect(live_server, f"{host}:{int(port) + 1}")
    assert not ok, "an origin on another port of the same host must be refused"


def test_other_scheme_is_refused(live_server):
    ok, _ = _connect(live_server, live_server.replace("http://", "https://", 1))
    assert not ok
