"""registry current-state tables: household_current / member_current, maintained by insert triggers

One row per household / person pointing at its latest version (fangpin.registry.current). Existing databases are
backfilled from the version tables in this migration.

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from fangpin.registry import current

    op.create_table('household_current',
    sa.Column('household_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('version_id', sa.BigInteger(), nullable=False),
    sa.Column('hh_no', sa.String(length=40), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('household_id', name=op.f('pk_household_current'))
    )
    op.create_table('member_current',
    sa.Column('person_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('version_id', sa.BigInteger(), nullable=False),
    sa.Column('household_id', sa.BigInteger(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_member_current'))
    )
    conn = op.get_bind()
    current.rebuild(conn)
    op.create_index('ix_household_current_region_active', 'household_current', ['region_code', 'active'])
    op.create_index(op.f('ix_household_current_hh_no'), 'household_current', ['hh_no'])
    op.create_index('ix_member_current_household', 'member_current', ['household_id', 'active'])
    op.create_index('ix_household_current_valid_from', 'household_current', ['valid_from'])
    op.create_index('ix_member_current_valid_from', 'member_current', ['valid_from'])
    current.install_triggers(conn)
    # the open-alert lists of the web pages (newest first: the index read backwards)
    op.create_index('ix_alert_status_last_as_of', 'alert', ['status', 'last_as_of', 'id'])


def downgrade() -> None:
    from fangpin.registry import current

    op.drop_index('ix_alert_status_last_as_of', table_name='alert')
    current.drop_triggers(op.get_bind())
    op.drop_table('member_current')
    op.drop_table('household_current')
