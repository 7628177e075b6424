"""Departments (Fachbereiche) with members, and the statements they are asked for.

A statement is requested on a recommendation from one department, and then answered or
declined. A partial unique index keeps at most one open request per recommendation and
department, so two requests racing each other cannot both succeed.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("slug", name=op.f("uq_departments_slug")),
    )
    op.create_table(
        "department_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_department_members_department_id_departments")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_department_members_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department_members")),
        sa.UniqueConstraint("department_id", "user_id", name="uq_department_members_department_user"),
    )
    op.create_index("ix_department_members_user_department", "department_members", ["user_id", "department_id"])
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recommendation_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('requested', 'answered', 'declined')", name=op.f("ck_statements_status")),
        sa.CheckConstraint("visibility IN ('public', 'internal')", name=op.f("ck_statements_visibility")),
        sa.ForeignKeyConstraint(["recommendation_id"], ["recommendations.id"],
                                name=op.f("fk_statements_recommendation_id_recommendations")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_statements_department_id_departments")),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"], name=op.f("fk_statements_requested_by_id_users")),
        sa.ForeignKeyConstraint(["answered_by_id"], ["users.id"], name=op.f("fk_statements_answered_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
    )
    op.create_index("ix_statements_recommendation_id", "statements", ["recommendation_id", "id"])
    op.create_index("ix_statements_department_status", "statements", ["department_id", "status"])
    op.create_index("uq_statements_open_request", "statements", ["recommendation_id", "department_id"], unique=True,
                    sqlite_where=sa.text("status = 'requested'"), postgresql_where=sa.text("status = 'requested'"))


def downgrade():
    op.drop_table("statements")
    op.drop_index("ix_department_members_user_department", table_name="department_members")
    op.drop_table("department_members")
    op.drop_table("departments")
