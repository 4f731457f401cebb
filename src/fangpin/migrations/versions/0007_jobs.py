"""jobs: durable background jobs (import, monitoring run, report) with progress

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', PK, autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('dedup_key', sa.String(length=64), nullable=True),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.Column('artefact', sa.String(length=500), nullable=True),
    sa.Column('created_by', PK, nullable=True),
    sa.Column('created_by_name', sa.String(length=60), nullable=True),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('owner', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job'))
    )
    op.create_index('ix_job_status_heartbeat', 'job', ['status', 'heartbeat_at'])
    op.create_index('ix_job_dedup_key', 'job', ['dedup_key'])


def downgrade() -> None:
    op.drop_index('ix_job_dedup_key', table_name='job')
    op.drop_index('ix_job_status_heartbeat', table_name='job')
    op.drop_table('job')
