"""Payment gateway callbacks.

POST /api/pay/notify/{sandbox|alipay|wechat|wechat-refund}: the body is read (64 KiB max), then
verification and fulfilment run in a worker thread (`run_in_threadpool`): signature, app id,
merchant and amount are checked by the adapter and `apply_paid`; the provider gets its own
success / failure answer (Alipay `success`/`failure`, WeChat XML, sandbox `ok`/400). Rejections
are logged (reason and order number only, never keys or signatures) and recorded as unverified
payment events; nothing else changes.

GET /api/pay/return/{channel}?out_trade_no=...: where the gateway sends the browser back. It only
redirects to the order page (which calls `refresh_order_status`); it never grants anything.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.orders import parse_order_no
from coursemall.payments.base import Ack
from coursemall.services.commerce.payments import handle_notification
from coursemall.settings import get_settings

log = logging.getLogger("coursemall.api.pay")
MAX_BODY = 64 * 1024
NOTIFY_CHANNELS = ("sandbox", "alipay", "wechat", "wechat-refund")
RETURN_CHANNELS = ("sandbox", "alipay", "wechat")


def _run(channel: str, body: bytes, headers: dict[str, str]) -> Ack:
    with session_scope() as session:
        return handle_notification(session, channel=channel, body=body, headers=headers)


async def notify(request: Request) -> Response:
    channel = request.path_params["channel"]
    if channel not in NOTIFY_CHANNELS:
        return PlainTextResponse("not found", status_code=404)
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return PlainTextResponse("too large", status_code=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return PlainTextResponse("too large", status_code=413)
    try:
        ack = await run_in_threadpool(_run, channel, body, dict(request.headers))
    except DomainError as exc:  # channel not configured
        log.warning("notify for unavailable channel %s: %s", channel, exc.code)
        return PlainTextResponse("unavailable", status_code=404)
    except Exception:
        log.exception("notify %s failed", channel)
        return PlainTextResponse("error", status_code=500)  # the provider retries later
    return Response(ack.body, status_code=ack.status_code, media_type=ack.media_type)


async def pay_return(request: Request) -> Response:
    channel = request.path_params["channel"]
    base = get_settings().public_base_url
    if channel not in RETURN_CHANNELS:
        return PlainTextResponse("not found", status_code=404)
    try:
        order_no = parse_order_no(request.query_params.get("out_trade_no", ""))
    except DomainError:
        return RedirectResponse(base + "/", status_code=303)
    return RedirectResponse(f"{base}/order/{order_no}", status_code=303)


ROUTES = [
    Route("/api/pay/notify/{channel}", notify, methods=["POST"]),
    Route("/api/pay/return/{channel}", pay_return, methods=["GET"]),
]
