"""The demo owner's authenticator seed, so the demo dashboard can be opened at once.

The seed is public (README, start-up banner): add it to any TOTP app (Google Authenticator,
Microsoft Authenticator, 1Password ...) or compute a code with
`python -c "import pyotp; print(pyotp.TOTP('<seed>').now())"`. Only for COURSEMALL_DEMO=1 shops.
"""

from __future__ import annotations

from sqlmodel import Session

from coursemall.models import User
from coursemall.services.accounts import mfa

DEMO_OWNER_TOTP_SECRET = "COURSEMALLDEMOOWNERTOTPSEEDXYZ27"  # 32 base32 characters (160 bits)


def ensure_demo_owner_totp(session: Session, owner_user: User) -> bool:
    """Enrol the demo owner with DEMO_OWNER_TOTP_SECRET unless already enrolled (idempotent).
    True when enrolled by this call."""
    return mfa.enrol_with_secret(session, user_id=owner_user.id, secret=DEMO_OWNER_TOTP_SECRET)
