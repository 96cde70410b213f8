"""Storefront states: the exact set of remote endpoints, and that odd input never crashes them.

Handlers are called directly (as the event processor would) with router data and payloads a
hostile browser could send. Services run against a fixture catalog on SQLite.
"""

from __future__ import annotations

import pytest

import coursemall.coursemall  # noqa: F401  (registers pages and states)
from coursemall.state.catalog import storefront as catalog_state
from coursemall.state.catalog.storefront import (
    CategoryState,
    CourseState,
    HomeState,
    LessonState,
    SearchState,
)
from tests.state.helpers import call_sync, fixture_catalog, route_state

EXPECTED = {
    HomeState: {"load"},
    SearchState: {"load", "submit", "change_sort"},
    CategoryState: {"load", "change_sort"},
    CourseState: {"load"},
    LessonState: set(),  # the page's vars only: PlayerState.load_player loads them
    catalog_state.CatalogBaseState: set(),
    catalog_state.ListingState: set(),
}


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_exact_event_handlers(cls):
    assert set(cls.event_handlers) - {"setvar"} == EXPECTED[cls]


@pytest.fixture
def cat(sqlite_engine, monkeypatch):
    return fixture_catalog(sqlite_engine, monkeypatch, catalog_state)


def test_home_load_fills_cards(cat):
    s = route_state(HomeState)
    call_sync(s, "load")
    assert s.error == "" and len(s.banners) == 2 and s.newest[0]["href"].startswith("/course/")
    assert all(isinstance(v, str) for card in s.newest for v in card.values())


def test_search_load_reads_the_url_and_highlights(cat):
    s = route_state(SearchState, "/search", "/search", query={"q": "摄影", "sort": "price_desc"})
    call_sync(s, "load")
    assert s.total == 2 and s.sort == "price_desc" and s.query == "摄影"
    assert "2" in s.count_text
    assert {"text": "摄影", "hit": "1"} in s.title_segments[0]


@pytest.mark.parametrize("query", [
    {"q": "测" * 1000}, {"q": "%_'\"--*"}, {"q": "📷"}, {"page": "-1"}, {"page": "99999999999"},
    {"sort": "'; DROP TABLE courses; --"}, {"q": "\x00"},
])
def test_search_odd_urls_give_a_page(cat, query):
    s = route_state(SearchState, "/search", "/search", query=query)
    call_sync(s, "load")
    assert s.error == "" and s.loaded and s.count_text


def test_long_search_shows_truncation_notice(cat):
    s = route_state(SearchState, "/search", "/search", query={"q": "测" * 1000})
    call_sync(s, "load")
    assert "50" in s.notice


@pytest.mark.parametrize("payload", [None, "q", ["q"], {"q": {"$gt": 1}}, {"q": ["a"]}, 42])
def test_search_submit_rejects_wrong_types(cat, payload):
    s = route_state(SearchState, "/search", "/search")
    assert call_sync(s, "submit", payload) is None
    assert s.notice


def test_search_submit_redirects_to_a_shareable_url(cat):
    s = route_state(SearchState, "/search", "/search")
    event = call_sync(s, "submit", {"q": "Python 入门", "extra": "ignored"})
    assert event is not None and "q=Python+%E5%85%A5%E9%97%A8" in str(event)
    event = call_sync(s, "submit", {"q": "x" * 100_000})
    assert event is not None and len(str(event)) < 2000


@pytest.mark.parametrize("value", ["rating", "bogus", {"a": 1}, ["price_asc"], None, 7])
def test_change_sort_accepts_anything_safely(cat, value):
    s = route_state(SearchState, "/search", "/search")
    assert call_sync(s, "change_sort", value) is not None


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "1" * 40, "", "1.5", "١٢"])
def test_course_load_rejects_bad_ids_with_a_message(cat, raw):
    s = route_state(CourseState, "/course/[course_id]", f"/course/{raw}", params={"course_id": raw})
    call_sync(s, "load")
    assert s.course_id == 0 and s.error


def test_course_load_maps_the_detail(cat):
    cid = cat["phone"]
    s = route_state(CourseState, "/course/[course_id]", f"/course/{cid}", params={"course_id": str(cid)})
    call_sync(s, "load")
    assert s.error == "" and s.course_id == cid and s.title.startswith("手机摄影")
    assert [c["title"] for c in s.chapters] == ["第一章 基础", "第二章 进阶"]
    assert s.lessons[0][0]["trial"] == "1" and s.lessons[1][0]["playable"] == ""
    assert s.price == "¥99.00" and s.original == "¥199.00"
    assert "<script" not in s.intro_html
    assert s.first_lesson_href == f"/lesson/{cat['lesson_trial']}"


def test_unpublished_course_is_not_found(cat):
    cid = cat["draft"]
    s = route_state(CourseState, "/course/[course_id]", f"/course/{cid}", params={"course_id": str(cid)})
    call_sync(s, "load")
    assert s.course_id == 0 and s.error


def test_category_load_and_unknown_slug(cat):
    s = route_state(CategoryState, "/category/[slug]", "/category/photo", params={"slug": "photo"})
    call_sync(s, "load")
    assert s.name == "摄影" and s.total == 2
    s = route_state(CategoryState, "/category/[slug]", "/category/nope", params={"slug": "nope"})
    call_sync(s, "load")
    assert s.error and s.items == []
    s = route_state(CategoryState, "/category/[slug]", "/category/x", params={"slug": "x" * 5000})
    call_sync(s, "load")
    assert s.error


def test_storefront_pages_evaluate():
    """Every storefront page builds its component tree (catches Var misuse before a full build)."""
    from coursemall.pages.catalog import category, course, home, search
    from coursemall.pages.learning import lesson

    for fn in (home.home, search.search, category.category, course.course, lesson.lesson):
        assert fn().render()
