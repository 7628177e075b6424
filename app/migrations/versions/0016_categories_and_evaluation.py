"""Categories routed to departments, and the counters the evaluation figures read.

A process may define categories, each routed to a department; a recommendation (or concern) may
carry one. Departments can be deactivated: a category routed to one falls back to the process's
moderators. People may state an affiliation group (``users.affiliation``).

The evaluation figures (app/statistics.py, docs/evaluation.md) must cost as little at 100,000
items as at 100, so they never scan the items: triggers keep ``statistics_counters`` in step, in
the transaction of each change, as migration 0005 does for the per-state counts. A row is
``(process_id, metric, key, bucket) -> n``:

- ``entered`` / state: how often an item entered the state (creation counts for the initial state);
- ``duration`` / state / bucket: visits that ended, by how long they lasted (log-scaled buckets,
  ``BOUNDS`` below; a median is then known to within one bucket, about 19 %);
- ``on_time`` / ``late`` / state: visits of a state with a deadline, left by ``due_at`` or after;
- ``st_requested``, ``st_answered``, ``st_declined``, ``st_on_time``, ``st_late`` / department id,
  and ``st_time`` / department id / bucket: statements asked for and how fast they were given;
- ``fu_reports`` / status, ``fu_done`` / ``""``: follow-up reports, and items first reported done;
- ``due`` / state / day: items now in the state whose ``due_at`` falls on that day (days since
  1970-01-01, UTC); a row that reaches zero is deleted. "Overdue now" sums the days before today
  and counts only today's items from the index.

Existing rows are counted after the triggers exist (their history is replayed from the audit
trail where the trail still says it; payloads erased or written before states had times are left
out, and no deadline history exists from before this revision).

Revision ID: 0016
Revises: 0014
"""

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Frozen here: app.statistics.BOUNDS must stay equal to it (a test checks).
#: Bucket b holds durations d (seconds) with BOUNDS[b-1] <= d < BOUNDS[b] (BOUNDS[-1] = 0); the
#: last bucket is open-ended.
BOUNDS = [round(60 * 2 ** (k / 4)) for k in range(0, 92)]


def bucket_sql(seconds: str) -> str:
    """SQL for the bucket of a duration given as an SQL expression in seconds."""
    whens = " ".join(f"WHEN {seconds} < {bound} THEN {b}" for b, bound in enumerate(BOUNDS))
    return f"(CASE {whens} ELSE {len(BOUNDS)} END)"


def bucket_of(seconds: float) -> int:
    for b, bound in enumerate(BOUNDS):
        if seconds < bound:
            return b
    return len(BOUNDS)


