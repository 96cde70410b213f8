"""A minimal Reflex app: the baseline for bench/page_weight.py. Port from TRIVIAL_PORT."""

import os

import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

_port = int(os.environ.get("TRIVIAL_PORT", "3190"))

config = rx.Config(
    app_name="trivial_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=_port,
    backend_port=_port,
    api_url=f"http://localhost:{_port}",
    deploy_url=f"http://localhost:{_port}",
    cors_allowed_origins=[f"http://localhost:{_port}"],
    plugins=[rx.plugins.RadixThemesPlugin()],
    disable_plugins=[SitemapPlugin],
)
