"""Public images (covers, avatars, article images) from the public dir, with long cache headers."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from coursemall.settings import get_settings
from coursemall.urls import PUBLIC_PREFIX

_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


async def public_file(request: Request) -> Response:
    name = request.path_params["name"]
    root = get_settings().public_dir.resolve()
    path = (root / name).resolve()
    if root not in path.parents or path.suffix.lower() not in _TYPES or not path.is_file():
        return Response("not found", status_code=404)
    return FileResponse(path, media_type=_TYPES[path.suffix.lower()],
                        headers={"Cache-Control": "public, max-age=31536000, immutable",
                                 "X-Content-Type-Options": "nosniff"})


ROUTES = [Route(PUBLIC_PREFIX + "{name:path}", public_file, methods=["GET", "HEAD"])]
