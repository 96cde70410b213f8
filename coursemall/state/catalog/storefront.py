"""Storefront states: thin wrappers that validate input, call one catalog service and copy the
DTO into plain frontend vars (str / bool / int / list[dict[str, str]]).

Every public method here is a remote endpoint. Arguments and router params are untrusted: a
handler may receive a dict, a list or a huge string; each is checked before use and bad input
shows a message instead of raising.
"""

from __future__ import annotations

import logging

import reflex as rx

from coursemall import urls
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.search import MAX_QUERY_CHARS, parse_sort
from coursemall.services.catalog import storefront as catalog_service
from coursemall.services.catalog.storefront import CourseCardDTO, SearchResultDTO
from coursemall.state.dashboard.analytics import track_page_view
from coursemall.state.base import AppState

log = logging.getLogger(__name__)

SORT_KEYS = ("newest", "best", "price_asc", "price_desc", "rating")

# Stops a partial preview at `data-free-seconds` and shows #trial-over. Constant text (no user
# input); installed once per tab. The server still serves a trimmed preview when the media
# pipeline made one (services/learning/media_access.py).
# The free-seconds clip itself ends at the limit (the server never sends more); this only shows
# the buy prompt when it does.
TRIAL_GUARD_JS = """(function(){
if (window.__cmTrialGuard) return; window.__cmTrialGuard = true;
function guard(e){
  var m = e.target; if (!m || !m.getAttribute) return;
  var lim = parseFloat(m.getAttribute('data-free-seconds') || '0'); if (!(lim > 0)) return;
  if (e.type === 'ended' || m.currentTime >= lim) {
    if (!m.ended) m.pause();
    var o = document.getElementById('trial-over'); if (o) o.style.display = 'flex';
  }
}
['timeupdate', 'seeking', 'play', 'playing', 'ended'].forEach(function(t){ document.addEventListener(t, guard, true); });
})();"""
_MAX_FORM_FIELD = 2000


# --------------------------------------------------------------------------- DTO -> vars


def card_vars(card: CourseCardDTO) -> dict[str, str]:
    return {
        "id": str(card.id),
        "href": urls.course_url(card.id),
        "title": card.title,
        "subtitle": card.subtitle,
        "cover": card.cover_url,
        "instructor": card.instructor_name,
        "price": card.price_text,
        "free": "1" if card.price_fen == 0 else "",
        "original": card.original_price_text,
        "learners": card.learners_text,
        "rating": card.rating_text,
        "rating_count": str(card.rating_count),
        "lessons": str(card.lesson_count),
        "duration": card.total_duration_text,
    }


def segment_vars(pieces) -> list[dict[str, str]]:
    return [{"text": text, "hit": "1" if hit else ""} for text, hit in pieces]


def _listing_url(base: str, *, q: str = "", sort: str, page: int) -> str:
    params = {"sort": sort if sort != "newest" else "", "page": page if page > 1 else ""}
    if base == urls.SEARCH:
        return urls.search_url(q, **params)
    extra = "&".join(f"{k}={v}" for k, v in params.items() if v != "")
    return f"{base}?{extra}" if extra else base


class CatalogBaseState(AppState):
    """Shared helpers for storefront states (no public methods: nothing callable here)."""

    error: str = ""
    loaded: bool = False

    def _query_param(self, name: str) -> str:
        value = self.router.url.query_parameters.get(name, "")
        return value if isinstance(value, str) else ""

    def _fail(self, exc: Exception) -> None:
        if isinstance(exc, DomainError):
            self.error = self._t(exc.code)
        else:
            log.exception("storefront handler failed")
            self.error = self._t("error.generic")


def bundle_vars(b) -> dict[str, str]:
    return {"id": str(b.id), "href": urls.bundle_url(b.id), "title": b.title, "subtitle": b.subtitle,
            "cover": b.cover_url, "price": b.price_text, "original": b.original_price_text,
            "count": str(b.course_count), "free": "1" if b.price_fen == 0 else ""}


class HomeState(CatalogBaseState):
    bundles: list[dict[str, str]] = []
    banners: list[dict[str, str]] = []
    categories: list[dict[str, str]] = []
    newest: list[dict[str, str]] = []
    best_sellers: list[dict[str, str]] = []

    @rx.event
    def load(self):
        self.error = ""
        try:
            with session_scope() as session:
                home = catalog_service.get_home(session)
                track_page_view(self, session, "list",
                                [c.id for c in (*home.banners, *home.newest, *home.best_sellers)])
        except Exception as exc:  # noqa: BLE001 - shown as a message, logged
            self._fail(exc)
            return
        self.banners = [card_vars(c) for c in home.banners]
        self.categories = [
            {"slug": c.slug, "name": c.name, "name_en": c.name_en, "icon": c.icon,
             "href": urls.category_url(c.slug)}
            for c in home.categories
        ]
        self.newest = [card_vars(c) for c in home.newest]
        self.best_sellers = [card_vars(c) for c in home.best_sellers]
        self.bundles = [bundle_vars(b) for b in home.bundles]
        self.loaded = True


