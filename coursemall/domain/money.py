"""Money is integer fen (分) everywhere. Formatting is the only place yuan appear."""

from __future__ import annotations


def format_fen(fen: int) -> str:
    """12800 -> '¥128.00'; negative amounts keep their sign in front of the symbol."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError("money must be integer fen")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan}.{cents:02d}"
