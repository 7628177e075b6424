"""Notifications, the e-mail outbox, follows, deadline marks and single-use password links.

Notifications and the mails that carry them are written in the transaction of the change that
causes them (a transactional outbox); ``ratschlag worker`` sends the mails. ``deadline_marks``
keeps the worker's reminder pass idempotent. ``user_tokens`` holds only the hash of each
invitation or password-reset link. ``users.language`` is the language of a person's e-mails.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, as in 0002: rebuilding users in batch mode would drop a table that
    # every other table references.
    op.add_column("users", sa.Column("language", sa.String(length=8), nullable=True))
    op.create_table(
        "user_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("purpose IN ('invitation', 'password_reset')", name=op.f("ck_user_tokens_purpose")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_tokens_token_hash")),
    )
    op.create_index(op.f("ix_user_tokens_user_id"), "user_tokens", ["user_id"])
    op.create_table(
        "mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("user_token_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'skipped')", name=op.f("ck_mails_status")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_mails_user_id_users")),
        sa.ForeignKeyConstraint(["user_token_id"], ["user_tokens.id"], name=op.f("fk_mails_user_token_id_user_tokens")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mails")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_mails_dedupe_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mails_message_id")),
    )
    op.create_index("ix_mails_status_next_attempt", "mails", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_mails_user_id"), "mails", ["user_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("recommendation_id", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("statement_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('your_turn', 'authored', 'statement', 'reply', 'deadline', 'report', 'followed')",
                           name=op.f("ck_notifications_kind")),
        sa.CheckConstraint("delivery IN ('pending', 'immediate', 'digest', 'off')", name=op.f("ck_notifications_delivery")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users")),
        sa.ForeignKeyConstraint(["recommendation_id"], ["recommendations.id"],
                                name=op.f("fk_notifications_recommendation_id_recommendations")),
        sa.ForeignKeyConstraint(["comment_id"], ["comments.id"], name=op.f("fk_notifications_comment_id_comments")),
        sa.ForeignKeyConstraint(["statement_id"], ["statements.id"],
                                name=op.f("fk_notifications_statement_id_statements")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_notifications_actor_id_users")),
        sa.ForeignKeyConstraint(["mail_id"], ["mails.id"], name=op.f("fk_notifications_mail_id_mails")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_user_id", "notifications", ["user_id", "id"])
    op.create_index("ix_notifications_user_unread", "notifications", ["user_id", "read_at"])
    op.create_index("ix_notifications_digest", "notifications", ["delivery", "mail_id"])
    op.create_index(op.f("ix_notifications_recommendation_id"), "notifications", ["recommendation_id"])
    op.create_index(op.f("ix_notifications_mail_id"), "notifications", ["mail_id"])
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.CheckConstraint("mode IN ('immediate', 'digest', 'off')", name=op.f("ck_notification_settings_mode")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notification_settings_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("recommendation_id", sa.Integer(), nullable=True),
        sa.Column("process_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("(recommendation_id IS NULL) <> (process_id IS NULL)", name=op.f("ck_follows_one_subject")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_follows_user_id_users")),
        sa.ForeignKeyConstraint(["recommendation_id"], ["recommendations.id"],
                                name=op.f("fk_follows_recommendation_id_recommendations")),
        sa.ForeignKeyConstraint(["process_id"], ["processes.id"], name=op.f("fk_follows_process_id_processes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follows")),
        sa.UniqueConstraint("user_id", "recommendation_id", name="uq_follows_user_recommendation"),
        sa.UniqueConstraint("user_id", "process_id", name="uq_follows_user_process"),
    )
    op.create_index("ix_follows_recommendation", "follows", ["recommendation_id"])
    op.create_index("ix_follows_process", "follows", ["process_id"])
    op.create_table(
        "deadline_marks",
        sa.Column("recommendation_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["recommendation_id"], ["recommendations.id"],
                                name=op.f("fk_deadline_marks_recommendation_id_recommendations")),
        sa.PrimaryKeyConstraint("recommendation_id", "due_at", "stage", name=op.f("pk_deadline_marks")),
    )


def downgrade():
    op.drop_table("deadline_marks")
    op.drop_table("follows")
    op.drop_table("notification_settings")
    op.drop_table("notifications")
    op.drop_table("mails")
    op.drop_table("user_tokens")
    op.drop_column("users", "language")