class ListingState(CatalogBaseState):
    """Result vars shared by search and category listings."""

    items: list[dict[str, str]] = []
    title_segments: list[list[dict[str, str]]] = []
    subtitle_segments: list[list[dict[str, str]]] = []
    total: int = 0
    page: int = 1
    pages: int = 1
    sort: str = "newest"
    count_text: str = ""
    page_text: str = ""
    prev_href: str = ""
    next_href: str = ""
    notice: str = ""

    def _apply(self, result: SearchResultDTO, base: str) -> None:
        self.items = [card_vars(c) for c in result.items]
        self.title_segments = [segment_vars(c.title_segments or ((c.title, False),)) for c in result.items]
        self.subtitle_segments = [segment_vars(c.subtitle_segments or ((c.subtitle, False),))
                                  for c in result.items]
        self.total = result.total
        self.page = result.page
        self.pages = result.pages
        self.sort = result.sort
        if result.query:
            self.count_text = self._t("search.count_query", query=result.query, total=result.total)
        else:
            self.count_text = self._t("search.count", total=result.total)
        self.page_text = self._t("paging.status", page=result.page, pages=result.pages)
        q = result.query
        self.prev_href = _listing_url(base, q=q, sort=result.sort, page=result.page - 1) \
            if result.page > 1 else ""
        self.next_href = _listing_url(base, q=q, sort=result.sort, page=result.page + 1) \
            if result.page < result.pages else ""
        if result.invalid:
            self.notice = self._t("search.invalid")
        elif result.truncated:
            self.notice = self._t("search.truncated", max=MAX_QUERY_CHARS)
        else:
            self.notice = ""
        self.loaded = True


class SearchState(ListingState):
    query: str = ""
    # Bumped on every load so the uncontrolled search box re-mounts with the URL's query.
    input_key: int = 0

    @rx.event
    def load(self):
        self.error = ""
        raw_q = self._query_param("q")
        try:
            with session_scope() as session:
                result = catalog_service.search_courses(
                    session, query=raw_q, sort=self._query_param("sort"),
                    page=self._query_param("page") or 1)
                track_page_view(self, session, "list", [c.id for c in result.items])
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
            return
        self.query = result.query
        self.input_key += 1
        self._apply(result, urls.SEARCH)

    @rx.event
    def submit(self, form_data: dict):
        """Search box: Enter or the button. Only `q` is read; anything else is ignored."""
        raw = form_data.get("q", "") if isinstance(form_data, dict) else None
        if not isinstance(raw, str):
            self.notice = self._t("search.invalid")
            return
        q = raw[:_MAX_FORM_FIELD]
        return rx.redirect(urls.search_url(q.strip()[: MAX_QUERY_CHARS * 2],
                                             sort=self.sort if self.sort != "newest" else ""))

    @rx.event
    def change_sort(self, value: str):
        sort = parse_sort(value)
        return rx.redirect(_listing_url(urls.SEARCH, q=self.query, sort=sort.value, page=1))


class CategoryState(ListingState):
    slug: str = ""
    name: str = ""
    name_en: str = ""

    @rx.event
    def load(self):
        self.error = ""
        slug = self._route_param("slug")
        if not isinstance(slug, str) or not 0 < len(slug) <= 40:
            self.error = self._t("error.not_found")
            self.items = []
            return
        try:
            with session_scope() as session:
                result = catalog_service.list_category(
                    session, slug=slug, sort=self._query_param("sort"),
                    page=self._query_param("page") or 1)
                track_page_view(self, session, "list", [c.id for c in result.items])
        except Exception as exc:  # noqa: BLE001
            self.items = []
            self.name = ""
            self._fail(exc)
            return
        self.slug = result.category.slug if result.category else ""
        self.name = result.category.name if result.category else ""
        self.name_en = result.category.name_en if result.category else ""
        self._apply(result, urls.category_url(self.slug))

    @rx.event
    def change_sort(self, value: str):
        if not self.slug:
            return
        sort = parse_sort(value)
        return rx.redirect(_listing_url(urls.category_url(self.slug), sort=sort.value, page=1))


class BundleState(CatalogBaseState):
    """/bundle/[bundle_id]: a series (专栏) with its courses; bought through BuyState."""

    bundle_id: int = 0
    bundle: dict[str, str] = {}
    courses: list[dict[str, str]] = []

    @rx.event
    def load(self):
        self.error = ""
        self.loaded = False
        try:
            with session_scope() as session:
                detail = catalog_service.get_bundle_detail(session, bundle_id=self._route_param("bundle_id"))
        except Exception as exc:  # noqa: BLE001 - shown as a message, logged
            self.bundle_id, self.bundle, self.courses = 0, {}, []
            self._fail(exc)
            return
        self.bundle_id = detail.bundle.id
        self.bundle = bundle_vars(detail.bundle)
        self.courses = [card_vars(c) for c in detail.courses]
        self.loaded = True


