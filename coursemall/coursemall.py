"""The Reflex app: API routes in front, pages registered by importing `coursemall.pages`."""

import reflex as rx

import coursemall.pages  # noqa: F401  (registers every @rx.page)
from coursemall.api import build_api

app = rx.App(
    api_transformer=build_api(),
    head_components=[rx.el.meta(name="viewport", content="width=device-width, initial-scale=1")],
)
