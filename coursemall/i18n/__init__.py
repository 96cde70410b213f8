"""Message catalogs. Each module in `messages/` defines MESSAGES = {key: (zh_CN, en)}.

Server code translates with `t(key, lang, **params)`; components use
`coursemall.components.i18n.tr(key)`, which switches on the viewer's language in the browser.
"""

from __future__ import annotations

import importlib
import pkgutil

from coursemall.i18n import messages as _messages_pkg

LANGS = ("zh_CN", "en")
DEFAULT_LANG = "zh_CN"


def _load() -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for info in sorted(pkgutil.iter_modules(_messages_pkg.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{_messages_pkg.__name__}.{info.name}")
        for key, pair in module.MESSAGES.items():
            if key in merged:
                raise RuntimeError(f"message key {key!r} defined twice (in {info.name})")
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(pair)):
                raise RuntimeError(f"message {key!r} needs a (zh_CN, en) pair of non-empty strings")
            merged[key] = pair
    return merged


CATALOG: dict[str, tuple[str, str]] = _load()


def normalize_lang(lang: object) -> str:
    return lang if lang in LANGS else DEFAULT_LANG


def t(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """Translate `key`; unknown keys fall back to the generic error so users never see a raw key."""
    pair = CATALOG.get(key) or CATALOG["error.generic"]
    text = pair[1] if normalize_lang(lang) == "en" else pair[0]
    return text.format(**params) if params else text
