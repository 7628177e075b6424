"""Sessions of the steering round with their agenda, answer templates per process, and follow-up
reports on adopted recommendations; a decision records the session it was taken in.

Revision ID: 0010
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "answer_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["process_id"], ["processes.id"], name=op.f("fk_answer_templates_process_id_processes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_templates")),
        sa.UniqueConstraint("process_id", "state", name="uq_answer_templates_process_state"),
    )
    op.create_table(
        "steering_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("held_at", sa.DateTime(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("participants", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("chain_head", sa.String(length=80), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_steering_sessions_status")),
        sa.ForeignKeyConstraint(["process_id"], ["processes.id"], name=op.f("fk_steering_sessions_process_id_processes")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_steering_sessions_created_by_id_users")),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"], name=op.f("fk_steering_sessions_closed_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_steering_sessions")),
    )
    op.create_index("ix_steering_sessions_process_held", "steering_sessions", ["process_id", "held_at"])
    op.create_table(
        "agenda_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("recommendation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=True),
        sa.Column("result_state", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["steering_sessions.id"],
                                name=op.f("fk_agenda_items_session_id_steering_sessions")),
        sa.ForeignKeyConstraint(["recommendation_id"], ["recommendations.id"],
                                name=op.f("fk_agenda_items_recommendation_id_recommendations")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_agenda_items_decided_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_items")),
        sa.UniqueConstraint("session_id", "recommendation_id", name="uq_agenda_items_session_recommendation"),
    )
    op.create_index("ix_agenda_items_recommendation", "agenda_items", ["recommendation_id"])
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recommendation_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('planned', 'in_progress', 'done', 'stalled')", name=op.f("ck_follow_ups_status")),
        sa.ForeignKeyConstraint(["recommendation_id"], ["recommendations.id"],
                                name=op.f("fk_follow_ups_recommendation_id_recommendations")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], name=op.f("fk_follow_ups_department_id_departments")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_follow_ups_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    op.create_index("ix_follow_ups_recommendation_id", "follow_ups", ["recommendation_id", "id"])
    op.create_index(op.f("ix_follow_ups_next_due_at"), "follow_ups", ["next_due_at"])
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("session_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_decisions_session_id_steering_sessions"), "steering_sessions",
                                 ["session_id"], ["id"])


def downgrade():
    with op.batch_alter_table("decisions") as batch:
        batch.drop_constraint(op.f("fk_decisions_session_id_steering_sessions"), type_="foreignkey")
        batch.drop_column("session_id")
    op.drop_index(op.f("ix_follow_ups_next_due_at"), table_name="follow_ups")
    op.drop_table("follow_ups")
    op.drop_table("agenda_items")
    op.drop_table("steering_sessions")
    op.drop_table("answer_templates")
