"""Lists filter by state and order by number: one covering index instead of (process_id, state).

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_recommendations_process_state_number", "recommendations", ["process_id", "state", "number"])
    op.drop_index("ix_recommendations_process_state", table_name="recommendations")


def downgrade():
    op.create_index("ix_recommendations_process_state", "recommendations", ["process_id", "state"])
    op.drop_index("ix_recommendations_process_state_number", table_name="recommendations")
