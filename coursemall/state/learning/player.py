"""Player, progress, notes and the learning centre: thin states over services/learning/progress.py,
services/learning/notes.py, services/learning/player.py and services/learning/certificates.py.

Every public method is a remote endpoint (ARCHITECTURE rule 1). The browser's player script
(assets/js/player.js, constant text) reports progress through two hidden inputs whose `on_change`
carries a small JSON string; the handlers parse it with strict limits (size, types, finite
numbers) before a service sees it, and the services validate again (position within the lesson,
access).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from datetime import datetime
from pathlib import Path

import reflex as rx

from coursemall import urls
from coursemall.db import session_scope
from coursemall.domain.catalog import format_duration
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_time_text
from coursemall.domain.validation import valid_id
from coursemall.services.learning import certificates as certificate_service
from coursemall.services.learning import notes as notes_service
from coursemall.services.learning import progress as progress_service
from coursemall.services.learning.media_access import mint_player_media
from coursemall.services.learning.player import get_lesson_page, get_player_context
from coursemall.state.base import AppState
from coursemall.state.catalog.storefront import TRIAL_GUARD_JS, LessonState
from coursemall.state.guards import MFA_REQUIRED, check_dashboard

log = logging.getLogger(__name__)

MAX_PAYLOAD_CHARS = 400
MAX_SECONDS = 24 * 3600 + 60
SPEEDS = ("0.5", "0.75", "1", "1.25", "1.5", "2")
NOTE_FORM_MAX = 4000

# The player's client side is assets/js/player.js (served at /js/player.js): constant text, no
# user data, installed once per tab. load_player answers every lesson load (a full page load or a
# client-side navigation) with a small boot call: it loads the file on first use, the way the
# player loads hls.js, and then calls window.__cmPlayer.init with integers only. The `?v=` is the
# file's content hash, so a browser never runs a cached copy of an older player.
PLAYER_JS_FILE = Path(__file__).resolve().parents[3] / "assets" / "js" / "player.js"
PLAYER_JS_SRC = "/js/player.js?v=" + hashlib.sha256(PLAYER_JS_FILE.read_bytes()).hexdigest()[:12]
_PLAYER_BOOT_JS = """(function(run){
if (window.__cmPlayer) { run(); return; }
window.__cmPlayerPending = run;  // player.js runs the latest one once it has loaded
if (document.getElementById('cm-player-js')) return;
var s = document.createElement('script');
s.id = 'cm-player-js'; s.src = %s; s.async = true;
s.onerror = function(){ s.remove(); };  // the next lesson load tries again
document.head.appendChild(s);
})(function(){ window.__cmPlayer.init(%d, %d, %d, %d, %d, %d); });"""


def player_boot_js(lesson_id: int, start: int, furthest: int, no_seek: bool, article: bool, track: bool) -> str:
    """The inline call that loads assets/js/player.js if needed and starts it on this lesson."""
    return _PLAYER_BOOT_JS % (json.dumps(PLAYER_JS_SRC), int(lesson_id), int(start), int(furthest),
                              1 if no_seek else 0, 1 if article else 0, 1 if track else 0)


def parse_payload(raw: object, keys: tuple[str, ...]) -> dict | None:
    """A small JSON object from the player script with exactly the expected number fields
    (extra keys ignored); None for anything else."""
    if not isinstance(raw, str) or not 0 < len(raw) <= MAX_PAYLOAD_CHARS:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    out = {}
    for key in keys:
        value = data.get(key)
        if key == "lesson_id":
            value = valid_id(value)
            if value is None:
                return None
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        elif not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
            return None
        out[key] = value
    return out


def _seconds_param(raw: object) -> int | None:
    if isinstance(raw, str) and 0 < len(raw) <= 6 and raw.isascii() and raw.isdigit():
        value = int(raw)
        return value if value <= MAX_SECONDS else None
    return None


def marker_vars(m, duration: int) -> dict[str, str]:
    left = min(100.0, m.at_seconds * 100.0 / duration) if duration > 0 else 0.0
    return {"id": str(m.id), "at": str(m.at_seconds), "time": format_duration(m.at_seconds),
            "left": f"{left:.2f}%", "kind": m.kind, "text": m.text, "answer": m.answer,
            "answered": "1" if m.answered else "", "mine": "1" if m.mine else "", "author": m.author}


def _record_heartbeat(actor: int, data: dict):
    """One heartbeat in its own short transaction; None when refused or failed (logged)."""
    try:
        with session_scope() as session:
            return progress_service.record_heartbeat(
                session, actor_id=actor, lesson_id=data["lesson_id"], position_seconds=data["position"],
                watched_from=data["from"], watched_to=data["to"])
    except DomainError as exc:
        log.info("heartbeat refused: %s", exc.code)
    except Exception:  # noqa: BLE001 - a heartbeat never breaks the player
        log.exception("heartbeat failed")
    return None


def unlock_text(moment: datetime, lang_t) -> str:
    return lang_t("player.unlocks_on", date=china_time_text(moment))  # drip dates: shop-local time


class PlayerState(LessonState):
    """The lesson player. `load_player` loads the lesson itself (LessonState's vars) through
    services/player.get_lesson_page, so the media URLs are bound to this viewer's session and a
    course manager's preview works; the outline, resume point, markers and watermark come with it."""

    chapters: list[dict[str, str]] = []
    outline: list[list[dict[str, str]]] = []
    course_percent: int = 0
    lesson_percent: int = 0
    lesson_completed: bool = False
    certificate_href: str = ""
    markers: list[dict[str, str]] = []
    overlay_name: str = ""  # the viewer's own nickname and code, shown over their player only
    overlay_code: str = ""
    can_track: bool = False  # signed in with access: progress, notes
    entitled: bool = False  # bought (hides the "free trial" badge)
    note_message: str = ""
    note_error: str = ""
    note_form_key: int = 0
    # one signed URL per rendition ("" when absent); the player script switches between them
    src_url: str = ""
    hd_url: str = ""
    sd_url: str = ""
    listen_url: str = ""
    preview_mode: bool = False  # a course manager's "preview as a learner" (no progress kept)
    unlock_text: str = ""  # drip release: "unlocks on <date>"
    preparing_text: str = ""  # the clip or the encrypted HLS this viewer needs is still being made
    mfa_needed: bool = False  # owner/staff on a password-only session: the TOTP step unlocks the preview

    _duration_seconds: int = 0

    def _apply_progress(self, lesson_id: int, result) -> None:
        if lesson_id != self.lesson_id:
            return
        self.lesson_percent = result.percent
        if result.completed and not self.lesson_completed:
            self.lesson_completed = True
            self.outline = [[{**ls, "done": "1"} if ls.get("id") == str(lesson_id) else ls for ls in ch]
                            for ch in self.outline]
        if result.course_percent is not None:
            self.course_percent = result.course_percent
        if result.certificate_code:
            self.certificate_href = urls.certificate_url(result.certificate_code)

    def _reset_player(self) -> None:
        self.chapters, self.outline, self.markers = [], [], []
        self.course_percent = self.lesson_percent = 0
        self.lesson_completed = self.can_track = self.entitled = self.preview_mode = self.mfa_needed = False
        self.certificate_href = self.overlay_name = self.overlay_code = ""
        self.src_url = self.hd_url = self.sd_url = self.listen_url = self.unlock_text = self.preparing_text = ""
        self.note_message = self.note_error = ""
        self._duration_seconds = 0

    def _show_lesson(self, page) -> None:
        """LessonState's vars (inherited, so they live on the parent state) from the page DTO."""
        self.lesson_id, self.course_id = page.lesson_id, page.course_id
        self.course_title, self.course_href = page.course_title, urls.course_url(page.course_id)
        self.title, self.kind, self.duration = page.title, page.kind, page.duration_text
        self.access, self.free_seconds = page.access, page.free_seconds
        self.partial_text = self._t("lesson.partial_note", duration=format_duration(page.free_seconds)) \
            if page.free_seconds else ""
        self.article_html = page.article_html
        self.prev_href = urls.lesson_url(page.prev_lesson_id) if page.prev_lesson_id else ""
        self.next_href = urls.lesson_url(page.next_lesson_id) if page.next_lesson_id else ""
        self.preview_mode = page.preview
        self.unlock_text = unlock_text(page.unlocks_at, self._t) if page.unlocks_at else ""
        media = page.media
        self.media_url = media.sources[0].url if media and media.sources else ""
        self._set_sources(media)
        self.preparing_text = self._t("lesson.preview_preparing" if page.access == "partial"
                                      else "lesson.media_preparing") if media and media.preparing else ""
        self.loaded = True

    def _set_sources(self, media) -> None:
        urls = {src.name: src.url for src in media.sources} if media else {}
        self.src_url, self.hd_url, self.sd_url = urls.get("src", ""), urls.get("hd", ""), urls.get("sd", "")
        self.listen_url = media.listen.url if media and media.listen else ""

    def _load_lesson(self, actor: int | None):
        """(page, context, resume, markers) or None after setting `error`."""
        lid = self._route_id("lesson_id")
        if lid is None:
            self.error = self._t("lesson.not_found")
            return None
        mfa = bool(actor) and self._mfa_ok
        try:
            with session_scope() as session:
                page = get_lesson_page(session, actor_id=actor, lesson_id=lid, mfa_verified=mfa,
                                       session_token_hash=self._session_hash if actor else "")
                ctx = get_player_context(session, actor_id=actor, lesson_id=lid, mfa_verified=mfa)
                resume, markers = None, ()
                if actor is not None and page.access != "locked" and not page.preview:
                    resume = progress_service.resume_position(session, actor_id=actor, lesson_id=lid)
                    if page.kind != "article":
                        markers = notes_service.list_markers(session, actor_id=actor, lesson_id=lid)
        except DomainError as exc:
            self.error = self._t("lesson.not_found" if exc.code in ("error.not_found", "error.bad_request")
                                 else exc.code)
            return None
        except Exception:  # noqa: BLE001 - shown as a message, logged
            log.exception("player load failed")
            self.error = self._t("error.generic")
            return None
        return page, ctx, resume, markers

    @rx.event
    def load_player(self):
        """on_load: the lesson, its signed sources, outline, resume point, markers, watermark;
        starts the player script."""
        self._reset_player()
        self.error = ""
        self.media_url = self.article_html = ""
        actor = self._actor_id()
        loaded = self._load_lesson(actor)
        if loaded is None:
            self.lesson_id = 0
            return
        page, ctx, resume, markers = loaded
        self._show_lesson(page)
        if actor is not None and page.access != "full" and not page.preview:
            # a manager's preview goes through the dashboard guard: say when only the TOTP step is missing
            self.mfa_needed = check_dashboard(self)[1] == MFA_REQUIRED
        lid = page.lesson_id
        self._duration_seconds = ctx.duration_seconds
        self.chapters = [{"id": str(ch.id), "title": ch.title} for ch in ctx.chapters]
        self.outline = [[{"id": str(ls.id), "href": urls.lesson_url(ls.id), "title": ls.title, "kind": ls.kind,
                          "duration": ls.duration_text, "done": "1" if ls.completed else "",
                          "current": "1" if ls.current else "",
                          "unlocks": china_time_text(ls.unlocks_at, "%m-%d")}
                         for ls in ch.lessons] for ch in ctx.chapters]
        self.course_percent = ctx.course_percent
        self.entitled = ctx.entitled or page.preview
        self.lesson_completed = ctx.lesson_completed
        self.certificate_href = urls.certificate_url(ctx.certificate_code) if ctx.certificate_code else ""
        if self.access != "locked":
            self.overlay_name, self.overlay_code = ctx.overlay_nickname, ctx.overlay_code
        self.markers = [marker_vars(m, ctx.duration_seconds) for m in markers]
        self.can_track = resume is not None
        start = resume.position_seconds if resume is not None and self.kind != "article" else 0
        furthest = resume.furthest_seconds if resume is not None else 0
        if resume is not None:
            self.lesson_percent = resume.percent
        asked = _seconds_param(self._query_param("t"))
        if asked is not None and self.kind != "article":
            start = asked
        no_seek = ctx.no_seek_first_watch and not ctx.lesson_completed and self.can_track
        if self.access == "locked":
            return
        boot = player_boot_js(lid, int(start), int(furthest), no_seek, self.kind == "article", self.can_track)
        guard = TRIAL_GUARD_JS + "\n" if self.free_seconds else ""
        return rx.call_script(guard + boot)

    @rx.event
    async def heartbeat(self, payload: str):
        """From the player script: {lesson_id, position, from, to} (seconds). Bad input and
        viewers without a sign-in are ignored quietly; nothing is stored for them. The write runs
        in a worker thread so a busy database never stalls other learners' events."""
        data = parse_payload(payload, ("lesson_id", "position", "from", "to"))
        if data is None:
            return
        actor = await self._actor_id_off_loop()  # a fresh session check: one indexed query
        if actor is None:
            return
        result = await asyncio.to_thread(_record_heartbeat, actor, data)
        if result is not None:
            self._apply_progress(data["lesson_id"], result)

    @rx.event
    def refresh_media(self, payload: str):
        """From the player script when a source failed (its short-lived playlist token expired):
        fresh session-bound URLs for the current lesson, after the same access check. The element
        keeps its key (media_url is unchanged); the script swaps the new URL in at the same second."""
        data = parse_payload(payload, ("lesson_id",))
        if data is None or data["lesson_id"] != self.lesson_id or self.access == "locked":
            return
        actor = self._actor_id()
        try:
            with session_scope() as session:
                media = mint_player_media(session, actor_id=actor, lesson_id=self.lesson_id,
                                          session_token_hash=self._session_hash if actor else "",
                                          mfa_verified=bool(actor) and self._mfa_ok)
        except DomainError as exc:
            log.info("media refresh refused: %s", exc.code)  # access is gone: the player stays stopped
            return
        except Exception:  # noqa: BLE001
            log.exception("media refresh failed")
            return
        self._set_sources(media)

    @rx.event
    def article_read(self, payload: str):
        """From the player script: {lesson_id, percent} of an article read (100 = the end)."""
        if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_CHARS:
            return
        data = parse_payload(payload, ("lesson_id", "percent"))
        if data is None or not isinstance(data["percent"], int) or data["percent"] > 100:
            return
        actor = self._actor_id()
        if actor is None:
            return
        try:
            with session_scope() as session:
                result = progress_service.record_article_read(session, actor_id=actor, lesson_id=data["lesson_id"],
                                                              percent=data["percent"])
        except DomainError as exc:
            log.info("article progress refused: %s", exc.code)
            return
        except Exception:  # noqa: BLE001
            log.exception("article progress failed")
            return
        self._apply_progress(data["lesson_id"], result)

    @rx.event
    def save_note(self, form_data: dict):
        """The note/question form: `text`, `at` (seconds, filled by the player script) and
        `kind` (note | question)."""
        self.note_message = self.note_error = ""
        if not isinstance(form_data, dict):
            self.note_error = self._t("error.bad_request")
            return
        text, at, kind = form_data.get("text"), form_data.get("at"), form_data.get("kind", "note")
        seconds = _seconds_param(at) if at not in ("", None) else 0
        if not isinstance(text, str) or seconds is None or kind not in notes_service.KINDS:
            self.note_error = self._t("error.bad_request")
            return
        if len(text) > NOTE_FORM_MAX:
            self.note_error = self._t("text.too_long", max=notes_service.NOTE_MAX)
            return
        actor = self._actor_id()
        if actor is None or not self.lesson_id:
            self.note_error = self._t("error.sign_in_required")
            return
        try:
            with session_scope() as session:
                marker = notes_service.add_note(session, actor_id=actor, lesson_id=self.lesson_id,
                                                at_seconds=seconds, text=text, kind=kind)
        except DomainError as exc:
            self.note_error = self._t(exc.code, **exc.params)
            return
        except Exception:  # noqa: BLE001
            log.exception("add note failed")
            self.note_error = self._t("error.generic")
            return
        items = [*self.markers, marker_vars(marker, self._duration_seconds)]
        self.markers = sorted(items, key=lambda m: (int(m["at"]), int(m["id"])))
        self.note_message = self._t("player.note_saved" if kind == "note" else "player.question_saved")
        self.note_form_key += 1


class LearningState(AppState):
    """/learning: the learner's courses with progress, recent lessons, daily minutes, streaks."""

    courses: list[dict[str, str]] = []
    recent: list[dict[str, str]] = []
    daily: list[dict[str, str | int]] = []
    today_minutes: int = 0
    total_minutes: int = 0
    streak_current: int = 0
    streak_longest: int = 0
    needs_sign_in: bool = False
    error: str = ""
    loaded: bool = False

    @rx.event
    def load_learning(self):
        self.error = ""
        actor = self._actor_id()
        if actor is None:
            self.needs_sign_in = True
            self.courses, self.recent, self.daily = [], [], []
            self.loaded = True
            return
        self.needs_sign_in = False
        try:
            with session_scope() as session:
                view = progress_service.my_learning(session, actor_id=actor)
        except DomainError as exc:
            self.error = self._t(exc.code)
            return
        except Exception:  # noqa: BLE001
            log.exception("my learning failed")
            self.error = self._t("error.generic")
            return
        self.courses = [{
            "id": str(c.course_id), "title": c.title, "cover": c.cover_url, "percent": str(c.percent),
            "percent_css": f"{max(0, min(100, c.percent))}%",
            "href": urls.course_url(c.course_id),
            "progress_text": self._t("learning.lessons_done", done=c.completed_lessons, total=c.total_lessons),
            "continue_href": urls.lesson_url(c.continue_lesson_id, t=c.continue_position)
            if c.continue_lesson_id else "",
            "continue_title": c.continue_lesson_title,
        } for c in view.courses]
        self.recent = [{
            "lesson_id": str(r.lesson_id), "title": r.lesson_title, "course": r.course_title, "kind": r.kind,
            "href": urls.lesson_url(r.lesson_id, t=r.position_seconds if r.kind != "article" else 0),
            "percent": str(r.percent), "done": "1" if r.completed else "",
        } for r in view.recent]
        self.daily = [{"day": d.day[5:], "minutes": d.minutes} for d in view.daily]
        self.today_minutes, self.total_minutes = view.today_minutes, view.total_minutes
        self.streak_current, self.streak_longest = view.streak_current, view.streak_longest
        self.loaded = True


class CertificateState(AppState):
    """/certificate/[code]: public verification (no sign-in needed)."""

    code: str = ""
    learner_name: str = ""
    course_title: str = ""
    issued_on: str = ""
    image_url: str = ""
    found: bool = False
    loaded: bool = False

    @rx.event
    def load_certificate(self):
        raw = self._route_param("code")
        self.found, self.loaded = False, False
        self.learner_name = self.course_title = self.issued_on = self.image_url = self.code = ""
        try:
            with session_scope() as session:
                view = certificate_service.verify_certificate(session, raw)
        except Exception:  # noqa: BLE001
            log.exception("certificate lookup failed")
            view = None
        self.loaded = True
        if view is None:
            return
        self.found = True
        self.code, self.learner_name, self.course_title = view.code, view.learner_name, view.course_title
        self.issued_on = view.issued_on
        self.image_url = urls.certificate_png_url(view.code)
