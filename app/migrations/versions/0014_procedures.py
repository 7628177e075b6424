"""The overview of procedures (Vorhabenliste): what a process is about, where it stands, and whom to ask.

Processes gain a description (Markdown and its safe HTML), a status (planned, running,
finished), start and end dates, the level of participation (inform, consult, co-decide), a
contact and links. Processes that exist already are running: they were in use before the
overview existed. Check constraints keep the status and level to their lists and the end on or
after the start, whatever writes the table.

Revision ID: 0014
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("processes") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("description_html", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="running"))
        batch.add_column(sa.Column("starts_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("ends_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("participation", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("contact", sa.String(length=500), nullable=False, server_default=""))
        batch.add_column(sa.Column("links_json", sa.Text(), nullable=False, server_default="[]"))
        batch.create_check_constraint("status", "status IN ('planned', 'running', 'finished')")
        batch.create_check_constraint(
            "participation", "participation IS NULL OR participation IN ('inform', 'consult', 'co-decide')")
        batch.create_check_constraint("dates", "starts_on IS NULL OR ends_on IS NULL OR ends_on >= starts_on")
    op.create_index("ix_processes_status_title", "processes", ["status", "title"])


def downgrade():
    op.drop_index("ix_processes_status_title", table_name="processes")
    with op.batch_alter_table("processes") as batch:
        batch.drop_constraint("ck_processes_dates", type_="check")
        batch.drop_constraint("ck_processes_participation", type_="check")
        batch.drop_constraint("ck_processes_status", type_="check")
        for column in ("links_json", "contact", "participation", "ends_on", "starts_on", "status",
                       "description_html", "description"):
            batch.drop_column(column)
