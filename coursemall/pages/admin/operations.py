"""Operations pages: /admin/orders/[order_no], /admin/learners, /admin/learners/[learner_id],
/admin/moderation, /admin/instructors, and the learner's /teach application form.

Phone-first cards; every string from the catalogs (i18n/messages/ops_ui.py). Like every page
these compile into the public bundle: `allowed` only hides the UI; the guarded handlers
(state/dashboard/operations.py) and the services protect the data.
"""

from __future__ import annotations

import reflex as rx

from coursemall.components.dashboard import dashboard_messages
from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.page import dashboard, shop_page
from coursemall.components.shop import form_messages
from coursemall.pages import routes
from coursemall.pages.admin.orders import _empty, _kv, _status_badge, channel_label, pager
from coursemall.state.base import AppState
from coursemall.state.dashboard.operations import (
    AdminInstructorsState,
    AdminLearnerState,
    AdminLearnersState,
    AdminOrderDetailState,
    InstructorProfileState,
    ModerationState,
    TeachApplyState,
)


def _section(title_key: str, *children, **props) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(tr(title_key), size="4"), *children, spacing="2", width="100%"),
                   width="100%", **props)


def _reason_form(handler, id_field: str, row_id, prefix: str, placeholder_key: str, button_key: str,
                 color: str = "red") -> rx.Component:
    return rx.form(
        rx.flex(
            rx.el.input(type="hidden", name=id_field, value=row_id),
            rx.input(name="reason", id=f"{prefix}-reason-{row_id}", placeholder=tr(placeholder_key),
                     max_length=200, size="2", flex="1", min_width="10em"),
            submit_button(tr(button_key), id=f"{prefix}-{row_id}", size="2", variant="soft",
                      color_scheme=color),
            gap="2", width="100%", wrap="wrap",
        ),
        on_submit=handler, reset_on_submit=True, width="100%",
    )


# ---------------------------------------------------------------------------------- order detail

def _line_row(row) -> rx.Component:
    return rx.hstack(
        rx.cond(row["refundable"] != "",
                # a native checkbox: the form sends "on" for each ticked line
                rx.el.input(type="checkbox", name="line_" + row["id"], id="refund-line-" + row["id"],
                            style={"width": "1.1em", "height": "1.1em"}),
                rx.box(width="1em")),
        rx.text(row["title"], size="2", flex="1", word_break="break-word"),
        rx.cond(row["refund_status"] != "", rx.badge(tr("ops.line.refund"), " ", row["refund_status"],
                                                     color_scheme="gray")),
        rx.text(row["price"], size="2", weight="bold"),
        width="100%", align="center", spacing="2",
    )


def _mini_row(*cells) -> rx.Component:
    return rx.flex(*[rx.text(c, size="1") for c in cells], gap="3", wrap="wrap", width="100%",
                   border_bottom="1px solid var(--gray-a4)", padding_y="0.3em")


@shop_page(routes.ADMIN_ORDER, "ops.order.title",
           on_load=[AdminOrderDetailState.load_order_detail],
           layout=dashboard(AdminOrderDetailState, nav=routes.ADMIN_ORDERS))
def admin_order_page() -> rx.Component:
    s = AdminOrderDetailState
    o = s.order
    return (
        rx.link(tr("ops.back_orders"), href=routes.ADMIN_ORDERS, size="2", id="order-back"),
        dashboard_messages(s, "page"),
        rx.cond(o.contains("order_no"), rx.vstack(
            _section("ops.order.summary",
                     rx.hstack(rx.text(o["order_no"], weight="bold", font_family="monospace", word_break="break-all",
                                       id="order-no"),
                               rx.spacer(), _status_badge(o["status"]), width="100%"),
                     _kv("admin.col.learner", rx.link(o["learner"], href=o["learner_href"], id="order-learner")),
                     _kv("ops.col.contact", o["contact"]),
                     _kv("admin.col.total", o["total"], weight="bold", id="order-total"),
                     _kv("ops.col.refunded", o["refunded"], id="order-refunded"),
                     _kv("admin.col.channel", channel_label(o["channel"])),
                     _kv("admin.col.date", o["date"]),
                     _kv("ops.col.paid_at", o["paid_at"])),
            _section("ops.order.lines",
                     rx.form(
                         rx.vstack(
                             rx.foreach(s.lines, _line_row),
                             rx.cond(s.can_refund, rx.vstack(
                                 rx.input(name="reason", id="refund-reason", placeholder=tr("ops.refund.reason"),
                                          max_length=200, width="100%"),
                                 submit_button(tr("ops.refund.submit"), id="refund-submit",
                                           color_scheme="red", width="100%"),
                                 spacing="2", width="100%")),
                             dashboard_messages(s, "refund"),
                             spacing="2", width="100%"),
                         on_submit=s.refund_order, reset_on_submit=False, width="100%")),
            _section("ops.order.payments",
                     rx.foreach(s.payments, lambda p: _mini_row(channel_label(p["channel"]), p["amount"], p["txn"],
                                                                p["role"], p["date"]))),
            _section("ops.order.refunds",
                     rx.foreach(s.refund_rows, lambda r: _mini_row(r["no"], r["amount"], r["status"], r["reason"],
                                                                   r["progress"], r["date"]))),
            _section("ops.order.events",
                     rx.foreach(s.events, lambda e: _mini_row(
                         e["kind"], e["channel"], e["amount"],
                         rx.cond(e["verified"] != "", tr("ops.event.verified"), tr("ops.event.unverified")),
                         e["outcome"], e["date"]))),
            _section("ops.order.history",
                     rx.foreach(s.history, lambda h: _mini_row(
                         rx.match(h["what"], ("created", tr("ops.history.created")), ("paid", tr("ops.history.paid")),
                                  ("closed", tr("ops.history.closed")),
                                  ("refund_requested", tr("ops.history.refund_requested")),
                                  ("refunded", tr("ops.history.refunded")), h["what"]),
                         h["date"]))),
            spacing="3", width="100%")),
    )


