"""Dashboard states of the media pipeline:

- LessonMediaState (/admin/lessons/[lesson_id]/media): the lesson's current media and renditions,
  its transcoding jobs with progress (polled every 2 s while one is queued/running), retry; the
  upload itself goes straight from the browser to /api/uploads in chunks (UPLOADER_JS below).
- MediaJobsState (/admin/media): the job list (an instructor sees their own courses only), retry.

Every handler is a remote endpoint: it carries `@dashboard_required` below `@rx.event`, validates its
arguments, and calls one service, which checks the course against the actor again.
"""

from __future__ import annotations

import json

import reflex as rx

from coursemall import urls
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_time_text
from coursemall.domain.validation import valid_id
from coursemall.services.media import transcode
from coursemall.services.media.uploads import CHUNK_MAX
from coursemall.state.dashboard.base import DashboardBaseState, _in_session
from coursemall.state.guards import dashboard_required
from coursemall.urls import public_url

RENDITION_ORDER = ("hd", "sd", "audio", "poster", "hls_hd", "hls_sd", "hls_audio", "hls")
ACTIVE = ("queued", "running")
STEPS = ("hd", "sd", "audio", "poster", "hls", "preview", "done")


def _duration(seconds: int) -> str:
    minutes, sec = divmod(max(int(seconds), 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


def _size(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{max(size, 0) // 1024} KB"


class MediaAdminBaseState(DashboardBaseState):
    """Job rows and retry shared by the two media pages (no handlers of its own)."""

    def _job_row(self, row: transcode.JobRow) -> dict[str, str]:
        return {
            "id": str(row.job_id), "status": row.status, "status_label": self._t(f"mediaui.status.{row.status}"),
            "progress": str(row.progress_pct),
            "step": self._t(f"mediaui.step.{row.step}") if row.step in STEPS else "",
            "error": self._t(row.error) if row.error else "",
            "attempts": self._t("mediaui.attempts", n=row.attempts), "can_retry": "1" if row.can_retry else "",
            "lesson": row.lesson_title, "course": row.course_title,
            "href": urls.admin_lesson_media_url(row.lesson_id) if row.lesson_id else "",
            "date": china_time_text(row.created_at),
        }

    def _retry(self, job_id: object) -> bool:
        jid = valid_id(job_id)
        if jid is None:
            self._fail("jobs", "admin.bad_id")
            return False
        try:
            _in_session(transcode.retry_job, actor_id=self._actor_id(), job_id=jid)
        except DomainError as exc:
            self._service_error("jobs", exc)
            return False
        self._ok("jobs", "media.retry_queued")
        return True


class LessonMediaState(MediaAdminBaseState):
    media_lesson_id: int = 0  # not `lesson_id`: that name is the route segment
    lesson_title: str = ""
    course_title: str = ""
    lesson_kind: str = ""
    lesson_edit_href: str = ""
    has_media: bool = False
    asset_status: str = ""
    asset_status_label: str = ""
    asset_error: str = ""
    asset_duration: str = ""
    asset_size: str = ""
    poster_url: str = ""
    renditions: list[dict[str, str]] = []
    preview_text: str = ""  # the free-seconds clip and whether it is ready ("" = no free seconds)
    preview_is_ready: bool = False
    jobs: list[dict[str, str]] = []
    processing: bool = False  # a job is queued or running: the page polls
    replacing: bool = False  # a newer upload is processing while the current media keeps playing

    def _clear_data(self) -> None:
        self.media_lesson_id = 0
        self.lesson_title = self.course_title = self.lesson_kind = self.lesson_edit_href = ""
        self.has_media = self.processing = self.replacing = False
        self.asset_status = self.asset_status_label = self.asset_error = self.asset_duration = ""
        self.asset_size = self.poster_url = ""
        self.renditions = []
        self.preview_text, self.preview_is_ready = "", False
        self.jobs = []

    def _load(self, lesson_id: object) -> bool:
        lid = valid_id(lesson_id)
        if lid is None:
            self._clear_data()
            self._fail("page", "error.not_found")
            return False
        try:
            view = _in_session(transcode.lesson_media, actor_id=self._actor_id(), lesson_id=lid)
        except DomainError as exc:
            self._clear_data()
            self._service_error("page", exc)
            return False
        self._admit()
        self._show(view)
        return True

    def _show(self, view: transcode.LessonMediaView) -> None:
        self.media_lesson_id = view.lesson_id
        self.lesson_title, self.course_title, self.lesson_kind = view.lesson_title, view.course_title, view.lesson_kind
        self.lesson_edit_href = urls.admin_lesson_url(view.lesson_id)
        asset = view.current
        self.has_media = asset is not None
        self.asset_status = asset.status if asset else ""
        self.asset_status_label = self._t(f"mediaui.status.{asset.status}") if asset else ""
        self.asset_error = self._t(asset.error) if asset and asset.error else ""
        self.asset_duration = _duration(asset.duration_seconds) if asset else ""
        self.asset_size = _size(asset.size_bytes) if asset else ""
        names = asset.renditions if asset else {}
        self.poster_url = public_url(names.get("poster", "")) if isinstance(names.get("poster"), str) else ""
        self.renditions = [{"name": n, "label": self._t(f"mediaui.rendition.{n}")} for n in RENDITION_ORDER
                           if names.get(n)]
        self.preview_is_ready = view.preview_ready
        self.preview_text = "" if not view.free_seconds else "%s: %s" % (
            self._t("mediaui.preview_clip", seconds=view.free_seconds),
            self._t("mediaui.preview_state.ready" if view.preview_ready else "mediaui.preview_state.pending"))
        self.jobs = [self._job_row(row) for row in view.jobs]
        self.processing = any(row.status in ACTIVE for row in view.jobs)
        self.replacing = bool(asset) and any(row.status in ACTIVE and row.asset_id != asset.asset_id
                                             for row in view.jobs)

    def _uploader_script(self):
        config = {"lessonId": self.media_lesson_id, "chunk": CHUNK_MAX,
                  "msg": {k: self._t(f"mediaui.{k}") for k in ("uploading", "uploaded", "cancelled", "network_error")}}
        return rx.call_script(UPLOADER_JS + f"\nwindow.__cmUploader.init({json.dumps(config)});")

    @rx.event
    @dashboard_required
    def load_lesson_media(self):
        self._clear_messages()
        if self._load(self._route_param("lesson_id")):
            return self._uploader_script()

    @rx.event
    @dashboard_required
    def refresh_lesson_media(self):
        """Polled every 2 s by the page script while a job runs, and after an upload completes."""
        if self.media_lesson_id:
            self._load(self.media_lesson_id)

    @rx.event
    @dashboard_required
    def retry_lesson_job(self, job_id: str):
        self._clear_messages()
        if self._retry(job_id) and self.media_lesson_id:
            self._load(self.media_lesson_id)


class MediaJobsState(MediaAdminBaseState):
    jobs: list[dict[str, str]] = []
    status_filter: str = ""
    processing: bool = False

    def _clear_data(self) -> None:
        self.jobs = []
        self.processing = False

    def _load(self, status: str) -> None:
        try:
            rows = _in_session(transcode.list_jobs, actor_id=self._actor_id(), status=status or None)
        except DomainError as exc:
            self._clear_data()
            return self._service_error("page", exc)
        self._admit()
        self.status_filter = status
        self.jobs = [self._job_row(row) for row in rows]
        self.processing = any(row.status in ACTIVE for row in rows)

    @rx.event
    @dashboard_required
    def load_media_jobs(self):
        self._clear_messages()
        self._load(self.status_filter if self.status_filter in transcode.JOB_STATUSES else "")
        return rx.call_script(POLL_JS)

    @rx.event
    @dashboard_required
    def refresh_media_jobs(self):
        self._load(self.status_filter if self.status_filter in transcode.JOB_STATUSES else "")

    @rx.event
    @dashboard_required
    def filter_media_jobs(self, status: str):
        self._clear_messages()
        if not isinstance(status, str) or (status and status not in transcode.JOB_STATUSES):
            return self._fail("jobs", "error.bad_request")
        self._load(status)

    @rx.event
    @dashboard_required
    def retry_media_job(self, job_id: str):
        self._clear_messages()
        if self._retry(job_id):
            self._load(self.status_filter if self.status_filter in transcode.JOB_STATUSES else "")


# While a job is queued or running the page renders a hidden #media-poll button; this clicks it
# every 2 s (only when the tab is visible), so the state reloads the progress.
POLL_JS = r"""(function(){
if (window.__cmMediaPoll) return;
window.__cmMediaPoll = setInterval(function(){
  var b = document.getElementById('media-poll');
  if (b && document.visibilityState === 'visible') b.click();
}, 2000);
})();"""

# The chunked uploader: slices the chosen File, PUTs each slice with fetch (custom header = CSRF
# proof), shows a real progress bar, resumes an interrupted upload of the same file (upload key
# kept in localStorage), and asks the state to refresh once the server accepted the file.
UPLOADER_JS = POLL_JS + r"""
(function(){
if (window.__cmUploader) return;
var U = {cfg: null, busy: false, stop: false, key: ''};
var H = {'X-CourseMall-Upload': '1'};
function el(id){ return document.getElementById(id); }
function say(text, bad){ var t = el('media-upload-text'); if (t){ t.textContent = text; t.style.color = bad ? '#e5484d' : ''; } }
function bar(done, total){
  var p = el('media-upload-progress'); if (!p) return;
  p.style.display = ''; p.max = 100; p.value = total ? Math.floor(100 * done / total) : 0;
  var t = el('media-upload-pct'); if (t) t.textContent = (total ? Math.floor(100 * done / total) : 0) + '%';
}
function memo(f){ return 'cm-upload:' + U.cfg.lessonId + ':' + f.name + ':' + f.size + ':' + f.lastModified; }
async function call(method, url, body, json){
  var h = Object.assign({}, H); if (json) h['Content-Type'] = 'application/json';
  var r = await fetch(url, {method: method, headers: h, body: body, credentials: 'same-origin'});
  var data = {}; try { data = await r.json(); } catch (e) {}
  if (!r.ok || data.ok === false) { var err = new Error(data.error || U.cfg.msg.network_error); err.data = data; throw err; }
  return data;
}
async function resumeOrStart(f){
  var saved = localStorage.getItem(memo(f));
  if (saved) {
    try { var st = await call('GET', '/api/uploads/' + saved); if (st.status === 'uploading') return st; } catch (e) {}
    localStorage.removeItem(memo(f));
  }
  var created = await call('POST', '/api/uploads', JSON.stringify({lesson_id: U.cfg.lessonId, filename: f.name, size: f.size}), true);
  localStorage.setItem(memo(f), created.upload_key);
  return created;
}
async function start(){
  var input = el('media-file'); var f = input && input.files && input.files[0];
  if (!f || U.busy) return;
  U.busy = true; U.stop = false; say(U.cfg.msg.uploading, false);
  try {
    var st = await resumeOrStart(f); U.key = st.upload_key;
    var pos = st.received, chunk = Math.min(U.cfg.chunk, st.chunk_max || U.cfg.chunk);
    bar(pos, f.size);
    while (pos < f.size) {
      if (U.stop) return;
      var r = await call('PUT', '/api/uploads/' + U.key + '?offset=' + pos, f.slice(pos, pos + chunk), false);
      pos = r.received; bar(pos, f.size);
    }
    var done = await call('POST', '/api/uploads/' + U.key + '/complete', null, false);
    localStorage.removeItem(memo(f));
    say(U.cfg.msg.uploaded, false);
    var refresh = el('media-refresh'); if (refresh) refresh.click();
  } catch (e) {
    if (e.data && (e.data.status === 'failed' || e.data.code === 'upload.not_open')) localStorage.removeItem(memo(f));
    if (!U.stop) say(e.data && e.data.error ? e.data.error : U.cfg.msg.network_error, true);
  } finally { U.busy = false; }
}
async function cancel(){
  U.stop = true;
  var f = el('media-file') && el('media-file').files[0];
  if (U.key) { try { await call('DELETE', '/api/uploads/' + U.key); } catch (e) {} }
  if (f) localStorage.removeItem(memo(f));
  U.key = ''; bar(0, 1); say(U.cfg.msg.cancelled, false);
}
document.addEventListener('click', function(ev){
  if (!U.cfg) return;
  if (ev.target.closest('#media-upload-start')) { ev.preventDefault(); start(); }
  if (ev.target.closest('#media-upload-cancel')) { ev.preventDefault(); cancel(); }
});
U.init = function(cfg){ U.cfg = cfg; };
window.__cmUploader = U;
})();"""
