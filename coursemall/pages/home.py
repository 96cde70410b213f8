"""Home page (placeholder until the catalog work lands)."""

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.layout import page_frame
from coursemall.pages import routes


@rx.page(route=routes.HOME, title="CourseMall")
def home() -> rx.Component:
    return page_frame(rx.heading(tr("nav.home")))
