"""A minimal asyncio client that speaks Reflex 0.10.1's event protocol, for load generation.

What a browser tab does (read from `.web/utils/state.js` / `context.jsx` and
`reflex/app.py:EventNamespace`), and what this client does on the wire:

- Engine.IO v4 over a plain websocket (the app serves only the websocket transport, no
  upgrades): `ws://host/_event/?EIO=4&transport=websocket&token=<tab token>`. The `token` query
  parameter is the tab's client token (a UUID the browser keeps in sessionStorage); the server
  links it to the socket in `on_connect`. The handshake carries the browser's headers: `Origin`
  (checked against `cors_allowed_origins`, i.e. the app's public URL) and `Cookie` (the shop
  reads its HttpOnly `cm_session` cookie from `router.headers.cookie` of the handshake).
- Socket.IO CONNECT to namespace `/_event` with an auth payload
  `{"event": <hydrate event>}`: the frontend puts its boot event
  (`reflex___state____state.hydrate_and_load`) into the CONNECT packet so the backend
  hydrates without another round trip. Without `state_schema` the schema check is skipped
  (as for an older frontend).
- Events: `42/_event,["event", {"name": <full handler name>, "payload": {...},
  "router_data": {"pathname": ..., "asPath": ...}}]`. The full name is the state's
  `get_full_name()` (module path with `.` -> `___`, class name snake-cased with `____`
  before it, parents joined by `.`) + `.` + handler name, e.g.
  `reflex___state____state.coursemall___state___base____app_state.toggle_lang`.
- Updates come back as `42/_event,["event", {"delta": {...}, "events": [...]}]`. Reflex
  0.10 no longer sends `final: true`; a handler's delta is emitted when it returns (only if
  some var changed). So the latency of one event = emit -> first update with a non-empty delta,
  which is exact as long as one event per client is in flight and the handler changes a
  frontend var (the counter, the language, the heartbeat's saved position ...).
- Engine.IO heartbeat: the server sends `2` (ping) every pingInterval, the client answers `3`.

No socket.io library is used on purpose: one `python-socketio` AsyncClient per simulated
learner costs several tasks and a session each, and the load generator shares the 2 cores
with the server under test.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

NAMESPACE = "/_event"
ROOT_STATE = "reflex___state____state"
HYDRATE = f"{ROOT_STATE}.hydrate_and_load"


def to_snake_case(text: str) -> str:
    """reflex_base.utils.format.to_snake_case (CamelCase -> camel_case; '-' -> '_')."""
    import re

    text = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", text)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", text).lower().replace("-", "_")


def state_name(module: str, cls: str) -> str:
    """BaseState.get_name(): module dots -> '___', then '___' + snake-cased class name."""
    return to_snake_case(f"{module.replace('.', '___')}___{cls}")


def handler_name(*states: tuple[str, str], handler: str) -> str:
    """Full event name: root state, then each (module, class) from the top down, then handler."""
    return ".".join([ROOT_STATE, *(state_name(m, c) for m, c in states), handler])


class ProtocolError(RuntimeError):
    pass


@dataclass
class ClientStats:
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    timeouts: int = 0
    errors: int = 0  # connect failures, disconnects, server error frames
    error_kinds: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


class ReflexClient:
    """One browser tab: one websocket, one client token, at most one event in flight."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, *, origin: str | None = None,
                 cookie: str = "", path: str = "/", query: dict[str, str] | None = None,
                 token: str | None = None,
                 user_agent: str = "coursemall-bench/1.0") -> None:
        self.http = session
        self.base_url = base_url.rstrip("/")
        self.origin = origin or self.base_url
        self.cookie = cookie
        self.path = path
        self.query = query or {}  # route params too, as the browser sends them (lesson_id ...)
        self.token = token or str(uuid.uuid4())
        self.user_agent = user_agent
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._waiter: asyncio.Future | None = None
        self._expect: tuple[str, str | None] | None = None  # (state key, var) the waiter wants
        self.closed = asyncio.Event()
        self.close_reason = ""
        self.updates = 0
        self.last_delta: dict[str, Any] = {}
        self.keep_deltas: list[dict] | None = None  # set to a list to record every delta
        self.events: list[dict] = []  # server-side events of the updates (redirects, scripts ...)
        self._expect_event: str | None = None  # the waiter also resolves on an event of this name

    @property
    def router_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"pathname": self.path.split("?")[0], "asPath": self.path}
        if self.query:
            data["query"] = self.query
        return data

    def event(self, name: str, payload: dict | None = None) -> dict:
        e: dict[str, Any] = {"name": name}
        if payload:
            e["payload"] = payload
        e["router_data"] = self.router_data
        return e

    async def connect(self, timeout: float = 30.0, hydrate: bool = True) -> float:
        """Open the socket, join the namespace (with the hydrate boot event); wait for the first
        delta of the hydrate when `hydrate`. Returns the seconds it took."""
        started = time.perf_counter()
        ws_url = self.base_url.replace("http", "ws", 1) + f"{NAMESPACE}/"
        headers = {"Origin": self.origin, "User-Agent": self.user_agent}
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.ws = await self.http.ws_connect(
            ws_url, params={"EIO": "4", "transport": "websocket", "token": self.token},
            headers=headers, timeout=aiohttp.ClientWSTimeout(ws_close=5.0), autoping=True,
            max_msg_size=0, compress=0)
        msg = await asyncio.wait_for(self.ws.receive(), timeout)
        if msg.type != aiohttp.WSMsgType.TEXT or not msg.data.startswith("0"):
            raise ProtocolError(f"expected an Engine.IO open packet, got {msg.type} {msg.data!r:.200}")
        auth = {"event": self.event(HYDRATE)} if hydrate else {}
        self._expect = None
        loop = asyncio.get_running_loop()
        joined: asyncio.Future = loop.create_future()
        self._waiter = loop.create_future() if hydrate else None
        self._reader = asyncio.create_task(self._read(joined))
        await self.ws.send_str(f"40{NAMESPACE}," + json.dumps(auth, separators=(",", ":")))
        await asyncio.wait_for(joined, timeout)
        if self._waiter is not None:
            await asyncio.wait_for(self._waiter, max(0.1, timeout - (time.perf_counter() - started)))
            self._waiter = None
        return time.perf_counter() - started

    async def _read(self, joined: asyncio.Future) -> None:
        prefix_event = f"42{NAMESPACE},"
        prefix_connect = f"40{NAMESPACE},"
        prefix_error = f"44{NAMESPACE},"
        ws = self.ws
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                    aiohttp.WSMsgType.ERROR):
                        break
                    continue
                data: str = msg.data
                if data == "2":  # Engine.IO ping -> pong
                    await ws.send_str("3")
                elif data.startswith(prefix_event):
                    name, body = json.loads(data[len(prefix_event):])[:2]
                    if name == "event":
                        self.updates += 1
                        delta = body.get("delta") or {}
                        events = [e for e in body.get("events") or [] if isinstance(e, dict)]
                        self.events.extend(events)
                        w = self._waiter
                        if (w is not None and not w.done() and self._expect_event is not None
                                and any(e.get("name") == self._expect_event for e in events)):
                            w.set_result(time.perf_counter())
                        if delta:
                            self.last_delta = delta
                            if self.keep_deltas is not None:
                                self.keep_deltas.append(delta)
                            w = self._waiter
                            if (w is not None and not w.done() and self._expect_event is None
                                    and self._matches(delta)):
                                w.set_result(time.perf_counter())
                    # other server events (new_token, state mismatch, ...) are ignored
                elif data.startswith(prefix_connect):
                    if not joined.done():
                        joined.set_result(True)
                elif data.startswith(prefix_error):
                    if not joined.done():
                        joined.set_exception(ProtocolError(f"connect refused: {data:.200}"))
                    break
                elif data.startswith(f"41{NAMESPACE}") or data == "1":
                    self.close_reason = "server disconnect"
                    break
        except (aiohttp.ClientError, asyncio.CancelledError, ConnectionError) as exc:
            self.close_reason = self.close_reason or type(exc).__name__
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.close_reason = self.close_reason or (f"closed {ws.close_code}" if ws else "closed")
            self.closed.set()
            for fut in (joined, self._waiter):
                if fut is not None and not fut.done():
                    fut.set_exception(ProtocolError(f"socket closed: {self.close_reason}"))

    def _matches(self, delta: dict) -> bool:
        if self._expect is None:
            return True
        key, var = self._expect
        sub = delta.get(key)
        return sub is not None and (var is None or var in sub)

    async def call(self, name: str, payload: dict | None = None, timeout: float = 10.0, *,
                   expect: str | None = None, expect_var: str | None = None,
                   expect_event: str | None = None) -> float:
        """Emit one event and wait for its delta; the latency in seconds.

        `expect` is the handler's state key (default: the event name without the handler), so
        a late on_load delta of another state is not taken for this event's; `expect_var`
        narrows it to one var; `expect_event` waits instead for an update carrying a server event
        of that name (e.g. `_redirect`, for handlers that only navigate). After a timeout the late
        delta is awaited (up to `timeout`) before the next event is sent, so it is not counted
        for the next one."""
        if self.closed.is_set() or self.ws is None:
            raise ProtocolError(f"socket closed: {self.close_reason}")
        if self._waiter is not None and not self._waiter.done():  # the late one of a timeout
            try:
                await asyncio.wait_for(asyncio.shield(self._waiter), timeout)
            except asyncio.TimeoutError:
                pass
        self._expect = (expect or name.rsplit(".", 1)[0], expect_var)
        self._expect_event = expect_event
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        frame = f"42{NAMESPACE}," + json.dumps(["event", self.event(name, payload)],
                                               separators=(",", ":"))
        started = time.perf_counter()
        await self.ws.send_str(frame)
        done = await asyncio.wait_for(asyncio.shield(waiter), timeout)  # waiter stays on timeout
        self._waiter = None
        return done - started

    async def send(self, name: str, payload: dict | None = None) -> None:
        """Emit one event without waiting for anything (see heartbeat_load's marker)."""
        if self.closed.is_set() or self.ws is None:
            raise ProtocolError(f"socket closed: {self.close_reason}")
        await self.ws.send_str(f"42{NAMESPACE}," + json.dumps(["event", self.event(name, payload)],
                                                              separators=(",", ":")))

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            try:
                await self.ws.send_str(f"41{NAMESPACE},")
                await self.ws.close()
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                pass
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                pass
