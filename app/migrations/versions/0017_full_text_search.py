"""Full-text search over recommendations (title and body) and comments (body).

PostgreSQL: a ``tsvector`` column per table, German stemming (``to_tsvector('german', ...)``,
the title weighted above the body), with a GIN index, set by a trigger on insert and on updates
of the indexed columns only. Not a generated column: PostgreSQL recomputes those on every update
of the row, and stemming a 100,000-character text costs 75-160 ms, which every transition would
pay inside its transaction. The trigger exists before the existing rows are filled in, under a
lock, so no row written during the upgrade is missed.

SQLite: FTS5 tables with external content (the text stays in ``recommendations`` and ``comments``;
the index holds only the tokens), tokenizer ``unicode61 remove_diacritics 2`` (case and accents
folded, no stemming: the search adds prefix matching instead, see app/search.py), kept in sync by
triggers on insert, delete and on updates of the indexed columns only (a transition, which changes
the state and version, costs the index nothing). Existing rows are indexed with FTS5's ``rebuild``.

Revision ID: 0017
Revises: 0014
"""
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: table -> (search table on SQLite, indexed columns with their PostgreSQL weights)
INDEXED = {
    "recommendations": ("recommendation_search", {"title": "A", "body": "B"}),
    "comments": ("comment_search", {"body": "B"}),
}


def _vector(columns: dict[str, str], row: str = "") -> str:
    return " || ".join(
        f"setweight(to_tsvector('german'::regconfig, coalesce({row}{column}, '')), '{weight}')" for column, weight in columns.items()
    )


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, (_fts, columns) in INDEXED.items():
            names = ", ".join(columns)
            # Writers wait while the column is filled: none is written between the trigger and the backfill unseen.
            op.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            op.execute(f"ALTER TABLE {table} ADD COLUMN search_vector tsvector")
            op.execute(f"""
                CREATE FUNCTION {table}_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    NEW.search_vector := {_vector(columns, "NEW.")};
                    RETURN NEW;
                END $$
            """)
            # Only when the text changes: a transition (state, version) costs the index nothing.
            op.execute(
                f"CREATE TRIGGER {table}_search_vector BEFORE INSERT OR UPDATE OF {names} ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_search_vector()"
            )
            op.execute(f"UPDATE {table} SET search_vector = {_vector(columns)}")  # the rows written before
            op.execute(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)")
        return
    for table, (fts, columns) in INDEXED.items():
        names = ", ".join(columns)
        new = ", ".join(f"NEW.{c}" for c in columns)
        old = ", ".join(f"OLD.{c}" for c in columns)
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN INSERT INTO {fts}(rowid, {names}) VALUES (NEW.id, {new}); END")
        op.execute(
            f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', OLD.id, {old}); END"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {names} ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', OLD.id, {old}); "
            f"INSERT INTO {fts}(rowid, {names}) VALUES (NEW.id, {new}); END"
        )
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")  # the rows written before


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in INDEXED:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_vector")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search_vector ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_search_vector()")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")
        return
    for _table, (fts, _columns) in INDEXED.items():
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {fts}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {fts}")
