"""Player, progress, notes and the learning centre: thin states over services/progress.py,
services/notes.py, services/player.py and services/certificates.py.

Every public method is a remote endpoint (ARCHITECTURE rule 1). The browser's player script
(PLAYER_JS, constant text) reports progress through two hidden inputs whose `on_change` carries a
small JSON string; the handlers parse it with strict limits (size, types, finite numbers) before a
service sees it, and the services validate again (position within the lesson, access).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from datetime import datetime

import reflex as rx

from coursemall import urls
from coursemall.db import session_scope
from coursemall.domain.catalog import format_duration
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_time_text
from coursemall.domain.validation import valid_id
from coursemall.services import certificates as certificate_service
from coursemall.services import notes as notes_service
from coursemall.services import progress as progress_service
from coursemall.services.media_access import mint_player_media
from coursemall.services.player import get_lesson_page, get_player_context
from coursemall.state.base import AppState
from coursemall.state.catalog import TRIAL_GUARD_JS, LessonState
from coursemall.state.guards import MFA_REQUIRED, check_dashboard

log = logging.getLogger(__name__)

MAX_PAYLOAD_CHARS = 400
MAX_SECONDS = 24 * 3600 + 60
SPEEDS = ("0.5", "0.75", "1", "1.25", "1.5", "2")
NOTE_FORM_MAX = 4000

# The player's client side: constant text (no user data), installed once per tab; `init` gets
# integers only. It plays the encrypted HLS through hls.js (assets/vendor, loaded on first use) or
# the free-seconds clip, and drives the HD/SD/listen switch, speed, resume/?t= seek,
# no-seek-ahead, autoplay-next, heartbeats, article reading progress, marker seeks and the moving
# watermark.
PLAYER_JS = r"""(function(){
if (window.__cmPlayer) return;
var SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];
var P = {cfg: null, seg: null, lastT: 0, lastSent: 0, n: 0, furthest: 0, readMax: 0, readSent: -1,
         readSentAt: 0, observer: null, switching: null, chosen: false, hls: null, hlsWaiting: [],
         hlsLoading: false};
function media(){
  var m = document.getElementById('lesson-video') || document.getElementById('lesson-audio');
  if (!m || !P.cfg || m.getAttribute('data-lesson') !== String(P.cfg.lesson)) return null;
  return m;
}
// Sources: the server renders one signed URL per source as data-hd / data-sd / data-listen /
// data-src attributes: encrypted HLS playlists (/api/hls/..., played through hls.js, loaded on
// first use from /vendor) or, for a partial preview, the free-seconds clip (a plain file). The
// element carries the playing source's name in data-playing. The HD/SD choice is remembered
// (localStorage); listen mode lasts for the tab (sessionStorage) so autoplay-next keeps
// listening. A switch keeps position, speed, play/pause.
var HLS_JS = '/vendor/hls.light.min.js?v=1.7.4';
function listening(m){ return !!m.getAttribute('data-listen') && sessionStorage.getItem('cm-listen') === '1'; }
function wantedQuality(m){
  var q = localStorage.getItem('cm-quality');
  return (q === 'hd' || q === 'sd') && m.getAttribute('data-' + q) ? q : '';
}
function wantedName(m){ return listening(m) ? 'listen' : wantedQuality(m); }
function defaultName(m){
  var names = ['hd', 'sd', 'src'];
  for (var i = 0; i < names.length; i++) { if (m.getAttribute('data-' + names[i])) return names[i]; }
  return '';
}
function markSources(m){
  var q = (m && !listening(m)) ? (wantedQuality(m) || (m.getAttribute('data-hd') ? 'hd' : '')) : '';
  document.querySelectorAll('[data-quality]').forEach(function(b){
    var on = b.getAttribute('data-quality') === q;
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    b.style.background = on ? 'var(--orange-9)' : ''; b.style.color = on ? 'white' : '';
  });
  var on = !!m && listening(m);
  var t = document.getElementById('listen-toggle'); if (t) t.setAttribute('aria-pressed', on ? 'true' : 'false');
  var o = document.getElementById('listen-overlay'); if (o) o.style.display = on ? 'flex' : 'none';
}
function withHls(cb){
  if (window.Hls) { cb(window.Hls); return; }
  P.hlsWaiting.push(cb);
  if (P.hlsLoading) return;
  P.hlsLoading = true;
  var s = document.createElement('script'); s.src = HLS_JS; s.async = true;
  function done(){ P.hlsLoading = false; var w = P.hlsWaiting; P.hlsWaiting = []; w.forEach(function(f){ f(window.Hls || null); }); }
  s.onload = done; s.onerror = done;
  document.head.appendChild(s);
}
function stopHls(){ if (P.hls) { var h = P.hls; P.hls = null; h.destroy(); } }
function load(m, name, url, at){
  // Play `url` in the element from second `at` (-1 = from the start).
  m.setAttribute('data-playing', name); m.__cmUrl = url;
  stopHls();
  if (url.indexOf('/api/hls/') !== 0) { m.setAttribute('src', url); m.load(); return; }
  withHls(function(Hls){
    if (m.__cmUrl !== url || media() !== m) return;
    if (Hls && Hls.isSupported()) {
      var h = new Hls({startPosition: at > 0 ? at : -1, maxBufferLength: 30, maxMaxBufferLength: 60});
      P.hls = h;
      h.on(Hls.Events.ERROR, function(ev, d){
        if (!d || !d.fatal || P.hls !== h) return;
        stopHls(); refreshSources(m);  // typically an expired playlist token: fresh URLs, same second
      });
      h.loadSource(url); h.attachMedia(m);
    } else {
      m.setAttribute('src', url); m.load();  // native HLS (Safari, iOS)
    }
  });
}
function useSource(m, name){
  var url = name ? m.getAttribute('data-' + name) : '';
  if (!url || (m.getAttribute('data-playing') === name && m.__cmUrl === url)) { markSources(m); return; }
  var at = P.cfg.start > 0 ? P.cfg.start : -1;
  if (m.__cmStarted === P.cfg.token) {
    // Already playing this lesson: save the span, then restore time/speed/state on the new source.
    var playing = !m.paused && !m.ended;
    if (playing) beat(m);
    P.switching = {t: m.currentTime, playing: playing, rate: m.playbackRate};
    at = m.currentTime;
  }
  load(m, name, url, at); markSources(m);
}
// A failed source (typically its 10-minute token expired during a long lesson, or before the first
// play): ask the server for fresh URLs once per 15 s, then carry on from the same second.
function refreshSources(m){
  if (!P.cfg || (P.refreshedAt && Date.now() - P.refreshedAt < 15000)) return;
  var name = m.getAttribute('data-playing') || '', old = m.__cmUrl || '';
  if (!name) return;
  P.refreshedAt = Date.now();
  var resume = {t: m.currentTime > 0 ? m.currentTime : P.lastT, playing: !m.paused || P.wasPlaying,
                rate: m.playbackRate};
  send('player-refresh', {lesson_id: P.cfg.lesson});
  var tries = 50;
  (function wait(){
    var cur = media(); if (cur !== m) return;
    var fresh = m.getAttribute('data-' + name);
    if (fresh && fresh !== old) { P.switching = resume; load(m, name, fresh, resume.t); return; }
    if (--tries > 0) setTimeout(wait, 200);
  })();
}
function restoreAfterSwitch(m){
  m.__cmStarted = P.cfg.token;
  var s = P.switching; P.switching = null;
  if (s.t > 0 && Math.abs(m.currentTime - s.t) > 0.3 && (!isFinite(m.duration) || s.t < m.duration)) m.currentTime = s.t;
  m.defaultPlaybackRate = s.rate; m.playbackRate = s.rate;
  P.lastT = m.currentTime; P.seg = null;
  if (s.playing) { var p = m.play(); if (p && p.catch) p.catch(function(){}); }
}
function send(id, payload){
  var inp = document.getElementById(id); if (!inp) return;
  P.n += 1; payload.n = P.n;
  var setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  setter.call(inp, JSON.stringify(payload));
  inp.dispatchEvent(new Event('input', {bubbles: true}));
}
function fin(x){ return (typeof x === 'number' && isFinite(x) && x >= 0) ? Math.round(x * 10) / 10 : 0; }
function beat(m){
  if (!P.cfg || !P.cfg.track || P.cfg.article) return;
  m = m || media(); if (!m) return;
  var from = P.seg === null ? P.lastT : P.seg, to = P.lastT;
  if (to < from) from = to;
  send('player-beat', {lesson_id: P.cfg.lesson, position: fin(m.currentTime), from: fin(from), to: fin(to)});
  P.seg = to; P.lastSent = Date.now();
}
function savedSpeed(){
  var v = parseFloat(localStorage.getItem('cm-speed') || '1');
  return SPEEDS.indexOf(v) >= 0 ? v : 1;
}
function markSpeed(v){
  document.querySelectorAll('[data-speed]').forEach(function(b){
    var on = parseFloat(b.getAttribute('data-speed')) === v;
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    b.style.background = on ? 'var(--orange-9)' : ''; b.style.color = on ? 'white' : '';
  });
}
function applySpeed(m){ var v = savedSpeed(); m.defaultPlaybackRate = v; m.playbackRate = v; markSpeed(v); }
function applyStart(m){
  if (!P.cfg || m.__cmStarted === P.cfg.token) return;
  if (m.readyState < 1) return;
  m.__cmStarted = P.cfg.token;
  var s = P.cfg.start;
  if (s > 0 && Math.abs(m.currentTime - s) > 0.3 && (!isFinite(m.duration) || s < m.duration - 1)) m.currentTime = s;
  P.lastT = m.currentTime; P.seg = null;
  applySpeed(m);
  if (sessionStorage.getItem('cm-autoplay') === '1') {
    sessionStorage.removeItem('cm-autoplay');
    var p = m.play(); if (p && p.catch) p.catch(function(){});
  }
}
function onEvent(e){
  var m = e.target; if (!m || (m.id !== 'lesson-video' && m.id !== 'lesson-audio')) return;
  if (m !== media()) return;
  if (P.switching) { if (e.type === 'loadedmetadata') restoreAfterSwitch(m); return; }
  var t = m.currentTime;
  switch (e.type) {
    case 'loadedmetadata': applyStart(m); break;
    case 'error': refreshSources(m); break;
    case 'play': case 'playing':
      P.wasPlaying = true;
      applySpeed(m); if (P.seg === null) { P.seg = t; } P.lastT = t; break;
    case 'timeupdate':
      if (m.paused || m.seeking) break;
      var d = t - P.lastT;
      if (d >= 0 && d <= 3) { P.lastT = t; } else { P.seg = t; P.lastT = t; }
      if (t <= P.furthest + 3 && t > P.furthest) P.furthest = t;
      if (Date.now() - P.lastSent >= 10000) beat(m);
      break;
    case 'seeking':
      if (P.cfg.noSeek && t > P.furthest + 1) { m.currentTime = P.furthest; return; }
      if (P.seg !== null && P.lastT > P.seg) beat(m);
      P.seg = null; break;
    case 'seeked': P.lastT = m.currentTime; P.seg = m.paused ? null : m.currentTime; break;
    case 'pause': P.wasPlaying = false; beat(m); break;
    case 'ended':
      P.lastT = isFinite(m.duration) ? m.duration : t; beat(m);
      if (parseFloat(m.getAttribute('data-free-seconds') || '0') > 0) break;  // a preview ends at its buy prompt
      var next = document.getElementById('lesson-next');
      if (next) { sessionStorage.setItem('cm-autoplay', '1'); next.click(); }
      break;
  }
}
['loadedmetadata','play','playing','timeupdate','seeking','seeked','pause','ended','error'].forEach(function(t){
  document.addEventListener(t, onEvent, true);
});
document.addEventListener('click', function(e){
  var a = e.target && e.target.closest ? e.target.closest('a[href]') : null;
  if (a) { var pm = media(); if (pm && !pm.paused) beat(pm); return; }  // SPA navigation: save first
  var b = e.target && e.target.closest ? e.target.closest('[data-speed],[data-seek],[data-quality],#listen-toggle,#note-open') : null;
  if (!b) return;
  var m = media();
  if (b.hasAttribute('data-quality')) {
    var q = b.getAttribute('data-quality'); if (q !== 'hd' && q !== 'sd') return;
    localStorage.setItem('cm-quality', q); sessionStorage.removeItem('cm-listen');
    if (m) useSource(m, q);
  } else if (b.id === 'listen-toggle') {
    if (!m || !m.getAttribute('data-listen')) return;
    if (listening(m)) sessionStorage.removeItem('cm-listen'); else sessionStorage.setItem('cm-listen', '1');
    useSource(m, wantedName(m) || defaultName(m));
  } else if (b.hasAttribute('data-speed')) {
    var v = parseFloat(b.getAttribute('data-speed')); if (SPEEDS.indexOf(v) < 0) return;
    localStorage.setItem('cm-speed', String(v)); markSpeed(v);
    if (m) { m.defaultPlaybackRate = v; m.playbackRate = v; }
  } else if (b.hasAttribute('data-seek')) {
    var s = parseInt(b.getAttribute('data-seek'), 10);
    if (m && s >= 0) { m.currentTime = s; var p = m.play(); if (p && p.catch) p.catch(function(){}); }
  } else {
    var at = document.getElementById('note-at');
    if (at && m) at.value = String(Math.floor(m.currentTime || 0));
  }
}, true);
function articleReady(art){
  // Rendered text and every image loaded: before that the article is shorter than it will be.
  if (!art || (art.textContent || '').trim().length < 1 || art.offsetHeight < 1) return false;
  var imgs = art.querySelectorAll('img');
  for (var i = 0; i < imgs.length; i++) { if (!imgs[i].complete) return false; }
  return true;
}
document.addEventListener('load', function(e){
  if (e.target && e.target.tagName === 'IMG' && P.cfg && P.cfg.article) readProgress();
}, true);
function readProgress(){
  if (!P.cfg || !P.cfg.article) return;
  var el = document.getElementById('lesson-article');
  if (!el || el.getAttribute('data-lesson') !== String(P.cfg.lesson)) return;
  var r = el.getBoundingClientRect();
  var pct = r.height > 0 ? Math.round(Math.min(1, Math.max(0, (window.innerHeight - r.top) / r.height)) * 100) : 0;
  var bar = document.getElementById('read-progress-bar'); if (bar) bar.style.width = pct + '%';
  if (pct > P.readMax) P.readMax = pct;
  if (pct >= 100 && articleReady(el)) { sendRead(100); return; }
  if (P.readMax >= 100) P.readMax = 99;  // the end was not really reached (images still loading)
  if (P.cfg.track && P.readMax >= P.readSent + 20 && Date.now() - P.readSentAt > 5000) sendRead(P.readMax);
}
function sendRead(pct){
  if (!P.cfg || !P.cfg.track || pct <= P.readSent) return;
  P.readSent = pct; P.readSentAt = Date.now();
  send('player-read', {lesson_id: P.cfg.lesson, percent: pct});
}
window.addEventListener('scroll', readProgress, {passive: true});
window.addEventListener('pagehide', function(){
  if (!P.cfg) return;
  if (P.cfg.article) { sendRead(P.readMax); } else { var m = media(); if (m && !m.paused) beat(m); }
});
document.addEventListener('visibilitychange', function(){
  // Audio keeps playing in the background (no pause here); just save where we are.
  if (document.visibilityState === 'hidden' && P.cfg && !P.cfg.article) { var m = media(); if (m && !m.paused) beat(m); }
});
function moveMarks(){
  document.querySelectorAll('.cm-watermark').forEach(function(w){
    w.style.top = (8 + Math.random() * 70) + '%'; w.style.left = (4 + Math.random() * 36) + '%';
  });
}
setInterval(moveMarks, 20000);
function watchArticleEnd(tries){
  var end = document.getElementById('article-end');
  if (!end || !P.cfg || !P.cfg.article) { if (tries > 0 && P.cfg && P.cfg.article) setTimeout(function(){ watchArticleEnd(tries - 1); }, 150); return; }
  if (P.observer) P.observer.disconnect();
  P.observer = new IntersectionObserver(function(entries){
    entries.forEach(function(en){
      // Only the current lesson's rendered article counts (not an empty box before its HTML arrives).
      var art = document.getElementById('lesson-article');
      if (!en.isIntersecting || !art || art.getAttribute('data-lesson') !== String(P.cfg.lesson)) return;
      if (!articleReady(art)) return;
      P.readMax = 100; readProgress(); sendRead(100);
    });
  });
  P.observer.observe(end);
}
function settle(tries){
  var m = media();
  if (m) {
    if (!P.chosen) { P.chosen = true; useSource(m, wantedName(m) || defaultName(m)); }
    applySpeed(m); applyStart(m); if (m.__cmStarted === P.cfg.token) return;
  }
  if (tries > 0) setTimeout(function(){ settle(tries - 1); }, 100);
}
window.__cmPlayer = {
  init: function(lesson, start, furthest, noSeek, article, track){
    P.cfg = {lesson: lesson, start: start, noSeek: !!noSeek, article: !!article, track: !!track,
             token: lesson + ':' + Date.now()};
    P.seg = null; P.lastT = start; P.lastSent = Date.now(); P.furthest = Math.max(furthest, 0);
    P.switching = null; P.chosen = false; P.refreshedAt = 0; P.wasPlaying = false; stopHls();
    P.readMax = 0; P.readSent = -1; P.readSentAt = 0;
    moveMarks(); markSpeed(savedSpeed());
    if (article) { setTimeout(readProgress, 300); watchArticleEnd(40); } else { settle(100); }
  }
};
})();"""


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
        init = "window.__cmPlayer.init(%d, %d, %d, %d, %d, %d);" % (
            lid, int(start), int(furthest), 1 if no_seek else 0, 1 if self.kind == "article" else 0,
            1 if self.can_track else 0)
        guard = TRIAL_GUARD_JS + "\n" if self.free_seconds else ""
        return rx.call_script(guard + PLAYER_JS + "\n" + init)

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
