"""SQLModel tables. No reflex import here; rows never leave the service layer (services return DTOs).

Conventions: money is integer fen (`*_fen`), times are timezone-aware UTC (`UtcDateTime`),
status/kind columns hold the string values of the enums in `coursemall.domain`.
"""

from coursemall.models.base import UtcDateTime, utcnow
from coursemall.models.accounts import LoginAttempt, OneTimeCode, OutboxMessage, User, UserSession
from coursemall.models.catalog import (
    Bundle,
    BundleCourse,
    Category,
    Chapter,
    Course,
    CourseTag,
    Instructor,
    Lesson,
    MediaAsset,
    Tag,
)
from coursemall.models.learning import Entitlement, Review
from coursemall.models.study import CheckIn, Certificate, CommentLike, HomeworkSubmission, LessonComment, LessonNote, LessonProgress, StudyDay  # noqa: E501
from coursemall.models.commerce import CartItem, ManualPayment, Message, Order, OrderLine, Payment, PaymentEvent, Refund, RefundPolicy, ShopPaymentSetting  # noqa: E501
from coursemall.models.security import *  # noqa: F401,F403  (these modules export __all__)
from coursemall.models.media_pipeline import *  # noqa: F401,F403
from coursemall.models.analytics import *  # noqa: F401,F403
from coursemall.models.shop import *  # noqa: F401,F403
from coursemall.models.instructors import *  # noqa: F401,F403
from coursemall.models.limits import *  # noqa: F401,F403
from coursemall.models import analytics as _an, instructors as _ins, media_pipeline as _mp, security as _sec, shop as _shop
from coursemall.models import limits as _lim

__all__ = [
    "UtcDateTime",
    "utcnow",
    "User",
    "UserSession",
    "LoginAttempt",
    "OneTimeCode",
    "OutboxMessage",
    "Category",
    "Tag",
    "CourseTag",
    "Instructor",
    "Course",
    "Chapter",
    "Lesson",
    "MediaAsset",
    "Bundle",
    "BundleCourse",
    "Entitlement",
    "Review",
    "CartItem", "Order", "OrderLine", "PaymentEvent", "Payment", "Refund", "RefundPolicy",
    "ManualPayment", "Message", "ShopPaymentSetting",
    "LessonProgress", "StudyDay", "LessonComment", "CommentLike", "LessonNote", "CheckIn",
    "HomeworkSubmission", "Certificate",
]
__all__ += [*_sec.__all__, *_mp.__all__, *_an.__all__, *_shop.__all__, *_ins.__all__, *_lim.__all__]
