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
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("erased_at", sa.DateTime(), nullable=True))


def downgrade():
    # Not batch mode: on SQLite that copies and drops ``users``, which the foreign keys of every
    # other table refuse. SQLite drops a plain column in place since 3.35 (2021). The pseudonyms of
    # erased people stay; they are ordinary names to the previous release, and their accounts stay
    # deactivated.
    op.execute("ALTER TABLE users DROP COLUMN erased_at")
