"""Course CMS: the owner, staff or an instructor (their own courses only) create
and edit courses, chapters and lessons, upload a cover, and publish, unpublish or archive.

Every function:
- starts with `permissions.require_dashboard` and, for an object, `require_course_manager` (a
  chapter or lesson is resolved to its course first), so another instructor's ids give the same
  "not found" as missing ones and change nothing;
- validates every argument again (the state validated it too; the browser can send anything);
- writes an audit entry in the same transaction;
- keeps the storefront's derived columns in step (`refresh_course`): search text, lesson count,
  total duration.
Structure edits (chapters, lessons, order) lock the course row first, so two editors' moves are
applied one after the other and positions stay 0..n-1 without duplicates.
"""

from __future__ import annotations

import html
import io
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps
from sqlalchemy import Column, Table, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from coursemall.domain.catalog import CourseStatus, LessonKind, build_search_text, format_duration
from coursemall.domain.errors import DomainError
from coursemall.domain.money import fen_to_yuan_text, format_fen, parse_yuan
from coursemall.domain.search import LIKE_ESCAPE, contains_pattern
from coursemall.domain.time import china_time_text, china_wall_to_utc
from coursemall.domain.validation import valid_id
from coursemall.media import images
from coursemall.models import (
    Category,
    Chapter,
    Course,
    CourseTag,
    Instructor,
    Lesson,
    LessonProgress,
    MediaAsset,
    Tag,
)
from coursemall.models.base import utcnow
from coursemall.services import audit
from coursemall.services.catalog.storefront import sanitize_rich_html
from coursemall.services.permissions import DashboardActor, course_scope, require_course_manager, require_dashboard
from coursemall.services.media.transcode import queue_preview
from coursemall.settings import get_settings
from coursemall.urls import public_url

TITLE_MAX = 80
SUBTITLE_MAX = 160
CHAPTER_TITLE_MAX = 80
AUDIENCE_MAX = 2000
INTRO_MAX = 20_000
ARTICLE_MAX = 60_000
TAG_MAX_CHARS = 20
TAGS_MAX = 10
QUERY_MAX = 50
LIST_LIMIT = 200
READING_MINUTES_MAX = 600
FREE_SECONDS_MAX = 36_000
DRIP_DAYS_MAX = 3650
COVER_MAX_BYTES = 10 * 1024 * 1024
COVER_SIZE = (1280, 720)  # 16:9, what the storefront cards show
COVER_PREFIX = "covers/cms-"
MEDIA_KINDS = (LessonKind.VIDEO.value, LessonKind.AUDIO.value, LessonKind.LIVE_REPLAY.value)
NEW_LESSON_KINDS = (LessonKind.VIDEO.value, LessonKind.AUDIO.value, LessonKind.ARTICLE.value)
STATUSES = tuple(s.value for s in CourseStatus)

_TAG_SPLIT = re.compile(r"[,，、;；\n]+")
_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\n\t"} | {"\x7f"}


# --------------------------------------------------------------------------- input parsing


def _text(value: object, max_len: int, code: str, *, required: bool = False, single_line: bool = True) -> str:
    if not isinstance(value, str) or len(value) > max_len * 2 + 100:
        raise DomainError(code, max=max_len)
    text = "".join(ch for ch in value if ch not in _CONTROL)
    text = " ".join(text.split()) if single_line else text.strip()
    if len(text) > max_len or (required and not text):
        raise DomainError(code, max=max_len)
    return text


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise DomainError("error.bad_request")
    return value


def _id_or_none(value: object) -> int | None:
    """0 / None / '' = none; otherwise a valid id or a bad request."""
    if value is None or (not isinstance(value, bool) and value in (0, "", "0")):
        return None
    parsed = valid_id(value)
    if parsed is None:
        raise DomainError("error.bad_request")
    return parsed


def parse_tags(value: object) -> list[str]:
    """'Python, 入门、手机' -> ['Python', '入门', '手机'] (first spelling wins, case-insensitive)."""
    if not isinstance(value, str) or len(value) > TAGS_MAX * (TAG_MAX_CHARS + 10):
        raise DomainError("cms.tags_invalid", max=TAG_MAX_CHARS)
    text = "".join(ch for ch in value if ch not in _CONTROL)
    seen: dict[str, str] = {}
    for raw in _TAG_SPLIT.split(text):
        name = " ".join(raw.split())
        if not name:
            continue
        if len(name) > TAG_MAX_CHARS:
            raise DomainError("cms.tags_invalid", max=TAG_MAX_CHARS)
        seen.setdefault(name.lower(), name)
    if len(seen) > TAGS_MAX:
        raise DomainError("cms.too_many_tags", max=TAGS_MAX)
    return list(seen.values())


