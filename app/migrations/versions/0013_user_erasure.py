"""Erasure of a person: ``users.erased_at`` records when an account was anonymized.

``ratschlag users erase`` (and the superusers' page) replace the person's name by a pseudonym,
remove the e-mail address, make the password, sessions and tokens unusable, and blank the v2 audit
payloads that hold the person's personal data (docs/auditing.md). The column marks such an
account, so that it is erased only once and is never reactivated. A plain nullable column: added
in place on SQLite and PostgreSQL alike.

Revision ID: 0013
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("erased_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("erased_at")