# ---------------------------------------------------------------------------------- learners

def _learner_card(row) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.link(row["nickname"], href=row["href"], weight="bold", id="learner-link-" + row["id"]),
                  rx.spacer(),
                  rx.cond(row["active"] != "", rx.badge(tr("ops.learner.active"), color_scheme="green"),
                          rx.badge(tr("ops.learner.frozen"), color_scheme="red")),
                  width="100%"),
        _kv("ops.col.email", row["email"], word_break="break-all"),
        _kv("ops.col.phone", row["phone"]),
        _kv("ops.col.orders", row["orders"]),
        _kv("ops.col.paid", row["paid"]),
        _kv("ops.col.joined", row["date"]),
        spacing="1", width="100%"), width="100%", class_name="admin-learner-row")


@shop_page(routes.ADMIN_LEARNERS, "ops.learners.title",
           on_load=[AdminLearnersState.load_learners],
           layout=dashboard(AdminLearnersState))
def admin_learners_page() -> rx.Component:
    s = AdminLearnersState
    return (
        rx.form(rx.hstack(
            rx.input(name="q", id="learner-q", default_value=s.q, placeholder=tr("ops.learners.search_hint"),
                     max_length=60, flex="1"),
            submit_button(tr("ops.search"), id="learner-search"), spacing="2", width="100%"),
            on_submit=s.search_learners, reset_on_submit=False, width="100%"),
        rx.hstack(rx.text(tr("ops.orders.count"), ": ", s.count, size="2", id="learners-count"), rx.spacer(),
                  rx.link(rx.button(tr("ops.export_csv"), variant="outline", size="2"), href=s.csv_url,
                          is_external=True, id="learners-export"), width="100%", align="center"),
        dashboard_messages(s, "list"),
        _empty(s.learners),
        rx.grid(rx.foreach(s.learners, _learner_card), columns=rx.breakpoints(initial="1", md="2"), spacing="3",
                width="100%"),
        pager(s, s.goto_learners_page, "learners"),
    )


def _grant_row(row) -> rx.Component:
    s = AdminLearnerState
    return rx.card(rx.vstack(
        rx.hstack(rx.link(row["course"], href=row["course_href"], weight="bold", size="2"), rx.spacer(),
                  rx.cond(row["active"] != "", rx.badge(tr("ops.grant.active"), color_scheme="green"),
                          rx.badge(tr("ops.grant.revoked"), color_scheme="gray")), width="100%"),
        _kv("ops.col.source", rx.match(row["source"], ("order", tr("ops.source.order")),
                                       ("grant", tr("ops.source.grant")), ("bundle", tr("ops.source.bundle")),
                                       ("manual", tr("ops.source.manual")), row["source"])),
        _kv("ops.col.granted", row["granted"]),
        _kv("ops.col.progress", row["progress"]),
        rx.cond(row["revoked"] != "", _kv("ops.col.revoked", row["revoked"] + " · " + row["revoke_reason"])),
        rx.cond(row["active"] != "",
                _reason_form(s.revoke_access, "entitlement_id", row["id"], "revoke", "ops.revoke.reason",
                             "ops.revoke.submit")),
        spacing="1", width="100%"), width="100%", class_name="admin-grant-row")


