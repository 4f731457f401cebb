"""programmes: public-welfare jobs, project assets, resettlement sites (seed 004; POLICY.md §11)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('key_county',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('designated_on', sa.Date(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('reference', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_county')),
    sa.UniqueConstraint('county_code', 'designated_on', name='uq_key_county_county_code')
    )
    op.create_index(op.f('ix_key_county_county_code'), 'key_county', ['county_code'], unique=False)
    op.create_table('project_asset',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('asset_no', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('asset_class', sa.String(length=10), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('project_name', sa.String(length=120), nullable=False),
    sa.Column('project_year', sa.Integer(), nullable=False),
    sa.Column('value', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
    sa.Column('custodian', sa.String(length=80), nullable=True),
    sa.Column('responsibility', sa.Text(), nullable=True),
    sa.Column('owner_household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['owner_household_id'], ['household.id'], name=op.f('fk_project_asset_owner_household_id_household')),
    sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_project_asset_region_code_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_asset')),
    sa.UniqueConstraint('asset_no', name=op.f('uq_project_asset_asset_no'))
    )
    op.create_index(op.f('ix_project_asset_region_code'), 'project_asset', ['region_code'], unique=False)
    op.create_table('pwj_post',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('post_type', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('need', sa.Text(), nullable=False),
    sa.Column('monthly_subsidy', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
    sa.Column('headcount', sa.Integer(), nullable=False),
    sa.Column('days_per_month', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_pwj_post_region_code_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pwj_post'))
    )
    op.create_index(op.f('ix_pwj_post_region_code'), 'pwj_post', ['region_code'], unique=False)
    op.create_table('resettlement_site',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('site_kind', sa.String(length=20), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('services', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_resettlement_site_region_code_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resettlement_site'))
    )
    op.create_index(op.f('ix_resettlement_site_region_code'), 'resettlement_site', ['region_code'], unique=False)
    op.create_table('asset_income',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('asset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('income', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
    sa.Column('to_upkeep', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
    sa.Column('to_households', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
    sa.Column('to_village_welfare', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
    sa.Column('households_paid', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['project_asset.id'], name=op.f('fk_asset_income_asset_id_project_asset')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asset_income')),
    sa.UniqueConstraint('asset_id', 'period', name='uq_asset_income_asset_period')
    )
    op.create_index(op.f('ix_asset_income_asset_id'), 'asset_income', ['asset_id'], unique=False)
    op.create_table('pwj_hire',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('hired_on', sa.Date(), nullable=False),
    sa.Column('agreement_end', sa.Date(), nullable=True),
    sa.Column('eligibility', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('exit_on', sa.Date(), nullable=True),
    sa.Column('exit_reason', sa.String(length=20), nullable=True),
    sa.Column('exit_note', sa.Text(), nullable=True),
    sa.Column('exit_effect', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=False),
    sa.Column('exited_by', sa.String(length=60), nullable=True),
    sa.Column('exit_recorded_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_pwj_hire_household_id_household')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_pwj_hire_person_id_person')),
    sa.ForeignKeyConstraint(['post_id'], ['pwj_post.id'], name=op.f('fk_pwj_hire_post_id_pwj_post')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pwj_hire'))
    )
    op.create_index(op.f('ix_pwj_hire_household_id'), 'pwj_hire', ['household_id'], unique=False)
    op.create_index('ix_pwj_hire_person_status', 'pwj_hire', ['person_id', 'status'], unique=False)
    op.create_index(op.f('ix_pwj_hire_post_id'), 'pwj_hire', ['post_id'], unique=False)
    op.create_index(op.f('ix_pwj_hire_region_code'), 'pwj_hire', ['region_code'], unique=False)
    op.create_table('site_household',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('site_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('moved_in_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_site_household_household_id_household')),
    sa.ForeignKeyConstraint(['site_id'], ['resettlement_site.id'], name=op.f('fk_site_household_site_id_resettlement_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_household')),
    sa.UniqueConstraint('household_id', name='uq_site_household_household_id')
    )
    op.create_index(op.f('ix_site_household_site_id'), 'site_household', ['site_id'], unique=False)
    op.create_table('site_support',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('site_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['resettlement_site.id'], name=op.f('fk_site_support_site_id_resettlement_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_support'))
    )
    op.create_index(op.f('ix_site_support_site_id'), 'site_support', ['site_id'], unique=False)
    op.create_table('pwj_payroll',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('hire_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('days_required', sa.Integer(), nullable=False),
    sa.Column('days_present', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
    sa.Column('income_record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], name=op.f('fk_pwj_payroll_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['hire_id'], ['pwj_hire.id'], name=op.f('fk_pwj_payroll_hire_id_pwj_hire')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_pwj_payroll_household_id_household')),
    sa.ForeignKeyConstraint(['income_record_id'], ['income_record.id'], name=op.f('fk_pwj_payroll_income_record_id_income_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pwj_payroll')),
    sa.UniqueConstraint('hire_id', 'month', name='uq_pwj_payroll_hire_month')
    )
    op.create_index(op.f('ix_pwj_payroll_hire_id'), 'pwj_payroll', ['hire_id'], unique=False)
    op.create_index(op.f('ix_pwj_payroll_region_code'), 'pwj_payroll', ['region_code'], unique=False)
    op.create_table('assist_pair',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('giver', sa.String(length=120), nullable=False),
    sa.Column('receiver_code', sa.String(length=6), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('reference', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assist_pair'))
    )
    op.create_index(op.f('ix_assist_pair_receiver_code'), 'assist_pair', ['receiver_code'], unique=False)
    op.create_table('assist_flow',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('pair_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
    sa.Column('completed', sa.Boolean(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pair_id'], ['assist_pair.id'], name=op.f('fk_assist_flow_pair_id_assist_pair')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assist_flow'))
    )
    op.create_index(op.f('ix_assist_flow_pair_id'), 'assist_flow', ['pair_id'], unique=False)
    op.create_index(op.f('ix_assist_flow_region_code'), 'assist_flow', ['region_code'], unique=False)
    op.create_table('labour_transfer',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('pair_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('destination', sa.String(length=120), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('monthly_income', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
    sa.Column('basis', sa.JSON(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_labour_transfer_household_id_household')),
    sa.ForeignKeyConstraint(['pair_id'], ['assist_pair.id'], name=op.f('fk_labour_transfer_pair_id_assist_pair')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_labour_transfer_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_labour_transfer'))
    )
    op.create_index(op.f('ix_labour_transfer_pair_id'), 'labour_transfer', ['pair_id'], unique=False)
    op.create_index(op.f('ix_labour_transfer_region_code'), 'labour_transfer', ['region_code'], unique=False)
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_index(op.f('ix_labour_transfer_region_code'), table_name='labour_transfer')
    op.drop_index(op.f('ix_labour_transfer_pair_id'), table_name='labour_transfer')
    op.drop_table('labour_transfer')
    op.drop_index(op.f('ix_assist_flow_region_code'), table_name='assist_flow')
    op.drop_index(op.f('ix_assist_flow_pair_id'), table_name='assist_flow')
    op.drop_table('assist_flow')
    op.drop_index(op.f('ix_assist_pair_receiver_code'), table_name='assist_pair')
    op.drop_table('assist_pair')
    op.drop_index(op.f('ix_pwj_payroll_region_code'), table_name='pwj_payroll')
    op.drop_index(op.f('ix_pwj_payroll_hire_id'), table_name='pwj_payroll')
    op.drop_table('pwj_payroll')
    op.drop_index(op.f('ix_site_support_site_id'), table_name='site_support')
    op.drop_table('site_support')
    op.drop_index(op.f('ix_site_household_site_id'), table_name='site_household')
    op.drop_table('site_household')
    op.drop_index(op.f('ix_pwj_hire_region_code'), table_name='pwj_hire')
    op.drop_index(op.f('ix_pwj_hire_post_id'), table_name='pwj_hire')
    op.drop_index('ix_pwj_hire_person_status', table_name='pwj_hire')
    op.drop_index(op.f('ix_pwj_hire_household_id'), table_name='pwj_hire')
    op.drop_table('pwj_hire')
    op.drop_index(op.f('ix_asset_income_asset_id'), table_name='asset_income')
    op.drop_table('asset_income')
    op.drop_index(op.f('ix_resettlement_site_region_code'), table_name='resettlement_site')
    op.drop_table('resettlement_site')
    op.drop_index(op.f('ix_pwj_post_region_code'), table_name='pwj_post')
    op.drop_table('pwj_post')
    op.drop_index(op.f('ix_project_asset_region_code'), table_name='project_asset')
    op.drop_table('project_asset')
    op.drop_index(op.f('ix_key_county_county_code'), table_name='key_county')
    op.drop_table('key_county')
    # ### end Alembic commands ###
