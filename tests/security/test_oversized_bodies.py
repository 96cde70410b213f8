"""Threat: filling the disk (or memory) with huge request bodies.

Every request passes `BodyLimitMiddleware` (the outermost api_transformer) before any route or
Reflex's own `/_upload` reads its body. A multi-gigabyte declared body is refused with 413 before
the app is called; a chunked body without a length is cut off at the cap: the app never sees a byte
more, no upload handler runs, nothing is written. The live-server test at the end sends the same
requests over a real socket to the production build.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coursemall.api import body_limit
from coursemall.api.body_limit import BodyLimitMiddleware, body_cap, upload_cap
from coursemall.services.learning import checkins, homework
from coursemall.services.media.uploads import CHUNK_MAX
from coursemall.settings import get_settings
from tests.e2e.fixtures import live_server  # noqa: F401  (shared, one server per process)

MiB = 1024 * 1024


class Spy:
    """An app behind the middleware: counts the body bytes it is given and whether a handler ran."""

    def __init__(self, tmp: Path) -> None:
        self.bytes_seen = 0
        self.handler_ran = False
        self.tmp = tmp

    def app(self) -> Starlette:
        async def upload(request: Request) -> Response:
            try:
                form = await request.form()  # Starlette spools big parts to temporary files
            except ClientDisconnect:
                return Response(status_code=400)
            self.handler_ran = True
            for f in form.getlist("files"):
                (self.tmp / f.filename).write_bytes(await f.read())
            await form.close()
            return JSONResponse({"ok": True})

        async def sink(request: Request) -> Response:
            body = await request.body()
            self.handler_ran = True
            return JSONResponse({"len": len(body)})

        inner = Starlette(routes=[Route("/_upload", upload, methods=["POST"]),
                                  Route("/api/uploads/{key}", sink, methods=["PUT"]),
                                  Route("/api/pay/notify/{channel}", sink, methods=["POST"]),
                                  Route("/api/anything", sink, methods=["POST"])])

        async def counting(scope, receive, send):
            async def counted():
                message = await receive()
                if message["type"] == "http.request":
                    self.bytes_seen += len(message.get("body", b""))
                return message
            await inner(scope, counted, send)

        return BodyLimitMiddleware(counting)


async def call(app, method: str, path: str, chunks: list[bytes], *, declared: int | None = None,
               headers: list[tuple[bytes, bytes]] = ()) -> tuple[int, bytes, int]:
    """Drive the ASGI app like a server: (status, body, chunks the app pulled)."""
    hdrs = list(headers)
    if declared is not None:
        hdrs.append((b"content-length", str(declared).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "path": path, "raw_path": path.encode(), "query_string": b"", "headers": hdrs,
             "client": ("203.0.113.5", 4444), "server": ("testserver", 80), "scheme": "http",
             "root_path": ""}
    pending = list(chunks)
    pulled = 0
    out: dict = {"status": None, "body": b""}

    async def receive():
        nonlocal pulled
        if not pending:
            return {"type": "http.disconnect"}
        pulled += 1
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], out["body"], pulled


def multipart(size: int, boundary: str = "XyZ") -> list[bytes]:
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = [head]
    left = size
    while left > 0:
        n = min(MiB, left)
        body.append(b"\x89" * n)
        left -= n
    body.append(tail)
    return body


MP = [(b"content-type", b"multipart/form-data; boundary=XyZ")]


def test_caps_per_route_family():
    assert upload_cap() >= max(get_settings().avatar_max_bytes,
                               checkins.PHOTO_MAX_BYTES * homework.MAX_IMAGES)
    assert upload_cap() < 64 * MiB  # images only: nowhere near a video
    assert body_cap("POST", "/_upload") == upload_cap()
    assert body_cap("PUT", "/api/uploads/abc") == CHUNK_MAX
    assert body_cap("POST", "/api/pay/notify/wechat") == 64 * 1024
    assert body_cap("POST", "/api/uploads") == 64 * 1024  # the JSON create call
    assert body_cap("POST", "/anything/else") == 64 * 1024
    assert body_cap("GET", "/_upload/some-file") == 64 * 1024


async def test_multi_gigabyte_declared_upload_is_refused_before_the_app_runs(tmp_path):
    spy = Spy(tmp_path)
    status, body, pulled = await call(spy.app(), "POST", "/_upload", [b"x" * 1024],
                                      declared=5 * 1024**3, headers=MP)
    assert status == 413
    answer = json.loads(body)
    assert answer["ok"] is False and "请求内容过大" in answer["error"]
    assert pulled == 0 and spy.bytes_seen == 0 and not spy.handler_ran
    assert list(tmp_path.iterdir()) == []


async def test_chunked_upload_without_length_is_cut_off_at_the_cap(tmp_path):
    spy = Spy(tmp_path)
    chunks = multipart(upload_cap() + 4 * MiB)
    status, body, pulled = await call(spy.app(), "POST", "/_upload", chunks, headers=MP)
    assert status == 413
    assert spy.bytes_seen <= upload_cap()  # not one byte past the cap reached the form parser
    assert pulled < len(chunks)  # the rest was never even read from the client
    assert not spy.handler_ran
    assert list(tmp_path.iterdir()) == []


async def test_an_upload_within_the_cap_passes_intact(tmp_path):
    spy = Spy(tmp_path)
    status, body, _ = await call(spy.app(), "POST", "/_upload", multipart(3 * MiB), headers=MP)
    assert status == 200 and spy.handler_ran
    assert (tmp_path / "a.png").stat().st_size == 3 * MiB


@pytest.mark.parametrize("path,method,cap", [
    ("/api/uploads/k1", "PUT", CHUNK_MAX),
    ("/api/pay/notify/alipay", "POST", 64 * 1024),
    ("/api/anything", "POST", 64 * 1024),
])
async def test_other_routes_refuse_declared_and_streamed_excess(tmp_path, path, method, cap):
    spy = Spy(tmp_path)
    status, _, _ = await call(spy.app(), method, path, [b"x"], declared=cap + 1)
    assert (status, spy.bytes_seen, spy.handler_ran) == (413, 0, False)
    spy = Spy(tmp_path)
    pieces = [b"y" * 65536] * (cap // 65536 + 2)
    status, _, _ = await call(spy.app(), method, path, pieces)
    assert status == 413 and spy.bytes_seen <= cap and not spy.handler_ran
    spy = Spy(tmp_path)
    status, body, _ = await call(spy.app(), method, path, [b"z" * 1000], declared=1000)
    assert status == 200 and json.loads(body) == {"len": 1000}


async def test_malformed_length_is_refused(tmp_path):
    spy = Spy(tmp_path)
    scope_headers = [(b"content-length", b"12abc")]
    status, _, _ = await call(spy.app(), "POST", "/api/anything", [b"x"], headers=scope_headers)
    assert status == 413 and not spy.handler_ran


async def test_message_follows_the_viewers_language(tmp_path):
    spy = Spy(tmp_path)
    _, body, _ = await call(spy.app(), "POST", "/_upload", [b"x"], declared=10**10,
                            headers=[(b"cookie", b"cm_lang=en")])
    assert json.loads(body)["error"].startswith("Request too large (at most ")


def test_the_app_puts_the_cap_outside_everything():
    """Reflex applies api_transformers in order: the API Starlette mounts the Reflex app (with its
    /_upload route), then each callable wraps the result. The cap must be the last one."""
    from coursemall.coursemall import app

    transformers = app.api_transformer
    assert isinstance(transformers, list) and transformers[-1] is BodyLimitMiddleware
    assert body_limit.UPLOAD_PATH == "/_upload"


# ---- the real server -------------------------------------------------------------------------

def _raw_request(base_url: str, head: str, body_chunks=(), chunked: bool = False) -> int:
    """Send a raw HTTP/1.1 request and return the status the server answers with."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in body_chunks:
                if chunked:
                    sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                else:
                    sock.sendall(chunk)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending: expected
        sock.settimeout(30)
        data = b""
        while b"\r\n" not in data:
            piece = sock.recv(4096)
            if not piece:
                break
            data += piece
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def _file_count(*roots: Path) -> int:
    return sum(1 for root in roots if root.exists() for p in root.rglob("*") if p.is_file())


