"""/admin/analytics: charts over a date range (presets 7/30/90 days or custom China dates) —
revenue, orders and paying learners by day, the funnel, best sellers, completion per course, a
lesson's drop-off curve, DAU/WAU and net revenue as a waterfall; the owner edits channel fee
rates here. Phone first: one column of cards, charts at full width."""

from __future__ import annotations

import reflex as rx

from coursemall.components.dashboard import dashboard_messages
from coursemall.components.forms import submit_button
from coursemall.components.i18n import tr
from coursemall.components.page import dashboard, shop_page
from coursemall.components.theme import ACCENT, ACCENT_SOFT
from coursemall.pages import routes
from coursemall.services.dashboard.analytics import FEE_CHANNELS
from coursemall.state.dashboard.analytics import AnalyticsState

S = AnalyticsState
BLUE, GREEN, GRAY = "#1c7ed6", "#2f9e44", "#868e96"


def _card(title_key: str, *children, id_: str) -> rx.Component:
    return rx.card(rx.vstack(rx.text(tr(title_key), weight="medium"), *children, width="100%", spacing="2"),
                   width="100%", id=id_)


def _axes(key: str, interval="preserveStartEnd") -> list[rx.Component]:
    return [rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
            rx.recharts.x_axis(data_key=key, tick_line=False, font_size=10, interval=interval),
            rx.recharts.y_axis(width=44, font_size=10), rx.recharts.graphing_tooltip()]


def _empty(rows) -> rx.Component:
    return rx.cond(rows.length() == 0, rx.text(tr("analytics.empty"), size="2", color="gray"))


# ---------------------------------------------------------------------------------- range

def _preset(days: str) -> rx.Component:
    return rx.button(tr(f"analytics.preset_{days}"), size="2", id=f"analytics-preset-{days}",
                     variant=rx.cond(S.preset == days, "solid", "soft"),
                     color_scheme=rx.cond(S.preset == days, "orange", "gray"),
                     on_click=S.pick_preset(days))


def _range_bar() -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(_preset("7"), _preset("30"), _preset("90"), spacing="2", wrap="wrap"),
        rx.form(
            rx.flex(
                rx.el.label(tr("analytics.start"), rx.input(type="date", name="start", default_value=S.start,
                                                           id="analytics-start", key=S.form_key)),
                rx.el.label(tr("analytics.end"), rx.input(type="date", name="end", default_value=S.end,
                                                         id="analytics-end", key=S.form_key)),
                submit_button(tr("analytics.apply"), id="analytics-apply"),
                gap="2", wrap="wrap", align="end",
            ),
            on_submit=S.apply_range, reset_on_submit=False,
        ),
        rx.text(S.range_text, size="2", color="gray", id="analytics-range-text"),
        dashboard_messages(S, "range"),
        width="100%", spacing="2",
    ), width="100%")


# ---------------------------------------------------------------------------------- sales

def _total(label_key: str, value, id_: str) -> rx.Component:
    return rx.card(rx.vstack(rx.text(tr(label_key), size="1", color="gray"), rx.heading(value, size="5", id=id_),
                             spacing="0"), width="100%")


def _sales() -> rx.Component:
    return rx.fragment(
        rx.grid(_total("analytics.revenue", S.totals["revenue"], "analytics-total-revenue"),
                _total("analytics.orders", S.totals["orders"], "analytics-total-orders"),
                _total("analytics.learners", S.totals["learners"], "analytics-total-learners"),
                columns="3", spacing="2", width="100%"),
        _card("analytics.revenue_chart",
              rx.recharts.area_chart(rx.recharts.area(data_key="yuan", stroke=ACCENT, fill=ACCENT_SOFT, name="¥"),
                                     *_axes("day"), data=S.daily, width="100%", height=200),
              id_="analytics-revenue-chart"),
        _card("analytics.orders_chart",
              rx.recharts.line_chart(
                  rx.recharts.line(data_key="orders", stroke=BLUE, dot=False, name=tr("analytics.orders")),
                  rx.recharts.line(data_key="learners", stroke=GREEN, dot=False, name=tr("analytics.learners")),
                  *_axes("day"), rx.recharts.legend(), data=S.daily, width="100%", height=200),
              id_="analytics-orders-chart"),
    )


