"""Demo sign-ins, in one place so the seed, the README and the start-up banner agree.

The demo owner's e-mail comes from COURSEMALL_OWNER_EMAIL, its password from
COURSEMALL_OWNER_PASSWORD or else OWNER_PASSWORD below. Only the demo shop has these accounts; a
production shop's owner is created by the one-time setup link.
"""

from __future__ import annotations

from dataclasses import dataclass

OWNER_PASSWORD = "owner-demo-2026"
LEARNER_PASSWORD = "learner-demo-2026"
INSTRUCTOR_PASSWORD = "teacher-demo-2026"
OWNER_NICKNAME = "店主"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    nickname: str
    phone: str | None = None


DEMO_LEARNERS: list[DemoAccount] = [
    DemoAccount("learner1@coursemall.local", "爱学习的小李"),
    DemoAccount("learner2@coursemall.local", "周末充电的王同学", phone="13800138002"),
    DemoAccount("learner3@coursemall.local", "晨读打卡的阿敏"),
]

# One account per demo instructor, in the order of content.INSTRUCTORS.
DEMO_INSTRUCTORS: list[DemoAccount] = [
    DemoAccount(f"teacher{i}@coursemall.local", nickname)
    for i, nickname in enumerate(["陈思远", "林晓雨", "王健", "苏晴", "周明轩"], start=1)
]
