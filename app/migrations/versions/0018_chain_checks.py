"""Verifications of the audit chain run by the worker instead of inside a web request.

The administration page used to recompute the whole chain while the superuser waited (5.5 s
at 1,000,000 events, long enough for a proxy to give up). Now the page asks for a check
(a row in ``chain_checks``), ``ratschlag worker`` runs it and stores what it found with its
time, and the page shows the latest result and whether one is waiting.

Revision ID: 0018
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "chain_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("events", sa.Integer(), nullable=True),
        sa.Column("head_seq", sa.Integer(), nullable=True),
        sa.Column("head_hash", sa.String(length=64), nullable=True),
        sa.Column("bad_seq", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("erased", sa.Integer(), nullable=True),
        sa.Column("anchors", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"], name=op.f("fk_chain_checks_requested_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_checks")),
    )
    op.create_index(op.f("ix_chain_checks_finished_at"), "chain_checks", ["finished_at"])


def downgrade():
    op.drop_index(op.f("ix_chain_checks_finished_at"), table_name="chain_checks")
    op.drop_table("chain_checks")
