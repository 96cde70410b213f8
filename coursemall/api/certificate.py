"""GET /api/certificate/{code}.png: the public certificate image (the code is the secret; a
malformed or unknown code is a 404 without touching Pillow)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coursemall.db import session_scope
from coursemall.services.learning.certificates import certificate_png
from coursemall.settings import get_settings


def _render(code: str) -> bytes | None:
    settings = get_settings()
    with session_scope() as session:
        return certificate_png(session, code, shop_name=settings.shop_name, base_url=settings.public_base_url)


async def certificate_image(request: Request) -> Response:
    code = request.path_params.get("code", "")
    if not isinstance(code, str) or len(code) > 24:
        return Response("not found", status_code=404, media_type="text/plain")
    png = await run_in_threadpool(_render, code)
    if png is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(png, media_type="image/png",
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


ROUTES = [Route("/api/certificate/{code}.png", certificate_image, methods=["GET", "HEAD"])]
