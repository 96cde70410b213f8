"""Chunked media uploads for the dashboard. JSON in, JSON out; the uploader script on
/admin/lessons/<id>/media drives it.

POST   /api/uploads                       {"lesson_id", "filename", "size"} -> 201 {"upload_key", "chunk_max", ...}
GET    /api/uploads/{key}                 -> {"received", "size", "status", ...}   (resume point)
PUT    /api/uploads/{key}?offset=N        raw bytes (<= 8 MiB), N = bytes already received
POST   /api/uploads/{key}/complete        -> probe, MediaAsset + MediaJob, or a clear refusal
DELETE /api/uploads/{key}                 cancel

Who: the `cm_session` cookie of an owner/staff with a TOTP-verified session or an approved
instructor (api/_dashboard_auth.py); the services then require that the actor manages the
lesson's course (a foreign lesson is 404). CSRF: every request needs the custom header
`X-CourseMall-Upload: 1` (a cross-site form cannot send it, and a cross-site fetch with it needs a
CORS preflight we never grant) and, for writes, an Origin of this site.
Errors are {"ok": false, "code", "error"} with the message in the viewer's language (cm_lang).
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coursemall.api._dashboard_auth import dashboard_actor_for_token, session_token
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.i18n import normalize_lang, t
from coursemall.services.media import uploads
from coursemall.settings import get_settings

CSRF_HEADER = "x-coursemall-upload"
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_MAX_JSON = 4096
_STATUS = {"error.not_found": 404, "upload.sign_in": 403, "error.forbidden": 403, "upload.csrf": 403,
           "upload.too_large": 413, "upload.chunk_too_large": 413, "upload.bad_offset": 409,
           "upload.busy": 409, "upload.not_open": 409, "upload.incomplete": 409}


def _json(request: Request, http_status: int, **body: object) -> JSONResponse:
    return JSONResponse(body, status_code=http_status, headers=_HEADERS)


def _error(request: Request, code: str, **params: object) -> JSONResponse:
    lang = normalize_lang(request.cookies.get("cm_lang"))
    return _json(request, _STATUS.get(code, 400), ok=False, code=code, error=t(code, lang, **params))


def _same_origin(request: Request) -> bool:
    """The Origin must be this site: the configured public origin or the Host the browser used."""
    origin = request.headers.get("origin", "")
    if not origin or origin == "null":
        return False
    if origin.rstrip("/") == get_settings().public_base_url:
        return True
    return urlparse(origin).netloc == request.headers.get("host", "")


def _csrf_ok(request: Request) -> bool:
    if request.headers.get(CSRF_HEADER) != "1":
        return False
    return request.method in ("GET", "HEAD") or _same_origin(request)


def _call(token: str, fn, **kwargs):
    """Run a service as the cookie's dashboard user (in a worker thread)."""
    with session_scope() as s:
        actor = dashboard_actor_for_token(s, token)
        if actor is None:
            raise DomainError("upload.sign_in")
        settings = get_settings()
        return fn(s, actor_id=actor.user_id, media_dir=settings.media_dir, **kwargs)


def _view_body(view: uploads.UploadView, lang: str) -> dict:
    return {"ok": view.status not in ("failed", "aborted"), "upload_key": view.upload_key, "status": view.status,
            "size": view.size_bytes, "received": view.received_bytes, "chunk_max": uploads.CHUNK_MAX,
            "asset_id": view.media_asset_id, "job_id": view.job_id,
            "code": view.error, "error": t(view.error, lang) if view.error else ""}


async def _run(request: Request, fn, *, created: bool = False, **kwargs) -> Response:
    if not _csrf_ok(request):
        return _error(request, "upload.csrf")
    try:
        view = await run_in_threadpool(_call, session_token(request), fn, **kwargs)
    except DomainError as exc:
        return _error(request, exc.code, **exc.params)
    body = _view_body(view, normalize_lang(request.cookies.get("cm_lang")))
    code = 201 if created else (422 if view.status == "failed" else 200)
    return _json(request, code, **body)


async def _read_json(request: Request) -> dict | None:
    raw = await request.body()
    if len(raw) > _MAX_JSON:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def create(request: Request) -> Response:
    if not _csrf_ok(request):
        return _error(request, "upload.csrf")
    data = await _read_json(request)
    if data is None:
        return _error(request, "upload.bad_json")
    settings = get_settings()
    return await _run(request, uploads.create_upload, created=True, lesson_id=data.get("lesson_id"),
                      filename=data.get("filename"), size_bytes=data.get("size"),
                      max_bytes=settings.upload_max_bytes)


async def status(request: Request) -> Response:
    return await _run(request, uploads.upload_status, upload_key=request.path_params["key"])


def _offset(request: Request) -> int | None:
    raw = request.query_params.get("offset", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 15 else None


async def _read_chunk(request: Request) -> bytes | None:
    """The body, or None when it is bigger than a chunk (stops reading early)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > uploads.CHUNK_MAX:
        return None
    parts, total = [], 0
    async for piece in request.stream():
        total += len(piece)
        if total > uploads.CHUNK_MAX:
            return None
        parts.append(piece)
    return b"".join(parts)


async def put_chunk(request: Request) -> Response:
    if not _csrf_ok(request):
        return _error(request, "upload.csrf")
    offset = _offset(request)
    if offset is None:
        return _error(request, "upload.bad_offset", expected="?")
    try:
        data = await _read_chunk(request)
    except ClientDisconnect:
        return _error(request, "upload.empty_chunk")
    if data is None:
        return _error(request, "upload.chunk_too_large", max_mb=uploads.CHUNK_MAX // (1024 * 1024))
    return await _run(request, uploads.write_chunk, upload_key=request.path_params["key"], offset=offset, data=data)


async def complete(request: Request) -> Response:
    return await _run(request, uploads.complete_upload, upload_key=request.path_params["key"])


async def cancel(request: Request) -> Response:
    return await _run(request, uploads.cancel_upload, upload_key=request.path_params["key"])


ROUTES = [
    Route("/api/uploads", create, methods=["POST"]),
    Route("/api/uploads/{key}", status, methods=["GET"]),
    Route("/api/uploads/{key}", put_chunk, methods=["PUT"]),
    Route("/api/uploads/{key}", cancel, methods=["DELETE"]),
    Route("/api/uploads/{key}/complete", complete, methods=["POST"]),
]
