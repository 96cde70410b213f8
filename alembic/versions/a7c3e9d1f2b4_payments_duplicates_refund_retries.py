"""Extra payments are stored (role), refunds retry with back-off (next attempt, last reason) and
may return one extra payment (payment_id).

Revision ID: a7c3e9d1f2b4
Revises: a9c3e5f7b201
Create Date: 2026-12-03 16:58:12

payments: the UNIQUE(order_id) of the initial schema is replaced by a partial unique index on
order_id WHERE role = 'applied' (one applied payment per order; duplicates stored beside it).
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (AutoString in generated columns)
from alembic import op

import coursemall.models.base  # noqa: F401  (UtcDateTime)

revision: str = 'a7c3e9d1f2b4'
down_revision: Union[str, Sequence[str], None] = 'a9c3e5f7b201'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APPLIED = sa.text("role = 'applied'")
# SQLite keeps the initial UNIQUE(order_id) unnamed: name it on reflection so batch mode can drop it.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _drop_unique_order_id() -> None:
    bind = op.get_bind()
    for constraint in sa.inspect(bind).get_unique_constraints('payments'):
        if constraint["column_names"] != ['order_id']:
            continue
        if bind.dialect.name == "sqlite":  # table rebuilt; an unnamed constraint gets the convention's name
            with op.batch_alter_table('payments', recreate="always", naming_convention=SQLITE_NAMES) as batch_op:
                batch_op.drop_constraint(constraint["name"] or 'uq_payments_order_id', type_='unique')
        else:
            op.drop_constraint(constraint["name"], 'payments', type_='unique')


def upgrade() -> None:
    _drop_unique_order_id()
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False,
                                      server_default='applied'))
        batch_op.create_index(batch_op.f('ix_payments_order_id'), ['order_id'], unique=False)
        batch_op.create_index('uq_payments_applied_order', ['order_id'], unique=True, sqlite_where=APPLIED,
                              postgresql_where=APPLIED)

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', coursemall.models.base.UtcDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('last_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('payment_id', sa.Integer(), nullable=True))
        batch_op.create_index('uq_refunds_payment', ['payment_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('uq_refunds_payment')
        batch_op.drop_column('payment_id')
        batch_op.drop_column('last_reason')
        batch_op.drop_column('next_attempt_at')

    op.execute("DELETE FROM payments WHERE role <> 'applied'")
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('uq_payments_applied_order', sqlite_where=APPLIED, postgresql_where=APPLIED)
        batch_op.drop_index(batch_op.f('ix_payments_order_id'))
        batch_op.drop_column('role')
        batch_op.create_unique_constraint('payments_order_id_key', ['order_id'])
