"""Storefront use-cases: home, category listing, search, course detail (the lesson page is
services/learning/player.py).

Every function takes a Session and returns small frozen DTOs (never ORM rows). Only published
courses are visible. Display strings (prices, durations, ratings) are formatted here so the state
layer only copies them. Queries select the columns they need (no intro/article HTML in lists) and
load an outline in a fixed number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import nh3
from sqlalchemy import Float, and_, case, cast, func
from sqlmodel import Session, col, select

from coursemall.domain.catalog import CourseStatus, LessonKind, format_duration, open_to_buyers
from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.search import (
    LIKE_ESCAPE,
    PAGE_SIZE,
    NormalizedQuery,
    SearchSort,
    clamp_page,
    contains_pattern,
    highlight,
    normalize_query,
    parse_page,
    parse_sort,
)
from coursemall.models import (
    Bundle,
    BundleCourse,
    Category,
    Chapter,
    Course,
    CourseTag,
    Instructor,
    Lesson,
    Review,
    Tag,
    User,
)
from coursemall.services.learning.media_access import has_active_entitlement, valid_id
from coursemall.urls import public_url

HOME_BANNERS = 5
HOME_SECTION = 6
RELATED_LIMIT = 4
REVIEWS_LIMIT = 10
MAX_SLUG = 40

# Owner-written rich text: a conservative allow-list (nh3 also strips scripts, handlers, js: URLs).
_RICH_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "h2", "h3", "h4", "blockquote",
    "code", "pre", "a", "img", "span", "hr", "figure", "figcaption", "table", "thead", "tbody", "tr",
    "th", "td", "mark", "sub", "sup",
}
_RICH_ATTRS = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height", "loading"}}


def sanitize_rich_html(html: str) -> str:
    if not html:
        return ""
    return nh3.clean(html, tags=_RICH_TAGS, attributes=_RICH_ATTRS,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


# --------------------------------------------------------------------------- DTOs


@dataclass(frozen=True)
class CourseCardDTO:
    id: int
    title: str
    subtitle: str
    cover_url: str
    instructor_name: str
    price_fen: int
    price_text: str
    original_price_text: str  # "" unless higher than the price
    learners_count: int
    learners_text: str
    rating_text: str  # "4.8" or "" when nobody rated yet
    rating_count: int
    lesson_count: int
    total_duration_text: str
    title_segments: tuple[tuple[str, bool], ...] = ()
    subtitle_segments: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class CategoryDTO:
    id: int
    slug: str
    name: str
    name_en: str
    icon: str


@dataclass(frozen=True)
class BundleCardDTO:
    id: int
    title: str
    subtitle: str
    cover_url: str
    price_fen: int
    price_text: str
    original_price_text: str
    course_count: int


@dataclass(frozen=True)
class BundleDetailDTO:
    bundle: BundleCardDTO
    courses: tuple[CourseCardDTO, ...]


@dataclass(frozen=True)
class HomeDTO:
    banners: tuple[CourseCardDTO, ...]
    categories: tuple[CategoryDTO, ...]
    newest: tuple[CourseCardDTO, ...]
    best_sellers: tuple[CourseCardDTO, ...]
    bundles: tuple[BundleCardDTO, ...] = ()
    featured: tuple[CourseCardDTO, ...] = ()
    # the sections to show, in the owner's order (services.shop_settings.HOME_BLOCKS)
    blocks: tuple[str, ...] = ("banner", "categories", "newest", "best_sellers", "series")


@dataclass(frozen=True)
class SearchResultDTO:
    query: str
    terms: tuple[str, ...]
    truncated: bool
    invalid: bool
    sort: str
    page: int
    pages: int
    total: int
    items: tuple[CourseCardDTO, ...]
    category: CategoryDTO | None = None


@dataclass(frozen=True)
class InstructorDTO:
    id: int
    name: str
    title: str
    bio: str
    avatar_url: str


@dataclass(frozen=True)
class LessonRowDTO:
    id: int
    title: str
    kind: str
    duration_text: str
    is_free_trial: bool
    free_seconds: int
    free_seconds_text: str
    playable: bool  # the viewer can open it (free trial, partial trial or entitled)


@dataclass(frozen=True)
class ChapterDTO:
    id: int
    title: str
    lessons: tuple[LessonRowDTO, ...]


@dataclass(frozen=True)
class ReviewDTO:
    id: int
    nickname: str
    rating: int
    content: str
    owner_reply: str
    date_text: str


@dataclass(frozen=True)
class RatingBarDTO:
    stars: int
    count: int
    percent: int


@dataclass(frozen=True)
class CourseDetailDTO:
    id: int
    title: str
    subtitle: str
    cover_url: str
    intro_html: str  # sanitised
    audience_lines: tuple[str, ...]
    price_fen: int
    price_text: str
    original_price_text: str
    learners_count: int
    category: CategoryDTO | None
    instructor: InstructorDTO | None
    chapters: tuple[ChapterDTO, ...]
    lesson_count: int
    trial_count: int
    total_duration_seconds: int
    total_duration_text: str
    rating_text: str
    rating_count: int
    rating_bars: tuple[RatingBarDTO, ...]  # 5 stars first
    reviews: tuple[ReviewDTO, ...]
    related: tuple[CourseCardDTO, ...]
    entitled: bool
    tags: tuple[str, ...]


# --------------------------------------------------------------------------- helpers


def _rating_text(rating_sum: int, rating_count: int) -> str:
    if rating_count <= 0:
        return ""
    return f"{rating_sum / rating_count:.1f}"


def _learners_text(n: int) -> str:
    if n >= 10_000:
        return f"{n / 10_000:.1f}w".replace(".0w", "w")
    return str(n)


def _original_text(price: int, original: int) -> str:
    return format_fen(original) if original > price else ""


_CARD_COLUMNS = (
    Course.id, Course.title, Course.subtitle, Course.cover_path, Course.price_fen,
    Course.original_price_fen, Course.learners_count, Course.rating_sum, Course.rating_count,
    Course.lesson_count, Course.total_duration_seconds, Instructor.name,
)


def _card_select():
    return (
        select(*_CARD_COLUMNS)
        .select_from(Course)
        .outerjoin(Instructor, Instructor.id == Course.instructor_id)
        .where(Course.status == CourseStatus.PUBLISHED.value)
    )


def _card(row, terms: tuple[str, ...] = ()) -> CourseCardDTO:
    (cid, title, subtitle, cover, price, original, learners, rsum, rcount, lessons, seconds,
     instructor) = row
    return CourseCardDTO(
        id=cid,
        title=title,
        subtitle=subtitle or "",
        cover_url=public_url(cover or ""),
        instructor_name=instructor or "",
        price_fen=price,
        price_text=format_fen(price),
        original_price_text=_original_text(price, original),
        learners_count=learners,
        learners_text=_learners_text(learners),
        rating_text=_rating_text(rsum, rcount),
        rating_count=rcount,
        lesson_count=lessons,
        total_duration_text=format_duration(seconds),
        title_segments=tuple(highlight(title, terms)) if terms else (),
        subtitle_segments=tuple(highlight(subtitle or "", terms)) if terms else (),
    )


def _order_by(sort: SearchSort):
    if sort is SearchSort.BEST_SELLING:
        return (col(Course.sales_count).desc(), col(Course.id).desc())
    if sort is SearchSort.PRICE_ASC:
        return (col(Course.price_fen).asc(), col(Course.id).desc())
    if sort is SearchSort.PRICE_DESC:
        return (col(Course.price_fen).desc(), col(Course.id).desc())
    if sort is SearchSort.RATING:
        average = case((Course.rating_count > 0, cast(Course.rating_sum, Float) / Course.rating_count),
                       else_=None)
        unrated_last = case((Course.rating_count > 0, 0), else_=1)
        return (unrated_last.asc(), average.desc(), col(Course.rating_count).desc(),
                col(Course.id).desc())
    return (col(Course.published_at).desc(), col(Course.id).desc())


def _category_dto(row: Category) -> CategoryDTO:
    return CategoryDTO(id=row.id, slug=row.slug, name=row.name, name_en=row.name_en or row.name,
                       icon=row.icon or "book-open")


def list_categories(session: Session) -> tuple[CategoryDTO, ...]:
    rows = session.exec(select(Category).order_by(col(Category.position), col(Category.id))).all()
    return tuple(_category_dto(r) for r in rows)


# --------------------------------------------------------------------------- use-cases


HOME_FEATURED = 12


def _featured_cards(session: Session, limit: int) -> tuple[CourseCardDTO, ...]:
    """Featured published courses in the owner's order (featured_rank, set on /admin/settings)."""
    rows = session.exec(
        _card_select().where(Course.is_featured == True)  # noqa: E712
        .order_by(col(Course.featured_rank), col(Course.id)).limit(limit)
    ).all()
    return tuple(_card(r) for r in rows)


