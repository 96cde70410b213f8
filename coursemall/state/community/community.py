"""Community states: lesson comments, course reviews, daily check-in, homework and the homework
review queue.

Thin, like every state here. Every public method is a remote endpoint (ARCHITECTURE.md rule 1):
each one checks the type and size of every argument and route segment before anything else
(Reflex 0.10.1 passes dicts, lists, None or 100 KB strings through unconverted), takes the actor
only from the server-side session (`self._actor_id()`), calls one community/check-in/homework
service (which authorises against the object again) and copies the DTO into plain str/int/bool/
list[dict[str, str]] vars. DomainError codes become translated messages; nothing else reaches the
browser. User text is copied verbatim into vars and rendered with `rx.text` (never as HTML).

Course managers' powers here (reading a paid lesson's comments without buying it, deleting or
hiding others' comments, replying to and hiding reviews, reading a course's check-ins, grading)
go through the dashboard guard: pure manager actions carry `@dashboard_required`; the others ask
`_manager()` (the same check) and pass `as_manager` to the service. An owner or staff member on a
password-only session is refused with the TOTP message (`mfa_needed`: the page shows the TOTP
step) and treated as a learner; a learner's own actions are unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx
from starlette.datastructures import UploadFile as StarletteUploadFile

from coursemall import urls
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_time_text
from coursemall.domain.validation import valid_id
from coursemall.services.learning import checkins as checkin_service
from coursemall.services.community import comments as community_service
from coursemall.services.learning import homework as homework_service
from coursemall.services.learning import progress as progress_service
from coursemall.services.actors import require_actor
from coursemall.state.base import AppState
from coursemall.state.dashboard.base import DashboardBaseState
from coursemall.state.feedback import FeedbackMixin
from coursemall.state.guards import MFA_REQUIRED, check_dashboard, dashboard_required

log = logging.getLogger(__name__)
T = TypeVar("T")
# Longest form value looked at: twice the longest text any service accepts (homework 5000) plus
# slack. Anything longer is refused here with the service's own "too long" message.
MAX_FIELD = 12_000
MAX_FORM_KEYS = 20
PHOTO_LIMIT = checkin_service.PHOTO_MAX_BYTES
COMMENT_PAGE = 20
REPLIES_PAGE = community_service.PAGE_MAX


def _in_session(fn: Callable[..., T], **kwargs: Any) -> T:
    with session_scope() as s:
        return fn(s, **kwargs)


def form_text(form_data: object, name: str, max_len: int) -> str | None:
    """A text field of a submitted form. None = not a form / not a string. A string longer than
    `MAX_FIELD` is cut to `max_len * 2 + 65` characters so the service refuses it as too long
    (with its own message) without ever cleaning 100 KB."""
    if not isinstance(form_data, dict) or len(form_data) > MAX_FORM_KEYS:
        return None
    value = form_data.get(name, "")
    if not isinstance(value, str):
        return None
    if len(value) > MAX_FIELD:
        return value[: max_len * 2 + 65]
    return value


def parse_score(value: object) -> int | None:
    """0..100 from a form field (digits) or an int; anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not (0 < len(text) <= 3 and text.isascii() and text.isdigit()):
            return None
        value = int(text)
    if isinstance(value, int) and 0 <= value <= 100:
        return value
    return None


def _initial(name: str) -> str:
    return name[:1] if name else "?"


async def read_uploads(files: object, *, max_files: int, limit: int) -> list[bytes] | None:
    """Bytes of uploaded files, reading at most `limit + 1` bytes of each (a longer one stays
    longer than `limit`, so the service refuses it as too large). None when `files` is not a list
    of uploads or holds more than `max_files`."""
    if not isinstance(files, list) or len(files) > max_files:
        return None
    if not all(isinstance(f, StarletteUploadFile) for f in files):
        return None

    def work() -> list[bytes]:
        out = []
        for f in files:
            data = f.file.read(limit + 1)
            out.append(bytes(data) if isinstance(data, (bytes, bytearray)) else b"")
        return out

    return await asyncio.to_thread(work)


