"""The one parser of ids from untrusted input (event arguments, route segments, forms, JSON)."""

import pytest

from coursemall.domain.errors import DomainError
from coursemall.domain.validation import MAX_ID, parse_id, parse_ids, valid_id


@pytest.mark.parametrize(("raw", "expected"), [
    (1, 1), ("1", 1), ("42", 42), (MAX_ID, MAX_ID), (str(MAX_ID), MAX_ID), ("0000000007", 7),
])
def test_valid_ids(raw, expected):
    assert valid_id(raw) == expected and parse_id(raw) == expected


@pytest.mark.parametrize("raw", [
    True, False, 0, -1, "0", "-1", "+1", " 1", "1 ", "", "1.0", 1.0, MAX_ID + 1, str(MAX_ID + 1),
    "00000000001", "١٢", "１２", "1e3", None, [1], {"id": 1}, b"1", "9" * 100,
])
def test_invalid_ids(raw):
    assert valid_id(raw) is None
    with pytest.raises(DomainError, match="error.bad_request"):
        parse_id(raw)


def test_parse_ids_sorts_and_dedupes():
    assert parse_ids(["3", 1, 3]) == [1, 3]
    for bad in ([], "1", [1, "x"], list(range(1, 102)), None):
        with pytest.raises(DomainError):
            parse_ids(bad)
