"""What the lesson player shows: the lesson itself with one signed URL per rendition
(`get_lesson_page`), the course outline with the viewer's completion marks, the player policy, and
the viewer's own watermark (nickname + code) (`get_player_context`).

Read-only. The watermark code returned is always the *viewer's* (anonymous viewers get none), so
no other user's code can be reached through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from coursemall.domain.catalog import LessonKind, format_duration
from coursemall.domain.errors import DomainError
from coursemall.models import Certificate, Chapter, Course, Lesson, LessonProgress, User, utcnow
from coursemall.services.catalog.storefront import sanitize_rich_html
from coursemall.services.learning.media_access import (
    Access,
    PlayerMedia,
    active_grant_time,
    check_lesson_access,
    drip_unlocks_at,
    mint_player_media,
)
from coursemall.services.learning.progress import course_progress_map


@dataclass(frozen=True)
class LessonPage:
    lesson_id: int
    course_id: int
    course_title: str
    title: str
    kind: str
    duration_text: str
    access: str  # Access value (articles are never "partial")
    free_seconds: int  # > 0 only for a partial preview
    article_html: str  # sanitised; only with full access
    prev_lesson_id: int  # 0 = none
    next_lesson_id: int
    preview: bool  # a course manager's "preview as a learner"
    unlocks_at: datetime | None  # drip release: when this viewer may study it
    media: PlayerMedia | None  # signed sources (None: locked, article, or no ready media)


def _neighbours(session: Session, course_id: int, lesson_id: int) -> tuple[int, int]:
    """Previous and next lesson ids in outline order (chapter position, lesson position)."""
    order = session.exec(
        select(Lesson.id).join(Chapter, Chapter.id == Lesson.chapter_id).where(Lesson.course_id == course_id)
        .order_by(col(Chapter.position), col(Chapter.id), col(Lesson.position), col(Lesson.id))).all()
    index = order.index(lesson_id) if lesson_id in order else -1
    prev_id = order[index - 1] if index > 0 else 0
    next_id = order[index + 1] if 0 <= index < len(order) - 1 else 0
    return prev_id, next_id


def get_lesson_page(session: Session, *, actor_id: int | None, lesson_id: object, session_token_hash: str = "",
                    mfa_verified: bool = False, now: datetime | None = None) -> LessonPage:
    """The lesson as this viewer may see it; media URLs are bound to the viewer's session.
    DomainError (error.not_found / error.bad_request) for lessons they may not see at all."""
    decision = check_lesson_access(session, actor_id=actor_id, lesson_id=lesson_id, mfa_verified=mfa_verified,
                                   now=now)
    lesson = session.get(Lesson, decision.lesson_id)
    course_title = session.exec(select(Course.title).where(Course.id == decision.course_id)).one()
    prev_id, next_id = _neighbours(session, decision.course_id, lesson.id)
    is_article = lesson.kind == LessonKind.ARTICLE
    access = decision.access
    if is_article and access is Access.PARTIAL:
        access = Access.LOCKED  # "first N seconds" has no meaning for an article
    media = None
    if access is not Access.LOCKED and not is_article and lesson.media_asset_id:
        try:
            media = mint_player_media(session, actor_id=actor_id, lesson_id=lesson.id,
                                      session_token_hash=session_token_hash, decision=decision)
        except DomainError:
            media = None  # not ready yet: the page says so
    return LessonPage(
        lesson_id=lesson.id, course_id=decision.course_id, course_title=course_title, title=lesson.title,
        kind=lesson.kind, duration_text=format_duration(lesson.duration_seconds or 0), access=access.value,
        free_seconds=decision.free_seconds if access is Access.PARTIAL else 0,
        article_html=sanitize_rich_html(lesson.article_html or "") if is_article and access is Access.FULL else "",
        prev_lesson_id=prev_id, next_lesson_id=next_id, preview=decision.preview,
        unlocks_at=decision.unlocks_at, media=media,
    )


@dataclass(frozen=True)
class OutlineLesson:
    id: int
    title: str
    kind: str
    duration_text: str
    completed: bool
    current: bool
    unlocks_at: datetime | None = None  # drip release: not open for this viewer until then


@dataclass(frozen=True)
class OutlineChapter:
    id: int
    title: str
    lessons: tuple[OutlineLesson, ...]


@dataclass(frozen=True)
class PlayerContext:
    lesson_id: int
    course_id: int
    access: str
    entitled: bool
    no_seek_first_watch: bool
    overlay_nickname: str  # the viewer's own nickname ("" when anonymous)
    overlay_code: str  # the viewer's own watermark code ("" when anonymous)
    chapters: tuple[OutlineChapter, ...]
    course_percent: int  # 0 for anonymous viewers
    lesson_completed: bool
    certificate_code: str  # the viewer's certificate for this course, "" if none
    duration_seconds: int


def get_player_context(session: Session, *, actor_id: int | None, lesson_id: object,
                       mfa_verified: bool = False) -> PlayerContext:
    """Outline + policy + the viewer's watermark; DomainError for lessons they may not see."""
    decision = check_lesson_access(session, actor_id=actor_id, lesson_id=lesson_id, mfa_verified=mfa_verified)
    course = session.get(Course, decision.course_id)
    user = session.get(User, actor_id) if actor_id else None
    if user is not None and not user.is_active:
        user = None
    done: set[int] = set()
    percent = 0
    cert = ""
    if user is not None:
        done = set(session.exec(select(LessonProgress.lesson_id).where(
            LessonProgress.user_id == user.id, LessonProgress.course_id == decision.course_id,
            col(LessonProgress.completed_at).is_not(None))).all())
        percent = course_progress_map(session, user.id, [decision.course_id]).get(decision.course_id, 0)
        cert = session.exec(select(Certificate.code).where(Certificate.user_id == user.id,
                                                           Certificate.course_id == decision.course_id)).first() or ""
    chapters = session.exec(select(Chapter).where(Chapter.course_id == decision.course_id)
                            .order_by(col(Chapter.position), col(Chapter.id))).all()
    lessons = session.exec(select(Lesson.id, Lesson.chapter_id, Lesson.title, Lesson.kind, Lesson.duration_seconds,
                                  Lesson.release_at, Lesson.release_after_days)
                           .where(Lesson.course_id == decision.course_id)
                           .order_by(col(Lesson.position), col(Lesson.id))).all()
    now = utcnow()
    granted = active_grant_time(session, user_id=user.id if user else None, course_id=decision.course_id, now=now)
    by_chapter: dict[int, list[OutlineLesson]] = {}
    for lid, chid, title, kind, duration, release_at, after_days in lessons:
        unlocks = None if decision.preview else drip_unlocks_at(release_at=release_at, after_days=after_days,
                                                                granted_at=granted, now=now)
        by_chapter.setdefault(chid, []).append(OutlineLesson(
            lid, title, kind, format_duration(int(duration or 0)), lid in done, lid == decision.lesson_id, unlocks))
    duration = next((int(row[4] or 0) for row in lessons if row[0] == decision.lesson_id), 0)
    outline = tuple(OutlineChapter(ch.id, ch.title, tuple(by_chapter.get(ch.id, ()))) for ch in chapters)
    return PlayerContext(
        lesson_id=decision.lesson_id, course_id=decision.course_id, access=decision.access.value,
        entitled=decision.entitled,
        no_seek_first_watch=bool(course.no_seek_first_watch) if course else False,
        overlay_nickname=(user.nickname if user else "")[:40],
        overlay_code=(user.watermark_code if user else "") or "",
        chapters=outline, course_percent=percent, lesson_completed=decision.lesson_id in done,
        certificate_code=cert, duration_seconds=duration,
    )
