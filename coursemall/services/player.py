"""What the lesson player needs besides the media URL: the course outline with the viewer's
completion marks, the player policy, and the viewer's own watermark (nickname + code).

Read-only. The watermark code returned is always the *viewer's* (anonymous viewers get none), so
no other user's code can be reached through here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from coursemall.domain.catalog import format_duration
from coursemall.models import Certificate, Chapter, Course, Lesson, LessonProgress, User
from coursemall.services.media_access import check_lesson_access
from coursemall.services.progress import course_progress_map


@dataclass(frozen=True)
class OutlineLesson:
    id: int
    title: str
    kind: str
    duration_text: str
    completed: bool
    current: bool


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


def get_player_context(session: Session, *, actor_id: int | None, lesson_id: object) -> PlayerContext:
    """Outline + policy + the viewer's watermark; DomainError for unknown/unpublished lessons."""
    decision = check_lesson_access(session, actor_id=actor_id, lesson_id=lesson_id)
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
    lessons = session.exec(select(Lesson.id, Lesson.chapter_id, Lesson.title, Lesson.kind, Lesson.duration_seconds)
                           .where(Lesson.course_id == decision.course_id)
                           .order_by(col(Lesson.position), col(Lesson.id))).all()
    by_chapter: dict[int, list[OutlineLesson]] = {}
    for lid, chid, title, kind, duration in lessons:
        by_chapter.setdefault(chid, []).append(OutlineLesson(
            lid, title, kind, format_duration(int(duration or 0)), lid in done, lid == decision.lesson_id))
    duration = next((int(d or 0) for lid, _, _, _, d in lessons if lid == decision.lesson_id), 0)
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
