"""Untrusted XML (WeChat Pay notifications and gateway answers) is checked BEFORE any parser sees it.

WeChat Pay v2 never sends a document type declaration, entity declarations, processing
instructions beyond the XML declaration, or comments: its bodies are `<xml>` with plain and CDATA
elements. So everything that starts with `<!` other than `<![CDATA[` is refused — that covers
`<!DOCTYPE`, `<!ENTITY` (billion laughs, external entities / XXE) and parameter entities, which
can only live in a DTD. Encoding tricks cannot hide a declaration from this check: the body must
be strict UTF-8 without NUL bytes (UTF-16/32 would need NULs or bytes that are invalid UTF-8),
and an XML declaration, if present, may only name UTF-8.
"""

from __future__ import annotations

import re

_MARKUP_DECLARATION = re.compile(rb"<!(?!\[CDATA\[)")
_XML_DECLARATION_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""",
                                       re.IGNORECASE)


class UnsafeXml(ValueError):
    """The body carries something a payment XML never has; `reason` is short and safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_xml(body: bytes | str) -> bytes:
    """Return the body as bytes when it is safe to hand to an XML parser; else raise UnsafeXml."""
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if b"\x00" in raw:
        raise UnsafeXml("nul_byte")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeXml("not_utf8") from None
    if _MARKUP_DECLARATION.search(raw):
        raise UnsafeXml("dtd_or_entity")
    declared = _XML_DECLARATION_ENCODING.match(raw)
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise UnsafeXml("encoding")
    return raw
