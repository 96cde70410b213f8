"""One module per route; importing this package declares every page (`@shop_page`, added
to the app once in coursemall/coursemall.py)."""

from coursemall.pages import home  # noqa: F401
from coursemall.pages import category, course, lesson, search  # noqa: F401,E402
from coursemall.pages import auth, outbox, profile  # noqa: F401,E402
from coursemall.pages import admin  # noqa: F401,E402
from coursemall.pages import cart, cashier, messages, order, orders  # noqa: F401,E402
from coursemall.pages import certificate, learning  # noqa: F401,E402
from coursemall.pages import admin_homework, checkin, homework  # noqa: F401,E402
from coursemall.pages import bundle  # noqa: F401,E402
from coursemall.pages import admin_dashboard, admin_security, admin_audit  # noqa: F401,E402
from coursemall.pages import admin_courses, admin_media, admin_ops, admin_analytics  # noqa: F401,E402
from coursemall.pages import admin_settings, admin_leak  # noqa: F401,E402
from coursemall.pages import policy, setup  # noqa: F401,E402