@pytest.mark.e2e
def test_live_server_refuses_huge_uploads(live_server):
    from tests.e2e import server

    data_dir = server._shop.data_dir if server._shop is not None and server._shop.data_dir else None
    roots = [server.ROOT / "uploaded_files"]  # Reflex's upload dir
    if data_dir is not None:
        roots += [data_dir / "public", data_dir / "media"]
    from coursemall.state.accounts.sign_in import ProfileState

    handler = f"{ProfileState.get_full_name()}.upload_avatar"  # a real upload handler: Reflex reads the body
    before = _file_count(*roots)
    started = time.monotonic()
    head = ("POST /_upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
            f"Reflex-Client-Token: t\r\nReflex-Event-Handler: {handler}\r\n"
            f"Content-Length: {5 * 1024**3}\r\n\r\n")
    assert _raw_request(live_server, head, [b"x" * 65536]) == 413
    head = ("POST /_upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
            f"Reflex-Client-Token: t\r\nReflex-Event-Handler: {handler}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n")
    assert _raw_request(live_server, head, multipart(upload_cap() + 8 * MiB), chunked=True) == 413
    head = ("PUT /api/uploads/nokey?offset=0 HTTP/1.1\r\nHost: localhost\r\n"
            f"Content-Length: {2 * 1024**3}\r\n\r\n")
    assert _raw_request(live_server, head, [b"x" * 65536]) == 413
    assert time.monotonic() - started < 60
    assert _file_count(*roots) == before
