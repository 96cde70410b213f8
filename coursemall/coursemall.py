"""The Reflex app: API routes in front, pages registered by importing `coursemall.pages`,
and the periodic jobs (one loop of each per worker; every pass is idempotent or claims its
work with a compare-and-set lease, so several workers are safe)."""

import reflex as rx

import coursemall.pages  # noqa: F401  (registers every @rx.page)
from coursemall.api import build_api
from coursemall.jobs.learning import learning_jobs_loop
from coursemall.jobs.media import media_jobs_loop
from coursemall.jobs.orders import order_jobs_loop
from coursemall.jobs.setup import setup_notice

app = rx.App(
    api_transformer=build_api(),
    head_components=[rx.el.meta(name="viewport", content="width=device-width, initial-scale=1")],
)
app.register_lifespan_task(order_jobs_loop)
app.register_lifespan_task(media_jobs_loop)
app.register_lifespan_task(learning_jobs_loop)
app.register_lifespan_task(setup_notice)
