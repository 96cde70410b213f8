"""Untrusted input -> database ids. Pure (no DB, no Reflex).

Every id that arrives from a browser (event arguments, route segments, form fields, JSON bodies)
goes through `valid_id`: an int or a string of 1-10 ASCII digits, 1..MAX_ID (the INTEGER range of
both databases); bools, floats, signs, spaces, non-ASCII digits and everything else are refused.
"""

from __future__ import annotations

from coursemall.domain.errors import DomainError

MAX_ID = 2**31 - 1


def valid_id(value: object) -> int | None:
    """A positive database id from untrusted input (int or digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and 0 < len(value) <= 10 and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    return None


def parse_id(value: object) -> int:
    """`valid_id`, raising DomainError('error.bad_request') instead of returning None."""
    parsed = valid_id(value)
    if parsed is None:
        raise DomainError("error.bad_request")
    return parsed


def parse_ids(values: object, *, max_items: int = 100) -> list[int]:
    """1..max_items ids (list or tuple), sorted and without duplicates, else error.bad_request."""
    if not isinstance(values, (list, tuple)) or not 0 < len(values) <= max_items:
        raise DomainError("error.bad_request")
    return sorted({parse_id(v) for v in values})
