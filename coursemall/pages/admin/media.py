"""/admin/lessons/[lesson_id]/media (one lesson's media, upload with progress, jobs) and
/admin/media (every transcoding job the viewer may manage). The pages only show what the guarded
handlers of state/dashboard/media.py return; uploads go to /api/uploads (api/uploads.py)."""

from __future__ import annotations

import reflex as rx

from coursemall.components.dashboard import dashboard_messages
from coursemall.components.i18n import tr
from coursemall.components.page import dashboard, shop_page
from coursemall.pages import routes
from coursemall.state.dashboard.media import LessonMediaState as L
from coursemall.state.dashboard.media import MediaJobsState as J

_STATUS_COLORS = {"queued": "gray", "running": "blue", "done": "green", "failed": "red",
                  "processing": "blue", "ready": "green", "uploading": "gray"}


def _status_badge(status, label, id_: str | None = None) -> rx.Component:
    return rx.badge(label, color_scheme=rx.match(status, *_STATUS_COLORS.items(), "gray"), id=id_,
                    class_name="media-status")


def _hidden_button(id_: str, on_click) -> rx.Component:
    return rx.el.button("", id=id_, on_click=on_click, type="button", style={"display": "none"},
                        aria_hidden="true", tab_index=-1)


def _job_card(row: rx.Var, retry, show_lesson: bool) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(
            _status_badge(row["status"], row["status_label"]),
            rx.text(row["step"], size="2", color="gray", class_name="media-job-step"),
            rx.spacer(),
            rx.text(row["attempts"], size="1", color="gray"),
            width="100%", align="center",
        ),
        *([rx.link(rx.text(row["course"], " · ", row["lesson"], size="2"), href=row["href"],
                   class_name="media-job-lesson")] if show_lesson else []),
        rx.cond((row["status"] == "running") | (row["status"] == "queued"),
                rx.hstack(rx.el.progress(value=row["progress"], max=100, style={"width": "100%"}),
                          rx.text(row["progress"], "%", size="1", class_name="media-job-pct"),
                          width="100%", align="center")),
        rx.cond(row["error"] != "",
                rx.text(row["error"], size="2", color="red", class_name="media-job-error")),
        rx.hstack(
            rx.text(row["date"], size="1", color="gray"),
            rx.spacer(),
            rx.cond(row["can_retry"] == "1",
                    rx.button(tr("mediaui.retry"), size="1", on_click=retry(row["id"]),
                              id="media-retry-" + row["id"], class_name="media-retry")),
            width="100%", align="center",
        ),
        spacing="2", width="100%",
    ), width="100%", class_name="media-job")


# ---- /admin/lessons/[lesson_id]/media ---------------------------------------------------------

def _current_media() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading(tr("mediaui.current"), size="3"),
        rx.cond(
            L.has_media,
            rx.vstack(
                rx.hstack(_status_badge(L.asset_status, L.asset_status_label, "media-asset-status"),
                          rx.text(tr("mediaui.duration"), " ", L.asset_duration, size="2", id="media-duration"),
                          rx.text(tr("mediaui.size"), " ", L.asset_size, size="2", color="gray"),
                          wrap="wrap", align="center", spacing="3"),
                rx.cond(L.asset_error != "", rx.text(L.asset_error, color="red", size="2", id="media-asset-error")),
                rx.cond(L.poster_url != "",
                        rx.image(src=L.poster_url, alt="", width="100%", max_width="360px", border_radius="8px",
                                 id="media-poster")),
                rx.cond(L.renditions.length() > 0,
                        rx.hstack(rx.text(tr("mediaui.renditions"), size="2", color="gray"),
                                  rx.foreach(L.renditions, lambda r: rx.badge(r["label"], variant="soft",
                                                                              class_name="media-rendition",
                                                                              data_name=r["name"])),
                                  wrap="wrap", spacing="2", id="media-renditions")),
                rx.cond(L.preview_text != "",
                        rx.text(L.preview_text, size="2", id="media-preview-clip",
                                color=rx.cond(L.preview_is_ready, "var(--green-11)", "var(--orange-11)"))),
                spacing="2", width="100%",
            ),
            rx.text(tr("mediaui.none"), color="gray", size="2", id="media-none"),
        ),
        rx.cond(L.replacing, rx.callout(tr("mediaui.old_plays"), icon="info", size="1", id="media-replacing")),
        spacing="3", width="100%",
    ), width="100%")