@shop_page(routes.ADMIN_LEARNER, "ops.learner.title",
           on_load=[AdminLearnerState.load_learner],
           layout=dashboard(AdminLearnerState, nav=routes.ADMIN_LEARNERS))
def admin_learner_page() -> rx.Component:
    s = AdminLearnerState
    p = s.profile
    return (
        rx.link(tr("ops.back_learners"), href=routes.ADMIN_LEARNERS, size="2"),
        dashboard_messages(s, "page"),
        rx.cond(p.contains("id"), rx.vstack(
            _section("ops.learner.profile",
                     rx.heading(p["nickname"], size="5", id="learner-nickname"),
                     _kv("ops.col.email", p["email"], word_break="break-all"),
                     _kv("ops.col.phone", p["phone"]),
                     _kv("ops.col.joined", p["date"]),
                     _kv("ops.col.status", rx.cond(p["active"] != "", tr("ops.learner.active"),
                                                   tr("ops.learner.frozen")), id="learner-status"),
                     rx.cond(p["frozen_reason"] != "", _kv("ops.col.frozen_reason", p["frozen_reason"])),
                     _kv("ops.col.devices", p["devices"], id="learner-devices"),
                     _kv("ops.col.last_seen", p["last_seen"])),
            _section("ops.grant.title",
                     rx.form(rx.vstack(
                         rx.el.select(rx.el.option(tr("ops.grant.pick"), value=""),
                                      rx.foreach(s.course_options, lambda c: rx.el.option(c["title"], value=c["id"])),
                                      name="course_id", id="grant-course",
                                      style={"padding": "0.45em", "border-radius": "6px", "width": "100%",
                                             "border": "1px solid var(--gray-a7)"}),
                         rx.input(name="reason", id="grant-reason", placeholder=tr("ops.grant.reason"),
                                  max_length=200, width="100%"),
                         submit_button(tr("ops.grant.submit"), id="grant-submit", width="100%"),
                         dashboard_messages(s, "grant"),
                         spacing="2", width="100%"),
                         key=s.form_key, on_submit=s.grant_access, reset_on_submit=False, width="100%")),
            _section("ops.learner.entitlements",
                     dashboard_messages(s, "grants"),
                     rx.vstack(rx.foreach(s.grants, _grant_row), spacing="2", width="100%", id="learner-grants")),
            _section("ops.learner.orders",
                     rx.foreach(s.learner_orders, lambda o: rx.hstack(
                         rx.link(o["order_no"], href=o["href"], font_family="monospace", size="1",
                                 word_break="break-all"),
                         rx.spacer(), rx.text(o["total"], size="2"), _status_badge(o["status"]),
                         width="100%", align="center"))),
            spacing="3", width="100%")),
    )


# ---------------------------------------------------------------------------------- moderation

def _status_chip(status) -> rx.Component:
    return rx.cond(status == "hidden", rx.badge(tr("moderation.hidden"), color_scheme="orange"),
                   rx.badge(tr("moderation.visible"), color_scheme="green"))