def rich_text_to_html(text: str) -> str:
    """An intro or article: HTML is sanitised as is; plain text becomes paragraphs (blank lines),
    '- ' lines become a list and '## ' lines a heading. Always returns sanitised HTML."""
    if "<" in text:
        return sanitize_rich_html(text)
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [ln.strip() for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        if all(ln.startswith(("- ", "* ", "• ")) for ln in lines):
            items = "".join(f"<li>{html.escape(ln[2:].strip())}</li>" for ln in lines)
            blocks.append(f"<ul>{items}</ul>")
        elif len(lines) == 1 and lines[0].startswith("## "):
            blocks.append(f"<h3>{html.escape(lines[0][3:].strip())}</h3>")
        else:
            blocks.append("<p>" + "<br>".join(html.escape(ln) for ln in lines) + "</p>")
    return sanitize_rich_html("".join(blocks))


def parse_china_time(value: object) -> datetime:
    """'2026-12-01 20:00' / '2026-12-01T20:00' / '2026-12-01' in China time -> aware UTC."""
    if not isinstance(value, str) or len(value) > 40:
        raise DomainError("cms.release_at_invalid")
    text = value.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if not 2000 <= local.year <= 2100:
            break
        return china_wall_to_utc(local)
    raise DomainError("cms.release_at_invalid")


def china_time_input(value: datetime | None) -> str:
    """The value of a datetime-local input, in China time ('' for none)."""
    return china_time_text(value, "%Y-%m-%dT%H:%M")


def _int_in(value: object, lo: int, hi: int, code: str) -> int:
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if (text.isascii() and text.isdigit() and len(text) <= 7) else None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise DomainError(code, min=lo, max=hi)
    return value


@dataclass(frozen=True)
class CourseInput:
    """The course form as the browser sent it (strings and flags); validated by the service."""

    title: object
    subtitle: object = ""
    intro: object = ""
    audience: object = ""
    price: object = "0"
    original_price: object = ""
    category_id: object = None
    tags: object = ""
    instructor_id: object = None
    member_only: object = False
    no_seek_first_watch: object = False


@dataclass(frozen=True)
class LessonInput:
    title: object
    is_free_trial: object = False
    free_seconds: object = "0"
    article: object = ""
    reading_minutes: object = "0"
    drip: object = "none"  # none | date | days
    release_at: object = ""
    release_after_days: object = "0"


# --------------------------------------------------------------------------- DTOs


@dataclass(frozen=True)
class CourseRowDTO:
    id: int
    title: str
    status: str
    cover_url: str
    price_text: str
    lesson_count: int
    learners_count: int
    instructor_name: str


@dataclass(frozen=True)
class OptionDTO:
    id: int
    name: str


@dataclass(frozen=True)
class LessonRowDTO:
    id: int
    chapter_id: int
    title: str
    kind: str
    position: int
    duration_text: str
    is_free_trial: bool
    free_seconds: int
    media_status: str  # "" for articles; none | processing | ready | failed
    release_at: datetime | None
    release_after_days: int


@dataclass(frozen=True)
class ChapterDTO:
    id: int
    title: str
    position: int
    lessons: tuple[LessonRowDTO, ...]


@dataclass(frozen=True)
class BlockerDTO:
    code: str
    lesson: str = ""


@dataclass(frozen=True)
class CourseEditorDTO:
    id: int
    slug: str
    title: str
    subtitle: str
    intro_html: str
    audience: str
    price_yuan: str
    original_price_yuan: str
    category_id: int
    tags_text: str
    instructor_id: int
    instructor_name: str
    member_only: bool
    no_seek_first_watch: bool
    status: str
    cover_url: str
    lesson_count: int
    total_duration_text: str
    chapters: tuple[ChapterDTO, ...]
    blockers: tuple[BlockerDTO, ...]


@dataclass(frozen=True)
class FormOptionsDTO:
    categories: tuple[OptionDTO, ...]
    instructors: tuple[OptionDTO, ...]  # empty for an instructor (always themselves)


@dataclass(frozen=True)
class LessonEditorDTO:
    id: int
    course_id: int
    course_title: str
    chapter_id: int
    title: str
    kind: str
    is_free_trial: bool
    free_seconds: int
    article_html: str
    reading_minutes: int
    drip: str
    release_at_input: str
    release_after_days: int
    media_status: str
    media_error: str
    duration_text: str
    chapters: tuple[OptionDTO, ...]


# --------------------------------------------------------------------------- object lookups


def _actor(session: Session, actor_id: object) -> DashboardActor:
    return require_dashboard(session, actor_id)


def _course(session: Session, actor: DashboardActor, course_id: object, *, lock: bool = False) -> Course:
    cid = valid_id(course_id)
    course = require_course_manager(session, actor, cid)
    if lock:  # serialise structure edits of one course (PostgreSQL; SQLite has one writer anyway)
        session.exec(select(Course.id).where(Course.id == course.id).with_for_update()).first()
    return course


def _chapter(session: Session, actor: DashboardActor, chapter_id: object, *, lock: bool = False
             ) -> tuple[Chapter, Course]:
    chid = valid_id(chapter_id)
    chapter = session.get(Chapter, chid) if chid is not None else None
    if chapter is None:
        raise DomainError("error.not_found")
    return chapter, _course(session, actor, chapter.course_id, lock=lock)


def _lesson(session: Session, actor: DashboardActor, lesson_id: object, *, lock: bool = False
            ) -> tuple[Lesson, Course]:
    lid = valid_id(lesson_id)
    lesson = session.get(Lesson, lid) if lid is not None else None
    if lesson is None:
        raise DomainError("error.not_found")
    return lesson, _course(session, actor, lesson.course_id, lock=lock)


def _record(session: Session, actor: DashboardActor, action: str, target: str, **detail: object) -> None:
    audit.record(session, actor_id=actor.user_id, action=action, target=target, detail=detail)


# --------------------------------------------------------------------------- derived columns


def _tag_names(session: Session, course_id: int) -> list[str]:
    return list(session.exec(select(Tag.name).join(CourseTag, CourseTag.tag_id == Tag.id)
                             .where(CourseTag.course_id == course_id).order_by(col(Tag.name))).all())


def _sync_media_durations(session: Session, course_id: int) -> None:
    """A video/audio lesson's duration follows its ready media asset (the pipeline measures it)."""
    rows = session.exec(
        select(Lesson, MediaAsset.duration_seconds)
        .join(MediaAsset, MediaAsset.id == Lesson.media_asset_id)
        .where(Lesson.course_id == course_id, MediaAsset.status == "ready", MediaAsset.duration_seconds > 0)
    ).all()
    for lesson, seconds in rows:
        if lesson.kind in MEDIA_KINDS and lesson.duration_seconds != seconds:
            lesson.duration_seconds = seconds
            session.add(lesson)


def refresh_course(session: Session, course: Course) -> None:
    """Recompute what the storefront reads from the course row: search text, lesson count and
    total duration (lessons in the course's own chapters, as the outline shows them).
    Also for other helpers: call after a lesson's media or duration changed."""
    session.flush()
    _sync_media_durations(session, course.id)
    session.flush()
    count, seconds = session.exec(
        select(func.count(Lesson.id), func.coalesce(func.sum(Lesson.duration_seconds), 0))
        .join(Chapter, Chapter.id == Lesson.chapter_id)
        .where(Lesson.course_id == course.id, Chapter.course_id == course.id)
    ).one()
    instructor = session.get(Instructor, course.instructor_id) if course.instructor_id else None
    course.lesson_count = int(count)
    course.total_duration_seconds = int(seconds)
    course.search_text = build_search_text(course.title, course.subtitle, instructor.name if instructor else "",
                                           _tag_names(session, course.id))
    course.updated_at = utcnow()
    session.add(course)
    session.flush()


def _renumber(session: Session, rows: list) -> None:
    """Positions 0..n-1 in the given order (closes gaps, removes duplicates)."""
    for index, row in enumerate(rows):
        if row.position != index:
            row.position = index
            session.add(row)
    session.flush()


def _chapters_of(session: Session, course_id: int) -> list[Chapter]:
    return list(session.exec(select(Chapter).where(Chapter.course_id == course_id)
                             .order_by(col(Chapter.position), col(Chapter.id))).all())


def _lessons_of(session: Session, chapter_id: int) -> list[Lesson]:
    return list(session.exec(select(Lesson).where(Lesson.chapter_id == chapter_id)
                             .order_by(col(Lesson.position), col(Lesson.id))).all())


# --------------------------------------------------------------------------- course list


def list_courses(session: Session, *, actor_id: object, status: object = "", query: object = ""
                 ) -> tuple[CourseRowDTO, ...]:
    """The actor's courses (all of them for owner/staff), newest edit first, by status and title."""
    actor = _actor(session, actor_id)
    if not isinstance(status, str) or (status and status not in STATUSES):
        raise DomainError("error.bad_request")
    if not isinstance(query, str) or len(query) > QUERY_MAX * 4:
        raise DomainError("cms.query_too_long", max=QUERY_MAX)
    term = " ".join(query.split())
    if len(term) > QUERY_MAX:
        raise DomainError("cms.query_too_long", max=QUERY_MAX)
    stmt = (select(Course.id, Course.title, Course.status, Course.cover_path, Course.price_fen,
                   Course.lesson_count, Course.learners_count, Instructor.name)
            .select_from(Course).outerjoin(Instructor, Instructor.id == Course.instructor_id))
    scope = course_scope(session, actor)
    if scope is not None:
        stmt = stmt.where(Course.instructor_id == actor.instructor_id)
    if status:
        stmt = stmt.where(Course.status == status)
    if term:
        stmt = stmt.where(func.lower(Course.title).like(contains_pattern(term.lower()), escape=LIKE_ESCAPE))
    rows = session.exec(stmt.order_by(col(Course.updated_at).desc(), col(Course.id).desc()).limit(LIST_LIMIT)).all()
    return tuple(CourseRowDTO(id=i, title=t, status=s, cover_url=public_url(c or ""), price_text=format_fen(p),
                              lesson_count=n, learners_count=lc, instructor_name=name or "")
                 for i, t, s, c, p, n, lc, name in rows)


def form_options(session: Session, *, actor_id: object) -> FormOptionsDTO:
    actor = _actor(session, actor_id)
    cats = session.exec(select(Category.id, Category.name).order_by(col(Category.position), col(Category.id))).all()
    instructors: tuple[OptionDTO, ...] = ()
    if actor.is_staff:
        rows = session.exec(select(Instructor.id, Instructor.name).where(Instructor.status == "approved")
                            .order_by(col(Instructor.name), col(Instructor.id))).all()
        instructors = tuple(OptionDTO(i, n) for i, n in rows)
    return FormOptionsDTO(categories=tuple(OptionDTO(i, n) for i, n in cats), instructors=instructors)


# --------------------------------------------------------------------------- create / edit


@dataclass(frozen=True)
class _CleanCourse:
    title: str
    subtitle: str
    intro_html: str
    audience: str
    price_fen: int
    original_price_fen: int
    category_id: int | None
    tags: list[str]
    instructor_id: int | None
    member_only: bool
    no_seek_first_watch: bool


def _clean_course(session: Session, actor: DashboardActor, data: CourseInput,
                  current_instructor: int | None) -> _CleanCourse:
    if not isinstance(data, CourseInput):
        raise DomainError("error.bad_request")
    title = _text(data.title, TITLE_MAX, "cms.title_invalid", required=True)
    subtitle = _text(data.subtitle, SUBTITLE_MAX, "cms.subtitle_invalid")
    intro = _text(data.intro, INTRO_MAX, "cms.intro_invalid", single_line=False)
    audience = _text(data.audience, AUDIENCE_MAX, "cms.audience_invalid", single_line=False)
    price = parse_yuan(data.price)
    blank = isinstance(data.original_price, str) and not data.original_price.strip()
    original = 0 if blank else parse_yuan(data.original_price, code="cms.original_invalid")
    if original and original < price:
        raise DomainError("cms.original_below_price")
    category_id = _id_or_none(data.category_id)
    if category_id is not None and session.get(Category, category_id) is None:
        raise DomainError("cms.category_invalid")
    tags = parse_tags(data.tags)
    return _CleanCourse(
        title=title, subtitle=subtitle, intro_html=rich_text_to_html(intro), audience=audience,
        price_fen=price, original_price_fen=original, category_id=category_id, tags=tags,
        instructor_id=_pick_instructor(session, actor, data.instructor_id, current_instructor),
        member_only=_flag(data.member_only), no_seek_first_watch=_flag(data.no_seek_first_watch),
    )


def _pick_instructor(session: Session, actor: DashboardActor, value: object, current: int | None) -> int | None:
    """An instructor is always themselves; owner/staff pick an approved instructor (or none).
    A course keeps its current instructor even if that profile is no longer approved."""
    if not actor.is_staff:
        return actor.instructor_id
    chosen = _id_or_none(value)
    if chosen is None or chosen == current:
        return chosen
    row = session.get(Instructor, chosen)
    if row is None or row.status != "approved":
        raise DomainError("cms.instructor_invalid")
    return chosen


def _set_tags(session: Session, course_id: int, names: list[str]) -> None:
    wanted = [_tag_id(session, name) for name in names]
    existing = set(session.exec(select(CourseTag.tag_id).where(CourseTag.course_id == course_id)).all())
    for tag_id in existing - set(wanted):
        row = session.get(CourseTag, (course_id, tag_id))
        if row is not None:
            session.delete(row)
    for tag_id in set(wanted) - existing:
        session.add(CourseTag(course_id=course_id, tag_id=tag_id))
    session.flush()


def _tag_id(session: Session, name: str) -> int:
    """The tag's id, created on demand (a concurrent creator of the same tag is tolerated)."""
    found = session.exec(select(Tag.id).where(func.lower(Tag.name) == name.lower())).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
            return tag.id
    except IntegrityError:
        return session.exec(select(Tag.id).where(Tag.name == name)).one()


def _new_slug(session: Session, title: str) -> str:
    """ASCII words of the title plus a random suffix; unique (checked), never from the browser."""
    ascii_part = re.sub(r"[^a-z0-9]+", "-", unicodedata.normalize("NFKD", title).lower()).strip("-")[:40].strip("-")
    base = ascii_part or "course"
    for _ in range(20):
        slug = f"{base}-{secrets.token_hex(3)}"
        if session.exec(select(Course.id).where(Course.slug == slug)).first() is None:
            return slug
    raise DomainError("error.generic")


def _apply(course: Course, clean: _CleanCourse) -> None:
    course.title = clean.title
    course.subtitle = clean.subtitle
    course.intro_html = clean.intro_html
    course.audience = clean.audience
    course.price_fen = clean.price_fen
    course.original_price_fen = clean.original_price_fen
    course.category_id = clean.category_id
    course.instructor_id = clean.instructor_id
    course.member_only = clean.member_only
    course.no_seek_first_watch = clean.no_seek_first_watch


def create_course(session: Session, *, actor_id: object, data: CourseInput) -> int:
    """A new draft course; returns its id."""
    actor = _actor(session, actor_id)
    if not actor.is_staff and actor.instructor_id is None:
        raise DomainError("error.forbidden")
    clean = _clean_course(session, actor, data, None)
    course = Course(slug=_new_slug(session, clean.title), title=clean.title, status=CourseStatus.DRAFT.value)
    _apply(course, clean)
    session.add(course)
    session.flush()
    _set_tags(session, course.id, clean.tags)
    refresh_course(session, course)
    _record(session, actor, "course.create", f"course:{course.id}", title=course.title,
            price_fen=course.price_fen)
    return course.id


def update_course(session: Session, *, actor_id: object, course_id: object, data: CourseInput) -> None:
    actor = _actor(session, actor_id)
    course = _course(session, actor, course_id)
    clean = _clean_course(session, actor, data, course.instructor_id)
    before = {"title": course.title, "price_fen": course.price_fen, "original_price_fen": course.original_price_fen,
              "instructor_id": course.instructor_id}
    _apply(course, clean)
    session.add(course)
    _set_tags(session, course.id, clean.tags)
    refresh_course(session, course)
    after = {"title": course.title, "price_fen": course.price_fen, "original_price_fen": course.original_price_fen,
             "instructor_id": course.instructor_id}
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    _record(session, actor, "course.update", f"course:{course.id}", **changed)


def _clean_cover(data: bytes) -> bytes:
    """Sniffed and cleaned by media.images (bombs, non-images, metadata), then a 16:9 JPEG."""
    png = images.clean_photo(data, max_side=2 * COVER_SIZE[0])
    with Image.open(io.BytesIO(png)) as picture:  # our own clean PNG
        fitted = ImageOps.fit(picture.convert("RGB"), COVER_SIZE, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    fitted.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def set_cover(session: Session, *, actor_id: object, course_id: object, data: object,
              public_dir: Path | None = None) -> str:
    """Store a new cover (CPU work: call it off the event loop); returns its public URL."""
    actor = _actor(session, actor_id)
    course = _course(session, actor, course_id)
    if not isinstance(data, bytes) or not data:
        raise DomainError("avatar.not_image")
    if len(data) > COVER_MAX_BYTES:
        raise DomainError("avatar.too_large", mb=COVER_MAX_BYTES // (1024 * 1024))
    clean = _clean_cover(data)
    root = public_dir or get_settings().public_dir
    name = f"{COVER_PREFIX}{secrets.token_hex(12)}.jpg"
    images.save_public_image(root, name, clean)
    old = course.cover_path
    course.cover_path = name
    course.updated_at = utcnow()
    session.add(course)
    _record(session, actor, "course.cover", f"course:{course.id}", old=old, new=name)
    session.flush()
    _delete_old_cover(root, old)
    return public_url(name)


def _delete_old_cover(root: Path, name: str) -> None:
    """Only covers this module wrote are removed (demo covers are redrawn by the seed)."""
    if not name.startswith(COVER_PREFIX):
        return
    base = root.resolve()
    path = (base / name).resolve()
    if base in path.parents and path.is_file():
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- status


def _media_status(kind: str, asset_status: str | None) -> str:
    if kind not in MEDIA_KINDS:
        return ""
    if asset_status is None:
        return "none"
    if asset_status in ("ready", "failed"):
        return asset_status
    return "processing"  # uploading | processing


def publish_blockers(session: Session, course: Course) -> tuple[BlockerDTO, ...]:
    """Everything that stops this course from going live, in the order the editor lists them."""
    blockers: list[BlockerDTO] = []
    if not course.title.strip():
        blockers.append(BlockerDTO("cms.block.title"))
    if not course.cover_path:
        blockers.append(BlockerDTO("cms.block.cover"))
    rows = session.exec(
        select(Lesson.title, Lesson.kind, Lesson.article_html, MediaAsset.status)
        .join(Chapter, Chapter.id == Lesson.chapter_id)
        .outerjoin(MediaAsset, MediaAsset.id == Lesson.media_asset_id)
        .where(Lesson.course_id == course.id, Chapter.course_id == course.id)
        .order_by(col(Chapter.position), col(Chapter.id), col(Lesson.position), col(Lesson.id))
    ).all()
    if not rows:
        blockers.append(BlockerDTO("cms.block.no_lessons"))
    for title, kind, article, asset_status in rows:
        status = _media_status(kind, asset_status)
        if status and status != "ready":
            blockers.append(BlockerDTO("cms.block.media", title))
        elif kind == LessonKind.ARTICLE.value and not (article or "").strip():
            blockers.append(BlockerDTO("cms.block.article", title))
    return tuple(blockers)


def publish_course(session: Session, *, actor_id: object, course_id: object) -> None:
    actor = _actor(session, actor_id)
    course = _course(session, actor, course_id, lock=True)
    if course.status == CourseStatus.PUBLISHED.value:
        raise DomainError("cms.already_published")
    blockers = publish_blockers(session, course)
    if blockers:
        first = blockers[0]
        raise DomainError(first.code, lesson=first.lesson)
    refresh_course(session, course)
    old = course.status
    course.status = CourseStatus.PUBLISHED.value
    course.published_at = course.published_at or utcnow()  # "new" keeps the first publication date
    session.add(course)
    _record(session, actor, "course.publish", f"course:{course.id}", old=old)
    session.flush()


def _take_down(session: Session, actor_id: object, course_id: object, status: CourseStatus, allowed: tuple,
               action: str) -> None:
    """Unpublish / archive: hidden from the storefront; entitlements are untouched."""
    actor = _actor(session, actor_id)
    course = _course(session, actor, course_id, lock=True)
    if course.status not in allowed:
        raise DomainError("cms.status_unchanged")
    old = course.status
    course.status = status.value
    course.updated_at = utcnow()
    session.add(course)
    _record(session, actor, action, f"course:{course.id}", old=old)
    session.flush()


def unpublish_course(session: Session, *, actor_id: object, course_id: object) -> None:
    _take_down(session, actor_id, course_id, CourseStatus.UNPUBLISHED, (CourseStatus.PUBLISHED.value,),
               "course.unpublish")


def archive_course(session: Session, *, actor_id: object, course_id: object) -> None:
    _take_down(session, actor_id, course_id, CourseStatus.ARCHIVED,
               tuple(s for s in STATUSES if s != CourseStatus.ARCHIVED.value), "course.archive")


# --------------------------------------------------------------------------- editor view


def get_course_editor(session: Session, *, actor_id: object, course_id: object) -> CourseEditorDTO:
    actor = _actor(session, actor_id)
    course = _course(session, actor, course_id)
    instructor = session.get(Instructor, course.instructor_id) if course.instructor_id else None
    chapters = _chapters_of(session, course.id)
    lessons = session.exec(
        select(Lesson.id, Lesson.chapter_id, Lesson.title, Lesson.kind, Lesson.position, Lesson.duration_seconds,
               Lesson.is_free_trial, Lesson.free_seconds, MediaAsset.status, Lesson.release_at,
               Lesson.release_after_days)
        .outerjoin(MediaAsset, MediaAsset.id == Lesson.media_asset_id)
        .where(Lesson.course_id == course.id).order_by(col(Lesson.position), col(Lesson.id))
    ).all()
    by_chapter: dict[int, list[LessonRowDTO]] = {c.id: [] for c in chapters}
    for lid, chid, title, kind, pos, seconds, trial, free, asset_status, release_at, after_days in lessons:
        if chid in by_chapter:
            by_chapter[chid].append(LessonRowDTO(
                id=lid, chapter_id=chid, title=title, kind=kind, position=pos,
                duration_text=format_duration(seconds or 0), is_free_trial=bool(trial), free_seconds=free or 0,
                media_status=_media_status(kind, asset_status), release_at=release_at,
                release_after_days=after_days or 0))
    return CourseEditorDTO(
        id=course.id, slug=course.slug, title=course.title, subtitle=course.subtitle or "",
        intro_html=course.intro_html or "", audience=course.audience or "",
        price_yuan=fen_to_yuan_text(course.price_fen),
        original_price_yuan=fen_to_yuan_text(course.original_price_fen) if course.original_price_fen else "",
        category_id=course.category_id or 0, tags_text=", ".join(_tag_names(session, course.id)),
        instructor_id=course.instructor_id or 0, instructor_name=instructor.name if instructor else "",
        member_only=course.member_only, no_seek_first_watch=course.no_seek_first_watch, status=course.status,
        cover_url=public_url(course.cover_path or ""), lesson_count=course.lesson_count,
        total_duration_text=format_duration(course.total_duration_seconds),
        chapters=tuple(ChapterDTO(c.id, c.title, c.position, tuple(by_chapter[c.id])) for c in chapters),
        blockers=publish_blockers(session, course),
    )


# --------------------------------------------------------------------------- chapters


def add_chapter(session: Session, *, actor_id: object, course_id: object, title: object) -> int:
    actor = _actor(session, actor_id)
    clean = _text(title, CHAPTER_TITLE_MAX, "cms.chapter_title_invalid", required=True)
    course = _course(session, actor, course_id, lock=True)
    existing = _chapters_of(session, course.id)
    _renumber(session, existing)
    chapter = Chapter(course_id=course.id, title=clean, position=len(existing))
    session.add(chapter)
    session.flush()
    refresh_course(session, course)
    _record(session, actor, "chapter.add", f"chapter:{chapter.id}", course_id=course.id, title=clean)
    return chapter.id


def rename_chapter(session: Session, *, actor_id: object, chapter_id: object, title: object) -> None:
    actor = _actor(session, actor_id)
    clean = _text(title, CHAPTER_TITLE_MAX, "cms.chapter_title_invalid", required=True)
    chapter, course = _chapter(session, actor, chapter_id)
    old = chapter.title
    chapter.title = clean
    session.add(chapter)
    course.updated_at = utcnow()
    session.add(course)
    _record(session, actor, "chapter.rename", f"chapter:{chapter.id}", old=old, new=clean)
    session.flush()


def delete_chapter(session: Session, *, actor_id: object, chapter_id: object) -> None:
    """Only an empty chapter can go (move or delete its lessons first)."""
    actor = _actor(session, actor_id)
    chapter, course = _chapter(session, actor, chapter_id, lock=True)
    if session.exec(select(Lesson.id).where(Lesson.chapter_id == chapter.id)).first() is not None:
        raise DomainError("cms.chapter_not_empty")
    session.delete(chapter)
    session.flush()
    _renumber(session, _chapters_of(session, course.id))
    refresh_course(session, course)
    _record(session, actor, "chapter.delete", f"chapter:{chapter.id}", course_id=course.id, title=chapter.title)


def _direction(value: object) -> int:
    if value == "up":
        return -1
    if value == "down":
        return 1
    raise DomainError("error.bad_request")


def _swap(session: Session, rows: list, index: int, step: int) -> bool:
    """Swap rows[index] with its neighbour; False at either end (nothing to do)."""
    other = index + step
    if not 0 <= other < len(rows):
        return False
    rows[index], rows[other] = rows[other], rows[index]
    _renumber(session, rows)
    return True


def move_chapter(session: Session, *, actor_id: object, chapter_id: object, direction: object) -> bool:
    """Move a chapter one place up or down; False when it is already first / last."""
    actor = _actor(session, actor_id)
    step = _direction(direction)
    chapter, course = _chapter(session, actor, chapter_id, lock=True)
    rows = _chapters_of(session, course.id)
    moved = _swap(session, rows, [c.id for c in rows].index(chapter.id), step)
    if moved:
        course.updated_at = utcnow()
        session.add(course)
        _record(session, actor, "chapter.move", f"chapter:{chapter.id}", direction=direction)
    else:
        _renumber(session, rows)
    return moved


# --------------------------------------------------------------------------- lessons


def add_lesson(session: Session, *, actor_id: object, chapter_id: object, kind: object, title: object) -> int:
    actor = _actor(session, actor_id)
    if kind not in NEW_LESSON_KINDS:
        raise DomainError("cms.kind_invalid")
    clean = _text(title, TITLE_MAX, "cms.lesson_title_invalid", required=True)
    chapter, course = _chapter(session, actor, chapter_id, lock=True)
    existing = _lessons_of(session, chapter.id)
    _renumber(session, existing)
    lesson = Lesson(course_id=course.id, chapter_id=chapter.id, title=clean, kind=kind, position=len(existing))
    session.add(lesson)
    session.flush()
    refresh_course(session, course)
    _record(session, actor, "lesson.add", f"lesson:{lesson.id}", course_id=course.id, kind=kind, title=clean)
    return lesson.id


def move_lesson(session: Session, *, actor_id: object, lesson_id: object, direction: object) -> bool:
    """Move a lesson one place up or down within its chapter; False at either end."""
    actor = _actor(session, actor_id)
    step = _direction(direction)
    lesson, course = _lesson(session, actor, lesson_id, lock=True)
    rows = _lessons_of(session, lesson.chapter_id)
    moved = _swap(session, rows, [r.id for r in rows].index(lesson.id), step)
    if moved:
        course.updated_at = utcnow()
        session.add(course)
        _record(session, actor, "lesson.move", f"lesson:{lesson.id}", direction=direction)
    else:
        _renumber(session, rows)
    return moved


def move_lesson_to_chapter(session: Session, *, actor_id: object, lesson_id: object, chapter_id: object) -> None:
    """Put a lesson at the end of another chapter of the same course."""
    actor = _actor(session, actor_id)
    lesson, course = _lesson(session, actor, lesson_id, lock=True)
    target_id = valid_id(chapter_id)
    target = session.get(Chapter, target_id) if target_id is not None else None
    if target is None or target.course_id != course.id:
        raise DomainError("error.not_found")  # also for a chapter of another course
    if target.id == lesson.chapter_id:
        raise DomainError("cms.same_chapter")
    source_id = lesson.chapter_id
    lesson.chapter_id = target.id
    lesson.position = len(_lessons_of(session, target.id))
    session.add(lesson)
    session.flush()
    _renumber(session, _lessons_of(session, source_id))
    _renumber(session, _lessons_of(session, target.id))
    refresh_course(session, course)
    _record(session, actor, "lesson.move_chapter", f"lesson:{lesson.id}", old=source_id, new=target.id)


def _lesson_references() -> list[tuple[Table, Column]]:
    """Every column pointing at lessons.id, found in the metadata (so tables added later count too)."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.target_fullname == "lessons.id" for fk in column.foreign_keys):
                found.append((table, column))
    return found


def _count_refs(session: Session, column: Column, lesson_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(column.table).where(column == lesson_id)).one())


def delete_lesson(session: Session, *, actor_id: object, lesson_id: object) -> None:
    """Delete a lesson nobody has studied. With learner progress (or any other learner record:
    comments, notes, homework) it is refused: deleting would erase their records and change
    their completion. Optional links (an upload, a media job) are cut, not blocking."""
    actor = _actor(session, actor_id)
    lesson, course = _lesson(session, actor, lesson_id, lock=True)
    progress = _count_refs(session, LessonProgress.__table__.c.lesson_id, lesson.id)
    if progress:
        raise DomainError("cms.lesson_has_progress", count=progress)
    references = _lesson_references()
    if any(not column.nullable and _count_refs(session, column, lesson.id) for _, column in references):
        raise DomainError("cms.lesson_has_activity")
    for table, column in references:
        if column.nullable:
            session.exec(update(table).where(column == lesson.id).values({column.name: None}))
    chapter_id, title = lesson.chapter_id, lesson.title
    session.delete(lesson)
    session.flush()
    _renumber(session, _lessons_of(session, chapter_id))
    refresh_course(session, course)
    _record(session, actor, "lesson.delete", f"lesson:{lesson_id}", course_id=course.id, title=title)


def get_lesson_editor(session: Session, *, actor_id: object, lesson_id: object) -> LessonEditorDTO:
    actor = _actor(session, actor_id)
    lesson, course = _lesson(session, actor, lesson_id)
    asset = session.get(MediaAsset, lesson.media_asset_id) if lesson.media_asset_id else None
    drip = "date" if lesson.release_at else ("days" if lesson.release_after_days else "none")
    return LessonEditorDTO(
        id=lesson.id, course_id=course.id, course_title=course.title, chapter_id=lesson.chapter_id,
        title=lesson.title, kind=lesson.kind, is_free_trial=lesson.is_free_trial, free_seconds=lesson.free_seconds,
        article_html=lesson.article_html or "",
        reading_minutes=(lesson.duration_seconds or 0) // 60 if lesson.kind == LessonKind.ARTICLE.value else 0,
        drip=drip, release_at_input=china_time_input(lesson.release_at),
        release_after_days=lesson.release_after_days or 0,
        media_status=_media_status(lesson.kind, asset.status if asset else None),
        media_error=(asset.error or "") if asset and asset.status == "failed" else "",
        duration_text=format_duration(lesson.duration_seconds or 0),
        chapters=tuple(OptionDTO(c.id, c.title) for c in _chapters_of(session, course.id)),
    )


def update_lesson(session: Session, *, actor_id: object, lesson_id: object, data: LessonInput) -> None:
    actor = _actor(session, actor_id)
    if not isinstance(data, LessonInput):
        raise DomainError("error.bad_request")
    lesson, course = _lesson(session, actor, lesson_id)
    title = _text(data.title, TITLE_MAX, "cms.lesson_title_invalid", required=True)
    free_trial = _flag(data.is_free_trial)
    is_article = lesson.kind == LessonKind.ARTICLE.value
    free_seconds = 0 if (free_trial or is_article) else _int_in(data.free_seconds, 0, FREE_SECONDS_MAX,
                                                                "cms.free_seconds_invalid")
    release_at, after_days = _drip(data)
    lesson.title = title
    lesson.is_free_trial = free_trial
    lesson.free_seconds = free_seconds
    lesson.release_at = release_at
    lesson.release_after_days = after_days
    if is_article:
        body = _text(data.article, ARTICLE_MAX, "cms.article_invalid", single_line=False)
        lesson.article_html = rich_text_to_html(body)
        lesson.duration_seconds = 60 * _int_in(data.reading_minutes, 1, READING_MINUTES_MAX, "cms.reading_invalid")
    session.add(lesson)
    session.flush()
    queue_preview(session, lesson)  # new free seconds need their clip before non-buyers get anything
    refresh_course(session, course)
    _record(session, actor, "lesson.update", f"lesson:{lesson.id}", title=title, free_trial=free_trial,
            free_seconds=free_seconds, release_after_days=after_days,
            release_at=release_at.isoformat() if release_at else "")


def _drip(data: LessonInput) -> tuple[datetime | None, int]:
    if data.drip == "none":
        return None, 0
    if data.drip == "date":
        return parse_china_time(data.release_at), 0
    if data.drip == "days":
        return None, _int_in(data.release_after_days, 1, DRIP_DAYS_MAX, "cms.drip_days_invalid")
    raise DomainError("error.bad_request")
