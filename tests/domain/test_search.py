"""Pure search rules: normalising queries, LIKE escaping and highlighting."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from coursemall.domain.search import (
    MAX_QUERY_CHARS,
    SearchSort,
    clamp_page,
    contains_pattern,
    escape_like,
    highlight,
    like_matches,
    normalize_query,
    parse_page,
    parse_sort,
    segments,
)

texts = st.text(max_size=60)


def test_terms_are_lowercased_split_and_deduplicated():
    q = normalize_query("  Python   数据  python ")
    assert q.terms == ("python", "数据")
    assert q.text == "Python 数据 python"
    assert not q.truncated


def test_control_chars_are_separators_and_invisible_chars_go():
    q = normalize_query("摄\x00影\tPy\u200bthon\n")
    assert q.terms == ("摄", "影", "python")


def test_fullwidth_latin_is_folded():
    assert normalize_query("Ｐｙｔｈｏｎ３").terms == ("python3",)


def test_long_query_is_truncated_with_a_flag():
    q = normalize_query("测" * 1000)
    assert q.truncated
    assert len(q.text) == MAX_QUERY_CHARS
    assert q.terms == ("测" * MAX_QUERY_CHARS,)


def test_wrong_types_never_raise():
    for raw in ({"q": 1}, ["a"], 12, 3.5, b"bytes", object()):
        q = normalize_query(raw)
        assert q.invalid and q.is_empty
    assert normalize_query(None).is_empty and not normalize_query(None).invalid


@given(st.one_of(texts, st.text(min_size=200, max_size=3000)))
def test_normalize_is_total_and_bounded(raw):
    q = normalize_query(raw)
    assert len(q.text) <= MAX_QUERY_CHARS
    assert all(term and " " not in term and term == term.lower() for term in q.terms)


@given(texts, texts)
def test_escaped_pattern_matches_exactly_the_substring(term, text):
    """After escaping, % _ and \\ are literal: LIKE '%term%' matches iff term is a substring."""
    assert like_matches(contains_pattern(term), text) == (term in text)


def test_escape_examples():
    assert escape_like("100%_a\\b") == "100\\%\\_a\\\\b"
    assert not like_matches(contains_pattern("%"), "no percent here")
    assert like_matches(contains_pattern("_"), "snake_case")
    assert not like_matches(contains_pattern("_"), "snake")


@given(texts, st.lists(st.text(min_size=1, max_size=4), max_size=4))
def test_highlight_segments_rejoin_to_the_original(text, terms):
    terms = [t.lower() for t in terms]
    pieces = highlight(text, terms)
    assert "".join(p for p, _ in pieces) == text
    # neighbouring runs alternate (merged), and every hit contains a term
    for (_, a), (_, b) in zip(pieces, pieces[1:]):
        assert a != b
    for piece, hit in pieces:
        if hit:
            assert any(t in piece.lower() for t in terms)


def test_highlight_is_case_insensitive_and_merges_overlaps():
    assert segments("Python 与 python", ["python"]) == [
        {"text": "Python", "hit": "1"}, {"text": " 与 ", "hit": ""}, {"text": "python", "hit": "1"}]
    assert highlight("手机摄影入门", ["摄影", "影入"]) == [("手机", False), ("摄影入", True), ("门", False)]
    assert highlight("", ["a"]) == []
    assert highlight("abc", []) == [("abc", False)]


def test_highlight_survives_length_changing_lowercase():
    text = "İstanbul photo"
    pieces = highlight(text, ["i̇stanbul"])
    assert "".join(p for p, _ in pieces) == text
    assert pieces[0] == ("İstanbul", True)


def test_sort_and_page_parsing():
    assert parse_sort("price_asc") is SearchSort.PRICE_ASC
    for bad in (None, "", "DROP", {"x": 1}, ["rating"], 3):
        assert parse_sort(bad) is SearchSort.NEWEST
    assert parse_page("3") == 3
    for bad in ("0", "-1", "abc", "", "1e9", {"p": 2}, True, None, "9" * 50):
        assert parse_page(bad) >= 1
    assert parse_page("9" * 50) == 1
    assert clamp_page(99, 25) == (3, 3)
    assert clamp_page(0, 0) == (1, 1)