def _funnel() -> rx.Component:
    return _card(
        "analytics.funnel",
        rx.recharts.bar_chart(
            rx.recharts.bar(data_key="visitors", fill=ACCENT, name=tr("analytics.visitors")),
            rx.recharts.x_axis(type_="number", font_size=10),
            rx.recharts.y_axis(data_key="step", type_="category", width=80, font_size=11),
            rx.recharts.graphing_tooltip(),
            data=S.funnel_rows, layout="vertical", width="100%", height=200),
        rx.foreach(S.funnel_rows, lambda r: rx.hstack(
            rx.text(r["step"], size="2", flex="1"), rx.text(r["visitors"], size="2", weight="bold"),
            rx.text(r["pct"], size="1", color="gray", width="4em", text_align="right"),
            width="100%", class_name="analytics-funnel-row")),
        id_="analytics-funnel",
    )


def _sellers() -> rx.Component:
    return _card(
        "analytics.best_sellers",
        rx.recharts.bar_chart(
            rx.recharts.bar(data_key="yuan", fill=ACCENT, name="¥"),
            rx.recharts.x_axis(type_="number", font_size=10),
            rx.recharts.y_axis(data_key="title", type_="category", width=100, font_size=10),
            rx.recharts.graphing_tooltip(),
            data=S.sellers, layout="vertical", width="100%", height=260),
        rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell(tr("analytics.course")),
                                         rx.table.column_header_cell(tr("analytics.units")),
                                         rx.table.column_header_cell(tr("analytics.revenue")))),
            rx.table.body(rx.foreach(S.sellers, lambda r: rx.table.row(
                rx.table.cell(r["title"]), rx.table.cell(r["units"]), rx.table.cell(r["revenue"]),
                class_name="analytics-seller-row"))),
            size="1", width="100%"),
        _empty(S.sellers),
        id_="analytics-sellers",
    )


# ---------------------------------------------------------------------------------- learning

def _completion() -> rx.Component:
    return _card(
        "analytics.completion",
        rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell(tr("analytics.course")),
                                         rx.table.column_header_cell(tr("analytics.learners")),
                                         rx.table.column_header_cell(tr("analytics.completed")),
                                         rx.table.column_header_cell(tr("analytics.rate")))),
            rx.table.body(rx.foreach(S.completion, lambda r: rx.table.row(
                rx.table.cell(r["title"]), rx.table.cell(r["learners"]), rx.table.cell(r["completed"]),
                rx.table.cell(r["rate"]), class_name="analytics-completion-row"))),
            size="1", width="100%"),
        _empty(S.completion),
        id_="analytics-completion",
    )


def _dropoff() -> rx.Component:
    return _card(
        "analytics.dropoff",
        rx.text(tr("analytics.dropoff_hint"), size="1", color="gray"),
        rx.el.select(
            rx.el.option(tr("analytics.pick_lesson"), value=""),
            rx.foreach(S.lessons, lambda ls: rx.el.option(ls["label"], value=ls["id"])),
            value=S.lesson_id, on_change=S.pick_lesson, id="analytics-lesson",
            style={"width": "100%", "padding": "0.4em", "max_width": "100%"},
        ),
        dashboard_messages(S, "dropoff"),
        rx.cond(S.dropoff.length() > 0, rx.vstack(
            rx.text(S.dropoff_text, size="2", color="gray", id="analytics-dropoff-buyers"),
            rx.recharts.line_chart(
                rx.recharts.line(data_key="share", stroke=ACCENT, dot=False, name=tr("analytics.share")),
                *_axes("pct", interval=3), data=S.dropoff, width="100%", height=200),
            width="100%", id="analytics-dropoff-chart")),
        id_="analytics-dropoff",
    )


