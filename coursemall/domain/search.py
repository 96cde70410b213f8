"""Pure search rules: query normalisation, LIKE escaping, hit highlighting, sort keys, paging.

Search is substring matching on `Course.search_text` (lower-cased title, subtitle, instructor and
tags), so Chinese needs no tokenizer: "摄影" is found inside "手机摄影入门". A query is split on
whitespace into terms that must all match (AND). Nothing here touches the database or Reflex.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

MAX_QUERY_CHARS = 50
MAX_TERMS = 8
PAGE_SIZE = 12
MAX_PAGE = 10_000
LIKE_ESCAPE = "\\"

_WS = re.compile(r"\s+")


class SearchSort(StrEnum):
    NEWEST = "newest"
    BEST_SELLING = "best"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    RATING = "rating"


DEFAULT_SORT = SearchSort.NEWEST


def parse_sort(raw: object) -> SearchSort:
    """Any value -> a known sort; unknown or wrong-typed values fall back to the default."""
    if isinstance(raw, str) and raw in SearchSort._value2member_map_:
        return SearchSort(raw)
    return DEFAULT_SORT


def parse_page(raw: object) -> int:
    """Any value -> a page number >= 1 (clamped to MAX_PAGE); bad values give page 1."""
    if isinstance(raw, bool):
        return 1
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and 0 < len(raw) <= 6 and raw.isascii() and raw.isdigit():
        value = int(raw)
    else:
        return 1
    return min(max(1, value), MAX_PAGE)


def clamp_page(page: int, total: int, page_size: int = PAGE_SIZE) -> tuple[int, int]:
    """(page clamped into range, number of pages); an empty result still has one page."""
    pages = max(1, math.ceil(max(0, total) / page_size))
    return min(max(1, page), pages), pages


@dataclass(frozen=True)
class NormalizedQuery:
    text: str  # cleaned query as the user should see it again (original case)
    terms: tuple[str, ...]  # lower-cased terms, all must match
    truncated: bool = False  # the input was longer than MAX_QUERY_CHARS
    invalid: bool = False  # the input was not a string at all

    @property
    def is_empty(self) -> bool:
        return not self.terms


def _fold_fullwidth(ch: str) -> str:
    """Ｐｙｔｈｏｎ -> Python, ３ -> 3 (only ASCII letters and digits; CJK punctuation is kept)."""
    code = ord(ch)
    if 0xFF10 <= code <= 0xFF19 or 0xFF21 <= code <= 0xFF3A or 0xFF41 <= code <= 0xFF5A:
        return chr(code - 0xFEE0)
    if code == 0x3000:  # ideographic space
        return " "
    return ch


def _clean_chars(raw: str) -> str:
    out = []
    for ch in raw:
        cat = unicodedata.category(ch)
        if cat == "Cc":  # tabs, newlines, NUL ... -> a separator
            out.append(" ")
        elif cat in ("Cs", "Co", "Cn") or (cat == "Cf" and ch not in "\u200d\ufe0f"):
            continue  # surrogates, private use, unassigned, invisible formatting
        else:
            out.append(_fold_fullwidth(ch))
    return "".join(out)


def normalize_query(raw: object) -> NormalizedQuery:
    """Clean a user query. Never raises: wrong types give an empty, `invalid` query."""
    if raw is None:
        return NormalizedQuery("", ())
    if not isinstance(raw, str):
        return NormalizedQuery("", (), invalid=True)
    # Bound the work before cleaning: a huge payload is cut first, then cleaned, then capped.
    cleaned = _WS.sub(" ", _clean_chars(raw[: MAX_QUERY_CHARS * 4])).strip()
    truncated = False
    if len(cleaned) > MAX_QUERY_CHARS:
        cleaned = cleaned[:MAX_QUERY_CHARS].rstrip()
        truncated = True
    terms: list[str] = []
    for word in cleaned.lower().split(" "):
        if word and word not in terms:
            terms.append(word)
    return NormalizedQuery(cleaned, tuple(terms[:MAX_TERMS]), truncated=truncated)


def escape_like(term: str) -> str:
    """Make `%`, `_` and the escape character literal in a LIKE pattern (ESCAPE '\\')."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_pattern(term: str) -> str:
    """LIKE pattern matching `term` anywhere, to use with ESCAPE '\\'."""
    return f"%{escape_like(term)}%"


def like_matches(pattern: str, text: str) -> bool:
    """Reference semantics of `text LIKE pattern ESCAPE '\\'` (case-sensitive), for tests."""
    regex = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == LIKE_ESCAPE and i + 1 < len(pattern):
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(regex), text, flags=re.DOTALL) is not None


def _lowered_with_map(text: str) -> tuple[str, list[int]]:
    """text.lower(), plus for every lowered char the index of the original char it came from
    (lower() can change length, e.g. 'İ' -> 'i̇')."""
    lowered: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        low = ch.lower()
        lowered.append(low)
        origin.extend([index] * len(low))
    return "".join(lowered), origin


def highlight(text: str, terms: tuple[str, ...] | list[str]) -> list[tuple[str, bool]]:
    """Split `text` into (piece, is_hit) runs; hits are case-insensitive matches of any term.
    The pieces always re-join to `text`. Used to render <mark> without building HTML."""
    if not text:
        return []
    lowered, origin = _lowered_with_map(text)
    spans: list[tuple[int, int]] = []
    for term in terms:
        if not term:
            continue
        start = lowered.find(term)
        while start != -1:
            end = start + len(term)
            spans.append((origin[start], origin[end - 1] + 1))
            start = lowered.find(term, start + 1)
    if not spans:
        return [(text, False)]
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in merged:
        if start > cursor:
            pieces.append((text[cursor:start], False))
        pieces.append((text[start:end], True))
        cursor = end
    if cursor < len(text):
        pieces.append((text[cursor:], False))
    return pieces


def segments(text: str, terms: tuple[str, ...] | list[str]) -> list[dict[str, str]]:
    """`highlight` as frontend-ready dicts: [{"text": ..., "hit": "1" or ""}]."""
    return [{"text": piece, "hit": "1" if hit else ""} for piece, hit in highlight(text, terms)]
