"""Audit format v2 (docs/auditing.md): salted data commitments, and payloads that can be erased.

New columns: ``v`` (the event format; every existing row is 1), ``salt`` and ``data_digest``
(null on v1 rows); ``data`` becomes nullable, because erasure blanks a v2 payload.

A v2 event's hash covers ``data_digest = sha256(salt + canonical data)`` instead of the data, so
the chain can be checked by anyone while the data is shown only to those who may read it, and
the data of a v2 event can be erased without breaking the chain.

The append-only triggers stay, on both databases, with one exception prepared for erasure: an
UPDATE that sets ``data`` and ``salt`` of a v2 row to NULL and leaves every other column as it
was. Everything else (any other UPDATE, any DELETE, TRUNCATE) is still refused.

PostgreSQL: a second ``audit_append`` (nine arguments) appends a v2 event. The server draws
neither salt nor time: the application sends them, the server computes ``data_digest`` from the
stored salt and data and the hash around the sequence number it assigns. The eight-argument
function of revision 0006 stays, so that during a rolling upgrade workers of the previous
release keep appending (v1 events, which verify as before).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CHAIN_LOCK_KEY = 0x5261747363686C  # as in 0006: every writer queues on the same lock

# The columns an erasure leaves as they are.
KEPT = ("seq", "v", "at", "actor_id", "action", "subject_type", "subject_id", "data_digest", "prev_hash", "hash")

POSTGRES_GUARD_V2 = f"""
    CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            -- Erasure: the payload of a v2 event is blanked, nothing else changes.
            IF OLD.v = 2 AND NEW.data IS NULL AND NEW.salt IS NULL
               AND ({', '.join(f'NEW.{c}' for c in KEPT)}) IS NOT DISTINCT FROM ({', '.join(f'OLD.{c}' for c in KEPT)})
            THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'audit_events is append-only: UPDATE refused (only the data and salt of a v2 event may be erased)';
        END IF;
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP;
    END;
    $$
"""

POSTGRES_GUARD_V1 = """
    CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP;
    END;
    $$
"""

SQLITE_ERASURE = " AND ".join(["OLD.v = 2", "NEW.data IS NULL", "NEW.salt IS NULL"] + [f"NEW.{c} IS OLD.{c}" for c in KEPT])

APPEND_V2 = f"""
    CREATE FUNCTION audit_append(p_at varchar, p_actor_id integer, p_action varchar, p_subject_type varchar,
                                 p_subject_id integer, p_data text, p_salt varchar, p_before_digest text,
                                 p_after_seq text,
                                 OUT event_seq integer, OUT event_prev_hash varchar, OUT event_data_digest varchar,
                                 OUT event_hash varchar)
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
        SELECT e.seq + 1, e.hash INTO event_seq, event_prev_hash
            FROM audit_events e ORDER BY e.seq DESC LIMIT 1;
        IF NOT FOUND THEN
            event_seq := 1;
            event_prev_hash := repeat('0', 64);
        END IF;
        event_data_digest := encode(sha256(convert_to(p_salt || p_data, 'UTF8')), 'hex');
        -- The canonical JSON's keys in order: action, actor_id, at (in p_before_digest),
        -- data_digest, seq, then subject_id, subject_type, v (in p_after_seq).
        event_hash := encode(sha256(convert_to(
            event_prev_hash || p_before_digest || event_data_digest || '","seq":' || event_seq::text || p_after_seq,
            'UTF8')), 'hex');
        INSERT INTO audit_events (seq, v, at, actor_id, action, subject_type, subject_id, data, salt, data_digest,
                                  prev_hash, hash)
        VALUES (event_seq, 2, p_at, p_actor_id, p_action, p_subject_type, p_subject_id, p_data, p_salt,
                event_data_digest, event_prev_hash, event_hash);
    END
    $$
"""


def _sqlite_triggers(update_condition: str | None) -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    when = f" WHEN NOT ({update_condition})" if update_condition else ""
    op.execute(f"""
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events{when}
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused{
            " (only the data and salt of a v2 event may be erased)" if update_condition else ""}'); END
    """)
    op.execute("""
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END
    """)


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.add_column("audit_events", sa.Column("v", sa.Integer(), nullable=False, server_default="1"))
        op.add_column("audit_events", sa.Column("salt", sa.String(length=32), nullable=True))
        op.add_column("audit_events", sa.Column("data_digest", sa.String(length=64), nullable=True))
        op.alter_column("audit_events", "data", existing_type=sa.Text(), nullable=True)
        op.execute(POSTGRES_GUARD_V2)
        op.execute(APPEND_V2)
        return
    # SQLite changes a column's nullability by copying the table, which drops its triggers.
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("v", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("salt", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("data_digest", sa.String(length=64), nullable=True))
        batch.alter_column("data", existing_type=sa.Text(), nullable=True)
    _sqlite_triggers(SQLITE_ERASURE)


def downgrade():
    # Only a chain of v1 events stays verifiable by the previous release; erased rows cannot go back.
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP FUNCTION audit_append(varchar, integer, varchar, varchar, integer, text, varchar, text, text)")
        op.execute(POSTGRES_GUARD_V1)
        op.alter_column("audit_events", "data", existing_type=sa.Text(), nullable=False)
        op.drop_column("audit_events", "data_digest")
        op.drop_column("audit_events", "salt")
        op.drop_column("audit_events", "v")
        return
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("data", existing_type=sa.Text(), nullable=False)
        batch.drop_column("data_digest")
        batch.drop_column("salt")
        batch.drop_column("v")
    _sqlite_triggers(None)
