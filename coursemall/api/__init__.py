"""Starlette routes mounted in front of Reflex by `api_transformer`."""

from __future__ import annotations

from starlette.applications import Starlette

from coursemall.api import admin, auth, certificate, exports, health, hls, media, pay, public, uploads, wechat


def build_api() -> Starlette:
    return Starlette(routes=[*health.ROUTES, *auth.ROUTES, *media.ROUTES, *public.ROUTES, *pay.ROUTES,
                             *admin.ROUTES, *wechat.ROUTES, *certificate.ROUTES, *uploads.ROUTES,
                             *exports.ROUTES, *hls.ROUTES])