def get_home(session: Session) -> HomeDTO:
    """The storefront home: only the sections the owner shows are queried."""
    from coursemall.services.shop.shop_settings import visible_home_blocks

    blocks = visible_home_blocks(session)
    shown = set(blocks)
    featured = _featured_cards(session, HOME_FEATURED) if shown & {"banner", "featured"} else ()
    newest = best = ()
    if "newest" in shown:
        newest = session.exec(_card_select().order_by(*_order_by(SearchSort.NEWEST)).limit(HOME_SECTION)).all()
    if "best_sellers" in shown:
        best = session.exec(
            _card_select().order_by(*_order_by(SearchSort.BEST_SELLING)).limit(HOME_SECTION)
        ).all()
    return HomeDTO(
        banners=featured[:HOME_BANNERS] if "banner" in shown else (),
        categories=list_categories(session) if "categories" in shown else (),
        newest=tuple(_card(r) for r in newest),
        best_sellers=tuple(_card(r) for r in best),
        bundles=list_bundles(session) if "series" in shown else (),
        featured=featured if "featured" in shown else (),
        blocks=blocks,
    )


@dataclass(frozen=True)
class HomeLayoutDTO:
    blocks: tuple[str, ...]
    featured: tuple[CourseCardDTO, ...]


def get_home_layout(session: Session) -> HomeLayoutDTO:
    """The owner's section order and the featured grid (the rest comes from `get_home`)."""
    from coursemall.services.shop.shop_settings import visible_home_blocks

    blocks = visible_home_blocks(session)
    featured = _featured_cards(session, HOME_FEATURED) if "featured" in blocks else ()
    return HomeLayoutDTO(blocks=blocks, featured=featured)


