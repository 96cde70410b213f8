"""Reflex configuration: read from settings (env), explicit plugins, no secrets here."""

from urllib.parse import urlparse

import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

from coursemall.settings import get_settings

_settings = get_settings()
# One port serves pages, events and API in production; it follows the public URL.
_port = urlparse(_settings.public_base_url).port or 3000

config = rx.Config(
    app_name="coursemall",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=_port,
    backend_port=_port,
    api_url=_settings.public_base_url,
    deploy_url=_settings.public_base_url,
    # Only the shop's own origin may open the event websocket or call the API from a browser.
    cors_allowed_origins=[_settings.public_base_url],
    db_url=_settings.db_url,
    # Reverse proxies that append to X-Forwarded-For; 0 = the socket peer is the client.
    trusted_proxy_hops=_settings.trusted_proxy_hops,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="orange", radius="large"))],
    disable_plugins=[SitemapPlugin],
)
