"""The client's IP address, computed in one place for API routes and for states.

With `COURSEMALL_TRUSTED_PROXY_HOPS=0` (the default) the socket peer is the client and any
X-Forwarded-For header is ignored: a visitor cannot choose the address that rate limits, sign-in
records and payment requests see. Behind N reverse proxies that each append the address they saw
to X-Forwarded-For, the client is the N-th address from the right (the leftmost entries are
whatever the client sent and are never trusted). A header shorter than N entries means the request
did not come through the proxies: the socket peer is used.

Reflex computes `router.session.client_ip` the same way from its own `trusted_proxy_hops`, which
rxconfig.py sets from the same setting; states still call `state_client_ip` so both kinds of
caller share this code and a mismatch cannot creep in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from coursemall.settings import get_settings

MAX_IP_LEN = 64


def _clean(value: str) -> str:
    """A syntactically valid IPv4/IPv6 address (port and brackets removed), else ''."""
    text = value.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


def client_ip(peer: str | None, forwarded_for: str | None, hops: int | None = None) -> str:
    """The client address for a connection from `peer` carrying `forwarded_for` (may be None)."""
    if hops is None:
        hops = get_settings().trusted_proxy_hops
    chosen = peer or ""
    if hops > 0 and forwarded_for:
        entries = [e.strip() for e in forwarded_for[:4096].split(",") if e.strip()]
        if len(entries) >= hops:
            chosen = entries[-hops]
    return (_clean(chosen) or (peer or ""))[:MAX_IP_LEN]


def request_client_ip(request) -> str:
    """For a Starlette Request (API routes)."""
    peer = request.client.host if request.client else ""
    return client_ip(peer, request.headers.get("x-forwarded-for"))


def headers_client_ip(raw_headers: Mapping[str, str], reflex_ip: str) -> str:
    """For a websocket handshake's headers as Reflex keeps them (states). Reflex stores the socket
    peer as the pseudo-header `asgi-scope-client`; without it, Reflex's own `client_ip` (the same
    rule, from rxconfig) is all there is."""
    peer = raw_headers.get("asgi-scope-client")
    if not peer:
        return (reflex_ip or "")[:MAX_IP_LEN]
    return client_ip(peer, raw_headers.get("x-forwarded-for"))