# --------------------------------------------------------------------------- bundles (专栏)


def _bundle_card(bundle: Bundle, course_count: int) -> BundleCardDTO:
    return BundleCardDTO(
        id=bundle.id, title=bundle.title, subtitle=bundle.subtitle or "",
        cover_url=public_url(bundle.cover_path or ""), price_fen=bundle.price_fen,
        price_text=format_fen(bundle.price_fen),
        original_price_text=_original_text(bundle.price_fen, bundle.original_price_fen),
        course_count=course_count,
    )


def _published_course_counts(session: Session, bundle_ids: list[int]) -> dict[int, int]:
    rows = session.exec(
        select(BundleCourse.bundle_id, func.count())
        .join(Course, Course.id == BundleCourse.course_id)
        .where(col(BundleCourse.bundle_id).in_(bundle_ids), Course.status == CourseStatus.PUBLISHED.value)
        .group_by(BundleCourse.bundle_id)
    ).all()
    return {bundle_id: count for bundle_id, count in rows}


def list_bundles(session: Session) -> tuple[BundleCardDTO, ...]:
    """Published series that still hold at least one published course."""
    bundles = session.exec(select(Bundle).where(Bundle.status == CourseStatus.PUBLISHED.value)
                           .order_by(col(Bundle.id))).all()
    counts = _published_course_counts(session, [b.id for b in bundles])
    return tuple(_bundle_card(b, counts[b.id]) for b in bundles if counts.get(b.id))


def get_bundle_detail(session: Session, *, bundle_id: object) -> BundleDetailDTO:
    """A published series with its published courses in their series order."""
    bid = valid_id(bundle_id)
    if bid is None:
        raise DomainError("error.bad_request")
    bundle = session.get(Bundle, bid)
    if bundle is None or bundle.status != CourseStatus.PUBLISHED.value:
        raise DomainError("error.not_found")
    rows = session.exec(
        _card_select().join(BundleCourse, BundleCourse.course_id == Course.id)
        .where(BundleCourse.bundle_id == bid).order_by(col(BundleCourse.position), col(Course.id))
    ).all()
    if not rows:
        raise DomainError("error.not_found")
    return BundleDetailDTO(bundle=_bundle_card(bundle, len(rows)), courses=tuple(_card(r) for r in rows))