def _active() -> rx.Component:
    return _card(
        "analytics.active",
        rx.text(tr("analytics.dau"), size="2", color="gray"),
        rx.recharts.bar_chart(rx.recharts.bar(data_key="learners", fill=BLUE, name=tr("analytics.dau")),
                              *_axes("day"), data=S.dau, width="100%", height=180),
        rx.text(tr("analytics.wau"), size="2", color="gray"),
        rx.recharts.bar_chart(rx.recharts.bar(data_key="learners", fill=GREEN, name=tr("analytics.wau")),
                              *_axes("week"), data=S.wau, width="100%", height=160),
        id_="analytics-active",
    )


# ---------------------------------------------------------------------------------- net revenue

def _net_cell(key: str, value, id_: str) -> rx.Component:
    return rx.vstack(rx.text(tr(f"analytics.net.{key}"), size="1", color="gray"),
                     rx.text(value, size="2", weight="bold", id=id_), spacing="0")


def _net() -> rx.Component:
    return _card(
        "analytics.net",
        rx.text(tr("analytics.net_hint"), size="1", color="gray"),
        rx.grid(*[_net_cell(k, S.net[k], f"analytics-net-{k}") for k in ("paid", "fees", "refunds", "share", "net")],
                columns=rx.breakpoints(initial="3", sm="5"), spacing="2", width="100%"),
        rx.recharts.bar_chart(
            rx.recharts.bar(data_key="base", stack_id="w", fill="transparent", is_animation_active=False),
            rx.recharts.bar(data_key="value", stack_id="w", fill=ACCENT, name="¥"),
            rx.recharts.x_axis(data_key="name", tick_line=False, font_size=10, interval=0),
            rx.recharts.y_axis(width=50, font_size=10), rx.recharts.graphing_tooltip(),
            data=S.waterfall, width="100%", height=220),
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell(tr("analytics.course")),
                                         *[rx.table.column_header_cell(tr(f"analytics.net.{k}"))
                                           for k in ("paid", "fees", "refunds", "share", "net")])),
            rx.table.body(rx.foreach(S.net_rows, lambda r: rx.table.row(
                rx.table.cell(r["title"]), *[rx.table.cell(r[k]) for k in ("paid", "fees", "refunds", "share", "net")],
                class_name="analytics-net-row"))),
            size="1", width="100%"), overflow_x="auto", width="100%"),
        rx.cond(S.is_owner, _fees_form()),
        id_="analytics-net",
    )


def _fees_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(tr("analytics.fees"), weight="medium", size="2"),
            rx.text(tr("analytics.fees_hint"), size="1", color="gray"),
            rx.grid(*[rx.el.label(tr(f"analytics.channel.{name}"),
                                  rx.input(name=name, default_value=S.fees[name], id=f"analytics-fee-{name}",
                                           input_mode="decimal", key=S.form_key))
                      for name in FEE_CHANNELS],
                    columns=rx.breakpoints(initial="2", sm="4"), spacing="2", width="100%"),
            submit_button(tr("analytics.save_fees"), id="analytics-fees-save"),
            dashboard_messages(S, "fees"),
            width="100%", spacing="2",
        ),
        on_submit=S.save_fees, reset_on_submit=False, width="100%",
    )


@shop_page(routes.ADMIN_ANALYTICS, "admin.nav.analytics",
           on_load=[AnalyticsState.load_analytics],
           layout=dashboard(S))
def admin_analytics_page() -> rx.Component:
    return (
        dashboard_messages(S, "page"),
        rx.cond(~S.is_staff, rx.badge(tr("dash.scope_instructor"), color_scheme="blue")),
        _range_bar(),
        _sales(),
        _funnel(),
        _sellers(),
        _net(),
        _completion(),
        _dropoff(),
        _active(),
    )
