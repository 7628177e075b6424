"""Public intake: residents send concerns without an account (docs/workflows.md, "Public intake").

``submissions`` holds a concern until its e-mail address is confirmed (then the recommendation
holds it), with the hashes of its confirmation and status links; ``users.resident`` marks the
people who sent one without an account; ``mails.submission_id`` ties the confirmation and status
mails to their submission. Plain added columns and a new table: in place on SQLite and PostgreSQL.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("process_id", sa.Integer(), sa.ForeignKey("processes.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("status_nonce", sa.String(length=64), nullable=False),
        sa.Column("status_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("recommendation_id", sa.Integer(), sa.ForeignKey("recommendations.id"), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_submissions_token_hash"),
        sa.UniqueConstraint("status_hash", name="uq_submissions_status_hash"),
    )
    op.create_index("ix_submissions_user_id", "submissions", ["user_id"])
    op.create_index("ix_submissions_expires_at", "submissions", ["expires_at"])
    op.create_index("ix_submissions_recommendation_id", "submissions", ["recommendation_id"])
    op.add_column("users", sa.Column("resident", sa.Boolean(), nullable=False, server_default=sa.text("false")))
    # On SQLite a plain column: one that REFERENCES another table could not be dropped again in place
    # (the downgrade), and the service deletes a submission's mails before the submission anyway.
    if op.get_bind().dialect.name == "sqlite":
        op.add_column("mails", sa.Column("submission_id", sa.Integer(), nullable=True))
    else:
        op.add_column("mails", sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=True))
    op.create_index("ix_mails_submission_id", "mails", ["submission_id"])


def downgrade():
    op.drop_index("ix_mails_submission_id", table_name="mails")
    # Not batch mode: on SQLite that would copy tables other tables' foreign keys point at. On
    # PostgreSQL dropping the column drops its foreign key (named by the metadata's convention) too.
    op.execute("ALTER TABLE mails DROP COLUMN submission_id")
    op.execute("ALTER TABLE users DROP COLUMN resident")
    op.drop_table("submissions")