def _upload_box() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading(tr("mediaui.upload"), size="3"),
        rx.text(tr("mediaui.upload_hint"), size="1", color="gray"),
        rx.el.input(type="file", id="media-file", accept="video/*,audio/*",
                    style={"max_width": "100%", "font_size": "0.9em"}),
        rx.hstack(
            rx.button(tr("mediaui.start"), id="media-upload-start", type="button", size="2"),
            rx.button(tr("mediaui.cancel"), id="media-upload-cancel", type="button", size="2", variant="soft",
                      color_scheme="gray"),
            spacing="2", wrap="wrap",
        ),
        # Filled by the uploader script (state/dashboard/media.py UPLOADER_JS), not by React.
        rx.hstack(rx.el.progress(id="media-upload-progress", max=100, style={"width": "100%", "display": "none"}),
                  rx.text("", id="media-upload-pct", size="1"), width="100%", align="center"),
        rx.text("", id="media-upload-text", size="2", role="status"),
        spacing="3", width="100%",
    ), width="100%")


@shop_page(routes.ADMIN_LESSON_MEDIA, "mediaui.title",
           on_load=[L.load_lesson_media],
           layout=dashboard(L, nav=routes.ADMIN_MEDIA))
def admin_lesson_media_page() -> rx.Component:
    return (
        rx.vstack(
            rx.link(tr("mediaui.back_to_lesson"), href=L.lesson_edit_href, size="2", id="media-back"),
            rx.text(L.course_title, " · ", rx.text.strong(L.lesson_title), size="3", id="media-lesson-title"),
            spacing="1", width="100%",
        ),
        dashboard_messages(L, "page"),
        rx.cond(
            L.lesson_kind == "article",
            rx.callout(tr("mediaui.not_media_lesson"), icon="info"),
            rx.vstack(_current_media(), _upload_box(), spacing="3", width="100%"),
        ),
        dashboard_messages(L, "jobs"),
        rx.vstack(rx.foreach(L.jobs, lambda row: _job_card(row, L.retry_lesson_job, False)),
                  spacing="2", width="100%", id="media-jobs"),
        _hidden_button("media-refresh", L.refresh_lesson_media),
        rx.cond(L.processing, _hidden_button("media-poll", L.refresh_lesson_media)),
    )


# ---- /admin/media -------------------------------------------------------------------------------

def _filter_button(status: str, key: str) -> rx.Component:
    return rx.button(tr(key), size="1", variant=rx.cond(J.status_filter == status, "solid", "soft"),
                     on_click=J.filter_media_jobs(status), id=f"media-filter-{status or 'all'}")


@shop_page(routes.ADMIN_MEDIA, "mediaui.jobs_title", on_load=[J.load_media_jobs], layout=dashboard(J))
def admin_media_jobs_page() -> rx.Component:
    return (
        dashboard_messages(J, "page"),
        rx.flex(_filter_button("", "mediaui.filter_all"),
                *(_filter_button(s, f"mediaui.status.{s}") for s in ("queued", "running", "done", "failed")),
                rx.button(tr("mediaui.refresh"), size="1", variant="outline", on_click=J.refresh_media_jobs,
                          id="media-jobs-refresh"),
                gap="2", wrap="wrap"),
        dashboard_messages(J, "jobs"),
        rx.cond(J.jobs.length() == 0, rx.text(tr("mediaui.jobs_empty"), color="gray", size="2", id="media-jobs-empty")),
        rx.vstack(rx.foreach(J.jobs, lambda row: _job_card(row, J.retry_media_job, True)),
                  spacing="2", width="100%", id="media-job-list"),
        rx.cond(J.processing, _hidden_button("media-poll", J.refresh_media_jobs)),
    )