# ---------------------------------------------------------------------------------- base

class CommunityBaseState(FeedbackMixin, AppState):
    """Messages and helpers shared by the community states (no public methods)."""


class ManagerMixin(rx.State, mixin=True):
    """The manager side of a storefront community state: the dashboard guard's check, and the
    TOTP step flag the page shows (a var of each state, so one page's refusal stays on it)."""

    mfa_needed: bool = False

    def _manager(self) -> tuple[bool, str]:
        """(True, "") when this session may use a course manager's powers (role from the
        database, TOTP for owner/staff), else (False, the refusal code)."""
        actor, code = check_dashboard(self)
        return actor is not None, code

    def _deny(self, code: str) -> None:
        """Called by the guard (and by handlers) when a manager power is refused."""
        self.mfa_needed = code == MFA_REQUIRED
        self._fail(code)

    def _refused(self, exc: BaseException, manager_code: str) -> None:
        """A service refusal; when the caller is a manager held back only by the TOTP step, the
        TOTP message (the page offers the step) instead of the learner's answer."""
        if manager_code == MFA_REQUIRED and isinstance(exc, DomainError):
            return self._deny(MFA_REQUIRED)
        self._failed(exc)



# ---------------------------------------------------------------------------------- comments

def _comment_vars(view: community_service.CommentView, *, shown_replies: int = 0) -> dict[str, str]:
    more = view.reply_count - shown_replies if view.parent_id is None else 0
    return {
        "id": str(view.id),
        "parent": str(view.parent_id or ""),
        "reply": "1" if view.parent_id else "",
        "author": view.author,
        "initial": _initial(view.author),
        "avatar": view.author_avatar_url,
        "text": view.body,
        "likes": str(view.like_count),
        "liked": "1" if view.liked else "",
        "mine": "1" if view.mine else "",
        "can_delete": "1" if view.can_delete else "",
        "moderate": "1" if view.can_delete and not view.mine else "",
        "more": str(more) if more > 0 else "",
        "date": china_time_text(view.created_at),
    }


