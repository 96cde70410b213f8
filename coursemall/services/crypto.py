"""Secrets at rest (payment keys, TOTP seeds): Fernet (AES-128-CBC + HMAC-SHA256) with a key
derived from COURSEMALL_SECRET_KEY, so a copied database alone does not reveal them."""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from coursemall.settings import get_settings

PREFIX = "enc1:"


@functools.lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"coursemall-at-rest-v1:" + secret_key.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plain: str) -> str:
    """'' stays ''; anything else becomes 'enc1:<fernet token>'."""
    if not plain:
        return ""
    return PREFIX + _fernet(get_settings().secret_key).encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(stored: str) -> str:
    """The plain text of a value from `encrypt` ('' for ''); ValueError if it was tampered with
    or encrypted under another secret key."""
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise ValueError("not an encrypted value")
    try:
        return _fernet(get_settings().secret_key).decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ValueError("encrypted value does not match the secret key") from None