class CourseState(CatalogBaseState):
    course_id: int = 0
    title: str = ""
    subtitle: str = ""
    cover: str = ""
    intro_html: str = ""
    audience: list[str] = []
    tags: list[str] = []
    price: str = ""
    free: bool = False
    original: str = ""
    learners_text: str = ""
    category_name: str = ""
    category_name_en: str = ""
    category_href: str = ""
    instructor: dict[str, str] = {}
    chapters: list[dict[str, str]] = []
    lessons: list[list[dict[str, str]]] = []
    outline_text: str = ""
    trial_text: str = ""
    rating: str = ""
    rating_count_text: str = ""
    rating_bars: list[dict[str, str]] = []
    reviews: list[dict[str, str]] = []
    related: list[dict[str, str]] = []
    entitled: bool = False
    first_lesson_href: str = ""

    @rx.event
    def load(self):
        self.error = ""
        cid = self._route_id("course_id")
        if cid is None:
            self.course_id = 0
            self.error = self._t("course.not_found")
            return
        try:
            with session_scope() as session:
                d = catalog_service.get_course_detail(session, course_id=cid, actor_id=self._actor_id(),
                                                     mfa_verified=self._mfa_ok)
                track_page_view(self, session, "detail", [d.id])
        except DomainError as exc:
            self.course_id = 0
            self.error = self._t("course.not_found" if exc.code == "error.not_found" else exc.code)
            return
        except Exception as exc:  # noqa: BLE001
            self.course_id = 0
            self._fail(exc)
            return
        self.course_id = d.id
        self.title, self.subtitle, self.cover = d.title, d.subtitle, d.cover_url
        self.intro_html = d.intro_html
        self.audience = list(d.audience_lines)
        self.tags = list(d.tags)
        self.price, self.original, self.free = d.price_text, d.original_price_text, d.price_fen == 0
        self.learners_text = self._t("course.learners", count=d.learners_count)
        self.category_name = d.category.name if d.category else ""
        self.category_name_en = d.category.name_en if d.category else ""
        self.category_href = urls.category_url(d.category.slug) if d.category else ""
        i = d.instructor
        self.instructor = {"name": i.name, "title": i.title, "bio": i.bio, "avatar": i.avatar_url,
                           "initial": i.name[:1]} if i else {}
        self.chapters = [{"id": str(ch.id), "title": ch.title, "index": str(n + 1)}
                         for n, ch in enumerate(d.chapters)]
        self.lessons = [
            [{
                "id": str(ls.id),
                "href": urls.lesson_url(ls.id),
                "title": ls.title,
                "kind": ls.kind,
                "duration": ls.duration_text,
                "trial": "1" if ls.is_free_trial else "",
                "partial": ls.free_seconds_text if (ls.free_seconds and not ls.is_free_trial) else "",
                "playable": "1" if ls.playable else "",
            } for ls in ch.lessons]
            for ch in d.chapters
        ]
        self.outline_text = self._t("course.outline_summary", lessons=d.lesson_count,
                                    duration=d.total_duration_text)
        self.trial_text = self._t("course.trial_summary", count=d.trial_count) if d.trial_count else ""
        self.rating = d.rating_text
        self.rating_count_text = self._t("course.rating_summary", count=d.rating_count)
        self.rating_bars = [{"stars": str(b.stars), "count": str(b.count), "percent": f"{b.percent}%"}
                            for b in d.rating_bars]
        self.reviews = [{"id": str(r.id), "nickname": r.nickname, "rating": str(r.rating),
                         "stars": "★" * r.rating + "☆" * (5 - r.rating), "content": r.content,
                         "reply": r.owner_reply, "date": r.date_text} for r in d.reviews]
        self.related = [card_vars(c) for c in d.related]
        self.entitled = d.entitled
        first = next((ls for ch in d.chapters for ls in ch.lessons if ls.playable), None)
        self.first_lesson_href = urls.lesson_url(first.id) if first else ""
        self.loaded = True


class LessonState(CatalogBaseState):
    """The lesson page's vars. Its loader is PlayerState.load_player (state/learning/player.py), which
    fills them with media URLs bound to the viewer's session."""

    lesson_id: int = 0
    course_id: int = 0
    course_title: str = ""
    course_href: str = ""
    title: str = ""
    kind: str = ""
    duration: str = ""
    access: str = ""  # full | partial | locked
    free_seconds: int = 0
    partial_text: str = ""
    media_url: str = ""
    article_html: str = ""
    prev_href: str = ""
    next_href: str = ""