class LessonCommentsState(ManagerMixin, CommunityBaseState):
    """The comment section of /lesson/[lesson_id]: newest first, one level of replies, likes."""

    lesson_id: int = 0
    items: list[dict[str, str]] = []  # top-level comments, each followed by its replies
    next_before: int = 0  # 0 = no older page
    can_post: bool = False
    needs_sign_in: bool = False
    loaded: bool = False
    reply_to: str = ""  # id of the comment whose reply form is open
    form_key: int = 0  # bumped after a post so the uncontrolled textareas empty themselves

    def _reset_list(self) -> None:
        self.items = []
        self.next_before = 0
        self.can_post = False
        self.reply_to = ""

    def _flatten(self, page: community_service.CommentPage) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for top in page.items:
            out.append(_comment_vars(top, shown_replies=len(top.replies)))
            out.extend(_comment_vars(r) for r in top.replies)
        return out

    def _lesson(self) -> int | None:
        lid = self._route_id("lesson_id")
        if lid is None:
            self._fail("lesson.not_found")
        return lid

    @rx.event
    def load_comments(self):
        self.error = self.success = ""
        self.mfa_needed = False
        lid = self._lesson()
        if lid is None:
            self.lesson_id = 0
            self._reset_list()
            self.loaded = True
            return
        if lid != self.lesson_id:
            self._reset_list()
        self.lesson_id = lid
        user_id = self._actor_id()
        if user_id is None:
            self._reset_list()
            self.needs_sign_in = True
            self.loaded = True
            return
        self.needs_sign_in = False
        manager, code = self._manager()

        def work(s):
            page = community_service.list_comments(s, actor_id=user_id, lesson_id=lid, limit=COMMENT_PAGE,
                                                   as_manager=manager)
            try:
                progress_service.require_study(s, user_id, lid, full=True)
                full = True
            except DomainError:
                full = False
            return page, full

        try:
            with session_scope() as s:
                page, full = work(s)
        except Exception as exc:  # noqa: BLE001 - shown as a message
            self._reset_list()
            self.loaded = True
            return self._refused(exc, code)
        self.items = self._flatten(page)
        self.next_before = page.next_before_id or 0
        self.can_post = full
        self.loaded = True

    @rx.event
    def load_more_comments(self):
        lid = self._lesson()
        user_id = self._signed_in_actor() if lid is not None else None
        if lid is None or user_id is None or lid != self.lesson_id or self.next_before <= 0:
            return
        manager, code = self._manager()
        try:
            page = _in_session(community_service.list_comments, actor_id=user_id, lesson_id=lid,
                               before_id=self.next_before, limit=COMMENT_PAGE, as_manager=manager)
        except Exception as exc:  # noqa: BLE001
            return self._refused(exc, code)
        seen = {i["id"] for i in self.items}
        self.items = self.items + [i for i in self._flatten(page) if i["id"] not in seen]
        self.next_before = page.next_before_id or 0

    @rx.event
    def load_replies(self, comment_id: int):
        cid = valid_id(comment_id)
        if cid is None:
            return self._fail("error.bad_request")
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        manager, code = self._manager()
        try:
            replies = _in_session(community_service.list_replies, actor_id=user_id, comment_id=cid,
                                  limit=REPLIES_PAGE, as_manager=manager)
        except Exception as exc:  # noqa: BLE001
            return self._refused(exc, code)
        key = str(cid)
        if not any(i["id"] == key and not i["reply"] for i in self.items):
            return
        rest = [i for i in self.items if i["parent"] != key]
        at = next(n for n, i in enumerate(rest) if i["id"] == key)
        top = dict(rest[at])
        top["more"] = ""
        self.items = rest[:at] + [top] + [_comment_vars(r) for r in replies] + rest[at + 1:]

    @rx.event
    def post_comment(self, form_data: dict):
        text = form_text(form_data, "text", community_service.COMMENT_MAX)
        if text is None:
            return self._fail("error.bad_request")
        lid = self._lesson()
        if lid is None:
            return
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        manager, _ = self._manager()
        try:
            view = _in_session(community_service.add_comment, actor_id=user_id, lesson_id=lid, text=text,
                               as_manager=manager)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        if lid != self.lesson_id:
            self._reset_list()
            self.lesson_id = lid
        self.can_post = True
        self.items = [_comment_vars(view)] + self.items
        self.form_key += 1
        self._ok("community.posted")

    @rx.event
    def open_reply(self, comment_id: int):
        cid = valid_id(comment_id)
        if cid is None:
            return self._fail("error.bad_request")
        self.reply_to = "" if self.reply_to == str(cid) else str(cid)

    @rx.event
    def post_reply(self, form_data: dict):
        text = form_text(form_data, "text", community_service.COMMENT_MAX)
        if text is None:
            return self._fail("error.bad_request")
        parent = valid_id(form_data.get("parent_id", ""))
        if parent is None:
            return self._fail("error.bad_request")
        lid = self._lesson()
        if lid is None:
            return
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        manager, _ = self._manager()
        try:
            view = _in_session(community_service.add_comment, actor_id=user_id, lesson_id=lid, text=text,
                               parent_id=parent, as_manager=manager)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        top = str(view.parent_id or "")
        items = list(self.items)
        idx = [n for n, i in enumerate(items) if i["id"] == top or i["parent"] == top]
        if idx:
            items.insert(idx[-1] + 1, _comment_vars(view))
            self.items = items
        self.reply_to = ""
        self.form_key += 1
        self._ok("community.replied")

    @rx.event
    def toggle_like(self, comment_id: int):
        cid = valid_id(comment_id)
        if cid is None:
            return self._fail("error.bad_request")
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        try:
            like = _in_session(community_service.toggle_like, actor_id=user_id, comment_id=cid)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        key = str(like.comment_id)
        self.items = [{**i, "likes": str(like.like_count), "liked": "1" if like.liked else ""}
                      if i["id"] == key else i for i in self.items]
        self.error = ""

    def _drop(self, cid: int) -> None:
        key = str(cid)
        self.items = [i for i in self.items if i["id"] != key and i["parent"] != key]

    @rx.event
    def delete_comment(self, comment_id: int):
        cid = valid_id(comment_id)
        if cid is None:
            return self._fail("error.bad_request")
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        manager, code = self._manager()  # deleting others' comments is moderation
        try:
            _in_session(community_service.delete_comment, actor_id=user_id, comment_id=cid, as_manager=manager)
        except Exception as exc:  # noqa: BLE001
            return self._refused(exc, code)
        self._drop(cid)
        self._ok("community.deleted")

    @rx.event
    @dashboard_required
    def hide_comment(self, comment_id: int):
        """Moderation (course manager; the service checks the role against the comment's course)."""
        cid = valid_id(comment_id)
        if cid is None:
            return self._fail("error.bad_request")
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        try:
            _in_session(community_service.set_comment_hidden, actor_id=user_id, comment_id=cid, hidden=True,
                        as_manager=True)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self._drop(cid)
        self._ok("community.hidden")


