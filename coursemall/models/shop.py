"""Shop settings: one JSON value per key (name, logo, colours, home blocks, policies,
channel fees, message templates, encrypted payment secrets...). See services/shop/shop_settings.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow

__all__ = ["ShopSetting"]


class ShopSetting(SQLModel, table=True):
    __tablename__ = "shop_settings"

    key: str = Field(primary_key=True, max_length=60)
    value: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    updated_by: int | None = Field(default=None, foreign_key="users.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
