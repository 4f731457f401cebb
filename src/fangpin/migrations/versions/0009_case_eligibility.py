"""cases: eligibility runs/results on the assistance chain; follow-up visit schedule basis

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_MONEY = sa.Numeric(14, 2, asdecimal=False)


def upgrade() -> None:
    op.create_table('eligibility_run',
    sa.Column('id', _PK, autoincrement=True, nullable=False),
    sa.Column('plan_id', _PK, nullable=False),
    sa.Column('case_id', _PK, nullable=True),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('trigger', sa.String(length=30), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.Column('income', sa.JSON(), nullable=True),
    sa.Column('inputs', sa.JSON(), nullable=True),
    sa.Column('parameter_version', sa.String(length=80), nullable=False),
    sa.Column('recorded_by', sa.String(length=60), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_eligibility_run_case_id_case_file')),
    sa.ForeignKeyConstraint(['plan_id'], ['assistance_plan.id'],
                            name=op.f('fk_eligibility_run_plan_id_assistance_plan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eligibility_run'))
    )
    op.create_index(op.f('ix_eligibility_run_plan_id'), 'eligibility_run', ['plan_id'], unique=False)
    op.create_table('eligibility_result',
    sa.Column('id', _PK, autoincrement=True, nullable=False),
    sa.Column('run_id', _PK, nullable=False),
    sa.Column('programme', sa.String(length=30), nullable=False),
    sa.Column('member', sa.String(length=60), nullable=True),
    sa.Column('eligible', sa.Boolean(), nullable=False),
    sa.Column('rule_id', sa.String(length=60), nullable=False),
    sa.Column('reference', sa.Text(), nullable=False),
    sa.Column('amount_month', _MONEY, nullable=True),
    sa.Column('amount_year', _MONEY, nullable=True),
    sa.Column('decision', sa.JSON(), nullable=False),
    sa.Column('proposal', sa.String(length=20), nullable=True),
    sa.Column('category', sa.String(length=30), nullable=True),
    sa.Column('subtype', sa.String(length=20), nullable=True),
    sa.Column('measure_id', _PK, nullable=True),
    sa.ForeignKeyConstraint(['measure_id'], ['assistance_measure.id'],
                            name=op.f('fk_eligibility_result_measure_id_assistance_measure')),
    sa.ForeignKeyConstraint(['run_id'], ['eligibility_run.id'], name=op.f('fk_eligibility_result_run_id_eligibility_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eligibility_result'))
    )
    op.create_index(op.f('ix_eligibility_result_run_id'), 'eligibility_result', ['run_id'], unique=False)
    with op.batch_alter_table('follow_up_visit') as b:
        b.add_column(sa.Column('schedule_basis', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('follow_up_visit') as b:
        b.drop_column('schedule_basis')
    op.drop_index(op.f('ix_eligibility_result_run_id'), table_name='eligibility_result')
    op.drop_table('eligibility_result')
    op.drop_index(op.f('ix_eligibility_run_plan_id'), table_name='eligibility_run')
    op.drop_table('eligibility_run')