# ---------------------------------------------------------------------------------- reviews

def _stars(n: int) -> str:
    n = max(0, min(5, int(n)))
    return "★" * n + "☆" * (5 - n)


class ReviewState(ManagerMixin, CommunityBaseState):
    """The reviews panel of /course/[course_id]: summary, list, my review, owner reply/hide."""

    course_id: int = 0
    average: str = ""
    count_text: str = ""
    bars: list[dict[str, str]] = []
    reviews: list[dict[str, str]] = []
    can_review: bool = False  # a buyer (the service checks again on submit)
    has_review: bool = False
    is_manager: bool = False
    my_rating: int = 0
    my_content: str = ""
    reply_to: str = ""
    form_key: int = 0

    def _course(self) -> int | None:
        cid = self._route_id("course_id")
        if cid is None:
            self._fail("course.not_found")
        return cid

    def _load(self, cid: int, user_id: int | None) -> None:
        manager = user_id is not None and self._manager()[0]
        with session_scope() as s:
            summary = community_service.rating_summary(s, course_id=cid)
            rows = community_service.list_reviews(s, course_id=cid, viewer_id=user_id, limit=community_service.PAGE_MAX)
            mine = None
            buyer = False
            if user_id is not None:
                try:
                    user = require_actor(s, user_id)
                    mine = community_service.get_my_review(s, actor_id=user_id, course_id=cid)
                    buyer = community_service.is_buyer(s, user.id, cid)
                    manager = manager and community_service.manages_course(s, user, cid, as_manager=True)
                except DomainError:
                    manager = False
        self.course_id = cid
        self.average = summary.average_text
        self.count_text = self._t("reviews.count", count=summary.count)
        self.bars = [{"stars": str(b.stars), "count": str(b.count), "percent": f"{b.percent}%"}
                     for b in summary.bars]
        self.reviews = [{"id": str(r.id), "author": r.author, "initial": _initial(r.author),
                         "stars": _stars(r.rating), "rating": str(r.rating), "content": r.content,
                         "reply": r.owner_reply, "mine": "1" if r.mine else "",
                         "date": china_time_text(r.updated_at)} for r in rows]
        self.can_review = buyer
        self.is_manager = manager
        self.has_review = mine is not None
        self.my_rating = mine.rating if mine else 0
        self.my_content = mine.content if mine else ""
        self.form_key += 1

    @rx.event
    def load_reviews(self):
        self.error = self.success = ""
        self.reply_to = ""
        self.mfa_needed = False
        cid = self._course()
        if cid is None:
            self.course_id = 0
            self.reviews, self.bars = [], []
            return
        try:
            self._load(cid, self._actor_id())
        except Exception as exc:  # noqa: BLE001
            self.reviews, self.bars = [], []
            return self._failed(exc)

    @rx.event
    def pick_review_star(self, stars: int):
        if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
            return self._fail("review.bad_rating")
        self.my_rating = stars

    @rx.event
    def submit_review(self, form_data: dict):
        content = form_text(form_data, "content", community_service.REVIEW_MAX)
        if content is None:
            return self._fail("error.bad_request")
        if not 1 <= self.my_rating <= 5:
            return self._fail("review.bad_rating")
        cid = self._course()
        if cid is None:
            return
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        try:
            _in_session(community_service.submit_review, actor_id=user_id, course_id=cid,
                        rating=self.my_rating, content=content)
            self._load(cid, user_id)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self._ok("reviews.saved")
        from coursemall.state.catalog.storefront import CourseState

        return CourseState.load  # the header's rating follows

    @rx.event
    def open_review_reply(self, review_id: int):
        rid = valid_id(review_id)
        if rid is None:
            return self._fail("error.bad_request")
        self.reply_to = "" if self.reply_to == str(rid) else str(rid)

    @rx.event
    @dashboard_required
    def reply_review(self, form_data: dict):
        text = form_text(form_data, "text", community_service.REPLY_MAX)
        if text is None:
            return self._fail("error.bad_request")
        rid = valid_id(form_data.get("review_id", ""))
        cid = self._course()
        if rid is None or cid is None:
            return self._fail("error.bad_request")
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        try:
            _in_session(community_service.reply_review, actor_id=user_id, review_id=rid, text=text,
                        as_manager=True)
            self._load(cid, user_id)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self.reply_to = ""
        self._ok("reviews.replied")

    @rx.event
    @dashboard_required
    def hide_review(self, review_id: int):
        rid = valid_id(review_id)
        cid = self._course()
        if rid is None or cid is None:
            return self._fail("error.bad_request")
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        try:
            _in_session(community_service.set_review_hidden, actor_id=user_id, review_id=rid, hidden=True,
                        as_manager=True)
            self._load(cid, user_id)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self._ok("reviews.hidden")


