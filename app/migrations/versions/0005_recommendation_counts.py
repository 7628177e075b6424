"""Recommendation counts per (process, state, block of 1,000 numbers), kept by triggers.

Lists used to count every visible row and skip rows with OFFSET, so a late page at
100,000 recommendations cost nine times one at 100. With these counts a list reads its
total from a few rows and starts its page in the block where it falls.

The triggers run in the transaction that inserts, moves or deletes a recommendation, so
the counts can never disagree with the rows. The existing rows are counted after the triggers
exist, under a lock on PostgreSQL (on SQLite the migration's write transaction holds the
database's only write lock). On PostgreSQL the two rows a move touches are
changed in key order, so two moves in opposite directions cannot deadlock.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen here: app.models.COUNT_BLOCK must stay equal to it.
BLOCK = 1000


def upgrade():
    op.create_table(
        "recommendation_counts",
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["process_id"], ["processes.id"],
                                name=op.f("fk_recommendation_counts_process_id_processes")),
        sa.PrimaryKeyConstraint("process_id", "state", "block", name=op.f("pk_recommendation_counts")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Running workers wait until this revision commits: no row is written between the
        # triggers' start and the count below.
        op.execute("LOCK TABLE recommendations IN SHARE ROW EXCLUSIVE MODE")
        op.execute(f"""
            CREATE FUNCTION recommendation_counts_add(p integer, s varchar, num integer, delta integer)
            RETURNS void LANGUAGE sql AS $$
                INSERT INTO recommendation_counts AS c (process_id, state, block, count)
                VALUES (p, s, (num - 1) / {BLOCK}, delta)
                ON CONFLICT (process_id, state, block) DO UPDATE SET count = c.count + delta
            $$
        """)
        op.execute(f"""
            CREATE FUNCTION recommendation_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    PERFORM recommendation_counts_add(NEW.process_id, NEW.state, NEW.number, 1);
                ELSIF TG_OP = 'DELETE' THEN
                    PERFORM recommendation_counts_add(OLD.process_id, OLD.state, OLD.number, -1);
                ELSIF ROW(OLD.process_id, OLD.state, (OLD.number - 1) / {BLOCK})
                      < ROW(NEW.process_id, NEW.state, (NEW.number - 1) / {BLOCK}) THEN
                    PERFORM recommendation_counts_add(OLD.process_id, OLD.state, OLD.number, -1);
                    PERFORM recommendation_counts_add(NEW.process_id, NEW.state, NEW.number, 1);
                ELSE
                    PERFORM recommendation_counts_add(NEW.process_id, NEW.state, NEW.number, 1);
                    PERFORM recommendation_counts_add(OLD.process_id, OLD.state, OLD.number, -1);
                END IF;
                RETURN NULL;
            END;
            $$
        """)
        op.execute("""
            CREATE TRIGGER recommendation_counts_follow AFTER INSERT OR DELETE ON recommendations
            FOR EACH ROW EXECUTE FUNCTION recommendation_counts_follow()
        """)
        op.execute("""
            CREATE TRIGGER recommendation_counts_follow_update AFTER UPDATE OF process_id, state, number ON recommendations
            FOR EACH ROW WHEN (OLD.process_id IS DISTINCT FROM NEW.process_id OR OLD.state IS DISTINCT FROM NEW.state
                               OR OLD.number IS DISTINCT FROM NEW.number)
            EXECUTE FUNCTION recommendation_counts_follow()
        """)
    else:
        def add(row: str, delta: int) -> str:
            return f"""
                INSERT INTO recommendation_counts (process_id, state, block, count)
                VALUES ({row}.process_id, {row}.state, ({row}.number - 1) / {BLOCK}, {delta})
                ON CONFLICT (process_id, state, block) DO UPDATE SET count = count + {delta};"""
        op.execute(f"CREATE TRIGGER recommendation_counts_insert AFTER INSERT ON recommendations BEGIN {add('NEW', 1)} END")
        op.execute(f"CREATE TRIGGER recommendation_counts_delete AFTER DELETE ON recommendations BEGIN {add('OLD', -1)} END")
        op.execute(f"""
            CREATE TRIGGER recommendation_counts_update AFTER UPDATE OF process_id, state, number ON recommendations
            WHEN OLD.process_id IS NOT NEW.process_id OR OLD.state IS NOT NEW.state OR OLD.number IS NOT NEW.number
            BEGIN {add('OLD', -1)} {add('NEW', 1)} END
        """)
    # The count comes after the triggers, in the same transaction: a row written before it is in
    # the count (what the triggers added for it is replaced), a row written after it is counted by
    # the triggers. (As first released the count came first, without a lock, and rows written in
    # between were never counted: `ratschlag counts check` finds them, `counts rebuild` repairs.)
    op.execute("DELETE FROM recommendation_counts")
    op.execute(f"""
        INSERT INTO recommendation_counts (process_id, state, block, count)
        SELECT process_id, state, (number - 1) / {BLOCK}, count(*) FROM recommendations
        GROUP BY process_id, state, (number - 1) / {BLOCK}
    """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS recommendation_counts_follow_update ON recommendations")
        op.execute("DROP TRIGGER IF EXISTS recommendation_counts_follow ON recommendations")
        op.execute("DROP FUNCTION IF EXISTS recommendation_counts_follow()")
        op.execute("DROP FUNCTION IF EXISTS recommendation_counts_add(integer, varchar, integer, integer)")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS recommendation_counts_{name}")
    op.drop_table("recommendation_counts")
