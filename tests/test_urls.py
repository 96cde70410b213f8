"""coursemall.urls: the app's paths, importable without Reflex (services, states, API, jobs)."""

import subprocess
import sys

from coursemall import urls


def test_urls_import_without_reflex_or_pages():
    code = ("import sys, coursemall.urls, coursemall.services.catalog.storefront, coursemall.services.shop.setup; "
            "bad = [m for m in sys.modules if m == 'reflex' or m.startswith('coursemall.pages')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_builders_match_the_route_patterns():
    assert urls.course_url(7) == urls.COURSE.replace("[course_id]", "7")
    assert urls.order_url("CM1234567890") == urls.ORDER.replace("[order_no]", "CM1234567890")
    assert urls.sandbox_cashier_url("CM1") == urls.SANDBOX_CASHIER.replace("[order_no]", "CM1")
    assert urls.certificate_url("ABC") == urls.CERTIFICATE.replace("[code]", "ABC")
    assert urls.setup_url("tok") == urls.SETUP.replace("[token]", "tok")
    assert urls.checkin_url(3) == urls.CHECKIN.replace("[course_id]", "3")
    assert urls.admin_lesson_media_url(5) == urls.ADMIN_LESSON_MEDIA.replace("[lesson_id]", "5")
    assert urls.lesson_url(4) == "/lesson/4" and urls.lesson_url(4, 90) == "/lesson/4?t=90"
    assert urls.sign_in_url("/order/X") == "/login?next=%2Forder%2FX"


def test_public_url():
    assert urls.public_url("covers/a.png") == "/api/public/covers/a.png"
    assert urls.public_url("") == ""
    from coursemall.api.public import ROUTES

    assert ROUTES[0].path == urls.PUBLIC_PREFIX + "{name:path}"


def test_pages_routes_is_the_same_module_content():
    from coursemall.pages import routes

    assert routes.course_url is urls.course_url and routes.ADMIN_COURSES == urls.ADMIN_COURSES
