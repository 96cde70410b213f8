"""Owner-area API: manual-transfer proof images, served privately.

GET /api/admin/manual-proof/{id}  the proof image of manual payment `id` for owner/staff only.
    The viewer comes from the HttpOnly `cm_session` cookie (resolved in the server-side session
    store, api/_dashboard_auth.py): owner or staff whose session passed TOTP, like the dashboard
    handlers; the image is read from the private media dir by `manual_pay.read_manual_proof`.
    Anyone else (anonymous, learners, instructors, revoked or unverified sessions) gets 403; an
    unknown id 404 for staff.
    Proofs are never in a public folder and never cached by shared caches.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coursemall.api._dashboard_auth import dashboard_actor_for_token, session_token
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.validation import parse_id
from coursemall.services.commerce import manual_pay

PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}


def _text(body: str, status: int) -> Response:
    return Response(body, status_code=status, media_type="text/plain", headers=PRIVATE)


def _read(token: str, raw_id: str) -> tuple[int, bytes, str]:
    """(status, body, media type) for the proof request; runs in a worker thread."""
    with session_scope() as s:
        # owner/staff with a TOTP-verified session, as for the dashboard handlers
        actor = dashboard_actor_for_token(s, token, kind="staff_required")
        if actor is None:
            return 403, b"", ""
        try:
            mp_id = parse_id(raw_id)
            data, media_type = manual_pay.read_manual_proof(s, actor_id=actor.user_id, manual_payment_id=mp_id)
        except DomainError as exc:
            return (403 if exc.code in ("error.forbidden", "error.sign_in_required") else 404), b"", ""
    return 200, data, media_type


async def manual_proof(request: Request) -> Response:
    token = session_token(request)
    status, data, media_type = await run_in_threadpool(_read, token, request.path_params["mp_id"])
    if status == 200:
        return Response(data, media_type=media_type, headers=PRIVATE)
    return _text("forbidden" if status == 403 else "not found", status)


ROUTES = [Route("/api/admin/manual-proof/{mp_id}", manual_proof, methods=["GET"])]
