"""A resident chooses the category of a concern on the public form (issue 17): the submission keeps
it until the address is confirmed, and the concern is filed under it (and routed to its department).

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("submissions", sa.Column("category_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_submissions_category_id_categories", "submissions", "categories", ["category_id"], ["id"])
    else:  # a plain column: SQLite adds it in place
        op.execute("ALTER TABLE submissions ADD COLUMN category_id INTEGER REFERENCES categories (id)")


def downgrade():
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("category_id")
