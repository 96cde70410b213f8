"""Storefront states: the exact set of remote endpoints, and that odd input never crashes them.

Handlers are called directly (as the event processor would) with router data and payloads a
hostile browser could send. Services run against a fixture catalog on SQLite.
"""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from reflex.istate.data import RouterData
from reflex.state import State
from sqlmodel import Session

import coursemall.coursemall  # noqa: F401  (registers pages and states)
from coursemall.state.catalog import storefront as catalog_state
from coursemall.state.catalog.storefront import (
    CategoryState,
    CourseState,
    HomeState,
    LessonState,
    SearchState,
)
from tests.services.catalog_fixture import build_catalog

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
    with Session(sqlite_engine, expire_on_commit=False) as s:
        ids = build_catalog(s).ids

    @contextmanager
    def scope():
        with Session(sqlite_engine, expire_on_commit=False) as s:
            yield s
            s.commit()

    monkeypatch.setattr(catalog_state, "session_scope", scope)
    ids["engine"] = sqlite_engine
    return ids


def make(cls, route: str = "/", path: str = "/", params: dict | None = None, query: dict | None = None):
    root = State(_reflex_internal_init=True)
    state = root.get_substate(cls.get_full_name().split(".")[1:])
    qs = urlencode(query or {})
    state.router = RouterData.from_router_data({
        "pathname": route,
        "asPath": path + (f"?{qs}" if qs else ""),
        "query": {**(query or {}), **(params or {})},
        "headers": {"origin": "http://localhost:3000"},
    })
    return state


def call(state, name, *args):
    return type(state).event_handlers[name].fn(state, *args)


def test_home_load_fills_cards(cat):
    s = make(HomeState)
    call(s, "load")
    assert s.error == "" and len(s.banners) == 2 and s.newest[0]["href"].startswith("/course/")
    assert all(isinstance(v, str) for card in s.newest for v in card.values())


def test_search_load_reads_the_url_and_highlights(cat):
    s = make(SearchState, "/search", "/search", query={"q": "摄影", "sort": "price_desc"})
    call(s, "load")
    assert s.total == 2 and s.sort == "price_desc" and s.query == "摄影"
    assert "2" in s.count_text
    assert {"text": "摄影", "hit": "1"} in s.title_segments[0]


@pytest.mark.parametrize("query", [
    {"q": "测" * 1000}, {"q": "%_'\"--*"}, {"q": "📷"}, {"page": "-1"}, {"page": "99999999999"},
    {"sort": "'; DROP TABLE courses; --"}, {"q": "\x00"},
])
def test_search_odd_urls_give_a_page(cat, query):
    s = make(SearchState, "/search", "/search", query=query)
    call(s, "load")
    assert s.error == "" and s.loaded and s.count_text


def test_long_search_shows_truncation_notice(cat):
    s = make(SearchState, "/search", "/search", query={"q": "测" * 1000})
    call(s, "load")
    assert "50" in s.notice


@pytest.mark.parametrize("payload", [None, "q", ["q"], {"q": {"$gt": 1}}, {"q": ["a"]}, 42])
def test_search_submit_rejects_wrong_types(cat, payload):
    s = make(SearchState, "/search", "/search")
    assert call(s, "submit", payload) is None
    assert s.notice


def test_search_submit_redirects_to_a_shareable_url(cat):
    s = make(SearchState, "/search", "/search")
    event = call(s, "submit", {"q": "Python 入门", "extra": "ignored"})
    assert event is not None and "q=Python+%E5%85%A5%E9%97%A8" in str(event)
    event = call(s, "submit", {"q": "x" * 100_000})
    assert event is not None and len(str(event)) < 2000


@pytest.mark.parametrize("value", ["rating", "bogus", {"a": 1}, ["price_asc"], None, 7])
def test_change_sort_accepts_anything_safely(cat, value):
    s = make(SearchState, "/search", "/search")
    assert call(s, "change_sort", value) is not None


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "1" * 40, "", "1.5", "١٢"])
def test_course_load_rejects_bad_ids_with_a_message(cat, raw):
    s = make(CourseState, "/course/[course_id]", f"/course/{raw}", params={"course_id": raw})
    call(s, "load")
    assert s.course_id == 0 and s.error


def test_course_load_maps_the_detail(cat):
    cid = cat["phone"]
    s = make(CourseState, "/course/[course_id]", f"/course/{cid}", params={"course_id": str(cid)})
    call(s, "load")
    assert s.error == "" and s.course_id == cid and s.title.startswith("手机摄影")
    assert [c["title"] for c in s.chapters] == ["第一章 基础", "第二章 进阶"]
    assert s.lessons[0][0]["trial"] == "1" and s.lessons[1][0]["playable"] == ""
    assert s.price == "¥99.00" and s.original == "¥199.00"
    assert "<script" not in s.intro_html
    assert s.first_lesson_href == f"/lesson/{cat['lesson_trial']}"


def test_unpublished_course_is_not_found(cat):
    cid = cat["draft"]
    s = make(CourseState, "/course/[course_id]", f"/course/{cid}", params={"course_id": str(cid)})
    call(s, "load")
    assert s.course_id == 0 and s.error


def test_category_load_and_unknown_slug(cat):
    s = make(CategoryState, "/category/[slug]", "/category/photo", params={"slug": "photo"})
    call(s, "load")
    assert s.name == "摄影" and s.total == 2
    s = make(CategoryState, "/category/[slug]", "/category/nope", params={"slug": "nope"})
    call(s, "load")
    assert s.error and s.items == []
    s = make(CategoryState, "/category/[slug]", "/category/x", params={"slug": "x" * 5000})
    call(s, "load")
    assert s.error


def test_storefront_pages_evaluate():
    """Every storefront page builds its component tree (catches Var misuse before a full build)."""
    from coursemall.pages.catalog import category, course, home, search
    from coursemall.pages.learning import lesson

    for fn in (home.home, search.search, category.category, course.course, lesson.lesson):
        assert fn().render()