def _run_listing(session: Session, *, query: NormalizedQuery, sort: SearchSort, page: int,
                 category_id: int | None = None) -> tuple[int, int, int, tuple[CourseCardDTO, ...]]:
    conditions = [Course.status == CourseStatus.PUBLISHED.value]
    if category_id is not None:
        conditions.append(Course.category_id == category_id)
    for term in query.terms:
        conditions.append(col(Course.search_text).like(contains_pattern(term), escape=LIKE_ESCAPE))
    where = and_(*conditions)
    total = session.exec(select(func.count()).select_from(Course).where(where)).one()
    page, pages = clamp_page(page, int(total))
    rows = session.exec(
        select(*_CARD_COLUMNS)
        .select_from(Course)
        .outerjoin(Instructor, Instructor.id == Course.instructor_id)
        .where(where)
        .order_by(*_order_by(sort))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return int(total), page, pages, tuple(_card(r, query.terms) for r in rows)


def search_courses(session: Session, *, query: object = "", sort: object = None,
                   page: object = 1) -> SearchResultDTO:
    """Substring search on title/subtitle/instructor/tags; all terms must match. Never raises on
    odd input: wrong types, SQL/FTS syntax, emoji or 1,000 characters give a normal result."""
    normalized = normalize_query(query)
    chosen = parse_sort(sort)
    total, current, pages, items = _run_listing(session, query=normalized, sort=chosen,
                                                page=parse_page(page))
    return SearchResultDTO(query=normalized.text, terms=normalized.terms,
                           truncated=normalized.truncated, invalid=normalized.invalid,
                           sort=chosen.value, page=current, pages=pages, total=total, items=items)


def list_category(session: Session, *, slug: object, sort: object = None,
                  page: object = 1) -> SearchResultDTO:
    if not isinstance(slug, str) or not 0 < len(slug) <= MAX_SLUG:
        raise DomainError("error.not_found")
    category = session.exec(select(Category).where(Category.slug == slug)).first()
    if category is None:
        raise DomainError("error.not_found")
    chosen = parse_sort(sort)
    empty = normalize_query("")
    total, current, pages, items = _run_listing(session, query=empty, sort=chosen,
                                                page=parse_page(page), category_id=category.id)
    return SearchResultDTO(query="", terms=(), truncated=False, invalid=False, sort=chosen.value,
                           page=current, pages=pages, total=total, items=items,
                           category=_category_dto(category))


def _related(session: Session, course: Course, tag_ids: list[int]) -> tuple[CourseCardDTO, ...]:
    same_tag = select(CourseTag.course_id).where(col(CourseTag.tag_id).in_(tag_ids)) if tag_ids else None
    match = Course.category_id == course.category_id if course.category_id else None
    if same_tag is not None:
        in_tags = col(Course.id).in_(same_tag)
        match = in_tags if match is None else (match | in_tags)
    if match is None:
        return ()
    rows = session.exec(
        _card_select().where(Course.id != course.id, match)
        .order_by(col(Course.sales_count).desc(), col(Course.id).desc()).limit(RELATED_LIMIT)
    ).all()
    return tuple(_card(r) for r in rows)


def get_course_detail(session: Session, *, course_id: object, actor_id: int | None = None,
                      mfa_verified: bool = False) -> CourseDetailDTO:
    """The course page. Published courses for everyone; a course taken down after sale for its
    buyers; any course for its managers ("preview as a learner", see media_access)."""
    cid = valid_id(course_id)
    if cid is None:
        raise DomainError("error.not_found")
    course = session.get(Course, cid)
    if course is None:
        raise DomainError("error.not_found")
    entitled = has_active_entitlement(session, user_id=actor_id, course_id=cid)
    if course.status != CourseStatus.PUBLISHED.value and not (entitled and open_to_buyers(course.status)):
        from coursemall.services.learning.media_access import is_course_manager  # import cycle at start-up

        if not is_course_manager(session, actor_id=actor_id, course_instructor_id=course.instructor_id,
                                 mfa_verified=mfa_verified):
            raise DomainError("error.not_found")
    instructor = session.get(Instructor, course.instructor_id) if course.instructor_id else None
    category = session.get(Category, course.category_id) if course.category_id else None

    # Outline: two queries, no article bodies.
    chapters = session.exec(
        select(Chapter.id, Chapter.title).where(Chapter.course_id == cid)
        .order_by(col(Chapter.position), col(Chapter.id))
    ).all()
    lesson_rows = session.exec(
        select(Lesson.id, Lesson.chapter_id, Lesson.title, Lesson.kind, Lesson.duration_seconds,
               Lesson.is_free_trial, Lesson.free_seconds)
        .where(Lesson.course_id == cid)
        .order_by(col(Lesson.position), col(Lesson.id))
    ).all()
    by_chapter: dict[int, list[LessonRowDTO]] = {cid_: [] for cid_, _ in chapters}
    total_seconds = 0
    trial_count = 0
    lesson_count = 0
    for lid, chapter_id, title, kind, seconds, free_trial, free_seconds in lesson_rows:
        if chapter_id not in by_chapter:
            continue
        lesson_count += 1
        total_seconds += seconds or 0
        is_trial = bool(free_trial) or (free_seconds or 0) > 0
        trial_count += 1 if is_trial else 0
        by_chapter[chapter_id].append(LessonRowDTO(
            id=lid, title=title, kind=kind if kind in LessonKind._value2member_map_ else "video",
            duration_text=format_duration(seconds or 0), is_free_trial=bool(free_trial),
            free_seconds=free_seconds or 0,
            free_seconds_text=format_duration(free_seconds) if free_seconds else "",
            playable=entitled or is_trial,
        ))
    chapter_dtos = tuple(ChapterDTO(id=ch_id, title=title, lessons=tuple(by_chapter[ch_id]))
                         for ch_id, title in chapters)

    # Rating summary from visible reviews (one grouped query) + the latest reviews (one join).
    dist_rows = session.exec(
        select(Review.rating, func.count()).where(Review.course_id == cid, Review.status == "visible")
        .group_by(Review.rating)
    ).all()
    dist = {int(r): int(n) for r, n in dist_rows}
    count = sum(dist.values())
    rsum = sum(r * n for r, n in dist.items())
    bars = tuple(RatingBarDTO(stars=s, count=dist.get(s, 0),
                              percent=round(100 * dist.get(s, 0) / count) if count else 0)
                 for s in (5, 4, 3, 2, 1))
    review_rows = session.exec(
        select(Review.id, User.nickname, Review.rating, Review.content, Review.owner_reply,
               Review.created_at)
        .join(User, User.id == Review.user_id)
        .where(Review.course_id == cid, Review.status == "visible")
        .order_by(col(Review.created_at).desc(), col(Review.id).desc()).limit(REVIEWS_LIMIT)
    ).all()
    reviews = tuple(ReviewDTO(id=i, nickname=n or "", rating=r, content=c or "", owner_reply=o or "",
                              date_text=at.strftime("%Y-%m-%d") if at else "")
                    for i, n, r, c, o, at in review_rows)

    tag_rows = session.exec(
        select(Tag.id, Tag.name).join(CourseTag, CourseTag.tag_id == Tag.id)
        .where(CourseTag.course_id == cid).order_by(col(Tag.name))
    ).all()
    tag_ids = [t for t, _ in tag_rows]
    tags = tuple(name for _, name in tag_rows)

    audience = tuple(line.strip().lstrip("-•·* ").strip() for line in (course.audience or "").splitlines()
                     if line.strip().lstrip("-•·* ").strip())
    return CourseDetailDTO(
        id=cid,
        title=course.title,
        subtitle=course.subtitle or "",
        cover_url=public_url(course.cover_path or ""),
        intro_html=sanitize_rich_html(course.intro_html or ""),
        audience_lines=audience,
        price_fen=course.price_fen,
        price_text=format_fen(course.price_fen),
        original_price_text=_original_text(course.price_fen, course.original_price_fen),
        learners_count=course.learners_count,
        category=_category_dto(category) if category else None,
        instructor=InstructorDTO(id=instructor.id, name=instructor.name, title=instructor.title or "",
                                 bio=instructor.bio or "", avatar_url=public_url(instructor.avatar_path or ""))
        if instructor else None,
        chapters=chapter_dtos,
        lesson_count=lesson_count,
        trial_count=trial_count,
        total_duration_seconds=total_seconds,
        total_duration_text=format_duration(total_seconds),
        rating_text=_rating_text(rsum, count),
        rating_count=count,
        rating_bars=bars,
        reviews=reviews,
        related=_related(session, course, tag_ids),
        entitled=entitled,
        tags=tags,
    )

