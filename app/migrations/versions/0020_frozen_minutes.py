"""A closed session keeps its minutes as they were when it closed (issue 14): titles, states,
decisions and the statements they rested on no longer follow later changes.

Sessions closed before this revision have no snapshot; their minutes are shown from the tables,
as before (app/services/sessions.py ``minutes_items``).

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("steering_sessions", sa.Column("minutes_json", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("steering_sessions") as batch:
        batch.drop_column("minutes_json")