# ---------------------------------------------------------------------------------- check-in

class CheckinState(ManagerMixin, CommunityBaseState):
    """/course/[course_id]/checkin: today's check-in, streaks and the course's recent check-ins."""

    course_id: int = 0
    course_href: str = ""
    allowed: bool = False  # the viewer may check in / read (hides UI only)
    loaded: bool = False
    checked_today: bool = False
    streak_current: int = 0
    streak_longest: int = 0
    total_days: int = 0
    items: list[dict[str, str]] = []
    text: str = ""

    def _clear(self) -> None:
        self.allowed = self.checked_today = False
        self.streak_current = self.streak_longest = self.total_days = 0
        self.items = []

    def _load(self, cid: int, user_id: int, as_manager: bool = False) -> None:
        with session_scope() as s:
            status = checkin_service.checkin_status(s, actor_id=user_id, course_id=cid)
            rows = checkin_service.list_checkins(s, actor_id=user_id, course_id=cid, limit=community_service.PAGE_MAX,
                                                 as_manager=as_manager)
        self.allowed = True
        self.checked_today = status.checked_in_today
        self.streak_current, self.streak_longest = status.streak_current, status.streak_longest
        self.total_days = status.total_days
        self.items = [{"id": str(r.id), "author": r.author, "initial": _initial(r.author),
                       "avatar": r.author_avatar_url, "text": r.text, "photo": r.photo_url, "day": r.day,
                       "mine": "1" if r.mine else "", "date": china_time_text(r.created_at)} for r in rows]

    @rx.event
    def load_checkin(self):
        self.error = self.success = ""
        self.mfa_needed = False
        cid = self._route_id("course_id")
        if cid is None:
            self._clear()
            self.course_id, self.course_href, self.loaded = 0, "", True
            return self._fail("course.not_found")
        self.course_id, self.course_href = cid, urls.course_url(cid)
        user_id = self._actor_id()
        if user_id is None:
            self._clear()
            self.loaded = True
            return rx.redirect(urls.sign_in_url(urls.checkin_url(cid)), replace=True)
        manager, code = self._manager()
        try:
            self._load(cid, user_id, manager)
        except Exception as exc:  # noqa: BLE001
            self._clear()
            self._refused(exc, code)
        self.loaded = True

    @rx.event
    def edit_checkin_text(self, value: str):
        if isinstance(value, str) and len(value) <= checkin_service.TEXT_MAX * 2:
            self.text = value
        else:
            self._fail("text.too_long", max=checkin_service.TEXT_MAX)

    @rx.event
    async def submit_checkin(self, files: list[rx.UploadFile]):
        photos = await read_uploads(files, max_files=1, limit=PHOTO_LIMIT)
        if photos is None:
            return self._fail("checkin.ui.one_photo")
        cid = self._route_id("course_id")
        if cid is None:
            return self._fail("course.not_found")
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        text = self.text

        def work() -> None:
            _in_session(checkin_service.check_in, actor_id=user_id, course_id=cid, text=text,
                        photo=photos[0] if photos else None)

        try:
            await asyncio.to_thread(work)
            self._load(cid, user_id)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self.text = ""
        self._ok("checkin.ui.done", days=self.streak_current)
        return rx.clear_selected_files(CHECKIN_UPLOAD)


