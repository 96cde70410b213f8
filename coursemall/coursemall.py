"""The Reflex app: request-body caps outermost, API routes in front, every page (declared with
`@shop_page` in `coursemall.pages`) added once with `app.add_page`, and the periodic jobs (one loop of each per worker; every pass is idempotent or claims its
work with a compare-and-set lease, so several workers are safe)."""

import reflex as rx

import coursemall.pages  # noqa: F401  (declares every @shop_page)
from coursemall.api import build_api
from coursemall.api.body_limit import BodyLimitMiddleware
from coursemall.api.browser_cookie import BrowserCookieMiddleware
from coursemall.components.page import register_pages
from coursemall.jobs.learning import learning_jobs_loop
from coursemall.jobs.limits import limits_jobs_loop
from coursemall.jobs.media import media_jobs_loop
from coursemall.jobs.orders import order_jobs_loop
from coursemall.jobs.setup import setup_notice

app = rx.App(
    # Applied in order: the API routes mount the Reflex app, pages get the browser secret that
    # sign-in tickets are bound to, and the body cap wraps everything (Reflex's /_upload
    # included), so no oversized body reaches any route.
    api_transformer=[build_api(), BrowserCookieMiddleware, BodyLimitMiddleware],
    head_components=[rx.el.meta(name="viewport", content="width=device-width, initial-scale=1")],
)
register_pages(app)
app.register_lifespan_task(order_jobs_loop)
app.register_lifespan_task(media_jobs_loop)
app.register_lifespan_task(learning_jobs_loop)
app.register_lifespan_task(limits_jobs_loop)
app.register_lifespan_task(setup_notice)