def _comment_card(row) -> rx.Component:
    s = ModerationState
    return rx.card(rx.vstack(
        rx.hstack(rx.text(row["author"], weight="bold", size="2"), rx.spacer(), _status_chip(row["status"]),
                  width="100%"),
        rx.text(row["course"], " · ", rx.link(row["lesson"], href=row["lesson_href"]), size="1", color="gray"),
        rx.text(row["body"], size="2", style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
        rx.text(row["date"], size="1", color="gray"),
        rx.hstack(
            rx.cond(row["status"] == "hidden",
                    rx.button(tr("moderation.unhide"), size="1", variant="soft", id="comment-unhide-" + row["id"],
                              on_click=s.unhide_comment(row["id"])),
                    rx.button(tr("moderation.hide"), size="1", variant="soft", color_scheme="orange",
                              id="comment-hide-" + row["id"], on_click=s.hide_comment(row["id"]))),
            rx.button(tr("moderation.delete"), size="1", variant="soft", color_scheme="red",
                      id="comment-delete-" + row["id"], on_click=s.delete_comment(row["id"])),
            spacing="2"),
        spacing="1", width="100%"), width="100%", class_name="moderation-comment")


def _review_card(row) -> rx.Component:
    s = ModerationState
    return rx.card(rx.vstack(
        rx.hstack(rx.text(row["author"], weight="bold", size="2"), rx.text(row["stars"], color="orange"),
                  rx.spacer(), _status_chip(row["status"]), width="100%"),
        rx.link(row["course"], href=row["course_href"], size="1"),
        rx.text(row["content"], size="2", style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
        rx.cond(row["owner_reply"] != "", rx.text(tr("moderation.owner_reply"), ": ", row["owner_reply"], size="1",
                                                  color="gray")),
        rx.hstack(
            rx.cond(row["status"] == "hidden",
                    rx.button(tr("moderation.unhide"), size="1", variant="soft", id="review-unhide-" + row["id"],
                              on_click=s.unhide_review(row["id"])),
                    rx.button(tr("moderation.hide"), size="1", variant="soft", color_scheme="orange",
                              id="review-hide-" + row["id"], on_click=s.hide_review(row["id"]))),
            rx.link(rx.button(tr("moderation.reply"), size="1", variant="soft"), href=row["course_href"],
                    id="review-reply-" + row["id"]),
            spacing="2"),
        spacing="1", width="100%"), width="100%", class_name="moderation-review")


@shop_page(routes.ADMIN_MODERATION, "moderation.title",
           on_load=[ModerationState.load_moderation],
           layout=dashboard(ModerationState))
def admin_moderation_page() -> rx.Component:
    s = ModerationState
    return (
        rx.hstack(*[rx.button(tr(f"moderation.filter.{k}"), size="2", id=f"moderation-filter-{k}",
                              variant=rx.cond(s.status_filter == k, "solid", "soft"),
                              on_click=s.filter_moderation(k)) for k in ("all", "visible", "hidden")],
                  spacing="2", wrap="wrap"),
        dashboard_messages(s, "page"),
        rx.tabs.root(
            rx.tabs.list(rx.tabs.trigger(tr("moderation.comments"), value="comments", id="moderation-tab-comments"),
                         rx.tabs.trigger(tr("moderation.reviews"), value="reviews", id="moderation-tab-reviews")),
            rx.tabs.content(rx.vstack(_empty(s.comments), rx.foreach(s.comments, _comment_card), spacing="2",
                                      width="100%", padding_top="0.5em"), value="comments"),
            rx.tabs.content(rx.vstack(_empty(s.reviews), rx.foreach(s.reviews, _review_card), spacing="2",
                                      width="100%", padding_top="0.5em"), value="reviews"),
            default_value="comments", width="100%"),
        rx.cond(s.is_staff, _section(
            "moderation.words",
            rx.text(tr("moderation.words_hint"), size="1", color="gray"),
            rx.form(rx.vstack(
                rx.text_area(name="words", id="blocked-words", default_value=s.blocked_words, rows="6",
                             width="100%"),
                dashboard_messages(s, "words"),
                submit_button(tr("common.save"), id="blocked-words-save", width="100%"),
                spacing="2", width="100%"),
                key=s.form_key, on_submit=s.save_blocked_words, reset_on_submit=False, width="100%"))),
    )


# ---------------------------------------------------------------------------------- instructors

def _profile_fields(prefix: str, name, title, bio) -> list[rx.Component]:
    return [
        rx.input(name="name", id=f"{prefix}-name", default_value=name, placeholder=tr("teach.name"), max_length=40,
                 width="100%"),
        rx.input(name="title", id=f"{prefix}-title", default_value=title, placeholder=tr("teach.title_field"),
                 max_length=80, width="100%"),
        rx.text_area(name="bio", id=f"{prefix}-bio", default_value=bio, placeholder=tr("teach.bio"), rows="4",
                     max_length=2000, width="100%"),
    ]


def _application_card(row) -> rx.Component:
    s = AdminInstructorsState
    return rx.card(rx.vstack(
        rx.hstack(rx.text(row["name"], weight="bold"), rx.text(row["title"], size="2", color="gray"), width="100%"),
        _kv("ops.col.account", row["applicant"] + " · " + row["contact"], word_break="break-all"),
        rx.text(row["bio"], size="2", style={"white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
        _kv("admin.col.date", row["date"]),
        rx.cond(s.is_owner, rx.vstack(
            rx.button(tr("teach.approve"), id="application-approve-" + row["id"], color_scheme="green", width="100%",
                      on_click=s.approve_application(row["id"])),
            _reason_form(s.reject_application, "application_id", row["id"], "application-reject",
                         "teach.reject_reason", "teach.reject"),
            spacing="2", width="100%")),
        spacing="2", width="100%"), width="100%", class_name="instructor-application")


def _instructor_card(row) -> rx.Component:
    s = AdminInstructorsState
    return rx.card(rx.vstack(
        rx.hstack(rx.text(row["name"], weight="bold"), rx.spacer(), rx.badge(row["share"], id="share-" + row["id"]),
                  width="100%"),
        _kv("ops.col.account", row["account"]),
        _kv("ops.col.courses", row["courses"]),
        rx.cond(s.is_owner, rx.vstack(
            rx.form(rx.hstack(
                rx.el.input(type="hidden", name="instructor_id", value=row["id"]),
                rx.input(name="percent", id="share-input-" + row["id"], default_value=row["share_value"],
                         input_mode="decimal", width="6em"),
                rx.text("%"),
                submit_button(tr("instructor.share_save"), size="2", id="share-save-" + row["id"]),
                spacing="2", align="center"),
                on_submit=s.save_share, reset_on_submit=False),
            rx.form(rx.vstack(
                rx.el.input(type="hidden", name="instructor_id", value=row["id"]),
                *_profile_fields("instructor-" + row["id"], row["name"], row["title"], row["bio"]),
                submit_button(tr("instructor.profile_save"), size="2", variant="soft",
                          id="instructor-save-" + row["id"]),
                spacing="2", width="100%"),
                on_submit=s.save_instructor_profile, reset_on_submit=False, width="100%"),
            spacing="2", width="100%")),
        spacing="2", width="100%"), width="100%", class_name="instructor-row")


def _my_profile() -> rx.Component:
    p = InstructorProfileState
    return rx.cond(p.has_profile, _section(
        "instructor.my_profile",
        _kv("instructor.share", p.my_profile["share"]),
        rx.form(rx.vstack(*_profile_fields("my-profile", p.my_profile["name"], p.my_profile["title"],
                                           p.my_profile["bio"]),
                          dashboard_messages(p, "profile"),
                          submit_button(tr("instructor.profile_save"), id="my-profile-save", width="100%"),
                          spacing="2", width="100%"),
                key=p.form_key, on_submit=p.save_my_profile, reset_on_submit=False, width="100%")))


@shop_page(routes.ADMIN_INSTRUCTORS, "instructor.page_title",
           on_load=[AdminInstructorsState.load_instructors, InstructorProfileState.load_my_profile],
           layout=dashboard(InstructorProfileState))
def admin_instructors_page() -> rx.Component:
    s = AdminInstructorsState
    # Instructors see only their own profile (InstructorProfileState); owner/staff see everything.
    # The profile load runs last, so it decides the page frame; the staff part shows by role.
    return (
        _my_profile(),
        rx.cond(s.is_staff, rx.vstack(
            dashboard_messages(s, "page"),
            _section("teach.applications", dashboard_messages(s, "applications"),
                     rx.cond(~s.is_owner, rx.text(tr("admin.owner_only"), size="1", color="gray")),
                     _empty(s.applications),
                     rx.vstack(rx.foreach(s.applications, _application_card), spacing="2", width="100%")),
            _section("instructor.list", dashboard_messages(s, "instructors"),
                     rx.grid(rx.foreach(s.instructors, _instructor_card),
                             columns=rx.breakpoints(initial="1", md="2"), spacing="2", width="100%")),
            spacing="3", width="100%")),
    )


# ---------------------------------------------------------------------------------- /teach

@shop_page(routes.TEACH_APPLY, "page.title.teach", on_load=[TeachApplyState.load_teach])
def teach_page() -> rx.Component:
    s = TeachApplyState
    form = rx.form(rx.vstack(
        *_profile_fields("teach", "", "", ""),
        submit_button(tr("teach.submit"), id="teach-submit", size="3", width="100%"),
        spacing="3", width="100%"), on_submit=s.submit_application, reset_on_submit=False, width="100%")
    return rx.vstack(
        rx.heading(tr("teach.page_title"), size="6"),
        rx.text(tr("teach.intro"), size="2", color="gray"),
        form_messages(s),
        rx.cond(
            ~AppState.signed_in,
            rx.link(tr("teach.sign_in"), href=routes.sign_in_url(routes.TEACH_APPLY), id="teach-sign-in"),
            rx.cond(
                s.is_instructor,
                rx.vstack(rx.text(tr("teach.is_instructor"), id="teach-status"),
                          rx.link(tr("teach.go_dashboard"), href=routes.ADMIN, id="teach-dashboard")),
                rx.cond(
                    s.app_status == "pending",
                    rx.callout(rx.text(tr("teach.pending"), " ", s.app_date), icon="clock", id="teach-status",
                               width="100%"),
                    rx.vstack(
                        rx.cond(s.app_status == "rejected",
                                rx.callout(rx.text(tr("teach.was_rejected"), ": ", s.app_reason), icon="info",
                                           color_scheme="orange", id="teach-status", width="100%")),
                        form, spacing="3", width="100%"),
                ),
            ),
        ),
        spacing="3", width="100%", max_width="640px", margin_x="auto",
    )