CHECKIN_UPLOAD = "checkin-photo"
HOMEWORK_UPLOAD = "homework-images"


# ---------------------------------------------------------------------------------- homework

def _submission_vars(v: homework_service.SubmissionView) -> dict[str, str]:
    return {"id": str(v.id), "course": v.course_title, "lesson": v.lesson_title,
            "lesson_href": urls.lesson_url(v.lesson_id), "learner": v.learner,
            "initial": _initial(v.learner), "text": v.text, "status": v.status,
            "score": "" if v.score is None else str(v.score), "feedback": v.feedback,
            "date": china_time_text(v.updated_at), "graded_at": china_time_text(v.graded_at)}


class HomeworkState(CommunityBaseState):
    """/lesson/[lesson_id]/homework: my submission (text + up to 3 images) and its grade."""

    lesson_id: int = 0
    lesson_title: str = ""
    lesson_href: str = ""
    allowed: bool = False
    loaded: bool = False
    submitted: bool = False
    status: str = ""  # "" | submitted | graded
    score: str = ""
    feedback: str = ""
    my_text: str = ""
    images: list[str] = []
    updated: str = ""
    text: str = ""  # the editor

    def _clear(self) -> None:
        self.allowed = self.submitted = False
        self.status = self.score = self.feedback = self.my_text = self.updated = ""
        self.images = []

    def _show(self, view: homework_service.SubmissionView | None) -> None:
        self.submitted = view is not None
        self.status = view.status if view else ""
        self.score = "" if view is None or view.score is None else str(view.score)
        self.feedback = view.feedback if view else ""
        self.my_text = view.text if view else ""
        self.images = list(view.image_urls) if view else []
        self.updated = china_time_text(view.updated_at) if view else ""

    @rx.event
    def load_homework(self):
        self.error = self.success = ""
        lid = self._route_id("lesson_id")
        if lid is None:
            self._clear()
            self.lesson_id, self.lesson_title, self.lesson_href, self.loaded = 0, "", "", True
            return self._fail("lesson.not_found")
        self.lesson_id, self.lesson_href = lid, urls.lesson_url(lid)
        user_id = self._actor_id()
        if user_id is None:
            self._clear()
            self.loaded = True
            return rx.redirect(urls.sign_in_url(urls.homework_url(lid)), replace=True)
        try:
            with session_scope() as s:
                _, target = progress_service.require_study(s, user_id, lid, full=True)
                view = homework_service.get_my_homework(s, actor_id=user_id, lesson_id=lid)
        except Exception as exc:  # noqa: BLE001
            self._clear()
            self.lesson_title = ""
            self.loaded = True
            return self._failed(exc)
        self.lesson_title = target.title
        self.allowed = True
        self._show(view)
        if view is not None and view.status == "submitted" and not self.text:
            self.text = view.text
        self.loaded = True

    @rx.event
    def edit_homework_text(self, value: str):
        if isinstance(value, str) and len(value) <= homework_service.TEXT_MAX * 2:
            self.text = value
        else:
            self._fail("text.too_long", max=homework_service.TEXT_MAX)

    @rx.event
    async def submit_homework(self, files: list[rx.UploadFile]):
        images = await read_uploads(files, max_files=homework_service.MAX_IMAGES, limit=PHOTO_LIMIT)
        if images is None:
            return self._fail("homework.too_many_images", max=homework_service.MAX_IMAGES)
        lid = self._route_id("lesson_id")
        if lid is None:
            return self._fail("lesson.not_found")
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        text = self.text

        def work() -> homework_service.SubmissionView:
            return _in_session(homework_service.submit_homework, actor_id=user_id, lesson_id=lid, text=text,
                               images=images)

        try:
            view = await asyncio.to_thread(work)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self._show(view)
        self._ok("homework.ui.submitted")
        return rx.clear_selected_files(HOMEWORK_UPLOAD)


