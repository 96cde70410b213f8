"""/certificate/[code]: public verification of a certificate of completion and its PNG image."""

from __future__ import annotations

import reflex as rx

from coursemall.components.i18n import tr
from coursemall.components.page import shop_page
from coursemall.pages import routes
from coursemall.state.learning.player import CertificateState


def _field(key: str, value, id_: str) -> rx.Component:
    return rx.hstack(rx.text(tr(key), color="gray", size="2", min_width="5em"),
                     rx.text(value, weight="medium", size="3", id=id_), align="center", width="100%")


def certificate_body() -> rx.Component:
    return rx.cond(
        CertificateState.found,
        rx.vstack(
            rx.hstack(rx.icon("badge-check", size=24, color="var(--green-9)"),
                      rx.heading(tr("certificate.verified"), size="5"), align="center",
                      id="certificate-verified"),
            rx.card(rx.vstack(
                _field("certificate.learner", CertificateState.learner_name, "certificate-name"),
                _field("certificate.course", CertificateState.course_title, "certificate-course"),
                _field("certificate.date", CertificateState.issued_on, "certificate-date"),
                _field("certificate.code", CertificateState.code, "certificate-code"),
                spacing="2", width="100%"), width="100%"),
            rx.el.img(src=CertificateState.image_url, alt=CertificateState.course_title, id="certificate-image",
                      style={"width": "100%", "height": "auto", "border_radius": "8px",
                             "border": "1px solid var(--gray-a5)"}),
            width="100%", spacing="3",
        ),
        rx.cond(CertificateState.loaded,
                rx.center(rx.vstack(rx.icon("circle-x", size=40, color="var(--gray-8)"),
                                    rx.text(tr("certificate.not_found"), id="certificate-missing"),
                                    rx.link(tr("nav.home"), href=routes.HOME), align="center"),
                          padding="4em", width="100%"),
                rx.center(rx.spinner(size="3"), padding="4em", width="100%")),
    )


@shop_page(routes.CERTIFICATE, "page.title.certificate", on_load=[CertificateState.load_certificate])
def certificate_page() -> rx.Component:
    return certificate_body()