def upgrade():
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["process_id"], ["processes.id"], name=op.f("fk_categories_process_id_processes")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], name=op.f("fk_categories_department_id_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("process_id", "slug", name="uq_categories_process_slug"),
    )
    op.create_table(
        "statistics_counters",
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["process_id"], ["processes.id"], name=op.f("fk_statistics_counters_process_id_processes")),
        sa.PrimaryKeyConstraint("process_id", "metric", "key", "bucket", name=op.f("pk_statistics_counters")),
    )
    # A plain column with a foreign key: SQLite adds it without copying the table (which other
    # tables' foreign keys would forbid).
    if postgres:
        op.add_column("recommendations", sa.Column("category_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_recommendations_category_id_categories", "recommendations", "categories", ["category_id"], ["id"]
        )
    else:
        op.execute("ALTER TABLE recommendations ADD COLUMN category_id INTEGER REFERENCES categories (id)")
    op.create_index("ix_recommendations_category_id", "recommendations", ["category_id"])
    # "Overdue now" counts per process and state from this index alone, however many are overdue.
    op.create_index("ix_recommendations_process_due_state", "recommendations", ["process_id", "due_at", "state"])
    op.add_column("departments", sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("users", sa.Column("affiliation", sa.String(length=100), nullable=True))

    if postgres:
        op.execute("LOCK TABLE recommendations, statements, follow_ups IN SHARE ROW EXCLUSIVE MODE")
        op.execute("""
            CREATE FUNCTION statistics_add(p integer, m varchar, k varchar, b integer, delta integer)
            RETURNS void LANGUAGE sql AS $$
                INSERT INTO statistics_counters AS c (process_id, metric, key, bucket, n) VALUES (p, m, k, b, delta)
                ON CONFLICT (process_id, metric, key, bucket) DO UPDATE SET n = c.n + delta
            $$
        """)
        seconds = "GREATEST(0, EXTRACT(EPOCH FROM (NEW.state_entered_at - OLD.state_entered_at)))"
        op.execute(f"""
            CREATE FUNCTION statistics_recommendation() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM statistics_add(NEW.process_id, 'entered', NEW.state, 0, 1);
                IF TG_OP = 'UPDATE' THEN
                    PERFORM statistics_add(OLD.process_id, 'duration', OLD.state, {bucket_sql(seconds)}, 1);
                    IF OLD.due_at IS NOT NULL THEN
                        PERFORM statistics_add(OLD.process_id,
                            CASE WHEN NEW.state_entered_at <= OLD.due_at THEN 'on_time' ELSE 'late' END, OLD.state, 0, 1);
                    END IF;
                END IF;
                RETURN NULL;
            END;
            $$
        """)
        op.execute("""
            CREATE FUNCTION statistics_due() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.due_at IS NOT NULL THEN
                    PERFORM statistics_add(OLD.process_id, 'due', OLD.state,
                        floor(EXTRACT(EPOCH FROM OLD.due_at) / 86400)::integer, -1);
                    DELETE FROM statistics_counters WHERE process_id = OLD.process_id AND metric = 'due'
                        AND key = OLD.state AND bucket = floor(EXTRACT(EPOCH FROM OLD.due_at) / 86400)::integer AND n = 0;
                END IF;
                IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.due_at IS NOT NULL THEN
                    PERFORM statistics_add(NEW.process_id, 'due', NEW.state,
                        floor(EXTRACT(EPOCH FROM NEW.due_at) / 86400)::integer, 1);
                END IF;
                RETURN NULL;
            END;
            $$
        """)
        op.execute("""
            CREATE TRIGGER statistics_due AFTER INSERT OR DELETE ON recommendations
            FOR EACH ROW EXECUTE FUNCTION statistics_due()
        """)
        op.execute("""
            CREATE TRIGGER statistics_due_update AFTER UPDATE OF process_id, state, due_at ON recommendations
            FOR EACH ROW WHEN (OLD.process_id IS DISTINCT FROM NEW.process_id OR OLD.state IS DISTINCT FROM NEW.state
                               OR OLD.due_at IS DISTINCT FROM NEW.due_at)
            EXECUTE FUNCTION statistics_due()
        """)
        op.execute("""
            CREATE TRIGGER statistics_recommendation_insert AFTER INSERT ON recommendations
            FOR EACH ROW EXECUTE FUNCTION statistics_recommendation()
        """)
        op.execute("""
            CREATE TRIGGER statistics_recommendation_update AFTER UPDATE OF state ON recommendations
            FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION statistics_recommendation()
        """)
        st_seconds = "GREATEST(0, EXTRACT(EPOCH FROM (NEW.answered_at - NEW.requested_at)))"
        op.execute(f"""
            CREATE FUNCTION statistics_statement() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE p integer;
            BEGIN
                SELECT process_id INTO p FROM recommendations WHERE id = NEW.recommendation_id;
                IF TG_OP = 'INSERT' THEN
                    PERFORM statistics_add(p, 'st_requested', NEW.department_id::varchar, 0, 1);
                ELSE
                    PERFORM statistics_add(p, 'st_' || NEW.status, NEW.department_id::varchar, 0, 1);
                    PERFORM statistics_add(p, 'st_time', NEW.department_id::varchar, {bucket_sql(st_seconds)}, 1);
                    IF NEW.due_at IS NOT NULL THEN
                        PERFORM statistics_add(p, CASE WHEN NEW.answered_at <= NEW.due_at THEN 'st_on_time' ELSE 'st_late' END,
                            NEW.department_id::varchar, 0, 1);
                    END IF;
                END IF;
                RETURN NULL;
            END;
            $$
        """)
        op.execute("""
            CREATE TRIGGER statistics_statement_insert AFTER INSERT ON statements
            FOR EACH ROW EXECUTE FUNCTION statistics_statement()
        """)
        op.execute("""
            CREATE TRIGGER statistics_statement_update AFTER UPDATE OF status ON statements
            FOR EACH ROW WHEN (OLD.status = 'requested' AND NEW.status <> 'requested') EXECUTE FUNCTION statistics_statement()
        """)
        op.execute("""
            CREATE FUNCTION statistics_follow_up() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE p integer;
            BEGIN
                SELECT process_id INTO p FROM recommendations WHERE id = NEW.recommendation_id;
                PERFORM statistics_add(p, 'fu_reports', NEW.status, 0, 1);
                IF NEW.status = 'done' AND NOT EXISTS (
                    SELECT 1 FROM follow_ups f WHERE f.recommendation_id = NEW.recommendation_id
                    AND f.status = 'done' AND f.id <> NEW.id) THEN
                    PERFORM statistics_add(p, 'fu_done', '', 0, 1);
                END IF;
                RETURN NULL;
            END;
            $$
        """)
        op.execute("""
            CREATE TRIGGER statistics_follow_up_insert AFTER INSERT ON follow_ups
            FOR EACH ROW EXECUTE FUNCTION statistics_follow_up()
        """)
    else:

        def add(process: str, metric: str, key: str, bucket: str = "0") -> str:
            return f"""
                INSERT INTO statistics_counters (process_id, metric, key, bucket, n)
                VALUES ({process}, {metric}, {key}, {bucket}, 1)
                ON CONFLICT (process_id, metric, key, bucket) DO UPDATE SET n = n + 1;"""

        seconds = "MAX(0, (julianday(NEW.state_entered_at) - julianday(OLD.state_entered_at)) * 86400.0)"
        op.execute(f"""
            CREATE TRIGGER statistics_recommendation_insert AFTER INSERT ON recommendations
            BEGIN {add("NEW.process_id", "'entered'", "NEW.state")} END
        """)
        op.execute(f"""
            CREATE TRIGGER statistics_recommendation_update AFTER UPDATE OF state ON recommendations
            WHEN OLD.state IS NOT NEW.state
            BEGIN
                {add("NEW.process_id", "'entered'", "NEW.state")}
                {add("OLD.process_id", "'duration'", "OLD.state", bucket_sql(seconds))}
                INSERT INTO statistics_counters (process_id, metric, key, bucket, n)
                SELECT OLD.process_id, CASE WHEN julianday(NEW.state_entered_at) <= julianday(OLD.due_at)
                       THEN 'on_time' ELSE 'late' END, OLD.state, 0, 1
                WHERE OLD.due_at IS NOT NULL
                ON CONFLICT (process_id, metric, key, bucket) DO UPDATE SET n = n + 1;
            END
        """)
        def due(row: str, delta: int) -> str:
            day = f"(CAST(strftime('%s', {row}.due_at) AS INTEGER) / 86400)"
            change = f"""
                INSERT INTO statistics_counters (process_id, metric, key, bucket, n)
                SELECT {row}.process_id, 'due', {row}.state, {day}, {delta} WHERE {row}.due_at IS NOT NULL
                ON CONFLICT (process_id, metric, key, bucket) DO UPDATE SET n = n + {delta};"""
            if delta < 0:
                change += f"""
                DELETE FROM statistics_counters WHERE process_id = {row}.process_id AND metric = 'due'
                    AND key = {row}.state AND bucket = {day} AND n = 0;"""
            return change

        op.execute(f"CREATE TRIGGER statistics_due_insert AFTER INSERT ON recommendations BEGIN {due('NEW', 1)} END")
        op.execute(f"CREATE TRIGGER statistics_due_delete AFTER DELETE ON recommendations BEGIN {due('OLD', -1)} END")
        op.execute(f"""
            CREATE TRIGGER statistics_due_update AFTER UPDATE OF process_id, state, due_at ON recommendations
            WHEN OLD.process_id IS NOT NEW.process_id OR OLD.state IS NOT NEW.state OR OLD.due_at IS NOT NEW.due_at
            BEGIN {due('OLD', -1)} {due('NEW', 1)} END
        """)
        process = "(SELECT process_id FROM recommendations WHERE id = NEW.recommendation_id)"
        st_seconds = "MAX(0, (julianday(NEW.answered_at) - julianday(NEW.requested_at)) * 86400.0)"
        op.execute(f"""
            CREATE TRIGGER statistics_statement_insert AFTER INSERT ON statements
            BEGIN {add(process, "'st_requested'", "CAST(NEW.department_id AS TEXT)")} END
        """)
        op.execute(f"""
            CREATE TRIGGER statistics_statement_update AFTER UPDATE OF status ON statements
            WHEN OLD.status = 'requested' AND NEW.status <> 'requested'
            BEGIN
                {add(process, "'st_' || NEW.status", "CAST(NEW.department_id AS TEXT)")}
                {add(process, "'st_time'", "CAST(NEW.department_id AS TEXT)", bucket_sql(st_seconds))}
                INSERT INTO statistics_counters (process_id, metric, key, bucket, n)
                SELECT {process}, CASE WHEN julianday(NEW.answered_at) <= julianday(NEW.due_at)
                       THEN 'st_on_time' ELSE 'st_late' END, CAST(NEW.department_id AS TEXT), 0, 1
                WHERE NEW.due_at IS NOT NULL
                ON CONFLICT (process_id, metric, key, bucket) DO UPDATE SET n = n + 1;
            END
        """)
        op.execute(f"""
            CREATE TRIGGER statistics_follow_up_insert AFTER INSERT ON follow_ups
            BEGIN
                {add(process, "'fu_reports'", "NEW.status")}
                INSERT INTO statistics_counters (process_id, metric, key, bucket, n)
                SELECT {process}, 'fu_done', '', 0, 1
                WHERE NEW.status = 'done' AND NOT EXISTS (
                    SELECT 1 FROM follow_ups f WHERE f.recommendation_id = NEW.recommendation_id
                    AND f.status = 'done' AND f.id <> NEW.id)
                ON CONFLICT (process_id, metric, key, bucket) DO UPDATE SET n = n + 1;
            END
        """)
    _count_existing(bind)


def _moment(value):
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).rstrip("Z").replace("T", " ")
    return datetime.fromisoformat(text)


def _count_existing(bind) -> None:
    """Count what happened before this revision; the triggers count everything after."""
    counters: dict[tuple[int, str, str, int], int] = {}

    def add(process_id, metric, key, bucket=0):
        k = (process_id, metric, str(key), bucket)
        counters[k] = counters.get(k, 0) + 1

    epoch = datetime(1970, 1, 1)
    for process_id, state, due_at in bind.execute(
        sa.text("SELECT process_id, state, due_at FROM recommendations WHERE due_at IS NOT NULL")
    ):
        add(process_id, "due", state, (_moment(due_at) - epoch).days)
    process_of = dict(bind.execute(sa.text("SELECT id, process_id FROM recommendations")).all())
    if process_of:
        # Each recommendation's visits, replayed from its events where their payloads still say them.
        current: dict[int, tuple[str, datetime]] = {}
        rows = bind.execute(
            sa.text(
                "SELECT subject_id, action, at, data FROM audit_events WHERE subject_type = 'recommendation' "
                "AND action IN ('recommendation.created', 'recommendation.transitioned') ORDER BY seq"
            )
        )
        for subject_id, action, at, data in rows:
            if subject_id not in process_of:
                continue
            process_id = process_of[subject_id]
            payload = json.loads(data) if data else None
            moment = _moment(at)
            if action == "recommendation.created":
                if payload and payload.get("state"):
                    add(process_id, "entered", payload["state"])
                    current[subject_id] = (payload["state"], moment)
                continue
            if not payload or "to" not in payload:
                current.pop(subject_id, None)  # erased: this visit and the next are unknown
                continue
            add(process_id, "entered", payload["to"])
            before = current.get(subject_id)
            if before is not None and before[0] == payload.get("from"):
                add(process_id, "duration", before[0], bucket_of(max(0.0, (moment - before[1]).total_seconds())))
            current[subject_id] = (payload["to"], moment)
        statements = bind.execute(
            sa.text(
                "SELECT r.process_id, s.department_id, s.status, s.requested_at, s.answered_at, s.due_at "
                "FROM statements s JOIN recommendations r ON r.id = s.recommendation_id"
            )
        )
        for process_id, department_id, status, requested_at, answered_at, due_at in statements:
            add(process_id, "st_requested", department_id)
            if status != "requested" and answered_at is not None:
                answered, requested = _moment(answered_at), _moment(requested_at)
                add(process_id, f"st_{status}", department_id)
                add(process_id, "st_time", department_id, bucket_of(max(0.0, (answered - requested).total_seconds())))
                if due_at is not None:
                    add(process_id, "st_on_time" if answered <= _moment(due_at) else "st_late", department_id)
        done: set[int] = set()
        follow_ups = bind.execute(
            sa.text(
                "SELECT r.process_id, f.recommendation_id, f.status FROM follow_ups f "
                "JOIN recommendations r ON r.id = f.recommendation_id ORDER BY f.id"
            )
        )
        for process_id, rec_id, status in follow_ups:
            add(process_id, "fu_reports", status)
            if status == "done" and rec_id not in done:
                done.add(rec_id)
                add(process_id, "fu_done", "")
    op.execute("DELETE FROM statistics_counters")
    if counters:
        table = sa.table(
            "statistics_counters",
            sa.column("process_id", sa.Integer),
            sa.column("metric", sa.String),
            sa.column("key", sa.String),
            sa.column("bucket", sa.Integer),
            sa.column("n", sa.Integer),
        )
        op.bulk_insert(
            table,
            [{"process_id": p, "metric": m, "key": k, "bucket": b, "n": n} for (p, m, k, b), n in counters.items()],
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS statistics_recommendation_insert ON recommendations")
        op.execute("DROP TRIGGER IF EXISTS statistics_recommendation_update ON recommendations")
        op.execute("DROP TRIGGER IF EXISTS statistics_statement_insert ON statements")
        op.execute("DROP TRIGGER IF EXISTS statistics_statement_update ON statements")
        op.execute("DROP TRIGGER IF EXISTS statistics_follow_up_insert ON follow_ups")
        op.execute("DROP TRIGGER IF EXISTS statistics_due ON recommendations")
        op.execute("DROP TRIGGER IF EXISTS statistics_due_update ON recommendations")
        op.execute("DROP FUNCTION IF EXISTS statistics_due()")
        op.execute("DROP FUNCTION IF EXISTS statistics_recommendation()")
        op.execute("DROP FUNCTION IF EXISTS statistics_statement()")
        op.execute("DROP FUNCTION IF EXISTS statistics_follow_up()")
        op.execute("DROP FUNCTION IF EXISTS statistics_add(integer, varchar, varchar, integer, integer)")
    else:
        for name in (
            "recommendation_insert",
            "recommendation_update",
            "statement_insert",
            "statement_update",
            "follow_up_insert",
            "due_insert",
            "due_delete",
            "due_update",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS statistics_{name}")
    op.drop_table("statistics_counters")
    op.drop_index("ix_recommendations_category_id", table_name="recommendations")
    op.drop_index("ix_recommendations_process_due_state", table_name="recommendations")
    with op.batch_alter_table("recommendations") as batch:
        batch.drop_column("category_id")
    # Not batch mode: SQLite drops a plain column in place (3.35, 2021); a copy of ``users`` would meet
    # the foreign keys of every table that points at it.
    op.drop_column("departments", "active")
    op.drop_column("users", "affiliation")
    op.drop_table("categories")