class HomeworkReviewState(DashboardBaseState):
    """/admin/homework: ungraded submissions of the courses the viewer manages; grade them.
    Every handler carries `@dashboard_required` (owner/staff with TOTP, or an approved instructor);
    the service checks each submission's course again."""

    show_graded: bool = False
    queue: list[dict[str, str]] = []
    queue_images: list[list[str]] = []

    def _clear_data(self) -> None:
        self.queue, self.queue_images = [], []

    def _reload(self, user_id: int | None) -> None:
        rows = _in_session(homework_service.review_queue, actor_id=user_id, graded=self.show_graded,
                           limit=community_service.PAGE_MAX, as_manager=True)
        self.queue = [_submission_vars(v) for v in rows]
        self.queue_images = [list(v.image_urls) for v in rows]
        self._admit()

    def _homework_error(self, exc: Exception) -> None:
        if isinstance(exc, DomainError):
            return self._service_error("queue", exc)
        log.exception("homework review failed")
        self._fail("queue", "error.generic")

    @rx.event
    @dashboard_required
    def load_homework_queue(self, graded: bool = False):
        self._clear_messages()
        self.show_graded = graded if isinstance(graded, bool) else False
        try:
            self._reload(self._actor_id())
        except Exception as exc:  # noqa: BLE001
            self._homework_error(exc)

    @rx.event
    @dashboard_required
    def grade_homework(self, form_data: dict):
        if not isinstance(form_data, dict) or len(form_data) > MAX_FORM_KEYS:
            return self._fail("queue", "error.bad_request")
        sid = valid_id(form_data.get("submission_id", ""))
        if sid is None:
            return self._fail("queue", "error.bad_request")
        score = parse_score(form_data.get("score", ""))
        if score is None:
            return self._fail("queue", "homework.bad_score")
        feedback = form_text(form_data, "feedback", homework_service.FEEDBACK_MAX)
        if feedback is None:
            return self._fail("queue", "error.bad_request")
        user_id = self._actor_id()
        try:
            _in_session(homework_service.grade_homework, actor_id=user_id, submission_id=sid, score=score,
                        feedback=feedback, as_manager=True)
            self._reload(user_id)
        except Exception as exc:  # noqa: BLE001
            return self._homework_error(exc)
        self._ok("queue", "admin.homework.graded", score=score)
