"""Rate-limit counters (services/rate_limit.py): one row per (bucket, fixed time window)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = ["RateCounter"]


class RateCounter(SQLModel, table=True):
    """How many times an action was taken in one window. Updated only by an atomic
    INSERT .. ON CONFLICT DO UPDATE, so every web worker (and PostgreSQL or SQLite) agrees."""

    __tablename__ = "rate_counters"
    __table_args__ = (
        UniqueConstraint("bucket", "window_start", name="uq_rate_counters_bucket_window"),
        Index("ix_rate_counters_expires", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # "<rule>:<sha256 of the key>" (the key is an IP, an account or a user id; never stored raw)
    bucket: str = Field(max_length=80)
    window_start: int = Field(sa_type=BigInteger)  # Unix seconds, a multiple of the window length
    expires_at: int = Field(sa_type=BigInteger)  # Unix seconds after which the row can be purged
    count: int = Field(default=0)
