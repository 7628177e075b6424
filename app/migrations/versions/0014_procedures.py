"""The overview of procedures (Vorhabenliste): what a process is about, where it stands, and whom to ask.

Processes gain a description (Markdown and its safe HTML), a status (planned, running,
finished), start and end dates, the level of participation (inform, consult, co-decide), a
contact and links. Processes that exist already are running: they were in use before the
overview existed. The database keeps the status and level to their lists and the end on or after
the start, whatever writes the table: check constraints on PostgreSQL; on SQLite triggers, because
adding a check constraint there means copying the table, which other tables' foreign keys forbid
once processes have memberships and recommendations.

Revision ID: 0014
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

CHECKS = {
    "status": "status IN ('planned', 'running', 'finished')",
    "participation": "participation IS NULL OR participation IN ('inform', 'consult', 'co-decide')",
    "dates": "starts_on IS NULL OR ends_on IS NULL OR ends_on >= starts_on",
}
COLUMNS = ("description", "description_html", "status", "starts_on", "ends_on", "participation", "contact", "links_json")


def upgrade():
    op.add_column("processes", sa.Column("description", sa.Text(), nullable=False, server_default=""))
    op.add_column("processes", sa.Column("description_html", sa.Text(), nullable=False, server_default=""))
    op.add_column("processes", sa.Column("status", sa.String(length=16), nullable=False, server_default="running"))
    op.add_column("processes", sa.Column("starts_on", sa.Date(), nullable=True))
    op.add_column("processes", sa.Column("ends_on", sa.Date(), nullable=True))
    op.add_column("processes", sa.Column("participation", sa.String(length=16), nullable=True))
    op.add_column("processes", sa.Column("contact", sa.String(length=500), nullable=False, server_default=""))
    op.add_column("processes", sa.Column("links_json", sa.Text(), nullable=False, server_default="[]"))
    if op.get_bind().dialect.name == "sqlite":
        for event in ("INSERT", "UPDATE"):
            for name, check in CHECKS.items():
                op.execute(f"""
                    CREATE TRIGGER processes_{name}_{event.lower()} BEFORE {event} ON processes
                    FOR EACH ROW WHEN NOT ({check.replace("starts_on", "NEW.starts_on").replace("ends_on", "NEW.ends_on")
                                           .replace("status", "NEW.status").replace("participation", "NEW.participation")})
                    BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_processes_{name}'); END
                """)
    else:
        for name, check in CHECKS.items():
            op.create_check_constraint(name, "processes", check)
    op.create_index("ix_processes_status_title", "processes", ["status", "title"])


def downgrade():
    op.drop_index("ix_processes_status_title", table_name="processes")
    if op.get_bind().dialect.name == "sqlite":
        for event in ("insert", "update"):
            for name in CHECKS:
                op.execute(f"DROP TRIGGER IF EXISTS processes_{name}_{event}")
        for column in COLUMNS:
            op.execute(f"ALTER TABLE processes DROP COLUMN {column}")  # SQLite 3.35 and later
    else:
        for name in CHECKS:
            op.drop_constraint(op.f(f"ck_processes_{name}"), "processes", type_="check")
        for column in COLUMNS:
            op.drop_column("processes", column)
