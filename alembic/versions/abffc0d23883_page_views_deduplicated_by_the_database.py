"""page views de-duplicated by the database: day column, unique (visitor, kind, course_id, day)

Revision ID: abffc0d23883
Revises: a7c3e9d1f2b4
Create Date: 2026-12-03 21:05:10

A visitor's view of a course is stored once per kind and China day (UTC+8). That rule used to be
kept by a set in each web process; it is now the unique index uq_page_views_visit, which every
worker shares (INSERT ... ON CONFLICT DO NOTHING). Existing rows get their China day from
created_at, and rows repeating a (visitor, kind, course, day) already stored are deleted, the
first one (lowest id) kept: the funnel counts distinct visitors per whole China day, so its figures
do not change.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'abffc0d23883'
down_revision: Union[str, Sequence[str], None] = 'a7c3e9d1f2b4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# the China day of a UTC timestamp, as services/dashboard/analytics.py computes it (_Sql.day)
CHINA_DAY = {
    "postgresql": "CAST(timezone('UTC', created_at) + INTERVAL '8 hours' AS DATE)",
    "sqlite": "date(created_at, '+8 hours')",
}
VISIT = ['visitor', 'kind', 'course_id', 'day']


def upgrade() -> None:
    with op.batch_alter_table('page_views', schema=None) as batch_op:
        batch_op.add_column(sa.Column('day', sa.Date(), nullable=True))

    op.execute(f"UPDATE page_views SET day = {CHINA_DAY[op.get_bind().dialect.name]}")
    # NULL course ids never collide under a unique index (and the funnel ignores them): kept as they are
    op.execute("DELETE FROM page_views WHERE course_id IS NOT NULL AND id NOT IN ("
               "SELECT MIN(id) FROM page_views WHERE course_id IS NOT NULL "
               "GROUP BY visitor, kind, course_id, day)")

    with op.batch_alter_table('page_views', schema=None) as batch_op:
        batch_op.alter_column('day', existing_type=sa.Date(), nullable=False)
        batch_op.create_index('uq_page_views_visit', VISIT, unique=True)


def downgrade() -> None:
    with op.batch_alter_table('page_views', schema=None) as batch_op:
        batch_op.drop_index('uq_page_views_visit')
        batch_op.drop_column('day')
