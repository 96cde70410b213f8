"""Money is integer fen (分) everywhere; yuan appear only as text made here (or parsed here).

No float arithmetic: fen in, formatted yuan out. Charts get `yuan_number` (an exact Decimal that
Reflex sends to the browser as a JSON number).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from coursemall.domain.errors import DomainError

MAX_PRICE_FEN = 100_000 * 100  # 100,000 yuan: the highest price a course form accepts


def _check_fen(fen: object) -> int:
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError("money must be integer fen")
    return fen


def format_fen(fen: int) -> str:
    """12800 -> '¥128.00'; negative amounts keep their sign in front of the symbol."""
    _check_fen(fen)
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan}.{cents:02d}"


def yuan_text(fen: int) -> str:
    """12800 -> '128.00', -150 -> '-1.50' (CSV exports: a plain amount, no symbol)."""
    _check_fen(fen)
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{cents:02d}"


def yuan_number(fen: int) -> Decimal:
    """28001 -> Decimal('280.01'): an exact number for chart rows (never a float computed here)."""
    return Decimal(_check_fen(fen)).scaleb(-2)


# ---------------------------------------------------------------- payment channels

def fen_to_yuan(fen: int) -> str:
    """12800 -> '128.00' (Alipay's total_amount format); negative or non-int -> ValueError."""
    if not isinstance(fen, int) or isinstance(fen, bool) or fen < 0:
        raise ValueError("fen must be a non-negative int")
    return yuan_text(fen)


_YUAN = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


def yuan_to_fen(text: object) -> int | None:
    """'128.00' -> 12800; anything that is not a plain non-negative amount -> None."""
    if not isinstance(text, str) or not _YUAN.match(text):
        return None
    try:
        return int((Decimal(text) * 100).to_integral_exact())
    except (InvalidOperation, ArithmeticError):
        return None


# ---------------------------------------------------------------- price inputs (dashboard forms)

_PRICE_RE = re.compile(r"[0-9]{1,6}(\.[0-9]{1,2})?")


def parse_yuan(value: object, *, code: str = "cms.price_invalid") -> int:
    """'99' / '99.9' / '99.90' / '¥99' (full-width digits too) -> fen. Anything else (negative,
    over 100,000 yuan, 3 decimals, letters, non-strings) -> DomainError(code)."""
    if not isinstance(value, str) or len(value) > 20:
        raise DomainError(code)
    text = unicodedata.normalize("NFKC", value).strip().lstrip("¥").strip()
    if not _PRICE_RE.fullmatch(text):
        raise DomainError(code)
    yuan, _, cents = text.partition(".")
    fen = int(yuan) * 100 + int((cents + "00")[:2])
    if fen > MAX_PRICE_FEN:
        raise DomainError(code)
    return fen


def fen_to_yuan_text(fen: int) -> str:
    """12800 -> '128', 9990 -> '99.90' (what the price input shows)."""
    yuan, cents = divmod(int(fen), 100)
    return f"{yuan}.{cents:02d}" if cents else str(yuan)
