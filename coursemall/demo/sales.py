"""A month of demo sales, so the dashboard's overview and analytics have something to show.

Twelve demo buyers (they cannot sign in: no password) bought courses over the last 30 days through
the sandbox, Alipay and WeChat; each order is paid, has its payment and grants its course, exactly
as the payment pipeline would leave it. Page views feed the funnel. Idempotent: nothing is added
once any demo order exists. Demo shops only (COURSEMALL_DEMO=1).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from coursemall.domain.catalog import CourseStatus
from coursemall.models import Course, Entitlement, Order, OrderLine, PageView, Payment, User, utcnow

ORDER_PREFIX = "DEMO"
BUYERS = 12
DAYS = 30
CHANNELS = ("alipay", "wechat", "wechat", "sandbox")


def _buyers(session: Session, new_code) -> list[User]:
    users = []
    for i in range(1, BUYERS + 1):
        email = f"demo-buyer{i:02d}@coursemall.local"
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            user = User(email=email, nickname=f"学员{i:02d}", password_hash="", role="learner",
                        watermark_code=new_code(session))
            session.add(user)
            session.flush()
        users.append(user)
    return users


def _sell(session: Session, n: int, buyer: User, course: Course, paid_at: datetime, channel: str) -> None:
    order_no = f"{ORDER_PREFIX}{paid_at:%Y%m%d}{n:06d}"
    order = Order(out_trade_no=order_no, user_id=buyer.id, status="paid", channel=channel,
                  total_fen=course.price_fen, original_total_fen=course.original_price_fen or course.price_fen,
                  created_at=paid_at - timedelta(minutes=3), expires_at=paid_at + timedelta(minutes=12),
                  paid_at=paid_at, updated_at=paid_at)
    session.add(order)
    session.flush()
    session.add(OrderLine(order_id=order.id, item_type="course", item_id=course.id, title=course.title,
                          unit_price_fen=course.price_fen, original_price_fen=course.original_price_fen,
                          course_ids=[course.id]))
    session.add(Payment(order_id=order.id, channel=channel, provider_txn_id=f"DEMOTXN{n:06d}",
                        amount_fen=course.price_fen, paid_at=paid_at))
    session.add(Entitlement(user_id=buyer.id, course_id=course.id, source="order", source_ref=order_no,
                            granted_at=paid_at))
    session.add(PageView(kind="checkout", course_id=course.id, user_id=buyer.id, visitor=f"u{buyer.id}",
                         created_at=paid_at - timedelta(minutes=4)))
    course.sales_count += 1
    course.learners_count += 1
    session.add(course)


def _browse(session: Session, rng: random.Random, courses: list[Course], day: datetime) -> None:
    """Anonymous list and detail views of one day (the top of the funnel)."""
    for v in range(rng.randint(25, 45)):
        at = day + timedelta(minutes=rng.randint(0, 1380))
        visitor = f"demo-{day:%m%d}-{v}"
        course = rng.choice(courses)
        session.add(PageView(kind="list", course_id=course.id, visitor=visitor, created_at=at))
        if rng.random() < 0.45:
            session.add(PageView(kind="detail", course_id=course.id, visitor=visitor,
                                 created_at=at + timedelta(minutes=1)))


def ensure_demo_sales(session: Session, new_code, now: datetime | None = None) -> dict[str, int]:
    """`new_code(session)` makes a unique watermark code (demo.seed.new_watermark_code)."""
    if session.exec(select(Order.id).where(col(Order.out_trade_no).startswith(ORDER_PREFIX))).first():
        return {"demo_orders": 0}
    now = now or utcnow()
    rng = random.Random(2026)
    courses = list(session.exec(select(Course).where(Course.status == CourseStatus.PUBLISHED.value,
                                                     Course.price_fen > 0).order_by(col(Course.id))).all())
    if not courses:
        return {"demo_orders": 0}
    buyers = _buyers(session, new_code)
    owned: set[tuple[int, int]] = set()
    n = 0
    for back in range(DAYS, -1, -1):
        day = (now - timedelta(days=back)).replace(hour=0, minute=0, second=0, microsecond=0)
        _browse(session, rng, courses, day)
        for _ in range(rng.randint(0, 4)):
            buyer, course = rng.choice(buyers), rng.choice(courses)
            paid_at = min(day + timedelta(minutes=rng.randint(60, 1380)), now - timedelta(minutes=5))
            if (buyer.id, course.id) in owned:
                continue
            owned.add((buyer.id, course.id))
            n += 1
            _sell(session, n, buyer, course, paid_at, rng.choice(CHANNELS))
    session.flush()
    return {"demo_orders": n}
