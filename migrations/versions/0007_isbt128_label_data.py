"""ISBT 128 label data: the Donation Identification Number of a lot (URS-EXE-015)

A nullable, unique lots.isbt128_din, taken when a lot starts if the site has an ISBT 128 FIN.
Existing lots keep NULL: their audit trail never gave them a DIN, so the audit replay agrees.
A trigger refuses any change of the DIN once the row exists (it is printed on labels). The
column is added (and dropped) without a table rebuild so the SQLite triggers of lots survive.
The product code lives in the master batch record (isbt128_product_code), not here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 09:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.common.ddl import create_immutable_columns, drop_trigger


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('lots', sa.Column('isbt128_din', sa.String(length=13), nullable=True))
    op.create_index(op.f('ix_lots_isbt128_din'), 'lots', ['isbt128_din'], unique=True)
    create_immutable_columns('lots', ('isbt128_din',))


def downgrade():
    drop_trigger('lots', 'immutable')
    op.drop_index(op.f('ix_lots_isbt128_din'), table_name='lots')
    # In place (SQLite 3.35+), not a batch rebuild, which would lose the triggers of lots.
    op.drop_column('lots', 'isbt128_din')
